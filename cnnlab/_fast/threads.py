"""Threads for cnnlab's engine: data parallelism over the batch.

``set_num_threads(n)`` / ``get_num_threads()`` behave like ``torch.set_num_threads`` /
``torch.get_num_threads``: one number for the whole engine. It sets

* cnnlab's own pool: every batched fast path (convolution forward and backward, pooling,
  ReLU) splits its batch into up to ``n`` blocks of images, and each thread runs the whole op
  (copies, matrix products, elementwise loops) on its block. NumPy releases the GIL in copies,
  ufuncs and BLAS calls, so the threads run at the same time;
* the BLAS threads (OpenBLAS, through threadpoolctl): one. cnnlab's pool is the engine's
  parallelism; BLAS threads on top of it cost more than they give. OpenBLAS's idle threads keep
  spinning for a while after each product and take the cores from the pool's workers: a LeNet-5
  training step on 2 cores measured 28-30 ms with BLAS on 2 threads and the pool on 2, 21 ms
  with BLAS on 1 and the pool on 2, 28 ms on one thread (same run, quiet machine). So products
  outside the blocks (``Linear`` layers, your own ``@``) run on one BLAS thread; raise it with
  ``threadpoolctl.threadpool_limits`` for a big product of your own. If BLAS has more threads
  anyway (set by you), it is held to one while blocks run.

Default: ``CNNLAB_NUM_THREADS`` if set, otherwise the cores this process may run on
(``len(os.sched_getaffinity(0))``). More threads than cores is allowed (and correct), only slower.

Why blocks of the batch and not BLAS threads: the products of small networks are skinny
(LeNet-5's conv1 has 6 output channels), BLAS splits them poorly, and the copies around them
(im2col, col2im, NCHW transposes) run on one core. Measured on a 2-core machine (LeNet-5
training step, batch 128): BLAS threads alone gave 1.05x from the second core; blocks of the
batch give what ``benchmarks/bench_engine.py`` reports.

Determinism: the blocks depend only on the batch size and the thread count, never on timing;
per-block weight gradients are added in block order by the caller. So a fixed thread count gives
bit-identical results, and different thread counts agree up to float rounding.

Small work is not split: a hand-off to a worker costs ~30 microseconds, so a block must touch
at least ``_MIN_PARALLEL_ITEMS`` numbers (measured: see ``benchmarks/bench_engine.py``).
"""
from __future__ import annotations

import itertools
import os
import threading

import numpy as np

from cnnlab._args import positive_int

__all__ = ["set_num_threads", "get_num_threads", "parallel_for", "by_rows", "batch_blocks",
           "run_blocks", "scratch", "NUM_THREADS_ENV"]

NUM_THREADS_ENV = "CNNLAB_NUM_THREADS"
_MIN_PARALLEL_ITEMS = 65_536          # numbers one block must touch to be worth a thread
# An elementwise pass (by_rows) does far less work per number than a convolution or pooling
# block, so it counts its numbers at 1/12: it splits from ~786k numbers per block. Measured
# (quiet 2-core AMD EPYC, OpenBLAS Haswell): ReLU forward on 128x6x28x28 (602k) 0.16 ms on one
# thread vs 0.19 ms split in two, on 64x32x32x32 (2.1M) 0.76 vs 0.49 ms; ReLU backward (three
# arrays) on 602k 0.35 vs 0.27 ms, on 128x16x10x10 (205k) 0.13 vs 0.17 ms.
_ELEMENTWISE_DISCOUNT = 12


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                    # macOS, Windows
        return os.cpu_count() or 1


def _default_num_threads() -> int:
    raw = os.environ.get(NUM_THREADS_ENV, "").strip()
    if not raw:
        return _cores()
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{NUM_THREADS_ENV}={raw!r}: expected a whole number of threads >= 1, "
                         f"e.g. {NUM_THREADS_ENV}=2; unset it to use every core available to "
                         f"this process ({_cores()})")
    return int(raw)


# ---------------------------------------------------------------------------- BLAS threads

