"""Threads for cnnlab's copies and elementwise loops (BLAS has its own).

BLAS already runs the big matrix products on several threads, but NumPy's copies and
elementwise loops run on one. NumPy releases the GIL inside those loops, so splitting a big
copy into parts on a few Python threads can use more cores. Small work is never split: a
thread hand-off costs ~25 microseconds, these copies are mostly limited by memory bandwidth,
and on a 2-core machine the second core is often still held by a BLAS thread that has just
finished a matrix product. Measured there (LeNet-5, batch 128), every job of a training step
(at most ~2.5 million numbers) ran faster on one thread, and a whole step ~5-10% faster.

``set_num_threads``/``get_num_threads`` are re-exported by ``cnnlab.functional`` (like
``torch.set_num_threads``).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from cnnlab._args import positive_int

__all__ = ["set_num_threads", "get_num_threads", "parallel_for", "by_rows"]

_num_threads = min(2, os.cpu_count() or 1)
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_MIN_PARALLEL_ITEMS = 4_000_000          # numbers touched below which one thread is faster


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads for cnnlab's copies and elementwise loops (like
    ``torch.set_num_threads``). BLAS threads are separate (threadpoolctl controls those)."""
    global _num_threads, _executor
    n = positive_int(n, "n", "set_num_threads")
    with _executor_lock:
        _num_threads = n
        if _executor is not None:
            _executor.shutdown(wait=False)
            _executor = None


def get_num_threads() -> int:
    """How many threads cnnlab's copies and elementwise loops may use."""
    return _num_threads


def _reset_after_fork() -> None:              # a forked child has no worker threads
    global _executor
    _executor = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def parallel_for(n: int, work, items: int) -> None:
    """Call ``work(start, stop)`` on parts of ``range(n)`` that together cover it once.

    ``items`` is roughly how many numbers the whole job touches; below ``_MIN_PARALLEL_ITEMS``
    (or with one thread) this is just ``work(0, n)``. The parts must write disjoint outputs.
    The calling thread does the first part itself.
    """
    global _executor
    parts = min(_num_threads, n, max(1, items // _MIN_PARALLEL_ITEMS))
    if parts <= 1 or threading.current_thread().name.startswith("cnnlab"):   # no nesting
        work(0, n)
        return
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(_num_threads - 1, thread_name_prefix="cnnlab")
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = [_executor.submit(work, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    work(bounds[0], bounds[1])
    for f in futures:
        f.result()


def by_rows(kernel, out, *arrays):
    """out[a:b] = kernel(arrays[0][a:b], ..., out=out[a:b]) over blocks of the first axis, on
    the worker threads when the arrays are big (see ``parallel_for``)."""
    if out.ndim == 0:
        kernel(*arrays, out=out)
    else:
        parallel_for(out.shape[0], lambda a, b: kernel(*(v[a:b] for v in arrays), out=out[a:b]),
                     items=out.size * (len(arrays) + 1))
    return out
