"""cnnlab.functional without PyTorch: scipy.signal / numpy oracles for the single-array
functions, the worked examples, the formulas, finite differences for every backward, the naive
loop reference for conv and pooling, argument errors and dtypes."""
import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import functional as F
from cnnlab import reference as R
from cnnlab.gradcheck import numerical_gradient

# ---------------------------------------------------------------------------------------------
# worked examples
# ---------------------------------------------------------------------------------------------


def test_worked_example_2d():
    x = np.arange(9).reshape(3, 3)
    k = np.array([[0, 1], [2, 3]])
    out = F.correlate2d(x, k)
    assert out.tolist() == [[19, 25], [37, 43]]
    assert out.dtype.kind == "i"                       # integers stay integers, like scipy
    assert F.correlate2d(x.tolist(), k.tolist()).tolist() == [[19, 25], [37, 43]]
    # convolution flips the kernel: [[3,2],[1,0]]
    assert F.convolve2d(x, k).tolist() == [[5, 11], [23, 29]]
    # the same example through the batched conv2d
    out4 = F.conv2d(x[None, None].astype(np.float64), k[None, None].astype(np.float64))
    assert out4[0, 0].tolist() == [[19.0, 25.0], [37.0, 43.0]]


def test_worked_example_1d():
    assert F.correlate1d([0, 1, 2, 3, 4], [1, 2]).tolist() == [2, 5, 8, 11]
    assert F.convolve1d([0, 1, 2, 3, 4], [1, 2]).tolist() == [1, 4, 7, 10]
    assert F.conv1d(np.arange(5.0)[None, None], np.array([[[1.0, 2.0]]]))[0, 0].tolist() == \
        [2.0, 5.0, 8.0, 11.0]


# ---------------------------------------------------------------------------------------------
# pedagogical functions vs scipy.signal / numpy
# ---------------------------------------------------------------------------------------------

MODES = ["valid", "same", "full"]


@settings(max_examples=150, deadline=None)
@given(H=st.integers(1, 9), W=st.integers(1, 9), kh=st.integers(1, 6), kw=st.integers(1, 6),
       mode=st.sampled_from(MODES), seed=st.integers(0, 10_000), ints=st.booleans())
def test_correlate2d_convolve2d_match_scipy(H, W, kh, kw, mode, seed, ints):
    rng = np.random.default_rng(seed)
    if ints:
        x, k = rng.integers(-5, 6, size=(H, W)), rng.integers(-3, 4, size=(kh, kw))
    else:
        x, k = rng.normal(size=(H, W)), rng.normal(size=(kh, kw))
    fits = (H >= kh and W >= kw) or (H <= kh and W <= kw)
    for ours, ref in ((F.correlate2d, ss.correlate2d), (F.convolve2d, ss.convolve2d)):
        if mode == "valid" and not fits:
            with pytest.raises(ValueError):
                ref(x, k, mode)
            with pytest.raises(ValueError, match="valid"):
                ours(x, k, mode)
            continue
        got, want = ours(x, k, mode), ref(x, k, mode)
        assert got.shape == want.shape
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 8), mode=st.sampled_from(MODES),
       seed=st.integers(0, 10_000))
def test_correlate1d_convolve1d_match_scipy_and_numpy(n, k, mode, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=n), rng.normal(size=k)
    np.testing.assert_allclose(F.correlate1d(x, w, mode),
                               ss.correlate(x, w, mode, method="direct"), atol=1e-12)
    np.testing.assert_allclose(F.convolve1d(x, w, mode),
                               ss.convolve(x, w, mode, method="direct"), atol=1e-12)
    if mode != "same" or n >= k:            # numpy's "same" has length max(n, k)
        np.testing.assert_allclose(F.correlate1d(x, w, mode), np.correlate(x, w, mode),
                                   atol=1e-12)
        np.testing.assert_allclose(F.convolve1d(x, w, mode), np.convolve(x, w, mode),
                                   atol=1e-12)


def test_correlate2d_even_kernel_same_centering():
    # scipy puts a correlation's "same" window on kernel index k//2; convolution on (k-1)//2
    x = np.arange(16.0).reshape(4, 4)
    k = np.array([[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(F.correlate2d(x, k, "same"), ss.correlate2d(x, k, "same"))
    np.testing.assert_array_equal(F.convolve2d(x, k, "same"), ss.convolve2d(x, k, "same"))


def test_correlate2d_complex_conjugates_kernel_like_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)) + 1j * rng.normal(size=(4, 5))
    k = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    for mode in MODES:
        np.testing.assert_allclose(F.correlate2d(x, k, mode), ss.correlate2d(x, k, mode))
        np.testing.assert_allclose(F.convolve2d(x, k, mode), ss.convolve2d(x, k, mode))


def test_correlate2d_float32_stays_float32():
    x = np.ones((5, 5), np.float32)
    assert F.correlate2d(x, np.ones((3, 3), np.float32)).dtype == np.float32
    assert F.convolve2d(x, np.ones((3, 3), np.float32), "full").dtype == np.float32


# ---------------------------------------------------------------------------------------------
# formulas
# ---------------------------------------------------------------------------------------------

def test_output_size_formula():
    assert F.output_size(28, 5, padding=2) == 28
    assert F.output_size(28, 5) == 24
    assert F.output_size(24, 2, stride=2) == 12
    assert F.output_size(7, 3, stride=3) == 2
    assert F.output_size(7, 3, stride=2) == 3
    assert F.output_size(10, 3, dilation=2) == 6
    assert F.output_size(5, 3, stride=2, padding=1, dilation=2) == 2
    assert F.output_size_exact(7, 3, stride=3) == pytest.approx(7 / 3)
    assert F.output_size(7, 3, stride=2, strict=True) == 3


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 3),
       d=st.integers(1, 3))
