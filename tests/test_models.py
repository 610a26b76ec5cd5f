"""LeNet5: structure, parameter count, summary table, gradients (torch and finite
differences), and a tiny overfitting run."""
import contextlib
from collections import OrderedDict

import numpy as np
import pytest

from cnnlab import nn, optim
from cnnlab.gradcheck import numerical_gradient
from cnnlab.models import LeNet5


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Small GEMMs on a shared 2-core machine run ~6x faster on one BLAS thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        ctx = contextlib.nullcontext()
    else:
        ctx = threadpool_limits(1)
    with ctx:
        yield


VARIANTS = ["modern", "faithful"]
NAMES = {
    "modern": ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten",
               "fc1", "relu3", "fc2", "relu4", "fc3"],
    "faithful": ["conv1", "tanh1", "pool1", "conv2", "tanh2", "pool2", "flatten",
                 "fc1", "tanh3", "fc2", "tanh4", "fc3"],
}
SHAPES = [(2, 6, 28, 28), (2, 6, 28, 28), (2, 6, 14, 14), (2, 16, 10, 10), (2, 16, 10, 10),
          (2, 16, 5, 5), (2, 400), (2, 120), (2, 120), (2, 84), (2, 84), (2, 10)]


# --------------------------------------------------------------------------- structure

@pytest.mark.parametrize("variant", VARIANTS)
def test_structure_and_parameter_count(variant):
    m = LeNet5(variant)
    assert isinstance(m, nn.Sequential) and len(m) == 12
    assert m.num_parameters() == 61_706
    assert [n for n, _ in m.named_children()] == NAMES[variant]
    assert list(m.state_dict()) == [f"{layer}.{p}" for layer in
                                    ("conv1", "conv2", "fc1", "fc2", "fc3")
                                    for p in ("weight", "bias")]
    assert m.conv1 is m[0] and m.fc3 is m[-1]
    assert (m.conv1.in_channels, m.conv1.out_channels, m.conv1.kernel_size, m.conv1.padding) \
        == (1, 6, (5, 5), (2, 2))
    assert (m.conv2.in_channels, m.conv2.out_channels, m.conv2.padding) == (6, 16, (0, 0))
    assert (m.fc1.in_features, m.fc2.in_features, m.fc3.in_features) == (400, 120, 84)
    act, pool = (nn.ReLU, nn.MaxPool2d) if variant == "modern" else (nn.Tanh, nn.AvgPool2d)
    assert isinstance(m[1], act) and isinstance(m[2], pool)
    assert m.variant == variant
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert repr(m).startswith("LeNet5(\n  (conv1): Conv2d(1, 6, kernel_size=(5, 5)")


def test_num_classes_and_dtype():
    m = LeNet5(num_classes=3, dtype=np.float64)
    assert m.fc3.out_features == 3 and m.num_parameters() == 61_706 - 85 * 7
    assert m(np.zeros((1, 1, 28, 28))).shape == (1, 3)
    assert all(p.dtype == np.float64 for p in m.parameters())


def test_bad_variant_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'modern', 'faithful'"):
        LeNet5("lecun")
    with pytest.raises(ValueError, match="num_classes"):
        LeNet5(num_classes=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_shapes_and_features(variant):
    nn.manual_seed(0)
    m = LeNet5(variant)
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    out = m(x)
    assert out.shape == (2, 10) and out.dtype == np.float32
    feats = m.features(x)
    assert list(feats) == NAMES[variant]
    assert [f.shape for f in feats.values()] == SHAPES
    np.testing.assert_array_equal(feats["fc3"], out)
    one = m.features(x[0, 0])                       # a single (28, 28) image
    assert one["conv1"].shape == (1, 6, 28, 28)
    np.testing.assert_allclose(one["fc3"][0], out[0], rtol=1e-5, atol=1e-6)
    assert m.features(np.zeros((28, 28), np.uint8))["fc3"].dtype == np.float32


def test_same_seed_same_model():
    nn.manual_seed(42)
    a = LeNet5()
    nn.manual_seed(42)
    b = LeNet5()
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data)


