"""Headless tests of the lesson 5-7 apps (cnnlab.widgets.pooling, .backprop, .training).

Each app is built, its controls are set through ``.value`` (exactly what a student's slider
does), and the numbers it shows are compared with cnnlab.functional called directly.
"""
import itertools

import numpy as np
import pytest

import cnnlab
from cnnlab import functional as F
from cnnlab import viz as V
from cnnlab import widgets as Wn


@pytest.fixture(scope="module")
def fmap():
    """A small signed-free map with structure (keeps the grid of settings fast)."""
    rng = np.random.default_rng(0)
    return np.maximum(rng.normal(size=(12, 12)), 0.0)


def _figure_layout(app):
    fig = app.figure
    return (tuple(fig.get_size_inches()),
            [tuple(np.round(ax.get_position().bounds, 6)) for ax in fig.axes],
            # a colourbar's range follows the data on purpose; every other axis stays put
            [(ax.get_xlim(), ax.get_ylim()) for ax in fig.axes if not hasattr(ax, "_colorbar")])


# ---------------------------------------------------------------------------------- pooling
def _reference_pool(x, kind, k, s, p):
    x4 = x[None, None]
    if kind == "max":
        return F.max_pool2d(x4, k, s, p)[0, 0]
    if kind == "avg":
        return F.avg_pool2d(x4, k, s, p)[0, 0]
    if kind == "sum":
        return F.sum_pool2d(x4, k, s, p)[0, 0]
    return F.lp_pool2d(x4, 2, k, s)[0, 0]


def test_pooling_explorer_default_builds_on_the_digit_feature_map():
    app = Wn.pooling_explorer()
    assert app.error is None
    assert app.x.shape == (28, 28) and app.output.shape == (14, 14)
    np.testing.assert_array_equal(app.output, F.max_pool2d(app.x[None, None], 2, 2)[0, 0])
    # starts on the busiest window
    assert app.output[app.row.value, app.col.value] == app.output.max()
    assert "14×14" in app.text and "F.max_pool2d" in app.text
    assert app.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert app.widget is not None and app.figure is not None


def test_pooling_explorer_matches_functional_over_a_grid_of_settings(fmap):
    app = Wn.pooling_explorer(fmap)
    layout = _figure_layout(app)
    seen_errors = 0
    for kind, k, s, p in itertools.product(["max", "avg", "sum", "l2"], [1, 2, 3, 4],
                                           [1, 2, 3], [0, 1, 2]):
        with app.hold():
            app.kind.value, app.kernel_size.value = kind, k
            app.stride.value, app.padding.value = s, p
        legal = p <= k // 2 and not (kind == "l2" and p > 0)
        if not legal:
            assert app.error is not None, (kind, k, s, p)
            assert "padding" in app.error and "Not possible" in app.text
            seen_errors += 1
            continue
        assert app.error is None, (kind, k, s, p, app.error)
        expected = _reference_pool(fmap, kind, k, s, p)
        np.testing.assert_allclose(app.output, expected, rtol=1e-12, atol=1e-12)
        assert app.output.shape == (F.output_size(12, k, s, p),) * 2
        assert app.row.max == app.output.shape[0] - 1 and app.col.max == app.output.shape[1] - 1
        # the number on screen is the output value at the selected cell
        r, c = app.row.value, app.col.value
        assert f"output[{r}, {c}] = " in app.text
        assert _figure_layout(app) == layout, "figure size / axes / limits must not change"
    assert seen_errors > 0


def test_pooling_explorer_window_and_winner(fmap):
    app = Wn.pooling_explorer(fmap, kind="max", kernel_size=3, stride=2, padding=1)
    for r in range(app.row.max + 1):
        for c in range(app.col.max + 1):
            with app.hold():
                app.row.value, app.col.value = r, c
            wr, wc = divmod(int(app.winners[r, c]), fmap.shape[1])
            r0, c0 = V.pool_window(r, c, 3, 2, 1)
            assert r0 <= wr < r0 + 3 and c0 <= wc < c0 + 3
            assert fmap[wr, wc] == app.output[r, c]
            # the green marker sits on the winner
            xs, ys = app._view.win_dot.get_data()
            assert (list(xs), list(ys)) == ([wc], [wr])
            # the orange rectangle outlines the window
            assert app._view.win_in.get_xy() == (c0 - 0.5, r0 - 0.5)


