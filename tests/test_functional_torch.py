"""cnnlab.functional against PyTorch (the oracle): forward AND backward (torch.autograd) of every
op, over many random shapes, strides, paddings and dilations, in float64 and float32."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from cnnlab import functional as F  # noqa: E402

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-4)}


def leaf(a):
    return torch.tensor(a, requires_grad=True)


def close(ours, theirs, dtype, scale=1.0):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.dtype == dtype, (ours.dtype, dtype)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    tol = TOL[dtype]
    np.testing.assert_allclose(ours, theirs, rtol=tol["rtol"], atol=tol["atol"] * scale)


# ---------------------------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------------------------

def _random_conv2d_case(rng):
    """Random (input shape, weight shape, stride, padding, dilation), ints or pairs."""
    N, C, Co = (int(v) for v in rng.integers(1, 4, size=3))
    kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
    dh, dw = (int(v) for v in rng.integers(1, 3, size=2))
    if rng.random() < 0.5:                       # ints instead of pairs
        kw, sw, dw = kh, sh, dh
    r = rng.random()
    if r < 0.2:
        padding, sh, sw, (ph, pw) = "same", 1, 1, (0, 0)
    elif r < 0.3:
        padding, (ph, pw) = "valid", (0, 0)
    else:
        ph, pw = (int(v) for v in rng.integers(0, 3, size=2))
        padding = (ph, pw) if rng.random() < 0.5 else ph
        pw = pw if isinstance(padding, tuple) else ph
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    H = max(1, span_h - 2 * ph) + int(rng.integers(0, 8))
    W = max(1, span_w - 2 * pw) + int(rng.integers(0, 8))
    stride = (sh, sw) if sh != sw or rng.random() < 0.5 else sh
    dilation = (dh, dw) if dh != dw or rng.random() < 0.5 else dh
    return (N, C, H, W), (Co, C, kh, kw), stride, padding, dilation


def test_random_conv2d_cases_cover_both_column_layouts():
    # the training path keeps its columns in one of two layouts (see cnnlab._fast.conv.columns);
    # the random cases of test_conv2d_forward_backward must exercise both
    layouts = set()
    for seed in range(40):
        xs, ws, stride, padding, dilation = _random_conv2d_case(np.random.default_rng(seed))
        _, cache = F.conv2d_with_cache(np.zeros(xs), np.zeros(ws), stride=stride,
                                       padding=padding, dilation=dilation)
        layouts.add(cache.batch_last)
    assert layouts == {True, False}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(40))
def test_conv2d_forward_backward(seed, dtype):
    rng = np.random.default_rng(seed)
    xs, ws, stride, padding, dilation = _random_conv2d_case(rng)
    x = rng.normal(size=xs).astype(dtype)
    w = rng.normal(size=ws).astype(dtype)
    b = rng.normal(size=ws[0]).astype(dtype)
    X, Wt, B = leaf(x), leaf(w), leaf(b)
    ref = TF.conv2d(X, Wt, B, stride=stride, padding=padding, dilation=dilation)
    go = rng.normal(size=tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(go))
    scale = np.sqrt(np.prod(ws[1:]))
    out = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    close(out, ref, dtype, scale)
    out2, cache = F.conv2d_with_cache(x, w, b, stride=stride, padding=padding, dilation=dilation)
    close(out2, ref, dtype, scale)          # the training path (either column layout)
    for c in (cache, None):
        gi, gw, gb = F.conv2d_backward(go, x, w, stride=stride, padding=padding,
                                       dilation=dilation, cache=c)
        close(gi, X.grad, dtype, scale)
        close(gw, Wt.grad, dtype, 10 * scale)
        close(gb, B.grad, dtype, 10 * scale)
    gi, gw, gb = F.conv2d_backward(go, x, w, stride=stride, padding=padding, dilation=dilation,
                                   needs_input_grad=False, cache=cache)
    assert gi is None
    close(gw, Wt.grad, dtype, 10 * scale)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(20))
def test_conv1d_forward_backward(seed, dtype):
    rng = np.random.default_rng(100 + seed)
    N, C, Co = (int(v) for v in rng.integers(1, 4, size=3))
    k, s, d = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    r = rng.random()
    padding = "same" if r < 0.2 else int(rng.integers(0, 3))
    if padding == "same":
        s = 1
    span = d * (k - 1) + 1
    L = int(rng.integers(span, span + 10))
    x = rng.normal(size=(N, C, L)).astype(dtype)
    w = rng.normal(size=(Co, C, k)).astype(dtype)
    b = rng.normal(size=Co).astype(dtype) if seed % 3 else None
    X, Wt = leaf(x), leaf(w)
    B = leaf(b) if b is not None else None
    ref = TF.conv1d(X, Wt, B, stride=s, padding=padding, dilation=d)
    go = rng.normal(size=tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(go))
    out, cache = F.conv1d_with_cache(x, w, b, stride=s, padding=padding, dilation=d)
    close(out, ref, dtype, 3)
    close(F.conv1d(x, w, b, stride=s, padding=padding, dilation=d), ref, dtype, 3)
    for c in (cache, None):
        gi, gw, gb = F.conv1d_backward(go, x, w, stride=s, padding=padding, dilation=d, cache=c)
        close(gi, X.grad, dtype, 3)
        close(gw, Wt.grad, dtype, 10)
        if B is not None:
            close(gb, B.grad, dtype, 10)


def test_conv2d_lenet_shapes_float32():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(16, 1, 28, 28)).astype(np.float32)
    w = rng.normal(size=(6, 1, 5, 5)).astype(np.float32)
    b = rng.normal(size=6).astype(np.float32)
    X, Wt, B = leaf(x), leaf(w), leaf(b)
    ref = TF.conv2d(X, Wt, B, padding=2)
    go = rng.normal(size=tuple(ref.shape)).astype(np.float32)
    ref.backward(torch.tensor(go))
    out, cache = F.conv2d_with_cache(x, w, b, padding=2)
    close(out, ref, np.float32, 5)
    gi, gw, gb = F.conv2d_backward(go, x, w, padding=2, cache=cache)
    close(gi, X.grad, np.float32, 5)
    close(gw, Wt.grad, np.float32, 100)
    close(gb, B.grad, np.float32, 100)


def test_conv2d_many_images_uses_several_chunks():
    # more images than one block of the chunked forward
    rng = np.random.default_rng(3)
    x = rng.normal(size=(37, 3, 9, 9))
    w = rng.normal(size=(5, 3, 3, 3))
    out, cache = F.conv2d_with_cache(x, w, padding=1, stride=2)
    ref = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1, stride=2)
    close(out, ref, np.float64)
    close(F.conv2d(x, w, padding=1, stride=2), ref, np.float64)


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------

def _random_pool_case(rng, allow_dilation=True):
    N, C = (int(v) for v in rng.integers(1, 4, size=2))
    kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
    dh, dw = (int(v) for v in rng.integers(1, 3, size=2)) if allow_dilation else (1, 1)
    stride = None if rng.random() < 0.3 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = (int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1)))
    H = int(rng.integers(dh * (kh - 1) + 1, dh * (kh - 1) + 9))
    W = int(rng.integers(dw * (kw - 1) + 1, dw * (kw - 1) + 9))
    return (N, C, H, W), (kh, kw), stride, padding, (dh, dw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(30))
def test_max_pool2d_forward_backward_with_ties(seed, dtype):
    rng = np.random.default_rng(200 + seed)
    xs, k, stride, padding, dilation = _random_pool_case(rng)
    x = rng.normal(size=xs)
    if seed % 2 == 0:
        x = np.maximum(x, 0)                        # after ReLU: many tied zeros
    else:
        x = np.round(x)                             # small integers: many ties
    x = x.astype(dtype)
    X = leaf(x)
    ref, ref_idx = TF.max_pool2d(X, k, stride, padding, dilation, return_indices=True)
    go = rng.normal(size=tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(go))
    out, idx = F.max_pool2d(x, k, stride, padding, dilation, return_indices=True)
    close(out, ref, dtype)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, ref_idx.numpy())
    np.testing.assert_array_equal(F.max_pool2d(x, k, stride, padding, dilation), out)
    g1 = F.max_pool2d_backward(go, x, k, stride, padding, dilation, indices=idx)
    g2 = F.max_pool2d_backward(go, x, k, stride, padding, dilation)
    close(g1, X.grad, dtype)
    close(g2, X.grad, dtype)


def test_max_pool2d_tie_goes_to_first_maximum():
    x = np.zeros((1, 1, 2, 2))
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.item() == 0
    g = F.max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2)
    assert g.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]
    X = leaf(x)
    TF.max_pool2d(X, 2).sum().backward()
    np.testing.assert_array_equal(g, X.grad.numpy())


@pytest.mark.parametrize("seed", range(15))
def test_max_pool1d_forward_backward(seed):
    rng = np.random.default_rng(300 + seed)
    N, C = (int(v) for v in rng.integers(1, 4, size=2))
    k, d = int(rng.integers(1, 5)), int(rng.integers(1, 3))
    s = None if seed % 3 == 0 else int(rng.integers(1, 4))
    p = int(rng.integers(0, k // 2 + 1))
    L = int(rng.integers(d * (k - 1) + 1, d * (k - 1) + 10))
    x = np.maximum(rng.normal(size=(N, C, L)), 0)
    X = leaf(x)
    ref, ref_idx = TF.max_pool1d(X, k, s, p, d, return_indices=True)
    go = rng.normal(size=tuple(ref.shape))
    ref.backward(torch.tensor(go))
    out, idx = F.max_pool1d(x, k, s, p, d, return_indices=True)
    close(out, ref, np.float64)
    np.testing.assert_array_equal(idx, ref_idx.numpy())
    close(F.max_pool1d_backward(go, x, k, s, p, d, indices=idx), X.grad, np.float64)
    close(F.max_pool1d_backward(go, x, k, s, p, d), X.grad, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(25))
def test_avg_pool2d_forward_backward(seed, dtype):
    rng = np.random.default_rng(400 + seed)
    xs, k, stride, padding, _ = _random_pool_case(rng, allow_dilation=False)
    cip = bool(seed % 2)
    x = rng.normal(size=xs).astype(dtype)
    X = leaf(x)
    ref = TF.avg_pool2d(X, k, stride, padding, count_include_pad=cip)
    go = rng.normal(size=tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(go))
    close(F.avg_pool2d(x, k, stride, padding, count_include_pad=cip), ref, dtype)
    close(F.avg_pool2d_backward(go, x, k, stride, padding, count_include_pad=cip), X.grad, dtype)
    # sum pooling = average * kH*kW (zero padding)
    close(F.sum_pool2d(x, k, stride, padding),
          TF.avg_pool2d(X, k, stride, padding) * (k[0] * k[1]), dtype, 4)
    X.grad = None
    (TF.avg_pool2d(X, k, stride, padding) * (k[0] * k[1])).backward(torch.tensor(go))
    close(F.sum_pool2d_backward(go, x, k, stride, padding), X.grad, dtype, 4)


@pytest.mark.parametrize("seed", range(12))
def test_avg_pool1d_forward_backward(seed):
    rng = np.random.default_rng(500 + seed)
    N, C = (int(v) for v in rng.integers(1, 4, size=2))
    k = int(rng.integers(1, 5))
    s = None if seed % 3 == 0 else int(rng.integers(1, 4))
    p = int(rng.integers(0, k // 2 + 1))
    cip = bool(seed % 2)
    L = int(rng.integers(k, k + 10))
    x = rng.normal(size=(N, C, L))
    X = leaf(x)
    ref = TF.avg_pool1d(X, k, s, p, count_include_pad=cip)
    go = rng.normal(size=tuple(ref.shape))
    ref.backward(torch.tensor(go))
    close(F.avg_pool1d(x, k, s, p, count_include_pad=cip), ref, np.float64)
    close(F.avg_pool1d_backward(go, x, k, s, p, count_include_pad=cip), X.grad, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(20))
def test_lp_pool2d_forward_backward(seed, dtype):
    rng = np.random.default_rng(600 + seed)
    norm_type = [2, 1, 3, 1.5, 2.5][seed % 5]
    N, C = (int(v) for v in rng.integers(1, 4, size=2))
    k = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if seed % 2 else int(rng.integers(1, 4))
    stride = None if seed % 3 == 0 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    kk = k if isinstance(k, tuple) else (k, k)
    H, W = int(rng.integers(kk[0], kk[0] + 7)), int(rng.integers(kk[1], kk[1] + 7))
    x = (rng.random(size=(N, C, H, W)) + 0.1).astype(dtype)   # positive inputs
    X = leaf(x)
    ref = TF.lp_pool2d(X, norm_type, k, stride)
    go = rng.normal(size=tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(go))
    close(F.lp_pool2d(x, norm_type, k, stride), ref, dtype, 4)
    close(F.lp_pool2d_backward(go, x, norm_type, k, stride), X.grad, dtype, 4)


@pytest.mark.parametrize("seed", range(10))
def test_lp_pool1d_forward_backward(seed):
    rng = np.random.default_rng(700 + seed)
    norm_type = [2, 1, 3, 1.5, 4][seed % 5]
    k = int(rng.integers(1, 5))
    s = None if seed % 2 else int(rng.integers(1, 4))
    x = rng.random(size=(2, 3, int(rng.integers(k, k + 9)))) + 0.1
    X = leaf(x)
    ref = TF.lp_pool1d(X, norm_type, k, s)
    go = rng.normal(size=tuple(ref.shape))
    ref.backward(torch.tensor(go))
    close(F.lp_pool1d(x, norm_type, k, s), ref, np.float64)
    close(F.lp_pool1d_backward(go, x, norm_type, k, s), X.grad, np.float64)


def test_lp_pool2d_all_zero_window_gradient_is_zero_like_torch():
    x = np.zeros((1, 1, 2, 2))
    X = leaf(x)
    TF.lp_pool2d(X, 2, 2).sum().backward()
    np.testing.assert_array_equal(F.lp_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2, 2),
                                  X.grad.numpy())


# ---------------------------------------------------------------------------------------------
# activations, linear, losses
# ---------------------------------------------------------------------------------------------

ACTS = [
    ("relu", {}, TF.relu),
    ("sigmoid", {}, torch.sigmoid),
    ("tanh", {}, torch.tanh),
    ("leaky_relu", {"negative_slope": 0.2}, lambda t: TF.leaky_relu(t, 0.2)),
    ("leaky_relu", {}, TF.leaky_relu),
    ("silu", {}, TF.silu),
    ("softmax", {"dim": -1}, lambda t: torch.softmax(t, -1)),
    ("softmax", {"dim": 1}, lambda t: torch.softmax(t, 1)),
    ("log_softmax", {"dim": -1}, lambda t: torch.log_softmax(t, -1)),
    ("log_softmax", {"dim": 0}, lambda t: torch.log_softmax(t, 0)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kw,ref_fn", ACTS, ids=[f"{a[0]}{a[1]}" for a in ACTS])
def test_activations(name, kw, ref_fn, dtype):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(4, 5, 3)) * 4).astype(dtype)
    x[0, 0, :] = 0.0                                  # the kink of relu / leaky_relu
    x[1, 1, :] = [60.0, -60.0, 700.0 if dtype == np.float64 else 80.0]   # large |x|
    X = leaf(x)
    ref = ref_fn(X)
    go = rng.normal(size=x.shape).astype(dtype)
    ref.backward(torch.tensor(go))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = getattr(F, name)(x, **kw)
        grad = getattr(F, name + "_backward")(go, x, **kw)
    close(out, ref, dtype)
    close(grad, X.grad, dtype)
    if name in ("sigmoid", "tanh", "softmax", "log_softmax"):
        close(getattr(F, name + "_backward")(go, x, output=out, **kw), X.grad, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_softmax_large_logits(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = F.log_softmax(x)
        sm = F.softmax(x)
    close(out, torch.log_softmax(torch.tensor(x), -1), dtype)
    close(sm, torch.softmax(torch.tensor(x), -1), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(5, 7), (3, 7), (2, 3, 7), (7,)])
def test_linear(shape, dtype):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(dtype)
    w = rng.normal(size=(4, 7)).astype(dtype)
    b = rng.normal(size=4).astype(dtype)
    X, Wt, B = leaf(x), leaf(w), leaf(b)
    ref = TF.linear(X, Wt, B)
    go = rng.normal(size=tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(go))
    close(F.linear(x, w, b), ref, dtype)
    close(F.linear(x, w), TF.linear(torch.tensor(x), torch.tensor(w)), dtype)
    gi, gw, gb = F.linear_backward(go, x, w)
    close(gi, X.grad, dtype)
    close(gw, Wt.grad, dtype)
    close(gb, B.grad, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("big", [False, True])
def test_cross_entropy(reduction, dtype, big):
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(6, 5)) * (1000 if big else 2)).astype(dtype)
    t = rng.integers(0, 5, size=6)
    X = leaf(x)
    ref = TF.cross_entropy(X, torch.tensor(t), reduction=reduction)
    go = rng.normal(size=tuple(ref.shape)).astype(dtype) if reduction == "none" else 1.0
    if reduction == "none":
        ref.backward(torch.tensor(go))
    else:
        ref.backward()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = F.cross_entropy(x, t, reduction=reduction)
        grad = F.cross_entropy_backward(go, x, t, reduction=reduction)
    assert isinstance(loss, np.ndarray) and loss.dtype == dtype
    assert loss.shape == (() if reduction != "none" else (6,))
    scale = 1000 if big else 1
    close(loss, ref, dtype, scale)
    close(grad, X.grad, dtype)


def test_dropout_matches_torch_statistics_and_backward():
    rng = np.random.default_rng(0)
    x = np.ones((200, 100), dtype=np.float32)
    out, mask = F.dropout(x, p=0.3, rng=rng, return_mask=True)
    kept = out != 0
    np.testing.assert_array_equal(kept, mask)
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.02
    go = rng.normal(size=x.shape).astype(np.float32)
    g = F.dropout_backward(go, mask, 0.3)
    np.testing.assert_allclose(g, go * mask / 0.7, rtol=1e-6)
    assert g.dtype == np.float32
    # eval mode is the identity, as torch
    assert F.dropout(x, 0.3, training=False) is x
    np.testing.assert_array_equal(TF.dropout(torch.tensor(x), 0.3, training=False).numpy(), x)


def test_flatten():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    for sd, ed in [(1, -1), (0, -1), (2, 3), (1, 2)]:
        ours = F.flatten(x, sd, ed)
        np.testing.assert_array_equal(ours, torch.flatten(torch.tensor(x), sd, ed).numpy())
        np.testing.assert_array_equal(F.flatten_backward(ours, x), x)
        np.testing.assert_array_equal(F.flatten_backward(ours, x.shape), x)


@pytest.mark.parametrize("cin,cout,needs_dx", [(1, 6, False), (6, 16, True), (1, 6, True)])
def test_both_cached_column_layouts(cin, cout, needs_dx):
    # LeNet conv1 keeps its columns with the batch in the middle (K, N*L); conv2 batch innermost
    rng = np.random.default_rng(11)
    x = rng.normal(size=(5, cin, 12, 12))
    w = rng.normal(size=(cout, cin, 5, 5))
    b = rng.normal(size=cout)
    out, cache = F.conv2d_with_cache(x, w, b, padding=1)
    assert cache.batch_last == (cin * 25 >= 8 * cout)
    X, Wt, B = leaf(x), leaf(w), leaf(b)
    ref = TF.conv2d(X, Wt, B, padding=1)
    go = rng.normal(size=tuple(ref.shape))
    ref.backward(torch.tensor(go))
    close(out, ref, np.float64)
    gi, gw, gb = F.conv2d_backward(go, x, w, padding=1, cache=cache, needs_input_grad=needs_dx)
    assert (gi is None) == (not needs_dx)
    if needs_dx:
        close(gi, X.grad, np.float64)
    close(gw, Wt.grad, np.float64)
    close(gb, B.grad, np.float64)


def test_threaded_paths_match_torch(monkeypatch):
    """Force the split-over-threads code paths on small arrays and compare with torch."""
    from cnnlab._fast import threads
    monkeypatch.setattr(threads, "_MIN_PARALLEL_ITEMS", 1)
    old = F.get_num_threads()
    F.set_num_threads(3)
    try:
        rng = np.random.default_rng(12)
        for cin, cout, pad in [(1, 6, 2), (6, 16, 0)]:       # both cached column layouts
            x = rng.normal(size=(7, cin, 12, 12))
            w = rng.normal(size=(cout, cin, 5, 5))
            b = rng.normal(size=cout)
            X, Wt, B = leaf(x), leaf(w), leaf(b)
            ref = TF.conv2d(X, Wt, B, padding=pad)
            go = rng.normal(size=tuple(ref.shape))
            ref.backward(torch.tensor(go))
            out, cache = F.conv2d_with_cache(x, w, b, padding=pad)
            close(out, ref, np.float64)
            close(F.conv2d(x, w, b, padding=pad), ref, np.float64)
            gi, gw, gb = F.conv2d_backward(go, x, w, padding=pad, cache=cache)
            close(gi, X.grad, np.float64)
            close(gw, Wt.grad, np.float64)
            close(gb, B.grad, np.float64)
        x = np.maximum(rng.normal(size=(5, 3, 8, 8)), 0)
        X = leaf(x)
        ref, ref_idx = TF.max_pool2d(X, 2, return_indices=True)
        go = rng.normal(size=tuple(ref.shape))
        ref.backward(torch.tensor(go))
        out, idx = F.max_pool2d(x, 2, return_indices=True)
        close(out, ref, np.float64)
        np.testing.assert_array_equal(idx, ref_idx.numpy())
        close(F.max_pool2d_backward(go, x, 2, indices=idx), X.grad, np.float64)
        close(F.relu(x - 0.5), TF.relu(torch.tensor(x - 0.5)), np.float64)
        close(F.relu_backward(go.repeat(2, -1).repeat(2, -2), x - 0.5),
              torch.tensor(go.repeat(2, -1).repeat(2, -2) * (x > 0.5)), np.float64)
    finally:
        F.set_num_threads(old)
