"""cnnlab.nn without PyTorch: module plumbing, errors, Dropout, and finite-difference checks.

The PyTorch comparisons live in test_nn_torch.py.
"""
from collections import OrderedDict

import numpy as np
import pytest

from cnnlab import functional as F, nn
from cnnlab.gradcheck import numerical_gradient


def param_numgrad(layer, x, p, g, eps=1e-6):
    """Centred differences with respect to a parameter's values."""
    def f(w):
        old = p.data
        p.data = w
        try:
            return layer(x)
        finally:
            p.data = old
    return numerical_gradient(f, p.data, g, eps)


def small_cnn(**kw):
    return nn.Sequential(nn.Conv2d(1, 2, 3, **kw), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(2 * 3 * 3, 4, **kw))


# --------------------------------------------------------------------------- plumbing

def test_parameter_basics():
    p = nn.Parameter(np.ones((2, 3), np.float32))
    assert p.grad is None and p.shape == (2, 3) and p.dtype == np.float32 and p.numel() == 6
    assert np.asarray(p) is p.data
    assert np.array(p) is not p.data and np.array_equal(np.array(p), p.data)
    assert "Parameter containing" in repr(p)


def test_named_parameters_numbered_and_named():
    nn.manual_seed(0)
    m = small_cnn()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "4.weight", "4.bias"]
    named = nn.Sequential(OrderedDict([("conv1", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["conv1.weight", "conv1.bias"]
    assert named.conv1 is named[0] and named["act"] is named[1]
    assert list(named.state_dict()) == ["conv1.weight", "conv1.bias"]
    assert len(list(m.parameters())) == 4
    assert len(list(m.children())) == 5 and len(list(m.modules())) == 6
    assert m.num_parameters() == (9 + 1) * 2 + (18 + 1) * 4


def test_nested_names_and_shared_parameters_counted_once():
    inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    outer = nn.Sequential(inner, nn.Linear(4, 2))
    assert [n for n, _ in outer.named_parameters()] == ["0.0.weight", "0.0.bias",
                                                        "1.weight", "1.bias"]
    lin = nn.Linear(2, 2)
    shared = nn.Sequential(lin, lin)
    assert len(list(shared.parameters())) == 2


def test_sequential_container_protocol():
    layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and list(s) == layers and s[-1] is layers[2]
    sl = s[1:]
    assert isinstance(sl, nn.Sequential) and len(sl) == 2 and sl[0] is layers[1]
    assert [n for n, _ in sl.named_children()] == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        s[3]
    s.append(nn.Tanh())
    assert len(s) == 4 and isinstance(s[3], nn.Tanh)
    s[1] = nn.Sigmoid()
    assert isinstance(s[1], nn.Sigmoid)
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU)


def test_train_eval_recursive():
    m = nn.Sequential(nn.Sequential(nn.Dropout(), nn.ReLU()), nn.Linear(2, 2))
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())


def test_repr_reads_like_torch():
    m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(400, 10, bias=False), nn.Dropout(0.25), nn.LeakyReLU(0.2))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))\n"
        "  (1): ReLU()\n"
        "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  (4): Linear(in_features=400, out_features=10, bias=False)\n"
        "  (5): Dropout(p=0.25, inplace=False)\n"
        "  (6): LeakyReLU(negative_slope=0.2)\n"
        ")")


def test_init_matches_torch_recipe_and_seed():
    nn.manual_seed(123)
    a = nn.Conv2d(3, 8, (3, 5))
    nn.manual_seed(123)
    b = nn.Conv2d(3, 8, (3, 5))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert a.weight.shape == (8, 3, 3, 5) and a.kernel_size == (3, 5)
    assert a.weight.dtype == np.float32 and a.bias.dtype == np.float32
    bound = 1 / np.sqrt(3 * 3 * 5)
    assert np.abs(a.weight.data).max() <= bound and np.abs(a.bias.data).max() <= bound
    assert np.abs(a.weight.data).max() > 0.8 * bound          # really spans the range
    lin = nn.Linear(400, 120, dtype=np.float64)
    assert lin.weight.dtype == np.float64
    assert np.abs(lin.weight.data).max() <= 1 / 20
    assert nn.get_rng() is nn.manual_seed(5)