def test_output_size_agrees_with_conv2d(n, k, s, p, d):
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(ValueError, match="kernel"):
            F.output_size(n, k, s, p, d)
        return
    o = F.output_size(n, k, s, p, d)
    assert o == (n + 2 * p - d * (k - 1) - 1) // s + 1
    assert o == int(np.floor(F.output_size_exact(n, k, s, p, d)))
    out = F.conv2d(np.zeros((1, 1, n, 2)), np.zeros((1, 1, k, 1)), stride=(s, 1),
                   padding=(p, 0), dilation=(d, 1))
    assert out.shape[2] == o


def test_output_size_strict_explains_the_fraction():
    with pytest.raises(ValueError) as e:
        F.output_size(7, 3, stride=3, strict=True)
    assert "(7 - 3)/3 + 1 = 2.33" in str(e.value)
    assert "stride" in str(e.value)
    with pytest.raises(ValueError) as e:
        F.output_size(8, 3, stride=2, padding=1, strict=True)
    assert "(8 + 2*1 - 3)/2 + 1 = 4.50" in str(e.value)
    with pytest.raises(ValueError) as e:
        F.output_size(8, 3, stride=2, dilation=2, strict=True)
    assert "(8 - 2*(3 - 1) - 1)/2 + 1 = 2.50" in str(e.value)


@pytest.mark.parametrize("kwargs,name", [
    (dict(n=3, kernel_size=5), "kernel_size"),
    (dict(n=5, kernel_size=3, stride=0), "stride"),
    (dict(n=5, kernel_size=3, dilation=0), "dilation"),
    (dict(n=5, kernel_size=3, padding=-1), "padding"),
    (dict(n=5, kernel_size=0), "kernel_size"),
])
def test_output_size_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        F.output_size(**kwargs)
    with pytest.raises(ValueError, match=name):
        F.output_size_exact(**kwargs)


def test_output_size_kernel_too_large_shows_numbers():
    with pytest.raises(ValueError) as e:
        F.output_size(3, 5, padding=0)
    assert "5" in str(e.value) and "3" in str(e.value)
    with pytest.raises(TypeError, match="stride"):
        F.output_size(7, 3, stride=1.5)


def test_conv_parameter_count():
    assert F.conv_parameter_count(3, 32, 5) == 2432
    assert F.conv_parameter_count(1, 6, 5) == 156
    assert F.conv_parameter_count(6, 16, (5, 5)) == 2416
    assert F.conv_parameter_count(4, 8, (3,)) == 104
    assert F.conv_parameter_count(3, 32, 5, bias=False) == 2400
    with pytest.raises(ValueError, match="in_channels"):
        F.conv_parameter_count(0, 3, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        F.conv_parameter_count(1, 3, "3")


def test_receptive_field():
    assert F.receptive_field([(3, 1, 1), (3, 1, 1)]) == [3, 5]
    assert F.receptive_field([(3, 1, 1)] * 3) == [3, 5, 7]
    assert F.receptive_field([(5, 1, 1), (2, 2, 1), (5, 1, 1), (2, 2, 1)]) == [5, 6, 14, 16]
    assert F.receptive_field([(3, 1, 2), (3, 1, 4)]) == [5, 13]
    assert F.receptive_field([(3, 2), (3,)]) == [3, 7]
    with pytest.raises(ValueError, match="stride"):
        F.receptive_field([(3, 0, 1)])


# ---------------------------------------------------------------------------------------------
# naive loop reference vs vectorized
# ---------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 2), C=st.integers(1, 3), Co=st.integers(1, 3))
def test_conv2d_matches_naive(seed, k, s, p, d, C, Co):
    rng = np.random.default_rng(seed)
    span = d * (k - 1) + 1
    H = max(1, span - 2 * p) + int(rng.integers(0, 5))
    W = max(1, span - 2 * p) + int(rng.integers(0, 5))
    x = rng.normal(size=(2, C, H, W))
    w = rng.normal(size=(Co, C, k, k))
    b = rng.normal(size=Co)
    np.testing.assert_allclose(F.conv2d(x, w, b, s, p, d), R.conv2d_naive(x, w, b, s, p, d),
                               atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 3))