_blas_libs: list | None = None        # threadpoolctl's controllers of the loaded BLAS libraries


def _blas() -> list:
    global _blas_libs
    if _blas_libs is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas_libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except ImportError:           # without threadpoolctl BLAS keeps its own thread count
            _blas_libs = []
    return _blas_libs


def _set_blas_threads(n: int) -> None:
    for lib in _blas():
        lib.set_num_threads(n)


def _rescan_blas() -> None:
    """Look again for BLAS libraries: one loaded after cnnlab (SciPy brings its own OpenBLAS)
    is then held to one thread too. Not while blocks run (their saved counts pair with the
    list); a scan costs ~2 ms, so only ``set_num_threads`` does it."""
    global _blas_libs
    with _region_lock:
        if _regions == 0:
            _blas_libs = None


_region_lock = threading.Lock()
_regions = 0                           # parallel regions running now (user threads may overlap)
_blas_saved: list = []


def _enter_region() -> None:
    """Hold BLAS to one thread while blocks run (restored by the last region to leave)."""
    global _regions, _blas_saved
    with _region_lock:
        if _regions == 0:
            _blas_saved = [lib.num_threads for lib in _blas()]
            for lib, n in zip(_blas(), _blas_saved):
                if n != 1:
                    lib.set_num_threads(1)
        _regions += 1


def _leave_region() -> None:
    global _regions
    with _region_lock:
        _regions -= 1
        if _regions == 0:
            for lib, n in zip(_blas(), _blas_saved):
                if n != 1:
                    lib.set_num_threads(n)


# ---------------------------------------------------------------------------- the pool

class _Pool:
    """``workers`` threads that, when woken, take block numbers from a shared counter and run
    ``job(i)``; the calling thread takes blocks too. One job at a time (``busy``)."""

    def __init__(self, workers: int):
        self.busy = threading.Lock()
        self._go = [threading.Semaphore(0) for _ in range(workers)]
        self._done = threading.Semaphore(0)
        self._job = None
        self._next = None
        self._blocks = 0
        self._error: BaseException | None = None
        self._closed = False
        for i in range(workers):
            threading.Thread(target=self._loop, args=(i,), name=f"cnnlab-{i + 1}",
                             daemon=True).start()

    def _take(self) -> None:
        while True:
            i = next(self._next)              # itertools.count: atomic under the GIL
            if i >= self._blocks:
                return
            try:
                self._job(i)
            except BaseException as exc:      # noqa: BLE001 - handed to the caller
                self._error = self._error or exc

    def _loop(self, i: int) -> None:
        _local.worker = True
        while True:
            self._go[i].acquire()
            if self._closed:
                return
            self._take()
            self._done.release()

    def close(self) -> None:
        """Let the workers end (after the job running now, if any)."""
        with self.busy:
            self._closed = True
            for g in self._go:
                g.release()

    def run(self, job, blocks: int) -> None:
        self._job, self._next, self._blocks, self._error = job, itertools.count(), blocks, None
        woken = min(len(self._go), blocks - 1)
        for g in self._go[:woken]:
            g.release()
        self._take()
        for _ in range(woken):
            self._done.acquire()
        error, self._job, self._error = self._error, None, None
        if error is not None:
            raise error