# --------------------------------------------------------------------------- summary

def test_summary_table():
    s = nn.summary(LeNet5(), (1, 28, 28))
    assert s.input_size == (1, 1, 28, 28)
    assert [r.name for r in s.rows] == NAMES["modern"]
    assert [r.output_shape for r in s.rows] == [(1,) + sh[1:] for sh in SHAPES]
    assert [r.num_params for r in s.rows] == [156, 0, 0, 2416, 0, 0, 0, 48120, 0, 10164, 0, 850]
    formulas = {r.name: r.formula for r in s.rows if r.formula}
    assert formulas == {"conv1": "(5*5*1+1)*6 = 156", "conv2": "(5*5*6+1)*16 = 2,416",
                        "fc1": "(400+1)*120 = 48,120", "fc2": "(120+1)*84 = 10,164",
                        "fc3": "(84+1)*10 = 850"}
    assert s.total_params == 61_706 and s.output_shape == (1, 10)
    text = str(s)
    for piece in ["conv1 (Conv2d)", "(1, 6, 28, 28)", "(5*5*1+1)*6 = 156",
                  "(5*5*6+1)*16 = 2,416", "pool2 (MaxPool2d)", "(1, 16, 5, 5)",
                  "Total parameters: 61,706"]:
        assert piece in text
    html = s._repr_html_()
    assert "(5*5*1+1)*6 = 156" in html and "61,706" in html
    faithful = nn.summary(LeNet5("faithful"), (4, 1, 28, 28))
    assert faithful.total_params == 61_706 and faithful.rows[2].type == "AvgPool2d"
    assert faithful.rows[0].output_shape == (4, 6, 28, 28)


def test_summary_uses_functional_formula():
    from cnnlab import functional as F
    s = nn.summary(LeNet5(), (1, 1, 28, 28))
    assert s.rows[0].num_params == F.conv_parameter_count(1, 6, 5) == 156
    assert s.rows[3].num_params == F.conv_parameter_count(6, 16, (5, 5)) == 2416


# --------------------------------------------------------------------------- gradients

def torch_lenet(torch, variant, model):
    tnn = torch.nn
    act = tnn.ReLU if variant == "modern" else tnn.Tanh
    pool = (lambda: tnn.MaxPool2d(2)) if variant == "modern" else (lambda: tnn.AvgPool2d(2))
    names = NAMES[variant]
    layers = [tnn.Conv2d(1, 6, 5, padding=2), act(), pool(), tnn.Conv2d(6, 16, 5), act(), pool(),
              tnn.Flatten(), tnn.Linear(400, 120), act(), tnn.Linear(120, 84), act(),
              tnn.Linear(84, 10)]
    t = tnn.Sequential(OrderedDict(zip(names, layers))).double()
    with torch.no_grad():
        for name, p in t.named_parameters():
            p.copy_(torch.from_numpy(model.state_dict()[name].astype(np.float64)))
    return t


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("variant", VARIANTS)
def test_lenet_matches_torch(variant, dtype):
    torch = pytest.importorskip("torch")
    nn.manual_seed(1)
    m = LeNet5(variant, dtype=dtype)
    m.needs_input_grad = True
    t = torch_lenet(torch, variant, m)
    if dtype == np.float32:
        t = t.float()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 1, 28, 28)).astype(dtype)
    y = rng.integers(0, 10, 4)
    crit = nn.CrossEntropyLoss()
    loss = crit(m(x), y)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tloss = torch.nn.functional.cross_entropy(t(tx), torch.from_numpy(y))
    tloss.backward()
    gx = m.backward(crit.backward())
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(loss, tloss.item(), **tol)
    np.testing.assert_allclose(gx, tx.grad.numpy(), **tol)
    assert gx.dtype == dtype
    tgrads = {n: p.grad.numpy() for n, p in t.named_parameters()}
    for name, p in m.named_parameters():
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, tgrads[name], err_msg=name, **tol)