def test_conv1d_matches_naive(seed, k, s, p, d):
    rng = np.random.default_rng(seed)
    L = max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 8))
    x = rng.normal(size=(2, 2, L))
    w = rng.normal(size=(3, 2, k))
    np.testing.assert_allclose(F.conv1d(x, w, None, s, p, d), R.conv1d_naive(x, w, None, s, p, d),
                               atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), s=st.integers(1, 3),
       d=st.integers(1, 2), relu=st.booleans())
def test_max_pool2d_matches_naive(seed, k, s, d, relu):
    rng = np.random.default_rng(seed)
    p = int(rng.integers(0, k // 2 + 1))
    span = d * (k - 1) + 1
    x = rng.normal(size=(2, 2, span + int(rng.integers(0, 5)), span + int(rng.integers(0, 5))))
    if relu:
        x = np.maximum(x, 0)
    out, idx = F.max_pool2d(x, k, s, p, d, return_indices=True)
    ref, ref_idx = R.max_pool2d_naive(x, k, s, p, d)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(idx, ref_idx)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), s=st.integers(1, 3),
       cip=st.booleans())
def test_avg_pool2d_matches_naive(seed, k, s, cip):
    rng = np.random.default_rng(seed)
    p = int(rng.integers(0, k // 2 + 1))
    x = rng.normal(size=(2, 2, k + int(rng.integers(0, 5)), k + int(rng.integers(0, 5))))
    np.testing.assert_allclose(F.avg_pool2d(x, k, s, p, count_include_pad=cip),
                               R.avg_pool2d_naive(x, k, s, p, count_include_pad=cip), atol=1e-12)


def test_correlate2d_matches_naive():
    rng = np.random.default_rng(0)
    for _ in range(10):
        x = rng.normal(size=tuple(rng.integers(3, 8, size=2)))
        k = rng.normal(size=tuple(rng.integers(1, 4, size=2)))
        np.testing.assert_allclose(F.correlate2d(x, k), R.correlate2d_naive(x, k), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# finite differences for every backward (float64)
# ---------------------------------------------------------------------------------------------

# rel_error is elementwise, so it is noisy where a true gradient is nearly 0 (1e-8 vs 1e-8 +
# 1e-10). These tests compare against the largest gradient instead: a scale-aware error.
FD_TOL = 1e-7


def scaled_error(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(1e-8, np.max(np.abs(a)) + np.max(np.abs(b))))


def _fd(f, x, g):
    return numerical_gradient(f, x, g)


CONV_CASES = [  # stride, padding, dilation
    (1, 0, 1), (2, 1, 1), ((1, 2), (2, 0), (2, 1)), (1, "same", 2), (3, 2, 1),
]


@pytest.mark.parametrize("stride,padding,dilation", CONV_CASES)
def test_conv2d_backward_finite_differences(stride, padding, dilation):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2, 6, 7))
    w = rng.normal(size=(3, 2, 3, 2))
    b = rng.normal(size=3)
    out = F.conv2d(x, w, b, stride, padding, dilation)
    g = rng.normal(size=out.shape)
    gx, gw, gb = F.conv2d_backward(g, x, w, stride, padding, dilation)
    assert scaled_error(gx, _fd(lambda v: F.conv2d(v, w, b, stride, padding, dilation), x, g)) < FD_TOL
    assert scaled_error(gw, _fd(lambda v: F.conv2d(x, v, b, stride, padding, dilation), w, g)) < FD_TOL
    assert scaled_error(gb, _fd(lambda v: F.conv2d(x, w, v, stride, padding, dilation), b, g)) < FD_TOL


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 2), (1, "same", 1)])
def test_conv1d_backward_finite_differences(stride, padding, dilation):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 2, 9))
    w = rng.normal(size=(3, 2, 4))
    b = rng.normal(size=3)
    out = F.conv1d(x, w, b, stride, padding, dilation)
    g = rng.normal(size=out.shape)
    gx, gw, gb = F.conv1d_backward(g, x, w, stride, padding, dilation)
    assert scaled_error(gx, _fd(lambda v: F.conv1d(v, w, b, stride, padding, dilation), x, g)) < FD_TOL
    assert scaled_error(gw, _fd(lambda v: F.conv1d(x, v, b, stride, padding, dilation), w, g)) < FD_TOL
    assert scaled_error(gb, _fd(lambda v: F.conv1d(x, w, v, stride, padding, dilation), b, g)) < FD_TOL


POOL_CASES = [  # kernel, stride, padding
    (2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 0)), (3, 1, 0),
]


@pytest.mark.parametrize("k,s,p", POOL_CASES)
def test_pool2d_backward_finite_differences(k, s, p):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 2, 6, 7))        # distinct values: max pool is differentiable here
    for fwd, bwd, kw in [
        (F.max_pool2d, F.max_pool2d_backward, {}),
        (F.max_pool2d, F.max_pool2d_backward, {"dilation": 2}),
        (F.avg_pool2d, F.avg_pool2d_backward, {}),
        (F.avg_pool2d, F.avg_pool2d_backward, {"count_include_pad": False}),
        (F.sum_pool2d, F.sum_pool2d_backward, {}),
    ]:
        if "dilation" in kw and (2 * (np.max(k) - 1) + 1 > 6):
            continue
        out = fwd(x, k, s, p, **kw)
        g = rng.normal(size=out.shape)
        got = bwd(g, x, k, s, p, **kw)
        assert scaled_error(got, _fd(lambda v: fwd(v, k, s, p, **kw), x, g)) < FD_TOL, fwd.__name__


