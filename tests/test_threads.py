"""cnnlab.set_num_threads / get_num_threads (like torch's) and the engine's data parallelism:
blocks of the batch on a thread pool, BLAS held to one thread inside them, and deterministic
results (bit-identical for a fixed thread count, equal up to float32 rounding across counts).

Timings are never asserted here (benchmarks/bench_engine.py measures the speed-up).
"""
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import threadpoolctl

import cnnlab
from cnnlab import functional as F
from cnnlab import models, nn, optim
from cnnlab._fast import threads as T

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def num_threads():
    """Set the thread count inside a test; the old one comes back afterwards."""
    old = cnnlab.get_num_threads()
    yield cnnlab.set_num_threads
    cnnlab.set_num_threads(old)


def blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert info, "numpy's BLAS is not visible to threadpoolctl"
    return {i["num_threads"] for i in info}


def run_python(code, **env):
    """A fresh interpreter (the default thread count is read at import)."""
    full = {k: v for k, v in os.environ.items() if k != T.NUM_THREADS_ENV}
    full.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, timeout=120)


# ---------------------------------------------------------------------------------- the API

def test_top_level_and_functional_names_are_the_same_functions():
    assert cnnlab.set_num_threads is F.set_num_threads is T.set_num_threads
    assert cnnlab.get_num_threads is F.get_num_threads is T.get_num_threads
    assert "set_num_threads" in cnnlab.__all__ and "get_num_threads" in cnnlab.__all__


def test_set_num_threads_sets_engine_threads_and_blas_to_one(num_threads):
    for n in (1, 3, 2):
        threadpoolctl.threadpool_limits(4, user_api="blas")
        num_threads(n)
        assert cnnlab.get_num_threads() == n
        assert blas_threads() == {1}        # the pool is the parallelism, BLAS never spins on top


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", None, True])
def test_set_num_threads_rejects_bad_counts(bad, num_threads):
    before = cnnlab.get_num_threads()
    with pytest.raises(ValueError, match="set_num_threads: n must be a positive int"):
        cnnlab.set_num_threads(bad)
    assert cnnlab.get_num_threads() == before


def test_default_is_the_cores_available_to_the_process():
    r = run_python("import os, cnnlab; print(cnnlab.get_num_threads(), "
                   "len(os.sched_getaffinity(0)))")
    assert r.returncode == 0, r.stderr
    got, cores = r.stdout.split()
    assert got == cores


