"""cnnlab._windows: padding, the zero-copy window view, im2col/col2im (adjoint pair); and the
fast layouts and threads of cnnlab._fast that build on them."""
import numpy as np
import pytest

from cnnlab import _windows as Wn
from cnnlab._fast import conv as FC
from cnnlab._fast import threads as T


def test_pad_nchw_asymmetric_and_value():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    p = Wn.pad_nchw(x, (1, 0, 2, 1), value=-np.inf)
    assert p.shape == (1, 1, 3, 6)
    np.testing.assert_array_equal(p[0, 0, 1:, 2:5], x[0, 0])
    assert np.isneginf(p[0, 0, 0]).all() and np.isneginf(p[0, 0, :, :2]).all()
    assert p.dtype == x.dtype
    assert Wn.pad_nchw(x, (0, 0, 0, 0)) is x
    np.testing.assert_array_equal(Wn.pad_nchw(x, (1, 1, 1, 1)),
                                  np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))))


@pytest.mark.parametrize("k,s,d", [((2, 2), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 2)),
                                   ((1, 3), (3, 2), (2, 1))])
def test_window_view_is_zero_copy_and_indexes_right(k, s, d):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 9, 8))
    v = Wn.window_view(x, k, s, d)
    assert np.shares_memory(v, x)
    assert not v.flags.writeable
    n, c, kh, kw, oh, ow = v.shape
    assert (kh, kw) == k
    assert oh == Wn.out_len(9, k[0], s[0], d[0], 0) and ow == Wn.out_len(8, k[1], s[1], d[1], 0)
    for (i, j, y, z) in [(0, 0, 0, 0), (kh - 1, kw - 1, oh - 1, ow - 1), (kh // 2, 0, oh // 2, ow - 1)]:
        np.testing.assert_array_equal(v[:, :, i, j, y, z], x[:, :, y * s[0] + i * d[0], z * s[1] + j * d[1]])


def test_tap_slice_matches_window_view():
    x = np.arange(2 * 10 * 11.0).reshape(1, 2, 10, 11)
    k, s, d = (3, 2), (2, 3), (2, 1)
    v = Wn.window_view(x, k, s, d)
    for i in range(3):
        for j in range(2):
            rows, cols = Wn.tap_slice(i, j, v.shape[-2:], s, d)
            np.testing.assert_array_equal(x[:, :, rows, cols], v[:, :, i, j])


@pytest.mark.parametrize("k,s,d", [((2, 2), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 2))])
def test_col2im_is_adjoint_of_im2col(k, s, d):
    # <im2col(x), c> == <x, col2im(c)> for all x, c: the backward of a linear map is its adjoint
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 8, 9))
    cols = Wn.im2col(x, k, s, d)
    c = rng.normal(size=cols.shape)
    back = Wn.col2im(c, x.shape, k, s, d)
    assert back.shape == x.shape
    np.testing.assert_allclose((cols * c).sum(), (x * back).sum(), rtol=1e-12)
    # the batch-last variant computes the same thing in another layout
    n, kk, L = cols.shape
    oh, ow = Wn.window_view(x, k, s, d).shape[-2:]
    c6 = c.reshape(n, 3, k[0], k[1], oh, ow).transpose(1, 2, 3, 4, 5, 0)
    back2 = FC.col2im_batch_last(np.ascontiguousarray(c6), (3, 8, 9, n), k, s, d)
    np.testing.assert_allclose(back2.transpose(3, 0, 1, 2), back, rtol=1e-12)


def test_im2col_into_reuses_buffer():
    x = np.arange(2 * 1 * 4 * 4.0).reshape(2, 1, 4, 4)
    win = Wn.window_view(x, (2, 2))
    buf = np.empty((4,) + win.shape[1:])
    cols = FC.im2col_into(buf, win)
    assert np.shares_memory(cols, buf)
    np.testing.assert_array_equal(cols, Wn.im2col(x, (2, 2)))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_parallel_for_covers_range_once(threads, monkeypatch):
    monkeypatch.setattr(T, "_MIN_PARALLEL_ITEMS", 1)
    old = T.get_num_threads()
    T.set_num_threads(threads)
    try:
        for n in (1, 2, 5, 17):
            hits = np.zeros(n, int)

            def work(a, b):
                hits[a:b] += 1

            T.parallel_for(n, work, items=10 ** 9)
            assert hits.tolist() == [1] * n
        # exceptions in a worker reach the caller
        def boom(a, b):
            raise RuntimeError("boom")
        with pytest.raises(RuntimeError, match="boom"):
            T.parallel_for(8, boom, items=10 ** 9)
    finally:
        T.set_num_threads(old)


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="n must be"):
        T.set_num_threads(0)
    assert T.get_num_threads() >= 1