@pytest.mark.parametrize("norm_type", [1, 2, 3, 1.5])
def test_lp_pool_backward_finite_differences(norm_type):
    rng = np.random.default_rng(4)
    x = rng.random(size=(2, 2, 6, 5)) + 0.2
    for k, s in [(2, None), ((3, 2), 1)]:
        out = F.lp_pool2d(x, norm_type, k, s)
        g = rng.normal(size=out.shape)
        got = F.lp_pool2d_backward(g, x, norm_type, k, s)
        assert scaled_error(got, _fd(lambda v: F.lp_pool2d(v, norm_type, k, s), x, g)) < FD_TOL
    x1 = x[:, :, 0, :]
    out = F.lp_pool1d(x1, norm_type, 2, 1)
    g = rng.normal(size=out.shape)
    got = F.lp_pool1d_backward(g, x1, norm_type, 2, 1)
    assert scaled_error(got, _fd(lambda v: F.lp_pool1d(v, norm_type, 2, 1), x1, g)) < FD_TOL


def test_pool1d_backward_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 11))
    for fwd, bwd, args in [(F.max_pool1d, F.max_pool1d_backward, (3, 2, 1, 2)),
                           (F.avg_pool1d, F.avg_pool1d_backward, (3, 2, 1))]:
        out = fwd(x, *args)
        g = rng.normal(size=out.shape)
        assert scaled_error(bwd(g, x, *args), _fd(lambda v: fwd(v, *args), x, g)) < FD_TOL


ACTS = [("relu", {}), ("sigmoid", {}), ("tanh", {}), ("leaky_relu", {"negative_slope": 0.1}),
        ("silu", {}), ("softmax", {"dim": 1}), ("softmax", {"dim": 0}), ("log_softmax", {}),
        ("log_softmax", {"dim": 0})]


@pytest.mark.parametrize("name,kw", ACTS)
def test_activation_backward_finite_differences(name, kw):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 5)) * 3
    x[np.abs(x) < 1e-3] = 0.5                      # keep away from the relu kink
    g = rng.normal(size=x.shape)
    fwd = getattr(F, name)
    got = getattr(F, name + "_backward")(g, x, **kw)
    assert scaled_error(got, _fd(lambda v: fwd(v, **kw), x, g)) < FD_TOL


def test_linear_backward_finite_differences():
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=(5, 4)), rng.normal(size=(3, 4)), rng.normal(size=3)
    g = rng.normal(size=(5, 3))
    gx, gw, gb = F.linear_backward(g, x, w)
    assert scaled_error(gx, _fd(lambda v: F.linear(v, w, b), x, g)) < FD_TOL
    assert scaled_error(gw, _fd(lambda v: F.linear(x, v, b), w, g)) < FD_TOL
    assert scaled_error(gb, _fd(lambda v: F.linear(x, w, v), b, g)) < FD_TOL


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_backward_finite_differences(reduction):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5, 4)) * 2
    t = np.array([0, 3, 1, 1, 2])
    g = rng.normal(size=5) if reduction == "none" else 1.0
    got = F.cross_entropy_backward(g, x, t, reduction)
    num = _fd(lambda v: F.cross_entropy(v, t, reduction), x, None if reduction != "none" else g)
    assert scaled_error(got, num) < FD_TOL


def test_dropout_backward_finite_differences():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(4, 6))
    out, mask = F.dropout(x, 0.4, rng=np.random.default_rng(1), return_mask=True)
    g = rng.normal(size=x.shape)
    got = F.dropout_backward(g, mask, 0.4)
    num = _fd(lambda v: F.dropout(v, 0.4, rng=np.random.default_rng(1)), x, g)
    assert scaled_error(got, num) < FD_TOL


def test_flatten_backward_finite_differences():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 3, 2, 2))
    g = rng.normal(size=(2, 12))
    assert scaled_error(F.flatten_backward(g, x), _fd(F.flatten, x, g)) < FD_TOL


# ---------------------------------------------------------------------------------------------
# misc semantics
# ---------------------------------------------------------------------------------------------

def test_max_pool_ties_first_maximum_and_gradient_goes_once():
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [0.0, 0.0, 0.0]]]])
    out, idx = F.max_pool2d(x, 2, stride=1, return_indices=True)
    assert out[0, 0].tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert idx[0, 0].tolist() == [[1, 1], [3, 5]]
    g = F.max_pool2d_backward(np.ones_like(out), x, 2, stride=1, indices=idx)
    assert g[0, 0].tolist() == [[0, 2, 0], [1, 0, 1], [0, 0, 0]]


