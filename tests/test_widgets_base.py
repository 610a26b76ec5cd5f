"""cnnlab.widgets.base: the one App base, configured (no subclass) and across every lesson app."""
from dataclasses import dataclass

import numpy as np
import pytest

from cnnlab import widgets
from cnnlab.viz.render import View
from cnnlab.widgets.base import App, choice, slider


@dataclass
class Facts:
    row: int
    square: int
    text: str


class SquareView(View):
    """The docs' example: a line that moves with ``row``; ``row`` > 4 is refused."""

    def __init__(self):
        super().__init__((4.0, 2.0))
        ax = self.figure.add_subplot()
        ax.set_xlim(0, 6)
        self.marker = self.dynamic(ax.axvline(0))

    def facts(self, row=0, mode="a"):
        if row > 4:
            raise ValueError(f"row must be at most 4, got {row}")
        return Facts(row, row * row, f"row {row}: its square is **{row * row}** ({mode})")

    def draw(self, facts):
        self.marker.set_xdata([facts.row])


def test_an_app_is_configured_not_subclassed():
    app = App(SquareView(), dict(row=slider("row", 0, 0, 5), mode=choice("mode", [("a", "a"), ("b", "b")], "a")),
              dynamic_controls=("row", "mode"))
    assert app.text == "row 0: its square is 0 (a)"
    assert "<b>0</b>" in app.summary.value
    assert "mod-active" in app.widget.children[0].value      # a choice brings its style
    app.row.value = 3
    assert app.square == 9 and app.facts.square == 9 and app.text.endswith("is 9 (a)")
    assert app._view.renderer.full_draws == 1
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        app.nothing
    updates = app.last_update_ms
    with app.hold():
        app.row.value, app.mode.value = 2, "b"
        assert app.row.value == 2 and app.text.endswith("(a)")   # nothing redrawn yet
    assert app.text == "row 2: its square is 4 (b)" and app.last_update_ms != updates
    picture = app.image.value
    app.row.value = 5                                           # refused: explained, picture kept
    assert app.error == "row must be at most 4, got 5" and app.text.startswith("Not possible:")
    assert app.image.value == picture and app.square == 4
    app.row.value = 1
    assert app.error is None and app.square == 1


def _apps():
    from cnnlab import data, models
    import cnnlab

    cnnlab.manual_seed(0)
    x, y = data.load_digits_sample()
    images = data.to_nchw(x[:3], data.MNIST_MEAN, data.MNIST_STD)
    rng = np.random.default_rng(0)
    return [
        (widgets.convolution_stepper(), [("col", 1), ("operation", "convolve"), ("row", 1)]),
        (widgets.kernel_playground(rng.random((20, 24))), [("preset", "box blur"), ("colours", "signed")]),
        (widgets.stride_explorer(), [("s", 2), ("col", 1), ("p", 1), ("n", 9)]),
        (widgets.channel_explorer(rng.random((12, 14, 3))), [("bias", 0.2), ("out_channel", 2)]),
        (widgets.pooling_explorer(), [("col", 2), ("kind", "avg"), ("row", 1)]),
        (widgets.backprop_explorer(), [("col", 1), ("padding", 1), ("show", "all")]),
        (widgets.pool_gradient_explorer(), [("row", 1), ("stride", 1), ("show", "all")]),
        (widgets.sgd_step_explorer(), [("eta", 0.03), ("updated", "conv")]),
        (widgets.feature_map_explorer(models.LeNet5(), images, y[:3]), [("index", 2)]),
    ]


def test_every_lesson_app_is_an_app_and_keeps_its_promise_on_full_redraws():
    for app, moves in _apps():
        assert isinstance(app, App)
        assert app.widget.children[-2] is app.image and app.widget.children[-1] is app.summary
        for name, value in moves:
            before = app._view.renderer.full_draws
            getattr(app, name).value = value
            assert app.error is None, (type(app).__name__, name, app.error)
            redrew = app._view.renderer.full_draws != before
            assert redrew == (name not in app.dynamic_controls), (type(app).__name__, name)