def test_pooling_explorer_row_col_clamped_when_output_shrinks(fmap):
    app = Wn.pooling_explorer(fmap, kernel_size=1, stride=1)
    with app.hold():
        app.row.value, app.col.value = 11, 11
    app.kernel_size.value = 4
    app.stride.value = 4
    assert app.output.shape == (3, 3)
    assert (app.row.value, app.col.value) == (2, 2)
    assert app.error is None


def test_pooling_explorer_shift_reports_changes():
    app = Wn.pooling_explorer()
    app.shift.value = 1
    np.testing.assert_array_equal(app.x[:, 1:], app.base[:, :-1])
    assert (app.x[:, 0] == 0).all()
    assert "shifted 1 px right" in app.text
    np.testing.assert_array_equal(app.output_unshifted,
                                  F.max_pool2d(app.base[None, None], 2, 2)[0, 0])


def test_pooling_explorer_l2_is_lp_pool_with_norm_2(fmap):
    app = Wn.pooling_explorer(fmap, kind="l2", kernel_size=2, stride=2)
    np.testing.assert_allclose(app.output, F.lp_pool2d(fmap[None, None], 2, 2, 2)[0, 0])
    assert app.winners is None and not app._view.win_best.get_visible()


# ---------------------------------------------------------------------------------- backprop
def test_backprop_explorer_matches_conv2d_backward_everywhere():
    app = Wn.backprop_explorer()
    layout = _figure_layout(app)
    for s, p in itertools.product([1, 2], [0, 1]):
        with app.hold():
            app.stride.value, app.padding.value = s, p
        x4, w4 = app.x[None, None], app.w[None, None]
        assert app.delta.shape == F.conv2d(x4, w4, stride=s, padding=p)[0, 0].shape
        gx, gw, gb = F.conv2d_backward(app.delta[None, None], x4, w4, stride=s, padding=p)
        np.testing.assert_array_equal(app.grad_input, gx[0, 0])
        np.testing.assert_array_equal(app.grad_weight, gw[0, 0])
        assert app.grad_bias == pytest.approx(float(gb[0]))
        assert app.grad_bias == pytest.approx(app.delta.sum())
        total_x = np.zeros_like(app.x)
        total_w = np.zeros_like(app.w)
        total_b = 0.0
        for r in range(app.delta.shape[0]):
            for c in range(app.delta.shape[1]):
                with app.hold():
                    app.row.value, app.col.value = r, c
                    app.show.value = "all" if (r + c) % 2 else "cell"
                assert app.error is None
                assert _figure_layout(app) == layout
                # one cell's share: δ[r,c]·window → dW, δ[r,c]·W placed on the window → dX
                d = app.delta[r, c]
                xp = np.pad(app.x, p)
                window = xp[r * s:r * s + 3, c * s:c * s + 3]
                np.testing.assert_allclose(app.cell_grad_weight, d * window)
                placed = np.zeros_like(xp)
                placed[r * s:r * s + 3, c * s:c * s + 3] = d * app.w
                np.testing.assert_allclose(app.cell_grad_input,
                                           placed[p:p + 5, p:p + 5])
                assert app.cell_grad_bias == d
                assert f"δ[{r}, {c}]" in app.text
                total_x += app.cell_grad_input
                total_w += app.cell_grad_weight
                total_b += app.cell_grad_bias
        # the shares add up to the totals (the backward pass is linear in δ)
        np.testing.assert_allclose(total_x, app.grad_input)
        np.testing.assert_allclose(total_w, app.grad_weight)
        assert total_b == pytest.approx(app.grad_bias)


def test_backprop_explorer_with_given_arrays():
    x = np.arange(9.0).reshape(3, 3)
    w = np.array([[0.0, 1.0], [2.0, 3.0]])
    delta = np.ones((2, 2))
    app = Wn.backprop_explorer(x, w, delta)
    assert app.stride.disabled and app.padding.disabled
    np.testing.assert_array_equal(app.grad_weight, [[8, 12], [20, 24]])
    np.testing.assert_array_equal(app.grad_input, [[0, 1, 1], [2, 6, 4], [2, 5, 3]])
    assert app.grad_bias == 4


