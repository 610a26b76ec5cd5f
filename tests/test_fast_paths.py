"""Every measured fast path (cnnlab._fast) computes what its readable twin (cnnlab.functional)
defines: float64 to ~1e-10, float32 close, over random shapes, strides, paddings and dilations,
forward and backward, on 1, 2, 3 and 4 threads (more threads than this machine's cores must
still be right).

The public functions run the fast twins, so each test calls the public function (the path
users and layers take) and compares it with the readable definition on the same checked
arguments (cnnlab._args normalises them once for both).
"""
import numpy as np
import pytest

from cnnlab import _args
from cnnlab import functional as F
from cnnlab._fast import conv as fast_conv
from cnnlab._fast import pool as fast_pool
from cnnlab._fast import threads
from cnnlab.functional import activations, conv, pool

DTYPES = [np.float64, np.float32]
SEEDS = range(24)


def close(got, want, dtype):
    """Equal up to rounding: ~1e-10 relative in float64, ~1e-4 in float32 (sums of up to a few
    hundred products, added in a different order)."""
    assert got.dtype == dtype and got.shape == want.shape
    tol = 1e-10 if dtype == np.float64 else 1e-4
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


@pytest.fixture(params=[1, 2, 3, 4], ids=lambda n: f"{n}thread")
def threading(request, monkeypatch):
    """Run each test on 1, 2, 3 and 4 threads, every batch split into as many blocks as there
    are threads (up to one image per block), however small the job."""
    monkeypatch.setattr(threads, "_MIN_PARALLEL_ITEMS", 1)
    old = threads.get_num_threads()
    threads.set_num_threads(request.param)
    try:
        yield request.param
    finally:
        threads.set_num_threads(old)


# ----------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------