def test_sigmoid_stable_for_large_inputs():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):
        s = F.sigmoid(x)
        F.silu(x)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5


def test_cross_entropy_value_by_hand():
    x = np.array([[0.0, 0.0], [1000.0, 0.0]])
    loss = F.cross_entropy(x, np.array([0, 1]), reduction="none")
    np.testing.assert_allclose(loss, [np.log(2), 1000.0])
    assert float(F.cross_entropy(x, [0, 1])) == pytest.approx((np.log(2) + 1000) / 2)
    # float labels holding whole numbers are accepted
    assert float(F.cross_entropy(x, np.array([0.0, 1.0]))) == pytest.approx((np.log(2) + 1000) / 2)


def test_dropout_p_extremes_and_seeded():
    x = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(F.dropout(x, 1.0, rng=np.random.default_rng(0)), 0)
    np.testing.assert_array_equal(F.dropout(x, 0.0, rng=np.random.default_rng(0)), x)
    a = F.dropout(x, 0.5, rng=np.random.default_rng(3))
    b = F.dropout(x, 0.5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(F.dropout_backward(x, np.ones_like(x, bool), 1.0), 0)


def test_conv2d_same_padding_even_kernel_extra_on_bottom_right():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 3, 3] = 1.0
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 1, 1] = 1.0                            # picks the pixel down-right of the anchor
    out = F.conv2d(x, w, padding="same")
    assert out.shape == (1, 1, 4, 4)
    assert out[0, 0, 3, 3] == 0.0 and out[0, 0, 2, 2] == 1.0


# ---------------------------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved_everywhere(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 8, 8)).astype(dtype)
    w = rng.normal(size=(4, 3, 3, 3)).astype(dtype)
    b = rng.normal(size=4).astype(dtype)
    out, cache = F.conv2d_with_cache(x, w, b, padding=1)
    assert out.dtype == dtype
    for a in F.conv2d_backward(out, x, w, padding=1, cache=cache):
        assert a.dtype == dtype
    x1, w1 = x[:, :, 0], w[:, :, 0]
    o1 = F.conv1d(x1, w1, b, padding=1)
    assert o1.dtype == dtype
    assert all(a.dtype == dtype for a in F.conv1d_backward(o1, x1, w1, padding=1))
    for fwd, bwd, kw in [(F.max_pool2d, F.max_pool2d_backward, {}),
                         (F.avg_pool2d, F.avg_pool2d_backward, {"count_include_pad": False}),
                         (F.sum_pool2d, F.sum_pool2d_backward, {})]:
        o = fwd(x, 2, **kw)
        assert o.dtype == dtype and bwd(o, x, 2, **kw).dtype == dtype
    xp = np.abs(x) + 0.1
    for p in (2, 3, 1.5):
        o = F.lp_pool2d(xp, p, 2)
        assert o.dtype == dtype and F.lp_pool2d_backward(o, xp, p, 2).dtype == dtype
    assert F.max_pool1d(x1, 2).dtype == dtype and F.avg_pool1d(x1, 2).dtype == dtype
    for name, kw in ACTS:
        o = getattr(F, name)(x, **kw)
        assert o.dtype == dtype, name
        assert getattr(F, name + "_backward")(o, x, **kw).dtype == dtype, name
    flat = F.flatten(x)
    lw = rng.normal(size=(5, flat.shape[1])).astype(dtype)
    lo = F.linear(flat, lw, rng.normal(size=5).astype(dtype))
    assert lo.dtype == dtype
    assert all(a.dtype == dtype for a in F.linear_backward(lo, flat, lw))
    t = np.array([0, 4])
    assert F.cross_entropy(lo, t).dtype == dtype
    assert F.cross_entropy_backward(1.0, lo, t).dtype == dtype
    assert F.cross_entropy_backward(np.float64(1.0), lo, t).dtype == dtype
    assert F.dropout(x, 0.5, rng=rng).dtype == dtype


def test_integer_input_to_batched_ops_becomes_float64():
    x = np.arange(2 * 1 * 5 * 5).reshape(2, 1, 5, 5)
    w = np.ones((1, 1, 3, 3), dtype=np.int64)
    out = F.conv2d(x, w)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, F.conv2d(x.astype(float), w.astype(float)))
    assert F.max_pool2d(x, 2).dtype == np.float64
    assert F.relu(np.array([-1, 2])).dtype == np.float64


# ---------------------------------------------------------------------------------------------
# bad input: the right exception, naming the argument
# ---------------------------------------------------------------------------------------------