# ------------------------------------------------------------------------- pooling gradients
def test_pool_gradient_explorer_max_routes_to_first_maximum():
    app = Wn.pool_gradient_explorer()           # X[0:2, 0:2] = [[1, 5], [5, 2]]: a tie
    assert app.winners[0, 0] == 1               # flat index of X[0, 1], the first 5
    app.show.value = "cell"
    nz = np.argwhere(app.cell_grad_input)
    assert nz.tolist() == [[0, 1]]
    assert app.cell_grad_input[0, 1] == app.delta[0, 0]
    assert "X[0, 1]" in app.text


def test_pool_gradient_explorer_matches_functional_over_settings():
    app = Wn.pool_gradient_explorer()
    layout = _figure_layout(app)
    x4 = app.x[None, None]
    for kind, k, s in itertools.product(["max", "avg"], [2, 3], [1, 2, 3]):
        with app.hold():
            app.kind.value, app.kernel_size.value, app.stride.value = kind, k, s
        g4 = app.delta[None, None]
        if kind == "max":
            expected = F.max_pool2d_backward(g4, x4, k, s)[0, 0]
            np.testing.assert_array_equal(app.output, F.max_pool2d(x4, k, s)[0, 0])
        else:
            expected = F.avg_pool2d_backward(g4, x4, k, s)[0, 0]
            np.testing.assert_allclose(app.output, F.avg_pool2d(x4, k, s)[0, 0])
        np.testing.assert_allclose(app.grad_input, expected)
        # gradient is conserved: every δ lands somewhere (windows lie inside the input)
        assert app.grad_input.sum() == pytest.approx(app.delta.sum())
        for r, c in [(0, 0), (app.row.max, app.col.max)]:
            with app.hold():
                app.row.value, app.col.value = r, c
            share = app.cell_grad_input
            r0, c0 = V.pool_window(r, c, k, s)
            if kind == "max":
                assert np.count_nonzero(share) == 1
            else:
                np.testing.assert_allclose(share[r0:r0 + k, c0:c0 + k],
                                           app.delta[r, c] / (k * k))
                assert np.count_nonzero(share) == k * k
            assert _figure_layout(app) == layout


# ------------------------------------------------------------------------------ feature maps
@pytest.fixture(scope="module")
def lenet_and_digits():
    from cnnlab import data, models
    cnnlab.manual_seed(0)
    model = models.LeNet5()                          # freshly initialised: no training here
    x, y = data.load_digits_sample()
    pick = np.arange(0, 5000, 500)[:6]
    return model, data.to_nchw(x[pick], data.MNIST_MEAN, data.MNIST_STD), y[pick]


def test_feature_map_explorer_shows_the_models_own_maps(lenet_and_digits):
    model, images, labels = lenet_and_digits
    app = Wn.feature_map_explorer(model, images, labels)
    layout = _figure_layout(app)
    for i in range(len(images)):
        app.index.value = i
        feats = model.features(images[i:i + 1])
        np.testing.assert_allclose(app.conv1, feats["conv1"][0])
        np.testing.assert_allclose(app.conv2, feats["conv2"][0])
        assert app.conv1.shape == (6, 28, 28) and app.conv2.shape == (16, 10, 10)
        logits = model(images[i:i + 1])
        assert app.prediction == int(np.argmax(logits))
        assert app.probabilities.sum() == pytest.approx(1.0)
        assert f"label {labels[i]}" in app.text and f"predicts {app.prediction}" in app.text
        # the images on screen are those arrays, with symmetric colour limits
        im = app._view.im1[0]
        np.testing.assert_allclose(np.asarray(im.get_array()), app.conv1[0])
        lo, hi = im.get_clim()
        assert lo == pytest.approx(-hi)
        assert _figure_layout(app) == layout
    app.index_box.value = 2                     # the number box drives the slider too
    assert app.index.value == 2


def test_feature_map_explorer_accepts_nhw_images_without_labels(lenet_and_digits):
    model, images, _ = lenet_and_digits
    app = Wn.feature_map_explorer(model, images[:, 0])
    assert app.images.shape == images.shape
    assert "predicts" in app.text and "label" not in app.text