def random_conv(seed, dtype):
    """A random 2-D convolution: channels on both sides of the column-layout and GEMM-row
    thresholds, kernels 1..5, stride 1..3, padding 0..2 (or "same"), dilation 1..3."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    c_in = int(rng.choice([1, 2, 3, 6]))
    c_out = int(rng.choice([1, 3, 6, 8, 11, 16]))
    kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
    dh, dw = (int(v) for v in rng.integers(1, 4, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
    ph, pw = (int(v) for v in rng.integers(0, 3, size=2))
    h = max(1, dh * (kh - 1) + 1 - 2 * ph + int(rng.integers(0, 7)))
    w = max(1, dw * (kw - 1) + 1 - 2 * pw + int(rng.integers(0, 7)))
    padding = (ph, pw)
    if seed % 6 == 5:                                   # "same" (stride 1 only)
        padding, sh, sw = "same", 1, 1
    x = rng.normal(size=(n, c_in, h, w)).astype(dtype)
    wt = rng.normal(size=(c_out, c_in, kh, kw)).astype(dtype)
    b = rng.normal(size=c_out).astype(dtype) if seed % 4 else None
    return x, wt, b, dict(stride=(sh, sw), padding=padding, dilation=(dh, dw))


def test_random_convs_cover_both_column_layouts_and_gemm_rows():
    layouts, narrow = set(), set()
    for seed in SEEDS:
        x, w, _, _ = random_conv(seed, np.float64)
        layouts.add(fast_conv.use_batch_last(x.shape[1], w.shape[0], *w.shape[2:]))
        narrow.add(w.shape[0] < 8)                    # zero rows appended up to 8
    assert layouts == {True, False} and narrow == {True, False}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_forward_fast_equals_readable(seed, dtype, threading):
    x, w, b, kw = random_conv(seed, dtype)
    args = _args.conv_args("conv2d", x, w, b, kw["stride"], kw["padding"], kw["dilation"], 2)
    want = conv.conv2d_readable(*args)
    close(F.conv2d(x, w, b, **kw), want, dtype)                     # blocks of images
    out, cache = F.conv2d_with_cache(x, w, b, **kw)                 # training: cached columns
    close(out, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_backward_fast_equals_readable(seed, dtype, threading):
    x, w, b, kw = random_conv(seed, dtype)
    x4, w4, _, s, pads, d = _args.conv_args("conv2d", x, w, b, kw["stride"], kw["padding"],
                                            kw["dilation"], 2)
    out, cache = F.conv2d_with_cache(x, w, b, **kw)
    go = np.random.default_rng(seed + 100).normal(size=out.shape).astype(dtype)
    want_gi, want_gw, want_gb = conv.conv2d_backward_readable(go, x4, w4, s, pads, d)
    for c in (cache, None):                         # the forward's columns, or rebuilt ones
        gi, gw, gb = F.conv2d_backward(go, x, w, **kw, cache=c)
        close(gi, want_gi, dtype)
        close(gw, want_gw, dtype)
        close(gb, want_gb, dtype)
    gi, gw, gb = F.conv2d_backward(go, x, w, **kw, needs_input_grad=False)
    assert gi is None
    close(gw, want_gw, dtype)
    close(gb, want_gb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(8))
def test_conv1d_fast_equals_readable(seed, dtype, threading):
    rng = np.random.default_rng(seed)
    k, s, p, d = (int(v) for v in (rng.integers(1, 6), rng.integers(1, 4), rng.integers(0, 3),
                                   rng.integers(1, 3)))
    length = max(1, d * (k - 1) + 1 - 2 * p + int(rng.integers(0, 9)))
    x = rng.normal(size=(5, 2, length)).astype(dtype)
    w = rng.normal(size=(5, 2, k)).astype(dtype)
    b = rng.normal(size=5).astype(dtype)
    x4, w4, b4, s2, pads, d2 = _args.conv_args("conv1d", x, w, b, s, p, d, 1)
    want = conv.conv2d_readable(x4, w4, b4, s2, pads, d2)[:, :, 0, :]
    close(F.conv1d(x, w, b, s, p, d), want, dtype)
    out, cache = F.conv1d_with_cache(x, w, b, s, p, d)
    close(out, want, dtype)
    go = rng.normal(size=out.shape).astype(dtype)
    want_gi, want_gw, want_gb = conv.conv2d_backward_readable(go[:, :, None, :], x4, w4, s2,
                                                              pads, d2)
    gi, gw, gb = F.conv1d_backward(go, x, w, s, p, d, cache=cache)
    close(gi, want_gi[:, :, 0, :], dtype)
    close(gw, want_gw[:, :, 0, :], dtype)
    close(gb, want_gb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lenet_convs_fast_equal_readable(dtype, threading):
    """The two layers the benchmark trains: conv1 (1 -> 6, pad 2: batch in the middle, 8 GEMM
    rows) and conv2 (6 -> 16: batch innermost), on a batch big enough to use several blocks."""
    rng = np.random.default_rng(5)
    for shape, c_out, pad in [((40, 1, 28, 28), 6, 2), ((40, 6, 14, 14), 16, 0)]:
        x = rng.normal(size=shape).astype(dtype)
        w = rng.normal(size=(c_out, shape[1], 5, 5)).astype(dtype)
        b = rng.normal(size=c_out).astype(dtype)
        args = _args.conv_args("conv2d", x, w, b, 1, pad, 1, 2)
        out, cache = F.conv2d_with_cache(x, w, b, padding=pad)
        assert len(cache.cols) == threading                # one block of images per thread
        close(out, conv.conv2d_readable(*args), dtype)
        close(F.conv2d(x, w, b, padding=pad), conv.conv2d_readable(*args), dtype)
        go = rng.normal(size=out.shape).astype(dtype)
        want = conv.conv2d_backward_readable(go, *args[:2], *args[3:])
        for got, ref in zip(F.conv2d_backward(go, x, w, padding=pad, cache=cache), want):
            close(got, ref, dtype)


# ----------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------

def random_pool(seed, dtype, ties):
    """A random pooling: kernel 1..4, stride 1..4, padding <= kernel/2, dilation 1..3 (only
    windows that see some input, as max pooling requires). With ``ties`` the input holds a
    few small integers, so many windows have tied maxima (the first one must win)."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        k = tuple(int(v) for v in rng.integers(1, 5, size=2))
        s = tuple(int(v) for v in rng.integers(1, 5, size=2))
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
        d = tuple(int(v) for v in rng.integers(1, 4, size=2))
        hw = tuple(max(1, dd * (kk - 1) + 1 - 2 * pp + int(rng.integers(0, 7)))
                   for kk, pp, dd in zip(k, p, d))
        x = (rng.integers(0, 3, size=(5, 3) + hw) if ties else rng.normal(size=(5, 3) + hw))
        try:
            _args.pool_args("max_pool2d", x, k, s, p, d, 2)
        except ValueError:                              # a window on padding only: draw again
            continue
        return x.astype(dtype), k, s, p, d
    raise AssertionError("no valid pooling drawn")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_max_pool2d_fast_equals_readable(seed, dtype, threading):
    x, k, s, p, d = random_pool(seed, dtype, ties=seed % 2 == 0)
    args = _args.pool_args("max_pool2d", x, k, s, p, d, 2)
    want_out, want_idx = pool.max_pool2d_readable(*args)
    out, idx = F.max_pool2d(x, k, s, p, d, return_indices=True)
    np.testing.assert_array_equal(out, want_out)                     # a maximum is exact
    np.testing.assert_array_equal(idx, want_idx)                     # and so is where it was
    out2, cache = F.max_pool2d_with_cache(x, k, s, p, d)
    np.testing.assert_array_equal(out2, want_out)
    go = np.random.default_rng(seed + 100).normal(size=out.shape).astype(dtype)
    want = pool.max_pool2d_backward_readable(go, want_idx, x.shape)
    close(F.max_pool2d_backward(go, x, k, s, p, d, indices=idx), want, dtype)
    close(F.max_pool2d_backward(go, x, k, s, p, d, cache=cache), want, dtype)
    close(F.max_pool2d_backward(go, x, k, s, p, d), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(8))