def test_layer_attributes_as_torch():
    c = nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=(1, 2))
    assert (c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation) == \
        (2, 4, (3, 3), (2, 2), (1, 1), (1, 2))
    c1 = nn.Conv1d(2, 4, 3)
    assert c1.kernel_size == (3,) and c1.weight.shape == (4, 2, 3)
    assert nn.Conv2d(1, 1, 3, padding="same").padding == "same"
    mp = nn.MaxPool2d(3)
    assert mp.kernel_size == 3 and mp.stride == 3
    assert nn.AvgPool2d((2, 3), stride=1).stride == 1
    assert nn.Linear(5, 7).weight.shape == (7, 5)
    assert nn.Linear(5, 7, bias=False).bias is None


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Conv2d(0, 1, 3), "in_channels"),
    (lambda: nn.Conv2d(1, 0, 3), "out_channels"),
    (lambda: nn.Conv2d(1, 1, 0), "kernel_size"),
    (lambda: nn.Conv2d(1, 1, (3, 3, 3)), "kernel_size"),
    (lambda: nn.Conv2d(1, 1, 3, stride=0), "stride"),
    (lambda: nn.Conv2d(1, 1, 3, padding=-1), "padding"),
    (lambda: nn.Conv2d(1, 1, 3, padding="full"), "padding"),
    (lambda: nn.Conv2d(1, 1, 3, stride=2, padding="same"), "same"),
    (lambda: nn.Conv2d(1, 1, 3, dilation=0), "dilation"),
    (lambda: nn.Conv1d(1, 1, 0), "kernel_size"),
    (lambda: nn.MaxPool2d(0), "kernel_size"),
    (lambda: nn.MaxPool2d(2, padding=2), "padding"),
    (lambda: nn.AvgPool2d(2, stride=0), "stride"),
    (lambda: nn.LPPool2d(0, 2), "norm_type"),
    (lambda: nn.Linear(0, 3), "in_features"),
    (lambda: nn.Linear(3, -1), "out_features"),
    (lambda: nn.Dropout(1.5), "p"),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), "reduction"),
])
def test_constructor_errors_name_the_argument(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_constructor_type_errors():
    with pytest.raises(TypeError, match="kernel_size"):
        nn.Conv2d(1, 1, 2.5)
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(2, 2, dtype=np.int32)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("layer, name", [
    (nn.Conv2d(1, 1, 3), "Conv2d"), (nn.Conv1d(1, 1, 3), "Conv1d"),
    (nn.MaxPool2d(2), "MaxPool2d"), (nn.MaxPool1d(2), "MaxPool1d"),
    (nn.AvgPool2d(2), "AvgPool2d"), (nn.AvgPool1d(2), "AvgPool1d"),
    (nn.LPPool2d(2, 2), "LPPool2d"), (nn.ReLU(), "ReLU"), (nn.Sigmoid(), "Sigmoid"),
    (nn.Tanh(), "Tanh"), (nn.LeakyReLU(), "LeakyReLU"), (nn.SiLU(), "SiLU"),
    (nn.Dropout(), "Dropout"), (nn.Flatten(), "Flatten"), (nn.Linear(2, 2), "Linear"),
    (nn.CrossEntropyLoss(), "CrossEntropyLoss"),
])
def test_backward_before_forward(layer, name):
    with pytest.raises(RuntimeError, match=f"{name}.backward called before forward"):
        layer.backward(np.ones((1, 1)))


def test_backward_before_forward_in_a_model_names_the_last_layer():
    with pytest.raises(RuntimeError, match="Linear.backward called before forward"):
        small_cnn().backward(np.ones((1, 4), np.float32))


def test_linear_wrong_features_suggests_flatten():
    lin = nn.Linear(400, 120)
    with pytest.raises(ValueError) as e:
        lin(np.zeros((2, 16, 4, 4), np.float32))
    msg = str(e.value)
    assert "in_features=400" in msg and "(2, 16, 4, 4)" in msg and "Flatten" in msg
    assert "256" in msg
    with pytest.raises(ValueError, match=r"in_features=400.*\(2, 256\)"):
        lin(np.zeros((2, 256), np.float32))


def test_conv_wrong_channels_and_rank():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match="in_channels=3"):
        conv(np.zeros((1, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        conv(np.zeros((3, 8, 8), np.float32))


def test_load_state_dict_errors():
    m = small_cnn()
    sd = m.state_dict()
    del sd["0.bias"]
    sd["extra.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    assert "Missing key(s)" in str(e.value) and "'0.bias'" in str(e.value)
    assert "Unexpected key(s)" in str(e.value) and "'extra.weight'" in str(e.value)
    sd = m.state_dict()
    sd["4.weight"] = np.zeros((4, 19))
    with pytest.raises(RuntimeError, match=r"size mismatch for 4\.weight.*\(4, 19\).*\(4, 18\)"):
        m.load_state_dict(sd)
    missing, unexpected = m.load_state_dict({"0.bias": np.ones(2), "zzz": 1}, strict=False)
    assert "0.weight" in missing and unexpected == ["zzz"]
    np.testing.assert_array_equal(m[0].bias.data, 1)


def test_state_dict_round_trip():
    nn.manual_seed(1)
    a = small_cnn()
    nn.manual_seed(2)
    b = small_cnn()
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    assert not np.allclose(a(x), b(x))
    sd = a.state_dict()
    b.load_state_dict(sd)
    np.testing.assert_array_equal(a(x), b(x))
    assert all(p.dtype == np.float32 for p in b.parameters())
    # a snapshot: later changes to the model do not change it
    a[0].weight.data += 1
    assert not np.array_equal(sd["0.weight"], a[0].weight.data)


def test_deepcopy_and_pickle():
    import copy
    import pickle
    m = small_cnn()
    x = np.ones((1, 1, 8, 8), np.float32)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        np.testing.assert_array_equal(clone(x), m(x))
        assert clone[0].weight is not m[0].weight
        assert [n for n, _ in clone.named_parameters()] == [n for n, _ in m.named_parameters()]


def test_inplace_flag_never_overwrites_the_input():
    x = np.array([[-1.0, 2.0]], np.float32)
    y = nn.ReLU(inplace=True)(x)
    np.testing.assert_array_equal(x, [[-1.0, 2.0]])
    np.testing.assert_array_equal(y, [[0.0, 2.0]])


# --------------------------------------------------------------------------- gradients

def test_gradients_accumulate_and_zero_grad():
    rng = np.random.default_rng(0)
    m = small_cnn()
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    g = rng.standard_normal((2, 4)).astype(np.float32)
    m(x)
    m.backward(g)
    first = {n: p.grad.copy() for n, p in m.named_parameters()}
    m(x)
    m.backward(g)
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * first[n], rtol=1e-5, atol=1e-6)
        assert p.grad.dtype == np.float32
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m(x)
    m.backward(g)
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in m.parameters())


def test_sequential_input_grad_only_when_asked():
    rng = np.random.default_rng(0)
    m = small_cnn()
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    g = rng.standard_normal((2, 4)).astype(np.float32)
    m(x)
    assert m.needs_input_grad is False and m[0].needs_input_grad is False
    assert m.backward(g) is None
    assert m[0].weight.grad is not None
    m.needs_input_grad = True
    assert m[0].needs_input_grad is True
    m(x)
    gx = m.backward(g)
    assert gx.shape == x.shape and gx.dtype == np.float32
    # a nested Sequential in second place must pass its gradient on
    outer = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    assert outer[1][0].needs_input_grad is True and outer[0].needs_input_grad is False
    outer(rng.standard_normal((5, 3)))
    outer.backward(np.ones((5, 2)))
    assert outer[0].weight.grad is not None


def test_standalone_layers_return_input_grad():
    conv = nn.Conv2d(1, 2, 3)
    x = np.ones((1, 1, 5, 5), np.float32)
    out = conv(x)
    assert conv.backward(np.ones_like(out)).shape == x.shape


def assert_grad_close(analytic, numeric, what=""):
    # Centred differences in float64 are good to ~1e-9 absolute; a wrong gradient is off by O(1).
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8, err_msg=what)


def _check_layer(layer, x, rng):
    """Input and parameter gradients of a float64 layer against centred differences."""
    out = layer(x)
    g = rng.standard_normal(out.shape)
    layer.zero_grad()
    gx = layer.backward(g)
    analytic = {name: p.grad.copy() for name, p in layer.named_parameters()}
    num_x = numerical_gradient(lambda z: layer(z), x.copy(), g)
    assert_grad_close(gx, num_x, type(layer).__name__)
    for name, p in layer.named_parameters():
        num = param_numgrad(layer, x, p, g)
        assert_grad_close(analytic[name], num, f"{type(layer).__name__}.{name}")


LAYERS_2D = [
    lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, dtype=np.float64),
    lambda: nn.Conv2d(2, 3, (2, 3), dilation=(2, 1), padding=(1, 0), dtype=np.float64),
    lambda: nn.Conv2d(2, 2, 3, padding="same", bias=False, dtype=np.float64),
    lambda: nn.MaxPool2d(2),
    lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=1),
    lambda: nn.AvgPool2d(2, stride=1, padding=1),
    lambda: nn.LPPool2d(2, 2),
    lambda: nn.ReLU(), lambda: nn.Sigmoid(), lambda: nn.Tanh(), lambda: nn.LeakyReLU(0.1),
    lambda: nn.SiLU(), lambda: nn.Flatten(),
]
LAYERS_1D = [
    lambda: nn.Conv1d(2, 3, 3, stride=2, padding=2, dilation=2, dtype=np.float64),
    lambda: nn.MaxPool1d(2), lambda: nn.AvgPool1d(3, stride=2, padding=1),
]