def _raises(exc, fn, *args, match, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    for m in ([match] if isinstance(match, str) else match):
        assert m in msg, f"{m!r} not in {msg!r}"
    return msg


X4 = np.zeros((2, 3, 8, 8))
W4 = np.zeros((4, 3, 3, 3))


def test_conv2d_wrong_ndim_message():
    msg = _raises(ValueError, F.conv2d, np.zeros((28, 28)), np.zeros((1, 1, 5, 5)),
                  match=["conv2d: input must be 4-D (N, C_in, H, W), got shape (28, 28)",
                         "x[None, None]"])
    assert msg == ("conv2d: input must be 4-D (N, C_in, H, W), got shape (28, 28); for a single "
                   "image use x[None, None]")
    _raises(ValueError, F.conv2d, np.zeros((3, 28, 28)), W4, match=["input", "x[None]"])
    _raises(ValueError, F.conv2d, X4, np.zeros((3, 3)), match=["weight", "4-D", "k[None, None]"])
    _raises(ValueError, F.conv1d, np.zeros((2, 8)), np.zeros((1, 2, 3)), match=["input", "3-D"])
    _raises(ValueError, F.conv1d, np.zeros((2, 2, 8)), np.zeros((2, 3)), match=["weight", "3-D"])


def test_conv2d_channel_mismatch_names_both():
    _raises(ValueError, F.conv2d, X4, np.zeros((4, 1, 3, 3)),
            match=["input has 3 channels", "weight expects 1", "input.shape[1]", "weight.shape[1]"])


def test_conv2d_kernel_too_large_shows_numbers():
    _raises(ValueError, F.conv2d, np.zeros((1, 1, 3, 8)), np.zeros((1, 1, 5, 3)),
            match=["kernel", "5", "height 3", "padding"])
    _raises(ValueError, F.conv2d, np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 3, 3)), dilation=4,
            match=["kernel spans 9", "dilation 4", "8"])
    _raises(ValueError, F.conv1d, np.zeros((1, 1, 3)), np.zeros((1, 1, 5)), match=["length"])


@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(stride=0), ValueError, "stride"),
    (dict(stride=(1, 0)), ValueError, "stride"),
    (dict(dilation=0), ValueError, "dilation"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(padding=(0, -2)), ValueError, "padding"),
    (dict(padding="half"), ValueError, "padding"),
    (dict(padding="same", stride=2), ValueError, "stride=1"),
    (dict(stride=1.5), TypeError, "stride"),
    (dict(stride=(1, 2, 3)), TypeError, "stride"),
    (dict(padding=True), TypeError, "padding"),
    (dict(bias=np.zeros(5)), ValueError, "bias"),
    (dict(bias=np.zeros((4, 1))), ValueError, "bias"),
])
def test_conv2d_bad_arguments(kwargs, exc, name):
    _raises(exc, F.conv2d, X4, W4, match=name, **kwargs)
    if name not in ("bias",):
        out = F.conv2d(X4, W4)
        with pytest.raises(exc, match=name.split("=")[0]):
            F.conv2d_backward(out, X4, W4, **kwargs)


def test_conv_backward_bad_grad_output_and_cache():
    _raises(ValueError, F.conv2d_backward, np.zeros((2, 4, 5, 5)), X4, W4,
            match=["grad_output", "(2, 4, 6, 6)"])
    _, cache = F.conv2d_with_cache(X4, W4, padding=1)
    _raises(ValueError, F.conv2d_backward, np.zeros((2, 4, 6, 6)), X4, W4, cache=cache,
            match="cache")
    _raises(TypeError, F.conv2d_backward, np.zeros((2, 4, 6, 6)), X4, W4, cache={"cols": 1},
            match="cache")


