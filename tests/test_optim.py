"""cnnlab.optim: SGD and Adam trajectories against torch.optim, dtype, state, errors."""
import copy

import numpy as np
import pytest

from cnnlab import nn, optim


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in [(3, 4), (4,), (2, 2, 3)]]


def grads_for(step, params, dtype):
    """Deterministic, step-dependent gradients (depending on the current values, like a loss)."""
    rng = np.random.default_rng(100 + step)
    return [(rng.standard_normal(p.shape) + 0.5 * p.data).astype(dtype) for p in params]


def run_ours(opt_cls, kwargs, dtype, steps=6):
    params = make_params(dtype)
    opt = opt_cls(params, **kwargs)
    for t in range(steps):
        opt.zero_grad()
        for p, g in zip(params, grads_for(t, params, dtype)):
            p.grad = g
        opt.step()
    return [p.data for p in params]


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.1, momentum=0.9, weight_decay=0.01),
    dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1),
    dict(lr=0.2, weight_decay=0.05),
]
ADAM_CASES = [
    dict(),
    dict(lr=0.01),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, betas=(0.0, 0.5)),
]


# --------------------------------------------------------------------------- vs torch

def run_torch(torch, opt_name, kwargs, dtype, steps=6):
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    params = [torch.nn.Parameter(torch.from_numpy(p.data.copy()).to(tdtype))
              for p in make_params(dtype)]
    opt = getattr(torch.optim, opt_name)(params, **kwargs)
    for t in range(steps):
        opt.zero_grad()
        shadow = [nn.Parameter(p.detach().numpy().copy()) for p in params]
        for p, g in zip(params, grads_for(t, shadow, dtype)):
            p.grad = torch.from_numpy(g)
        opt.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_ours(optim.SGD, kwargs, dtype)
    theirs = run_torch(torch, "SGD", kwargs, dtype)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for a, b in zip(ours, theirs):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", ADAM_CASES)
def test_adam_matches_torch(dtype, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_ours(optim.Adam, kwargs, dtype)
    theirs = run_torch(torch, "Adam", kwargs, dtype)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for a, b in zip(ours, theirs):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **tol)


# --------------------------------------------------------------------------- behaviour

def test_sgd_first_step_by_hand():
    p = nn.Parameter(np.array([1.0, 2.0], np.float32))
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    p.grad = np.array([1.0, -1.0], np.float32)
    opt.step()
    np.testing.assert_allclose(p.data, [0.5, 2.5])          # buffer = g on the first step
    opt.step()
    np.testing.assert_allclose(p.data, [0.5 - 0.5 * 1.9, 2.5 + 0.5 * 1.9], rtol=1e-6)


def test_adam_first_step_is_lr_times_sign():
    p = nn.Parameter(np.array([1.0, -2.0, 3.0]))
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.array([5.0, -0.01, 0.0])
    opt.step()
    np.testing.assert_allclose(p.data, [0.9, -1.9, 3.0], rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=np.float64(0.1), momentum=np.float64(0.9), weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=np.float64(1e-3), weight_decay=np.float64(0.01)),
])
def test_updates_in_place_and_keep_float32(make):
    params = make_params(np.float32)
    arrays = [p.data for p in params]
    opt = make(params)
    for t in range(3):
        for p, g in zip(params, grads_for(t, params, np.float32)):
            p.grad = g
        opt.step()
    for p, a in zip(params, arrays):
        assert p.data is a and p.data.dtype == np.float32
    for s in opt.state.values():
        for v in s.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_params_without_grad_are_skipped_and_zero_grad():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.data, 1)
    assert not np.allclose(a.data, 1)
    assert id(b) not in opt.state
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_accepts_a_generator_and_param_groups():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert len(opt.params) == 4
    opt = optim.SGD([{"params": model[0].parameters()},
                     {"params": model[2].parameters(), "lr": 0.01}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.9
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    before = model[2].weight.data.copy()
    opt.param_groups[1]["lr"] = 1.0           # a schedule may change it between steps
    opt.step()
    np.testing.assert_allclose(model[2].weight.data, before - 1.0)
    assert "Parameter Group 1" in repr(opt)


@pytest.mark.parametrize("opt_cls, kwargs", [(optim.SGD, dict(lr=0.1, momentum=0.9)),
                                             (optim.Adam, dict(lr=0.01))])
def test_state_dict_round_trip_continues_identically(opt_cls, kwargs):
    params = make_params(np.float32)
    opt = opt_cls(params, **kwargs)

    def step(t, ps, o):
        for p, g in zip(ps, grads_for(t, ps, np.float32)):
            p.grad = g
        o.step()

    for t in range(3):
        step(t, params, opt)
    saved_opt = copy.deepcopy(opt.state_dict())
    clone = [nn.Parameter(p.data.copy()) for p in params]
    opt2 = opt_cls(clone, **kwargs)
    opt2.load_state_dict(saved_opt)
    for t in range(3, 6):
        step(t, params, opt)
        step(t, clone, opt2)
    for a, b in zip(params, clone):
        np.testing.assert_array_equal(a.data, b.data)
    # the saved state is a snapshot
    sd = opt.state_dict()
    key = "momentum_buffer" if opt_cls is optim.SGD else "exp_avg"
    sd["state"][0][key] += 1
    assert not np.array_equal(opt.state_dict()["state"][0][key], sd["state"][0][key])


def test_load_state_dict_mismatch():
    opt = optim.SGD(make_params(np.float32), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="parameters in the saved state"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]})
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({})
    other = optim.SGD(make_params(np.float32, seed=1)[::-1], lr=0.1, momentum=0.9)
    for p in other.params:
        p.grad = np.ones_like(p.data)
    other.step()
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(other.state_dict())


@pytest.mark.parametrize("make, match", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "lr"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-1), "momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda ps: optim.SGD(ps, lr="fast"), "lr"),
    (lambda ps: optim.Adam(ps, lr=-1), "lr"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), "beta"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "beta"),
    (lambda ps: optim.Adam(ps, betas=0.9), "betas"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "eps"),
    (lambda ps: optim.Adam(ps, weight_decay=-1), "weight_decay"),
    (lambda ps: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda ps: optim.SGD(nn.Linear(2, 2), lr=0.1), "model.parameters()"),
    (lambda ps: optim.SGD([np.zeros(2)], lr=0.1), "Parameter"),
    (lambda ps: optim.SGD(ps + ps, lr=0.1), "more than one"),
])
def test_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(make_params(np.float32))
