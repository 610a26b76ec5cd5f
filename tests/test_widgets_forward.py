"""Headless tests of lesson 6's views and app: the activation curves, and the forward-pass
explorer driven as a student would (set ``.value``), its numbers checked against
``cnnlab.functional`` and against plain NumPy written here."""
import numpy as np
import pytest

from cnnlab import functional as F
from cnnlab import kernels, viz as V
from cnnlab.widgets import forward_pass_explorer

from test_widgets_convolution import FrameSizeGuard


def plain_forward(x, k, w, b):
    """Deck 004's network in plain NumPy loops: conv (valid, no flip), ReLU, 2x2 max pool with
    stride 1, flatten, dense, softmax."""
    s = np.array([[np.sum(x[i:i + 2, j:j + 2] * k) for j in range(3)] for i in range(3)])
    a = np.maximum(s, 0)
    p = np.array([[a[i:i + 2, j:j + 2].max() for j in range(2)] for i in range(2)])
    f = p.ravel()
    z = w @ f + b
    e = np.exp(z - z.max())
    return s, a, p, f, z, e / e.sum()


def test_deck_004_numbers():
    facts = V.forward_facts()
    assert facts.s.tolist() == [[-5, -1, -16], [1, -3, 1], [3, -2, 4]]
    assert facts.a.tolist() == [[0, 0, 0], [1, 0, 1], [3, 0, 4]]
    assert facts.p.tolist() == [[1, 1], [3, 4]]
    assert facts.f.tolist() == [1, 1, 3, 4]
    assert facts.z.tolist() == [0, 1]
    assert np.allclose(facts.probs, [0.2689, 0.7311], atol=5e-5)
    assert not any(m.any() for m in facts.changed.values())
    assert "nothing edited yet" in facts.text


def test_the_decks_typo_is_hidden_by_relu():
    facts = V.forward_facts("input", 1, 1, 16)      # the deck's misprinted I(1,1)
    assert facts.s.tolist() == [[-6, -1, -16], [1, -2, 1], [3, -2, 4]]
    assert facts.n_changed("s") == 2 and facts.n_changed("a") == 0
    assert np.array_equal(facts.probs, facts.base["probs"])
    assert "ReLU sends them to 0" in facts.text


@pytest.mark.parametrize("target,row,col,value", [("input", 2, 0, 30), ("input", 3, 3, -20),
                                                  ("kernel", 0, 0, -3), ("kernel", 1, 0, 2),
                                                  ("input", 1, 2, 0)])
def test_every_stage_matches_plain_numpy(target, row, col, value):
    x, k = kernels.DECK004_INPUT.copy(), kernels.DECK004_KERNEL.copy()
    (x if target == "input" else k)[row, col] = value
    expected = plain_forward(x, k, kernels.DECK004_DENSE_WEIGHT, kernels.DECK004_DENSE_BIAS)
    facts = V.forward_facts(target, row, col, value)
    for name, e in zip(("s", "a", "p", "f", "z", "probs"), expected):
        assert np.allclose(getattr(facts, name), e), name
        base = V.forward_facts().__dict__[name]
        assert np.array_equal(facts.changed[name], ~np.isclose(np.atleast_2d(e), np.atleast_2d(base),
                                                               rtol=0, atol=1e-12)), name


def test_bad_cell_is_refused():
    with pytest.raises(ValueError, match="row, col"):
        V.forward_facts("kernel", 2, 0, 1)
    with pytest.raises(ValueError, match="target"):
        V.forward_facts("weights", 0, 0, 1)


def test_app_ripples_a_change_and_highlights_it():
    app = forward_pass_explorer()
    guard = FrameSizeGuard(app)
    assert (app.target.value, app.row.value, app.col.value, app.value.value) == ("input", 1, 1, 15)
    picture = app.image.value
    # select x[2, 0] = 7 (the value slider follows), then set it to 12
    app.row.value, app.col.value = 2, 0
    assert app.value.value == 7 and app.text.startswith("x[2, 0]: 7 → 7")
    app.value.value = 12                   # S(2,0) = 7 - 4 = 3 → 8; A, P, f, z, p follow
    assert app.s[2, 0] == 8 and app.a[2, 0] == 8 and app.p[1, 0] == 8
    assert app.facts.n_changed("probs") == 2 and app.image.value != picture
    assert np.allclose(app.probs, F.softmax(F.linear(app.f[None], kernels.DECK004_DENSE_WEIGHT,
                                                     kernels.DECK004_DENSE_BIAS), dim=1)[0])
    view = app._view
    assert view.outlines["x"][2][0].get_visible() and view.outlines["s"][2][0].get_visible()
    assert not view.outlines["s"][0][0].get_visible()
    assert [r.get_visible() for r in view.outlines["probs"][0]] == [True, True]
    guard.check()
    # the kernel: its cells are 2x2, so the sliders follow; a new cell starts unchanged
    app.target.value = "kernel"
    assert (app.row.max, app.col.max) == (1, 1) and (app.row.value, app.col.value) == (1, 0)
    assert app.value.value == 0 and (app.value.min, app.value.max) == (-3, 3)
    assert not any(m.any() for m in app.facts.changed.values())
    app.value.value = 1
    assert app.facts.n_changed("s") == 9 and "k[1, 0]: 0 → 1" in app.text
    guard.check()
    app.target.value = "input"
    assert (app.row.max, app.col.max) == (3, 3) and app.value.min == -20
    assert app.error is None


def test_static_figures_draw():
    fig = V.static_forward_pass("input", 1, 1, 16)
    assert len(fig.axes) >= 9
    facts = V.activation_facts()
    assert np.array_equal(facts.derivatives["relu"], (facts.x > 0).astype(float))
    assert facts.derivatives["sigmoid"].max() == pytest.approx(0.25)
    assert V.static_activations().axes


def _pixels(png):
    import io

    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def test_the_frame_shows_what_a_full_draw_shows():
    """The app redraws only its registered artists; the outlines must still be on top of the
    cells (a cell drawn after its outline would hide it)."""
    app = forward_pass_explorer()
    for name, value in [("row", 3), ("value", 10), ("target", "kernel"), ("value", -2),
                        ("col", 1)]:
        getattr(app, name).value = value
        shown, full = _pixels(app.image.value), _pixels(V.figure_png(app.figure))
        assert shown.shape == full.shape
        differ = np.abs(shown - full).max(axis=-1) > 8      # antialiasing of a few edge pixels
        assert differ.mean() < 1e-3, (name, value, differ.mean())