@pytest.mark.parametrize("make", LAYERS_2D)
def test_layer_gradients_finite_differences_2d(make):
    nn.manual_seed(3)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 6, 7))
    if isinstance(make(), nn.LPPool2d):
        x = np.abs(x) + 0.5   # away from the kink of |x|^p at 0
    _check_layer(make(), x, rng)


@pytest.mark.parametrize("make", LAYERS_1D)
def test_layer_gradients_finite_differences_1d(make):
    nn.manual_seed(4)
    rng = np.random.default_rng(4)
    _check_layer(make(), rng.standard_normal((2, 2, 9)), rng)


def test_linear_gradients_finite_differences():
    rng = np.random.default_rng(5)
    _check_layer(nn.Linear(6, 4, dtype=np.float64), rng.standard_normal((3, 6)), rng)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_loss_gradient(reduction):
    rng = np.random.default_rng(6)
    crit = nn.CrossEntropyLoss(reduction=reduction)
    logits = rng.standard_normal((4, 5)) * 3
    target = rng.integers(0, 5, 4)
    loss = crit(logits, target)
    assert np.shape(loss) == ((4,) if reduction == "none" else ())
    g = np.ones(np.shape(loss))
    num = numerical_gradient(lambda z: crit(z, target), logits.copy(), g)
    assert_grad_close(crit.backward(), num)
    if reduction == "mean":
        expected = -np.mean(logits[np.arange(4), target]
                            - np.log(np.exp(logits).sum(axis=1)))
        np.testing.assert_allclose(loss, expected, rtol=1e-12)


