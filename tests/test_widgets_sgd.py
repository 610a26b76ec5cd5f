"""Headless tests of lesson 8's SGD-step explorer (cnnlab.widgets.sgd, cnnlab.viz.sgd).

The app is driven through its controls' ``.value`` (what a student's slider does); the loss
it shows after one step is compared with the same step taken by ``cnnlab.nn`` layers and
``cnnlab.optim.SGD`` (an independent path through the library).
"""
import numpy as np
import pytest

import cnnlab
from cnnlab import kernels
from cnnlab import viz as V
from cnnlab import widgets as Wn
from cnnlab.widgets.base import App


def _sgd_with_layers(eta, updated):
    """Loss before and after one optim.SGD step on deck 004's network built from nn layers."""
    nn = cnnlab.nn
    net = nn.Sequential(nn.Conv2d(1, 1, 2, dtype=np.float64), nn.ReLU(), nn.MaxPool2d(2, stride=1),
                        nn.Flatten(), nn.Linear(4, 2, dtype=np.float64))
    net.load_state_dict({"0.weight": kernels.DECK004_KERNEL[None, None],
                         "0.bias": np.array([kernels.DECK004_BIAS]),
                         "4.weight": kernels.DECK004_DENSE_WEIGHT, "4.bias": kernels.DECK004_DENSE_BIAS})
    x, t = kernels.DECK004_INPUT[None, None], np.array([kernels.DECK004_LABEL])
    params = list(net[0].parameters()) if updated == "conv" else list(net.parameters())
    crit, opt = nn.CrossEntropyLoss(), cnnlab.optim.SGD(params, lr=eta)
    before = float(crit(net(x), t))
    net.backward(crit.backward())
    opt.step()
    return before, float(crit(net(x), t)), net[0].weight.data[0, 0].copy()


def test_explorer_starts_on_the_lessons_step():
    app = Wn.sgd_step_explorer()
    assert isinstance(app, App) and app.error is None
    assert app.eta.value == 0.01 and app.updated.value == "all"
    assert round(app.loss_before, 4) == 1.3133 and round(app.loss_after, 4) == 0.5129
    assert np.allclose(app.kernel_after, [[0.9616, 0.0274], [-0.0932, -1.0311]], atol=5e-5)
    assert (app.active_before, app.active_after) == (4, 3)
    assert "1.3133 → 0.5129" in app.text and "**" not in app.text


@pytest.mark.parametrize("updated", ["all", "conv"])
def test_explorer_matches_sgd_on_nn_layers(updated):
    app = Wn.sgd_step_explorer()
    app.updated.value = updated
    for eta in (0.0, 0.004, 0.01, 0.016, 0.037, 0.05, 0.1):
        app.eta.value = eta
        before, after, kernel = _sgd_with_layers(eta, updated)
        assert app.error is None
        assert np.isclose(app.loss_before, before) and np.isclose(app.loss_after, after), eta
        assert np.allclose(app.kernel_after, kernel)
        i = int(np.argmin(np.abs(app.etas - eta)))
        assert np.isclose(app.etas[i], eta) and np.isclose(app.losses[i], after)   # the curve


def test_explorer_shows_the_lessons_numbers_and_dead_relus():
    app = Wn.sgd_step_explorer()
    assert round(float(app.etas[app.losses.argmin()]), 3) == 0.016
    app.eta.value = 0.05
    assert round(app.loss_after, 4) == 0.6573 and app.active_after == 0
    app.updated.value = "conv"
    assert round(app.loss_after, 4) == 0.6931            # ln 2: both classes 0.5
    assert np.allclose(app.p_after, [0.5, 0.5])
    app.eta.value = 0.01
    assert round(app.loss_after, 4) == 0.6234


def test_moving_eta_redraws_only_the_frame_and_matches_a_full_draw():
    import io

    from PIL import Image

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)

    app = Wn.sgd_step_explorer()
    for name, value in [("eta", 0.03), ("updated", "conv"), ("eta", 0.08), ("eta", 0.002)]:
        before = app._view.renderer.full_draws
        getattr(app, name).value = value
        assert (app._view.renderer.full_draws == before) == (name in app.dynamic_controls)
        shown, full = pixels(app.image.value), pixels(V.figure_png(app.figure))
        assert shown.shape == full.shape
        assert (np.abs(shown - full).max(axis=-1) > 8).mean() < 1e-3, (name, value)


def test_facts_refuse_impossible_settings_and_static_fallback_draws():
    with pytest.raises(ValueError, match="updated must be one of"):
        V.sgd_step_facts(0.01, "dense")
    with pytest.raises(ValueError, match="eta must be in"):
        V.sgd_step_facts(0.5)
    fig = V.static_sgd_step(0.016)
    assert fig.get_size_inches()[0] <= 9.5 and len(fig.axes) == 2
    width, height = (fig.get_size_inches() * fig.dpi).round()
    assert width <= 1280 and height <= 400           # leaves room for the controls on a slide