# ------------------------------------------------------------------------------------ static
def test_static_fallbacks_return_figures(lenet_and_digits):
    from matplotlib.figure import Figure
    figs = [V.static_pooling(), V.static_pooling(kind="l2", kernel_size=3, stride=1),
            V.static_pooling_kinds(), V.static_shift_invariance(),
            V.static_backprop(), V.static_backprop(only_cell=False, stride=2, padding=1),
            V.static_pool_gradient(), V.static_pool_gradient(kind="avg", kernel_size=3,
                                                             stride=1, only_cell=True)]
    model, images, _ = lenet_and_digits
    feats = model.features(images[:1])
    figs.append(V.static_feature_maps(images[0, 0], feats["conv1"][0], feats["conv2"][0]))
    for fig in figs:
        assert isinstance(fig, Figure)
        assert V.figure_png(fig)[:4] == b"\x89PNG"


def test_update_latency_is_recorded(fmap):
    app = Wn.pooling_explorer(fmap)
    app.kind.value = "avg"
    assert app.last_update_ms is not None and app.last_update_ms > 0


# ------------------------------------------------------------------------- fast rendering
def _pixels(png):
    import io

    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


@pytest.mark.parametrize("make,moves", [
    (lambda: Wn.pooling_explorer(), [("col", 3), ("row", 5), ("kind", "avg"), ("col", 2)]),
    (lambda: Wn.backprop_explorer(), [("col", 1), ("show", "all"), ("stride", 2), ("col", 0)]),
    (lambda: Wn.pool_gradient_explorer(), [("col", 1), ("show", "cell"), ("kind", "avg"),
                                           ("row", 2)]),
])
def test_partial_redraw_shows_what_a_full_draw_shows(make, moves):
    app = make()
    for name, value in moves:
        before = app._view.renderer.full_draws
        getattr(app, name).value = value
        # moving the selected cell redraws only the artists that move
        assert (app._view.renderer.full_draws == before) == (name in app.dynamic_controls)
        shown, full = _pixels(app.image.value), _pixels(V.figure_png(app.figure))
        assert shown.shape == full.shape
        differ = np.abs(shown - full).max(axis=-1) > 8      # antialiasing of a few edge pixels
        assert differ.mean() < 1e-3, (name, value, differ.mean())


# ------------------------------------------------------------------ review fixes: the controls
def test_lesson6_explorers_start_on_one_cells_share_with_labelled_choices():
    for app in (Wn.backprop_explorer(), Wn.pool_gradient_explorer()):
        assert app.show.value == "cell" and app.show.description == "show"
        assert "cnnlab-choice" in app.show._dom_classes
        # the style that fills the selected button is in the app's own box
        assert "mod-active" in app.widget.children[0].value
    app = Wn.pool_gradient_explorer()
    assert app.kind.description == "pooling" and "cnnlab-choice" in app.kind._dom_classes


def test_backprop_explorer_default_delta_sends_something_from_every_cell():
    app = Wn.backprop_explorer()
    assert np.all(app.delta != 0)
    app.col.value = 1                    # the first step a student takes
    assert np.any(app.cell_grad_input) and "nothing flows back" not in app.text
    delta = np.array([[1.0, 0.0], [2.0, 1.0]])
    app = Wn.backprop_explorer(np.arange(9.0).reshape(3, 3), np.ones((2, 2)), delta)
    app.col.value = 1
    assert "nothing flows back" in app.text and app._view.zero_note.get_visible()
    app.show.value = "all"
    assert not app._view.zero_note.get_visible()


def test_feature_map_explorer_shows_the_index_once(lenet_and_digits):
    model, images, labels = lenet_and_digits
    app = Wn.feature_map_explorer(model, images, labels)
    assert app.index.readout is False and app.index_box in app.widget.children[0].children


# ------------------------------------------------------- lesson 9: the training progress widget
def test_progress_bar_widget_shows_each_number_once_and_splits_the_time():
    from cnnlab import data, models, nn, optim, train
    x, y = data.load_digits_sample()
    cnnlab.manual_seed(0)
    model = models.LeNet5()
    bar = train.ProgressBar("widget")
    hist = train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01),
                     (x[:64], y[:64]), 1, 32, val_data=(x[64:128], y[64:128]),
                     callbacks=[bar])
    # the label only says the epoch is done; the numbers are on the log line, once
    assert "loss" not in bar._label.value and "done" in bar._label.value
    log = bar._log.value
    assert log.count("val_acc") == 1 and "Epoch 1/1" in log and "monospace" not in log
    (train_s, eval_s), = bar.times
    assert train_s + eval_s == pytest.approx(hist.epoch_time[0])
    assert f"{hist.epoch_time[0]:.1f} s (train {train_s:.1f} s + eval {eval_s:.1f} s)" in log