def test_eval_mode_conv_and_pool_still_backpropagate():
    rng = np.random.default_rng(7)
    m = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=np.float64), nn.MaxPool2d(2))
    m.needs_input_grad = True
    x = rng.standard_normal((2, 1, 6, 6))
    m.train()
    out = m(x)
    g = rng.standard_normal(out.shape)
    gx_train = m.backward(g)
    gw_train = m[0].weight.grad.copy()
    m.zero_grad()
    m.eval()
    np.testing.assert_allclose(m(x), out)
    np.testing.assert_allclose(m.backward(g), gx_train, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m[0].weight.grad, gw_train, rtol=1e-12)


def test_float32_stays_float32():
    m = small_cnn()
    x = np.ones((2, 1, 8, 8), np.float32)
    out = m(x)
    assert out.dtype == np.float32
    m.backward(np.ones_like(out))
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


# --------------------------------------------------------------------------- Dropout

def test_dropout_train_and_eval():
    nn.manual_seed(0)
    d = nn.Dropout(0.25)
    x = np.ones((200, 100), np.float32)
    y = d(x)
    assert y.dtype == np.float32
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)   # inverted scaling
    g = np.full_like(x, 2.0)
    np.testing.assert_allclose(d.backward(g), np.where(kept, 2 / 0.75, 0), rtol=1e-6)
    d.eval()
    np.testing.assert_array_equal(d(x), x)
    np.testing.assert_array_equal(d.backward(g), g)
    # same seed, same mask
    d.train()
    nn.manual_seed(0)
    np.testing.assert_array_equal(d(x), y)
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).any()


# --------------------------------------------------------------------------- summary

def test_summary_small_model_leaves_model_untouched():
    m = small_cnn()
    m[0].train()
    nn.manual_seed(0)
    state = nn.get_rng().bit_generator.state
    s = nn.summary(m, (1, 8, 8))
    assert nn.get_rng().bit_generator.state == state
    assert s.input_size == (1, 1, 8, 8)
    assert [r.name for r in s.rows] == ["0", "1", "2", "3", "4"]
    assert [r.output_shape for r in s.rows] == [(1, 2, 6, 6), (1, 2, 6, 6), (1, 2, 3, 3),
                                                (1, 18), (1, 4)]
    assert s.rows[0].formula == "(3*3*1+1)*2 = 20"
    assert s.rows[4].formula == "(18+1)*4 = 76"
    assert s.total_params == 96 == m.num_parameters()
    assert all(x.training for x in m.modules())
    with pytest.raises(RuntimeError, match="before forward"):
        m.backward(np.ones((1, 4), np.float32))      # summary left no cache behind
    assert "(3*3*1+1)*2 = 20" in str(s) and "Total parameters: 96" in str(s)
    assert "<table>" in s._repr_html_() and repr(s) == str(s)
    assert nn.summary(m, (1, 1, 8, 8)).input_size == (1, 1, 8, 8)


def test_pool_layers_and_functional_refuse_too_much_padding_with_one_message():
    """One check (cnnlab._args.check_pool_padding) for the layer and the function."""
    x = np.zeros((1, 1, 6, 6))
    with pytest.raises(ValueError) as layer:
        nn.AvgPool2d(3, padding=2)
    with pytest.raises(ValueError) as func:
        F.avg_pool2d(x, 3, padding=2)
    assert "at most half the kernel size" in str(layer.value)
    assert str(layer.value).split(": ", 1)[1] == str(func.value).split(": ", 1)[1]