def test_backward_returns_none_unless_input_grad_requested():
    m = LeNet5()
    out = m(np.zeros((2, 1, 28, 28), np.float32))
    assert m.backward(np.ones_like(out)) is None
    assert m.conv1.weight.grad is not None


@pytest.mark.parametrize("variant", VARIANTS)
def test_lenet_finite_differences_float64(variant):
    """End to end: d loss / d (input and a sample of every parameter) by centred differences."""
    nn.manual_seed(2)
    m = LeNet5(variant, dtype=np.float64)
    m.needs_input_grad = True
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 1, 28, 28))
    y = np.array([3, 7])
    crit = nn.CrossEntropyLoss()

    def loss_of():
        return crit(m(x), y)

    crit(m(x), y)
    m.zero_grad()
    gx = m.backward(crit.backward())
    # input: a random sample of pixels (the full image would be 1,568 x 2 forwards)
    idx = [tuple(i) for i in zip(*(rng.integers(0, s, 12) for s in x.shape))]
    eps = 1e-6
    for i in idx:
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        num = (crit(m(xp), y) - crit(m(xm), y)) / (2 * eps)
        np.testing.assert_allclose(gx[i], num, rtol=1e-5, atol=1e-9)
    # parameters: 6 random entries of each
    for name, p in m.named_parameters():
        flat = p.data.reshape(-1)
        for j in rng.integers(0, flat.size, 6):
            old = flat[j]
            flat[j] = old + eps
            plus = loss_of()
            flat[j] = old - eps
            minus = loss_of()
            flat[j] = old
            np.testing.assert_allclose(p.grad.reshape(-1)[j], (plus - minus) / (2 * eps),
                                       rtol=1e-5, atol=1e-9, err_msg=f"{name}[{j}]")
    # the whole fc3 bias with the shared gradient-check helper
    def f(b):
        old = m.fc3.bias.data
        m.fc3.bias.data = b
        try:
            return crit(m(x), y)
        finally:
            m.fc3.bias.data = old
    np.testing.assert_allclose(m.fc3.bias.grad,
                               numerical_gradient(f, m.fc3.bias.data, np.ones(())),
                               rtol=1e-5, atol=1e-9)


# --------------------------------------------------------------------------- training

@pytest.mark.parametrize("variant", VARIANTS)
def test_overfits_a_small_batch(variant):
    nn.manual_seed(0)
    m = LeNet5(variant)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    crit = nn.CrossEntropyLoss()
    opt = optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = crit(m(x), y)
        losses.append(float(loss))
        opt.zero_grad()
        m.backward(crit.backward())
        opt.step()
    assert losses[0] > 2.0
    assert losses[-1] < 0.05, losses[-5:]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) / 20
    assert (m(x).argmax(1) == y).all()
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in m.parameters())


def test_eval_mode_gives_same_forward():
    m = LeNet5()
    x = np.random.default_rng(3).standard_normal((3, 1, 28, 28)).astype(np.float32)
    a = m(x)
    m.eval()
    # LeNet-5 has no dropout or batch norm, so eval mode must not change the function. The
    # training forward keeps im2col columns in another layout (another GEMM summation order),
    # so equality holds to float32 rounding, not bit for bit.
    np.testing.assert_allclose(m(x), a, rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_between_models():
    nn.manual_seed(5)
    a = LeNet5()
    b = LeNet5()
    x = np.random.default_rng(4).standard_normal((2, 1, 28, 28)).astype(np.float32)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x), b(x))
    with pytest.raises(RuntimeError, match="size mismatch for fc3.weight"):
        LeNet5(num_classes=5).load_state_dict(a.state_dict())