def test_environment_variable_overrides_the_default_and_sets_blas():
    code = ("import cnnlab; print(cnnlab.get_num_threads()); "
            "from threadpoolctl import threadpool_info; "
            "print(sorted({i['num_threads'] for i in threadpool_info() "
            "if i['user_api'] == 'blas'}))")
    pytest.importorskip("threadpoolctl")
    r = run_python(code, CNNLAB_NUM_THREADS="3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["3", "[1]"]


def test_a_blas_loaded_after_cnnlab_is_set_by_set_num_threads():
    """SciPy brings its own OpenBLAS; loaded after cnnlab it starts with its own thread count,
    and set_num_threads holds it to one as well (the full suite imports SciPy late)."""
    pytest.importorskip("scipy.linalg")
    code = ("import cnnlab, threadpoolctl\n"
            "blas = lambda: [i['num_threads'] for i in threadpoolctl.threadpool_info() "
            "if i['user_api'] == 'blas']\n"
            "cnnlab.set_num_threads(1); n = len(blas()); import scipy.linalg\n"
            "threadpoolctl.threadpool_limits(3, user_api='blas')\n"
            "print(n, len(blas())); cnnlab.set_num_threads(2); print(sorted(set(blas())))")
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    before, after = map(int, r.stdout.split("\n")[0].split())
    if after == before:
        pytest.skip("SciPy uses numpy's BLAS here: nothing new was loaded")
    assert r.stdout.split("\n")[1] == "[1]"


@pytest.mark.parametrize("bad", ["0", "two", "-2", "1.5"])
def test_bad_environment_variable_is_a_clear_error(bad):
    r = run_python("import cnnlab.functional", CNNLAB_NUM_THREADS=bad)
    assert r.returncode != 0
    assert f"CNNLAB_NUM_THREADS={bad!r}: expected a whole number of threads >= 1" in r.stderr
    assert "unset it" in r.stderr


# ------------------------------------------------------------------------------ the pool

def test_blocks_cover_the_batch_once_and_depend_only_on_sizes(num_threads, monkeypatch):
    monkeypatch.setattr(T, "_MIN_PARALLEL_ITEMS", 10)
    num_threads(4)
    assert T.batch_blocks(10, 10 ** 6) == [(0, 2), (2, 5), (5, 7), (7, 10)]
    assert T.batch_blocks(3, 10 ** 6) == [(0, 1), (1, 2), (2, 3)]       # at most one per image
    assert T.batch_blocks(10, 25) == [(0, 5), (5, 10)]                 # 10 numbers per block
    assert T.batch_blocks(10, 9) == [(0, 10)]                          # small: one block
    assert T.batch_blocks(0, 10 ** 6) == [(0, 0)]


def test_blas_runs_on_one_thread_inside_blocks_and_gets_its_count_back(num_threads):
    num_threads(2)
    threadpoolctl.threadpool_limits(2, user_api="blas")      # the user raised it
    seen = T.run_blocks(lambda a, b: blas_threads(), [(0, 1), (1, 2), (2, 3)])
    assert seen == [{1}] * 3
    assert blas_threads() == {2}


def test_results_come_back_in_block_order_and_errors_reach_the_caller(num_threads):
    num_threads(3)
    names = T.run_blocks(lambda i: (i, threading.current_thread().name),
                         [(i,) for i in range(7)])
    assert [i for i, _ in names] == list(range(7))

    def boom(i):
        if i == 5:
            raise RuntimeError(f"block {i} failed")
        return i
    with pytest.raises(RuntimeError, match="block 5 failed"):
        T.run_blocks(boom, [(i,) for i in range(7)])
    assert T.run_blocks(lambda i: i * i, [(i,) for i in range(5)]) == [0, 1, 4, 9, 16]
    assert blas_threads() == {1}


def test_nested_blocks_and_user_threads_run_correctly(num_threads):
    """Blocks inside a block run on the worker itself; two user threads at once: one gets the
    pool, the other runs its blocks itself. Either way every result is right."""
    num_threads(2)
    inner = T.run_blocks(lambda a: T.run_blocks(lambda b: a * 10 + b, [(0,), (1,)]),
                         [(1,), (2,)])
    assert inner == [[10, 11], [20, 21]]
    results = {}

    def user(k):
        for _ in range(50):
            results.setdefault(k, []).append(
                T.run_blocks(lambda i: k * 100 + i, [(i,) for i in range(4)]))
    users = [threading.Thread(target=user, args=(k,)) for k in range(3)]
    for u in users:
        u.start()
    for u in users:
        u.join()
    for k in range(3):
        assert results[k] == [[k * 100 + i for i in range(4)]] * 50
    assert blas_threads() == {1}


# ------------------------------------------------------------------------- determinism

def lenet_conv_grads(dtype=np.float32):
    rng = np.random.default_rng(3)
    out = []
    for shape, c_out, pad in [((64, 1, 28, 28), 6, 2), ((64, 6, 14, 14), 16, 0)]:
        x = rng.normal(size=shape).astype(dtype)
        w = rng.normal(size=(c_out, shape[1], 5, 5)).astype(dtype)
        b = rng.normal(size=c_out).astype(dtype)
        y, cache = F.conv2d_with_cache(x, w, b, padding=pad)
        go = rng.normal(size=y.shape).astype(dtype)
        out.append((y, len(cache.cols)) + F.conv2d_backward(go, x, w, padding=pad, cache=cache))
    return out


def test_conv_gradients_bit_identical_per_thread_count_close_across(num_threads, monkeypatch):
    monkeypatch.setattr(T, "_MIN_PARALLEL_ITEMS", 1)
    results = {}
    for n in (1, 2, 3, 4):
        num_threads(n)
        first, again = lenet_conv_grads(), lenet_conv_grads()
        for a, b in zip(first, again):
            assert a[1] == n                                  # really split into n blocks
            for u, v in zip(a[:1] + a[2:], b[:1] + b[2:]):
                np.testing.assert_array_equal(u, v)           # bit for bit
        results[n] = first
    for n in (2, 3, 4):                 # BLAS may order a product's sums differently by size
        for a, b in zip(results[1], results[n]):
            for u, v in zip(a[:1] + a[2:], b[:1] + b[2:]):
                np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-4 * np.abs(u).max())


def train_lenet(steps=3):
    nn.manual_seed(0)
    model = models.LeNet5()
    crit = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(4)
    for _ in range(steps):
        x = rng.random(size=(96, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, size=96)
        opt.zero_grad()
        crit(model(x), y)
        model.backward(crit.backward())
        opt.step()
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_training_is_reproducible_for_a_thread_count(num_threads):
    """Real thresholds (no monkeypatching): a LeNet-5 batch of 96 is split on 2 threads."""
    num_threads(2)
    x = np.zeros((96, 1, 28, 28), np.float32)
    assert len(F.conv2d_with_cache(x, np.zeros((6, 1, 5, 5), np.float32), padding=2)[1].cols) == 2
    a, b = train_lenet(), train_lenet()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    num_threads(1)
    c = train_lenet()
    for k in a:
        np.testing.assert_allclose(a[k], c[k], rtol=1e-3, atol=1e-5, err_msg=k)


def test_a_forked_child_gets_its_own_pool(num_threads, monkeypatch):
    """The grader and data loaders may fork: the child has none of the parent's threads and
    must still split its work correctly."""
    import multiprocessing
    monkeypatch.setattr(T, "_MIN_PARALLEL_ITEMS", 1)
    num_threads(2)
    lenet_conv_grads()                                   # the parent's pool is running
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply(lenet_conv_grads)
    for a, b in zip(lenet_conv_grads(), child):
        assert a[1] == b[1] == 2
        for u, v in zip(a[:1] + a[2:], b[:1] + b[2:]):
            np.testing.assert_array_equal(u, v)