def test_max_pool_cache_seam():
    """max_pool*_with_cache -> (out, cache); the backward takes the cache (like conv's seam)
    and refuses one from another call, a foreign object, or a cache together with indices."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 8, 8))
    out, cache = F.max_pool2d_with_cache(x, 2)
    np.testing.assert_array_equal(out, F.max_pool2d(x, 2))
    assert isinstance(cache, F.MaxPoolCache) and cache.input_shape == x.shape
    g = rng.normal(size=out.shape)
    np.testing.assert_array_equal(F.max_pool2d_backward(g, x, 2, cache=cache),
                                  F.max_pool2d_backward(g, x, 2))
    _raises(ValueError, F.max_pool2d_backward, g, x, 2, 2, 0, 1, cache=cache,
            indices=F.max_pool2d(x, 2, return_indices=True)[1], match=["indices or cache"])
    _raises(TypeError, F.max_pool2d_backward, g, x, 2, cache={"tap": 1},
            match=["cache", "MaxPoolCache"])
    _, other = F.max_pool2d_with_cache(x, 3, 2, 1)
    _raises(ValueError, F.max_pool2d_backward, g, x, 2, cache=other,
            match=["max_pool2d_backward", "cache does not match"])
    _, other = F.max_pool2d_with_cache(x[:1], 2)
    _raises(ValueError, F.max_pool2d_backward, g, x, 2, cache=other, match="(1, 3, 8, 8)")
    x1 = x[:, :, 0, :]
    out1, cache1 = F.max_pool1d_with_cache(x1, 2)
    g1 = rng.normal(size=out1.shape)
    np.testing.assert_array_equal(F.max_pool1d_backward(g1, x1, 2, cache=cache1),
                                  F.max_pool1d_backward(g1, x1, 2))
    _raises(ValueError, F.max_pool1d_backward, g1, x1, 2, cache=cache, match="cache")


@pytest.mark.parametrize("bad", [
    np.array([["a", "b"], ["c", "d"]]), [["a", "b"], ["c", "d"]],
    np.array([[1, None]], dtype=object), "image",
])
def test_non_numeric_input_is_a_type_error(bad):
    _raises(TypeError, F.correlate2d, bad, [[1]], match=["correlate2d", "x", "numeric"])
    _raises(TypeError, F.conv2d, bad, W4, match=["conv2d", "input", "numeric"])
    _raises(TypeError, F.relu, bad, match=["relu", "numeric"])
    _raises(TypeError, F.max_pool2d, bad, 2, match=["max_pool2d", "input", "numeric"])
    _raises(TypeError, F.linear, bad, np.zeros((2, 2)), match=["linear", "input"])
    _raises(TypeError, F.conv2d, X4, np.array(["w"] * 27).reshape(1, 3, 3, 3),
            match=["weight"])


def test_pedagogical_bad_arguments():
    _raises(ValueError, F.correlate2d, np.zeros((1, 1, 5, 5)), np.zeros((3, 3)),
            match=["x must be 2-D", "conv2d"])
    _raises(ValueError, F.correlate2d, np.zeros((5, 5)), np.zeros(3), match="k must be 2-D")
    _raises(ValueError, F.correlate2d, np.zeros((5, 5)), np.zeros((3, 3)), mode="circular",
            match="mode")
    _raises(ValueError, F.correlate2d, np.zeros((5, 3)), np.zeros((3, 5)), match=["valid", "same"])
    _raises(ValueError, F.correlate1d, np.zeros((5, 5)), np.zeros(3), match="x must be 1-D")
    _raises(ValueError, F.convolve1d, np.zeros(5), np.zeros(0), match="k is empty")


@pytest.mark.parametrize("fn", [F.max_pool2d, F.avg_pool2d])
def test_pool_bad_arguments(fn):
    _raises(ValueError, fn, X4, 2, padding=2, match=["padding", "half", "kernel_size"])
    _raises(ValueError, fn, X4, 3, padding=2, match=["padding", "<= 1"])
    _raises(ValueError, fn, X4, 2, stride=0, match="stride")
    _raises(ValueError, fn, X4, 0, match="kernel_size")
    _raises(ValueError, fn, X4, 9, match=["kernel", "9", "8"])
    _raises(ValueError, fn, np.zeros((8, 8)), 2, match=["input must be 4-D", "(N, C, H, W)"])
    _raises(ValueError, fn, X4, 2, padding=-1, match="padding")
    _raises(TypeError, fn, X4, 2.0, match="kernel_size")


def test_pool_backward_bad_arguments():
    out, idx = F.max_pool2d(X4, 2, return_indices=True)
    _raises(ValueError, F.max_pool2d_backward, np.zeros((2, 3, 3, 3)), X4, 2,
            match=["grad_output", "(2, 3, 4, 4)"])
    _raises(ValueError, F.max_pool2d_backward, out, X4, 2, indices=idx[:, :, :2],
            match="indices")
    _raises(ValueError, F.max_pool2d_backward, out, X4, 2, indices=idx + 1000, match="indices")
    _raises(ValueError, F.max_pool1d, np.zeros((2, 8)), 2, match=["input must be 3-D", "x[None]"])
    _raises(ValueError, F.lp_pool2d, X4, 0, 2, match="norm_type")
    _raises(ValueError, F.lp_pool2d, X4, -2, 2, match="norm_type")


def test_linear_bad_arguments():
    _raises(ValueError, F.linear, np.zeros((2, 401)), np.zeros((120, 400)),
            match=["401 features", "expects 400", "input", "weight"])
    _raises(ValueError, F.linear, np.zeros((2, 16, 5, 5)), np.zeros((120, 400)),
            match=["flatten", "2 x 400"])
    _raises(ValueError, F.linear, np.zeros((2, 400)), np.zeros(400), match=["weight", "2-D"])
    _raises(ValueError, F.linear, np.zeros((2, 4)), np.zeros((3, 4)), np.zeros(4), match="bias")
    _raises(ValueError, F.linear_backward, np.zeros((2, 4)), np.zeros((2, 4)), np.zeros((3, 4)),
            match="grad_output")


def test_cross_entropy_bad_arguments():
    x = np.zeros((3, 4))
    _raises(ValueError, F.cross_entropy, x, np.array([0, 1, 4]),
            match=["target", "label 4", "0..3", "classes"])
    _raises(ValueError, F.cross_entropy, x, np.array([0, -1, 2]), match=["target", "label -1"])
    _raises(ValueError, F.cross_entropy, x, np.array([0, 1]), match=["target", "(3,)"])
    _raises(TypeError, F.cross_entropy, x, np.array([0.5, 1, 2]), match=["target", "integer"])
    _raises(TypeError, F.cross_entropy, x, np.array(["a", "b", "c"]), match=["target", "numeric"])
    _raises(ValueError, F.cross_entropy, np.zeros(4), np.array([1]), match=["input", "2-D"])
    _raises(ValueError, F.cross_entropy, x, np.array([0, 1, 2]), reduction="avg",
            match="reduction")
    _raises(ValueError, F.cross_entropy_backward, np.ones(2), x, np.array([0, 1, 2]),
            match="grad_output")
    _raises(ValueError, F.cross_entropy_backward, np.ones(2), x, np.array([0, 1, 2]),
            reduction="none", match="grad_output")


def test_activation_bad_arguments():
    _raises(ValueError, F.relu_backward, np.zeros(3), np.zeros(4), match="grad_output")
    _raises(ValueError, F.softmax, np.zeros((2, 3)), dim=2, match="dim")
    _raises(TypeError, F.leaky_relu, np.zeros(3), negative_slope="0.1", match="negative_slope")
    _raises(TypeError, F.sigmoid, np.zeros(3) + 1j, match="real")
    _raises(ValueError, F.dropout, np.zeros(3), p=1.5, match="p must")
    _raises(TypeError, F.dropout, np.zeros(3), p=0.5, rng=42, match="rng")
    _raises(ValueError, F.dropout_backward, np.zeros(3), np.ones(4, bool), 0.5, match="mask")
    _raises(ValueError, F.flatten, np.zeros((2, 3)), start_dim=5, match="dim")
    _raises(ValueError, F.flatten_backward, np.zeros(5), (2, 3), match="grad_output")


def test_max_pool_window_only_on_padding_is_refused():
    # dilation 3 with padding 1 on a 2x2 image: the only window's taps sit at -1 and 2
    _raises(ValueError, F.max_pool2d, np.zeros((1, 1, 2, 2)), 2, 1, 1, 3,
            match=["padding=1", "dilation=3", "only padding"])
    _raises(ValueError, F.max_pool1d, np.zeros((1, 1, 2)), 2, 1, 1, 3, match="only padding")


# ---------------------------------------------------------------------------------------------
# fast paths: tiling pool windows (no zero-fill), relu against a zeros row, conv bias
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,k,s,p", [
    ((3, 2, 8, 6), 2, 2, 0),      # windows tile the input: the gradient buffer is not zeroed
    ((3, 2, 6, 6), 2, 2, 1),      # they tile the padded input
    ((3, 2, 7, 6), 2, 2, 0),      # odd height: the last row is in no window, must get 0
    ((3, 2, 6, 6), 3, 3, 0),
])
def test_pool_backward_tiling_matches_indices_and_sum(shape, k, s, p):
    rng = np.random.default_rng(11)
    x = rng.normal(size=shape).astype(np.float32)
    out, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    g = rng.normal(size=out.shape).astype(np.float32)
    via_idx = F.max_pool2d_backward(g, x, k, s, p, indices=idx)
    # the taps path (what nn.MaxPool2d uses), with garbage-free output in untouched pixels
    for _ in range(3):                                  # reuse of freed memory must not leak
        out2, cache = F.max_pool2d_with_cache(x, k, s, p, 1)
        np.testing.assert_array_equal(out2, out)
        np.testing.assert_array_equal(F.max_pool2d_backward(g, x, k, s, p, 1, cache=cache), via_idx)
        np.testing.assert_array_equal(F.max_pool2d_backward(g, x, k, s, p), via_idx)
    # sum pooling (stride = kernel): every pixel of a window gets the window's gradient,
    # pixels in no window get 0
    n, c, h, w = shape
    oh, ow = g.shape[-2:]
    want = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=np.float32)
    want[:, :, :oh * k, :ow * k] = g.repeat(k, axis=2).repeat(k, axis=3)
    np.testing.assert_array_equal(F.sum_pool2d_backward(g, x, k, s, p),
                                  want[:, :, p:p + h, p:p + w])


def test_relu_special_values_bit_for_bit():
    x = np.array([[np.nan, -np.nan, -np.inf, np.inf, -0.0, 0.0, -1e-45, 1e-45, -2.0, 3.0]],
                 dtype=np.float32)
    for v in (x, x[0], x.reshape(2, 5, 1), np.float32(-1.5)):
        got, want = F.relu(v), np.maximum(v, 0)
        assert got.shape == np.shape(want)
        np.testing.assert_array_equal(np.asarray(got).view(np.int32), np.asarray(want).view(np.int32))


def test_conv2d_bias_both_layouts():
    rng = np.random.default_rng(12)
    for cin, cout in [(1, 6), (6, 2)]:                  # per-image and batch-last forward
        x = rng.normal(size=(3, cin, 7, 6)).astype(np.float32)
        w = rng.normal(size=(cout, cin, 3, 3)).astype(np.float32)
        b = rng.normal(size=cout).astype(np.float32)
        no_bias = F.conv2d(x, w, None, padding=1)
        np.testing.assert_allclose(F.conv2d(x, w, b, padding=1), no_bias + b[:, None, None],
                                   rtol=1e-6, atol=1e-6)
        out, _ = F.conv2d_with_cache(x, w, b, padding=1)
        np.testing.assert_allclose(out, no_bias + b[:, None, None], rtol=1e-5, atol=1e-5)
