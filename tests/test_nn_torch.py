"""Every cnnlab.nn layer against the same torch.nn module with copied weights.

Forward output, gradient with respect to the input, and weight/bias gradients, over random
shapes, strides, paddings and dilations (hypothesis), in float64 (tight) and float32.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from cnnlab import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}
DTYPES = [np.float64, np.float32]


def copy_weights(ours, theirs):
    """Copy our parameters into the torch module (same names, e.g. 'weight', '0.bias')."""
    with torch.no_grad():
        tparams = dict(theirs.named_parameters())
        ours_named = dict(ours.named_parameters())
        assert set(tparams) == set(ours_named)
        for name, p in ours_named.items():
            tparams[name].copy_(torch.from_numpy(p.data.copy()))


def compare(ours, theirs, x, dtype, *, check_input_grad=True, seed=0):
    """Run both modules forward and backward on x; compare everything."""
    x = x.astype(dtype)
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    copy_weights(ours, theirs)
    tol = TOL[dtype]
    out = ours(x)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tout = theirs(tx)
    assert out.dtype == dtype and out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out, tout.detach().numpy(), **tol)
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    tout.backward(torch.from_numpy(g))
    ours.zero_grad()
    gx = ours.backward(g)
    if check_input_grad:
        assert gx.dtype == dtype
        np.testing.assert_allclose(gx, tx.grad.numpy(), **tol)
    for name, tp in theirs.named_parameters():
        p = dict(ours.named_parameters())[name]
        assert p.grad.dtype == p.data.dtype
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), err_msg=name, **tol)


conv2d_cases = st.fixed_dictionaries({
    "n": st.integers(1, 3), "c_in": st.integers(1, 3), "c_out": st.integers(1, 4),
    "kh": st.integers(1, 4), "kw": st.integers(1, 4),
    "sh": st.integers(1, 3), "sw": st.integers(1, 3),
    "ph": st.integers(0, 2), "pw": st.integers(0, 2),
    "dh": st.integers(1, 2), "dw": st.integers(1, 2),
    "h": st.integers(6, 11), "w": st.integers(6, 11), "bias": st.booleans(),
})


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(c=conv2d_cases)
def test_conv2d(dtype, c):
    assume(c["h"] + 2 * c["ph"] >= c["dh"] * (c["kh"] - 1) + 1)
    assume(c["w"] + 2 * c["pw"] >= c["dw"] * (c["kw"] - 1) + 1)
    kw = dict(stride=(c["sh"], c["sw"]), padding=(c["ph"], c["pw"]),
              dilation=(c["dh"], c["dw"]), bias=c["bias"])
    ours = nn.Conv2d(c["c_in"], c["c_out"], (c["kh"], c["kw"]), dtype=dtype, **kw)
    theirs = tnn.Conv2d(c["c_in"], c["c_out"], (c["kh"], c["kw"]), **kw)
    x = np.random.default_rng(1).standard_normal((c["n"], c["c_in"], c["h"], c["w"]))
    compare(ours, theirs, x, dtype)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv2d_string_padding(dtype, padding):
    ours = nn.Conv2d(2, 3, (3, 4), padding=padding, dtype=dtype)
    theirs = tnn.Conv2d(2, 3, (3, 4), padding=padding)
    compare(ours, theirs, np.random.default_rng(2).standard_normal((2, 2, 7, 8)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 4),
       k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2),
       length=st.integers(8, 14), bias=st.booleans())
def test_conv1d(dtype, n, c_in, c_out, k, s, p, d, length, bias):
    ours = nn.Conv1d(c_in, c_out, k, s, p, d, bias=bias, dtype=dtype)
    theirs = tnn.Conv1d(c_in, c_out, k, s, p, d, bias=bias)
    compare(ours, theirs, np.random.default_rng(3).standard_normal((n, c_in, length)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(k=st.integers(1, 3), s=st.integers(1, 3), d=st.integers(1, 2), data=st.data())
def test_max_pool2d(dtype, k, s, d, data):
    p = data.draw(st.integers(0, k // 2))
    ours, theirs = nn.MaxPool2d(k, s, p, d), tnn.MaxPool2d(k, s, p, d)
    x = np.random.default_rng(4).standard_normal((2, 3, 9, 8))
    compare(ours, theirs, x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_ties_after_relu_match_torch(dtype):
    # ReLU output has many tied zeros: the gradient must go to the first maximum, as torch.
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 8))
    ours = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
    ours.needs_input_grad = True
    compare(ours, tnn.Sequential(tnn.ReLU(), tnn.MaxPool2d(2)), x, dtype)
    compare(nn.MaxPool2d(2), tnn.MaxPool2d(2), np.round(x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 2), data=st.data())
def test_max_pool1d(dtype, k, s, d, data):
    p = data.draw(st.integers(0, k // 2))
    x = np.random.default_rng(6).standard_normal((2, 3, 13))
    compare(nn.MaxPool1d(k, s, p, d), tnn.MaxPool1d(k, s, p, d), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(kh=st.integers(1, 3), kw=st.integers(1, 3), s=st.integers(1, 3),
       include=st.booleans(), data=st.data())
def test_avg_pool2d(dtype, kh, kw, s, include, data):
    p = (data.draw(st.integers(0, kh // 2)), data.draw(st.integers(0, kw // 2)))
    ours = nn.AvgPool2d((kh, kw), s, p, count_include_pad=include)
    theirs = tnn.AvgPool2d((kh, kw), s, p, count_include_pad=include)
    compare(ours, theirs, np.random.default_rng(7).standard_normal((2, 3, 9, 8)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 2, 1), (4, 1, 2)])
def test_avg_pool1d(dtype, k, s, p):
    x = np.random.default_rng(8).standard_normal((2, 3, 12))
    compare(nn.AvgPool1d(k, s, p), tnn.AvgPool1d(k, s, p), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm, k, s", [(2, 2, None), (2, 3, 1), (3, (2, 3), 2), (1, 2, 2)])
def test_lp_pool2d(dtype, norm, k, s):
    x = np.abs(np.random.default_rng(9).standard_normal((2, 3, 8, 9))) + 0.1
    compare(nn.LPPool2d(norm, k, s), tnn.LPPool2d(norm, k, s), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, theirs", [
    (nn.ReLU, tnn.ReLU), (nn.Sigmoid, tnn.Sigmoid), (nn.Tanh, tnn.Tanh), (nn.SiLU, tnn.SiLU),
    (nn.LeakyReLU, tnn.LeakyReLU), (lambda: nn.LeakyReLU(0.3), lambda: tnn.LeakyReLU(0.3)),
    (nn.Flatten, tnn.Flatten), (lambda: nn.Flatten(0), lambda: tnn.Flatten(0)),
    (lambda: nn.Flatten(1, 2), lambda: tnn.Flatten(1, 2)),
])
def test_elementwise_and_reshape(dtype, ours, theirs):
    x = np.random.default_rng(10).standard_normal((3, 4, 5, 2)) * 3
    compare(ours(), theirs(), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=st.integers(1, 5), fin=st.integers(1, 20), fout=st.integers(1, 10), bias=st.booleans())
def test_linear(dtype, n, fin, fout, bias):
    x = np.random.default_rng(11).standard_normal((n, fin))
    compare(nn.Linear(fin, fout, bias, dtype=dtype), tnn.Linear(fin, fout, bias), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss(dtype, reduction):
    rng = np.random.default_rng(12)
    logits = (rng.standard_normal((6, 5)) * 10).astype(dtype)
    logits[0, 0] = 500      # large logits must stay stable
    target = rng.integers(0, 5, 6)
    crit = nn.CrossEntropyLoss(reduction=reduction)
    loss = crit(logits, target)
    tl = torch.from_numpy(logits.copy()).requires_grad_(True)
    tloss = tnn.CrossEntropyLoss(reduction=reduction)(tl, torch.from_numpy(target))
    np.testing.assert_allclose(loss, tloss.detach().numpy(), **TOL[dtype])
    g = rng.standard_normal(np.shape(loss)).astype(dtype)
    tloss.backward(torch.from_numpy(g) if reduction == "none" else torch.tensor(float(g),
                                                                                 dtype=tl.dtype))
    np.testing.assert_allclose(crit.backward(g), tl.grad.numpy(), **TOL[dtype])
    if reduction != "none":
        tl.grad = None
        tloss = tnn.CrossEntropyLoss(reduction=reduction)(tl, torch.from_numpy(target))
        tloss.backward()
        np.testing.assert_allclose(crit.backward(), tl.grad.numpy(), **TOL[dtype])


def test_dropout_matches_torch_semantics():
    # Different random streams, same rule: kept elements are x / (1 - p); eval is identity.
    x = np.random.default_rng(13).standard_normal((64, 64)).astype(np.float32)
    ours, theirs = nn.Dropout(0.3), tnn.Dropout(0.3)
    y = ours(x)
    ty = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y[y != 0], x[y != 0] / 0.7, rtol=1e-6)
    np.testing.assert_allclose(ty[ty != 0], x[ty != 0] / 0.7, rtol=1e-6)
    ours.eval()
    theirs.eval()
    np.testing.assert_array_equal(ours(x), theirs(torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_sequential_model(dtype):
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, dtype=dtype), nn.LeakyReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 3, 2, stride=2, dtype=dtype),
                         nn.SiLU(), nn.Flatten(), nn.Linear(12, 5, dtype=dtype))
    theirs = tnn.Sequential(tnn.Conv2d(2, 4, 3, padding=1), tnn.LeakyReLU(), tnn.MaxPool2d(2),
                            tnn.Conv2d(4, 3, 2, stride=2), tnn.SiLU(), tnn.Flatten(),
                            tnn.Linear(12, 5))
    ours.needs_input_grad = True
    x = np.random.default_rng(14).standard_normal((3, 2, 8, 8))
    compare(ours, theirs, x, dtype)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert str(ours) == str(theirs)


def test_repr_of_each_layer_matches_torch():
    pairs = [
        (nn.Conv2d(1, 6, 5), tnn.Conv2d(1, 6, 5)),
        (nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, bias=False),
         tnn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, bias=False)),
        (nn.Conv2d(1, 2, 3, padding="same"), tnn.Conv2d(1, 2, 3, padding="same")),
        (nn.Conv1d(2, 4, 3, padding=1), tnn.Conv1d(2, 4, 3, padding=1)),
        (nn.MaxPool2d(2), tnn.MaxPool2d(2)), (nn.MaxPool1d(3, 1), tnn.MaxPool1d(3, 1)),
        (nn.AvgPool2d(2), tnn.AvgPool2d(2)), (nn.AvgPool1d(2), tnn.AvgPool1d(2)),
        (nn.LPPool2d(2, 2), tnn.LPPool2d(2, 2)),
        (nn.ReLU(), tnn.ReLU()), (nn.Sigmoid(), tnn.Sigmoid()), (nn.Tanh(), tnn.Tanh()),
        (nn.SiLU(), tnn.SiLU()), (nn.LeakyReLU(), tnn.LeakyReLU()),
        (nn.Dropout(), tnn.Dropout()), (nn.Flatten(), tnn.Flatten()),
        (nn.ReLU(inplace=True), tnn.ReLU(inplace=True)),
        (nn.LeakyReLU(0.2, True), tnn.LeakyReLU(0.2, True)),
        (nn.Dropout(0.1, inplace=True), tnn.Dropout(0.1, inplace=True)),
        (nn.Linear(4, 2), tnn.Linear(4, 2)), (nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_init_distribution_matches_torch():
    # Same recipe: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
    torch.manual_seed(0)
    nn.manual_seed(0)
    for ours, theirs in [(nn.Conv2d(6, 16, 5), tnn.Conv2d(6, 16, 5)),
                         (nn.Linear(400, 120), tnn.Linear(400, 120))]:
        for name, tp in theirs.named_parameters():
            p = dict(ours.named_parameters())[name].data
            t = tp.detach().numpy()
            assert abs(np.abs(p).max() - np.abs(t).max()) < 0.01
            assert abs(p.std() - t.std()) < 0.1 * t.std()


def test_load_a_torch_state_dict():
    theirs = tnn.Sequential(tnn.Conv2d(1, 2, 3), tnn.ReLU(), tnn.Flatten(), tnn.Linear(8, 3))
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(15).standard_normal((2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert all(p.dtype == np.float32 for p in ours.parameters())