_num_threads = _default_num_threads()
_pool: _Pool | None = None
_pool_lock = threading.Lock()
_local = threading.local()               # .worker: this thread is one of the pool's


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in cnnlab's engine, like ``torch.set_num_threads``.

    Batched ops split their batch into up to ``n`` blocks run at the same time; BLAS (through
    threadpoolctl) is set to one thread (see the module's docstring for why). Results are
    bit-identical for a fixed ``n`` and equal up to float rounding between different ``n``.
    Default: ``CNNLAB_NUM_THREADS``, else the cores available (``os.sched_getaffinity``).
    """
    global _num_threads, _pool
    n = positive_int(n, "n", "set_num_threads")
    with _pool_lock:
        old, _num_threads = _pool, n
        if old is not None and len(old._go) != n - 1:
            _pool = None                  # a new pool is made at the next use
            old.close()
    _rescan_blas()
    _set_blas_threads(1)


def get_num_threads() -> int:
    """The number of threads cnnlab's engine uses (see ``set_num_threads``)."""
    return _num_threads


_set_blas_threads(1)                     # the pool is the parallelism (see the docstring)


def _reset_after_fork() -> None:
    """A forked child has none of the parent's threads: no workers, and no region running
    (a lock held by another thread of the parent would never be released)."""
    global _pool, _pool_lock, _region_lock, _regions
    if _regions:                              # forked while blocks ran: BLAS gets its count back
        for lib, n in zip(_blas(), _blas_saved):
            lib.set_num_threads(n)
    _pool, _pool_lock, _region_lock, _regions = None, threading.Lock(), threading.Lock(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def batch_blocks(n: int, items: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into consecutive blocks ``(start, stop)``, one per thread.

    ``items`` is roughly how many numbers the whole job touches; each block gets at least
    ``_MIN_PARALLEL_ITEMS`` of them, so small jobs stay in one block. The blocks depend only on
    ``n``, ``items`` and the thread count: the same call always splits the same way.
    """
    parts = max(1, min(_num_threads, n, items // max(_MIN_PARALLEL_ITEMS, 1)))
    return [(n * i // parts, n * (i + 1) // parts) for i in range(parts)]


def scratch(blocks, per_item: int, dtype) -> list:
    """One flat array per block, ``per_item * (stop - start)`` numbers long, all carved from one
    array allocated here, by the calling thread.

    Why: glibc gives every thread its own malloc arena, and the worker threads' arenas hand
    freed memory back to the OS, so big arrays allocated inside blocks are faulted in afresh
    on every call (measured: ~800 page faults, ~3 ms of system time per LeNet-5 step on 2
    threads). Allocated by the calling thread, they come from its arena, which keeps them.
    """
    start, stop = blocks[0][0], blocks[-1][1]
    flat = np.empty(per_item * (stop - start), dtype=dtype)
    return [flat[per_item * (a - start):per_item * (b - start)] for a, b in blocks]


def run_blocks(work, blocks) -> list:
    """``[work(*args) for args in blocks]`` (e.g. ``blocks = [(start, stop), ...]``), the
    blocks run at the same time on the pool's threads (BLAS held to one thread meanwhile).
    Results come back in block order whichever thread ran them. Inside a worker (nested) or
    while another thread uses the pool, the blocks run one after the other on the calling
    thread."""
    blocks = list(blocks)
    if len(blocks) <= 1 or getattr(_local, "worker", False):
        return [work(*args) for args in blocks]
    pool = _get_pool()
    if not pool.busy.acquire(blocking=False):
        return [work(*args) for args in blocks]
    results = [None] * len(blocks)

    def job(i):
        results[i] = work(*blocks[i])

    _enter_region()
    try:
        pool.run(job, len(blocks))
    finally:
        _leave_region()
        pool.busy.release()
    return results


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or len(_pool._go) != _num_threads - 1:
            _pool = _Pool(_num_threads - 1)
        return _pool


def parallel_for(n: int, work, items: int) -> None:
    """Call ``work(start, stop)`` on blocks of ``range(n)`` that together cover it once, at
    the same time (see ``batch_blocks`` and ``run_blocks``). The blocks must write disjoint
    outputs."""
    run_blocks(work, batch_blocks(n, items))


def by_rows(kernel, out, *arrays):
    """out[a:b] = kernel(arrays[0][a:b], ..., out=out[a:b]) over blocks of the first axis, on
    the worker threads when the arrays are big (see ``parallel_for``)."""
    if out.ndim == 0:
        kernel(*arrays, out=out)
    else:
        parallel_for(out.shape[0], lambda a, b: kernel(*(v[a:b] for v in arrays), out=out[a:b]),
                     items=out.size * (len(arrays) + 1) // _ELEMENTWISE_DISCOUNT)
    return out
