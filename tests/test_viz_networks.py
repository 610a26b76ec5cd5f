"""Figures of lessons 5-7 (viz.pooling, .backprop, .training): they draw what functional computes."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlab import functional as F
from cnnlab import kernels, viz as V


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts if t.get_visible()]


# ------------------------------------------------------------------------------- adapters
@pytest.mark.parametrize("kind,fn", [("max", "max_pool2d"), ("avg", "avg_pool2d"),
                                     ("sum", "sum_pool2d")])
def test_pool2d_is_the_functional_pool(kind, fn):
    x = np.random.default_rng(0).normal(size=(7, 8))
    out, winners = V.pool2d(x, kind, 3, 2, 1)
    np.testing.assert_array_equal(out, getattr(F, fn)(x[None, None], 3, 2, 1)[0, 0])
    assert (winners is not None) == (kind == "max")
    g = np.ones_like(out)
    np.testing.assert_array_equal(V.pool2d_backward(g, x, kind, 3, 2, 1),
                                  getattr(F, fn + "_backward")(g[None, None], x[None, None],
                                                               3, 2, 1)[0, 0])


def test_pool2d_l2_and_its_padding_message():
    x = np.abs(np.random.default_rng(1).normal(size=(6, 6)))
    out, _ = V.pool2d(x, "l2", 2)
    np.testing.assert_allclose(out, F.lp_pool2d(x[None, None], 2, 2)[0, 0])
    with pytest.raises(ValueError, match="padding"):
        V.pool2d(x, "l2", 2, 2, 1)
    with pytest.raises(ValueError, match="kind"):
        V.pool2d(x, "median", 2)
    with pytest.raises(ValueError, match="2-D"):
        V.pool2d(x[None], "max", 2)


def test_pool_window_and_shift():
    assert V.pool_window(2, 3, kernel_size=3, stride=2, padding=1) == (3, 5)
    x = np.arange(12.0).reshape(3, 4)
    s = V.shift_right(x, 1)
    np.testing.assert_array_equal(s[:, 1:], x[:, :-1])
    assert (s[:, 0] == 0).all()
    np.testing.assert_array_equal(V.shift_right(x, 0), x)
    batch = np.ones((2, 1, 3, 4))
    assert V.shift_right(batch, 2)[..., :2].sum() == 0       # works on the last axis of NCHW


def test_default_feature_map_is_relu_of_sobel_on_the_digit():
    from cnnlab import data
    m = kernels.default_feature_map()
    digit = data.sample_image("digit")
    np.testing.assert_allclose(m, F.relu(F.correlate2d(digit, kernels.SOBEL_X, mode="same")))
    assert m.shape == (28, 28) and m.min() == 0 and m.max() > 0


# -------------------------------------------------------------------------------- figures
def test_static_pooling_kinds_writes_the_worked_example_numbers():
    fig = V.static_pooling_kinds()
    texts = _texts(fig)
    for value in ["4", "8", "6", "1", "2.25", "3.5", "2.75", "9", "14", "11", "5", "10", "7"]:
        assert value in texts
    assert len(fig.axes) == 5


def test_static_pooling_title_and_window():
    x = np.arange(36.0).reshape(6, 6)
    fig = V.static_pooling(x, kind="max", kernel_size=2, stride=2, row=1, col=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert any("3×3" in t and "[1, 2] = 23" in t for t in titles)     # x[3, 5]: rows 2-3, cols 4-5


def test_padded_window_cells_show_minus_infinity_for_max():
    x = np.ones((4, 4))
    fig = V.static_pooling(x, kind="max", kernel_size=2, stride=2, padding=1, row=0, col=0)
    assert "−∞" in _texts(fig)
    fig = V.static_pooling(x, kind="avg", kernel_size=2, stride=2, padding=1, row=0, col=0)
    assert "−∞" not in _texts(fig)


def test_static_backprop_shows_one_cells_share():
    fig = V.static_backprop(row=0, col=0)
    titles = [ax.get_title() for ax in fig.axes]
    assert any("δ[0,0]·W" in t for t in titles)
    assert fig._suptitle.get_text().startswith("what output cell [0, 0]")


def test_static_pool_gradient_and_number_colours():
    fig = V.static_pool_gradient(kind="max", kernel_size=2, stride=2, only_cell=False)
    texts = _texts(fig)
    for v in "123456789":
        assert v in texts
    # text is white on dark cells, black on light ones
    grid_ax = fig.axes[0]
    colours = {t.get_text(): t.get_color() for t in grid_ax.texts if t.get_visible()}
    assert colours["9"] == "white" and colours["0"] == "black"


def test_diverging_maps_are_centred_at_zero():
    w = np.random.default_rng(0).normal(size=(6, 1, 5, 5))
    fig = V.plot_kernels(w)
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi == -np.abs(w).max()
    conv1 = np.random.default_rng(1).normal(size=(6, 28, 28)) + 0.5
    conv2 = np.random.default_rng(2).normal(size=(16, 10, 10))
    fig = V.static_feature_maps(np.zeros((28, 28)), conv1, conv2)
    for ax in fig.axes[1:]:
        lo, hi = ax.images[0].get_clim()
        assert lo == pytest.approx(-hi)


def test_confusion_matrix_and_mistakes():
    cm = np.array([[5, 1], [0, 4]])
    fig = V.plot_confusion_matrix(cm, class_names=["a", "b"])
    assert sorted(_texts(fig)) == ["1", "4", "5"]          # zero cells stay empty
    images = np.zeros((4, 28, 28))
    fig = V.plot_mistakes(images, [1, 2, 3, 4], [1, 0, 3, 0])
    assert fig._suptitle.get_text().startswith("2 mistakes")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["2→0", "4→0"]
    fig = V.plot_mistakes(images, [1, 2], [1, 2])
    assert "no mistakes" in [t.get_text() for t in fig.texts]


def test_plot_histories_and_architecture():
    from cnnlab.train import History
    h = History(epoch=[0, 1], train_loss=[1.0, 0.5], train_acc=[0.6, 0.8], val_loss=[0.9, 0.4],
                val_acc=[0.7, 0.85], step_loss=list(np.linspace(2, 0.3, 50)), steps_per_epoch=25)
    fig = V.plot_histories({"modern": h, "faithful": {"step_loss": [2.0, 1.0],
                                                      "val_acc": [0.5]}})
    assert isinstance(fig, Figure)
    assert "85.0%" in [t.get_text() for t in fig.axes[1].texts]
    rows = [("conv1", (6, 28, 28)), ("pool1", (6, 14, 14)), ("flatten", (400,)), ("fc3", (10,))]
    fig = V.plot_lenet_architecture(rows)
    texts = _texts(fig)
    assert {"1@28×28", "6@28×28", "6@14×14", "400", "10", "conv1", "fc3"} <= set(texts)


def test_figures_keep_their_size_when_updated():
    fig = V.PoolingView((10, 10))
    size = tuple(fig.figure.get_size_inches())
    x = np.random.default_rng(0).uniform(size=(10, 10))
    for k, s in [(1, 1), (4, 4), (3, 2)]:
        out, win = V.pool2d(x, "max", k, s)
        fig.draw(V.PoolingFacts(x, out, "max", k, s, 0, 0, 0, win))
        assert tuple(fig.figure.get_size_inches()) == size
        assert fig.ax_out.get_xlim() == (0, 1)
    assert V.figure_png(fig.figure)[:4] == b"\x89PNG"


# ------------------------------------------------------------------ legibility (review fixes)
def test_pooling_window_numbers_use_one_format_and_both_panels_have_a_colour_bar():
    x = np.array([[2.02, 0.0, 1.1, 0.5], [3.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    fig = V.PoolingView(x.shape)
    out, win = V.pool2d(x, "max", 2, 2)
    fig.draw(V.PoolingFacts(x, out, "max", 2, 2, 0, 0, 0, win))
    shown = [t.get_text() for t in fig.ax_win.texts if t.get_visible()]
    assert sorted(shown) == ["0.00", "1.00", "2.02", "3.00"]        # not "0", "1", "2.02"
    assert "[0, 0] = 3.00" in fig.title_out.get_text()
    # the input (and window) and the output each have a colour bar
    assert fig.cbar_in.mappable is fig.im_in and fig.cbar.mappable is fig.im_out
    # an integer map keeps integers
    xi = np.arange(16.0).reshape(4, 4)
    out, win = V.pool2d(xi, "max", 2, 2)
    fig.draw(V.PoolingFacts(xi, out, "max", 2, 2, 0, 0, 0, win))
    assert sorted(t.get_text() for t in fig.ax_win.texts if t.get_visible()) == \
        ["0", "1", "4", "5"]


def test_pooling_markers_are_large_enough_to_see():
    fig = V.PoolingView((28, 28))
    assert fig.win_in.get_linewidth() >= 3 and fig.win_dot.get_markersize() >= 7


def test_default_delta_has_no_zeros_and_a_zero_delta_says_so():
    for shape in [(3, 3), (2, 2), (5, 5), (3, 2)]:
        assert np.all(V.default_delta(shape) != 0)
    delta = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    bf = V.BackpropView()
    x, w = kernels.BACKPROP_X, kernels.BACKPROP_W
    for r, c, zero in [(0, 1, True), (0, 0, False)]:
        one = np.zeros_like(delta)
        one[r, c] = delta[r, c]
        gx, gw, gb = F.conv2d_backward(one[None, None], x[None, None], w[None, None])
        bf.draw(V.BackpropFacts(x, w, delta, gx[0, 0], gw[0, 0], float(gb[0]), 1, 0, r, c, True))
        assert bf.zero_note.get_visible() == zero
        if zero:
            assert "nothing flows back" in bf.zero_note.get_text()


def test_pool_gradient_numbers_are_at_least_9_points():
    fig = V.PoolGradientView()
    for g in (fig.g_x, fig.g_y, fig.g_d, fig.g_dx):
        assert min(t.get_fontsize() for row in g.texts for t in row) >= 9


def test_confusion_matrix_shows_small_mistakes_in_colour():
    cm = np.diag([95, 90, 80]).astype(int)
    cm[0, 1], cm[2, 0] = 1, 12
    fig = V.plot_confusion_matrix(cm)
    ax = fig.axes[0]
    correct, wrong = ax.images
    # a single mistake is coloured (not white): its own scale, relative to the largest mistake
    rgba = wrong.to_rgba(np.ma.getdata(wrong.get_array()))
    assert not np.ma.getmask(wrong.get_array())[0, 1]
    assert rgba[0, 1, :3].min() < 0.97
    assert np.ma.getmask(wrong.get_array())[0, 0]              # the diagonal is the other scale
    assert all(t.get_fontsize() >= 10 for t in ax.texts)