def test_max_pool1d_fast_equals_readable(seed, dtype, threading):
    x, k, s, p, d = random_pool(seed, dtype, ties=True)
    x = x[:, :, 0, :]
    k, s, p, d = k[1], s[1], p[1], d[1]
    args = _args.pool_args("max_pool1d", x, k, s, p, d, 1)
    want_out, want_idx = pool.max_pool2d_readable(*args)
    out, idx = F.max_pool1d(x, k, s, p, d, return_indices=True)
    np.testing.assert_array_equal(out, want_out[:, :, 0, :])
    np.testing.assert_array_equal(idx, want_idx[:, :, 0, :])
    out, cache = F.max_pool1d_with_cache(x, k, s, p, d)
    go = np.random.default_rng(seed).normal(size=out.shape).astype(dtype)
    want = pool.max_pool2d_backward_readable(go[:, :, None, :], want_idx, args[0].shape)
    for kw in (dict(cache=cache), dict(indices=idx), {}):
        close(F.max_pool1d_backward(go, x, k, s, p, d, **kw), want[:, :, 0, :], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_window_sums_fast_equal_readable(seed, dtype, threading):
    """The window sum behind average, sum and Lp pooling, with any stride, padding and
    dilation (the kernel itself), and through the public sum_pool2d and avg_pool2d."""
    x, k, s, p, d = random_pool(seed, dtype, ties=False)
    x4, k2, s2, pads, d2 = _args.pool_args("max_pool2d", x, k, s, p, d, 2)
    want = pool.window_sum_readable(x4, k2, s2, pads, d2)
    close(fast_pool.window_sum(x4, k2, s2, pads, d2), want, dtype)
    go = np.random.default_rng(seed + 100).normal(size=want.shape).astype(dtype)
    want_gx = pool.window_sum_backward_readable(go, x.shape, k2, s2, pads, d2)
    close(fast_pool.window_sum_backward(go, x.shape, k2, s2, pads, d2), want_gx, dtype)
    # the public pools (no dilation)
    x4, k2, s2, pads, d2 = _args.pool_args("sum_pool2d", x, k, s, p, 1, 2)
    want = pool.window_sum_readable(x4, k2, s2, pads, d2)
    close(F.sum_pool2d(x, k, s, p), want, dtype)
    close(F.avg_pool2d(x, k, s, p), want / (k[0] * k[1]), dtype)
    go = np.random.default_rng(seed + 200).normal(size=want.shape).astype(dtype)
    want_gx = pool.window_sum_backward_readable(go, x.shape, k2, s2, pads, d2)
    close(F.sum_pool2d_backward(go, x, k, s, p), want_gx, dtype)
    close(F.avg_pool2d_backward(go, x, k, s, p), want_gx / (k[0] * k[1]), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lenet_pools_fast_equal_readable(dtype, threading):
    """2x2 pools that tile the input exactly (the backward skips zero-filling), after ReLU so
    that tied zeros are common."""
    rng = np.random.default_rng(6)
    for shape in [(40, 6, 28, 28), (40, 16, 10, 10)]:
        x = np.maximum(rng.normal(size=shape), 0).astype(dtype)
        args = _args.pool_args("max_pool2d", x, 2, None, 0, 1, 2)
        want_out, want_idx = pool.max_pool2d_readable(*args)
        out, cache = F.max_pool2d_with_cache(x, 2)
        np.testing.assert_array_equal(out, want_out)
        go = rng.normal(size=out.shape).astype(dtype)
        want = pool.max_pool2d_backward_readable(go, want_idx, x.shape)
        np.testing.assert_array_equal(F.max_pool2d_backward(go, x, 2, cache=cache), want)
        want_gx = pool.window_sum_backward_readable(go, x.shape, *args[1:])
        close(F.avg_pool2d_backward(go, x, 2), want_gx / 4, dtype)
        close(F.avg_pool2d(x, 2), pool.window_sum_readable(*args) / 4, dtype)


# ----------------------------------------------------------------------------------------------
# ReLU
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (7,), (5, 3), (64, 6, 28, 28)])
def test_relu_fast_equals_readable(shape, dtype, threading):
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape).astype(dtype)
    if x.size:
        x.reshape(-1)[:3] = [0.0, -0.0, np.nan] if x.size >= 3 else 0.0
    go = rng.normal(size=shape).astype(dtype)
    got, want = F.relu(x), activations.relu_readable(x)
    assert got.dtype == want.dtype == dtype
    np.testing.assert_array_equal(got, want)                         # bit for bit, NaN too
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    got, want = F.relu_backward(go, x), activations.relu_backward_readable(go, x)
    assert got.dtype == want.dtype == dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p", [
    ((3, 2, 8, 6), 2, 2, 0),      # windows tile the input: the gradient is written, not zeroed
    ((3, 2, 6, 6), 2, 2, 1),      # they tile the padded input
    ((3, 2, 7, 6), 2, 2, 0),      # the last row is in no window: it must get exactly 0
    ((3, 2, 6, 6), 2, 3, 0),      # gaps between the windows: 0 there too
    ((3, 2, 6, 9), (2, 1), (3, 2), (1, 0)),
])
def test_pool_backwards_never_leak_old_memory(shape, k, s, p, dtype, threading):
    """The fast backwards skip zero-filling only where every pixel is written: with freed
    memory full of NaN around, every pixel must still match the readable definition."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=shape).astype(dtype)
    args = _args.pool_args("max_pool2d", x, k, s, p, 1, 2)
    want_out, want_idx = pool.max_pool2d_readable(*args)
    go = rng.normal(size=want_out.shape).astype(dtype)
    want_max = pool.max_pool2d_backward_readable(go, want_idx, x.shape)
    want_sum = pool.window_sum_backward_readable(go, x.shape, *args[1:])
    _, cache = F.max_pool2d_with_cache(x, k, s, p)
    for _ in range(3):
        junk = np.full(x.size * 4, np.nan, dtype=dtype)      # freed, then likely reused
        del junk
        close(F.max_pool2d_backward(go, x, k, s, p, cache=cache), want_max, dtype)
        junk = np.full(x.size * 4, np.nan, dtype=dtype)
        del junk
        close(F.sum_pool2d_backward(go, x, k, s, p), want_sum, dtype)
