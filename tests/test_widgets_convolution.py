"""Headless tests of the lesson 1-4 apps: drive the controls as a student would, read the numbers.

Every app is built, its controls are set through ``.value`` (which fires the same callbacks a
browser does), and the test checks the numbers and text the app shows against
``cnnlab.functional`` and against plain loops written here.
"""
import itertools
import struct

import numpy as np
import pytest

from cnnlab import functional as F
from cnnlab import kernels, viz as V
from cnnlab.viz.render import encode_frame
from cnnlab.widgets import (App, channel_explorer, convolution_stepper, kernel_playground,
                            stride_explorer)

X = np.arange(9).reshape(3, 3)
K = np.array([[0, 1], [2, 3]])


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG or JPEG byte string."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", data[16:24])
    assert data[:2] == b"\xff\xd8", "neither PNG nor JPEG"
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    raise AssertionError("no JPEG frame header")


class FrameSizeGuard:
    """Records the figure size and the rendered image size, and checks they never change."""

    def __init__(self, app: App):
        self.app = app
        self.inches = tuple(app.figure.get_size_inches())
        self.pixels = image_size(app.image.value)

    def check(self):
        assert tuple(self.app.figure.get_size_inches()) == self.inches
        assert image_size(self.app.image.value) == self.pixels


# ------------------------------------------------------------------------------ lesson 1
def test_stepper_worked_example_texts():
    app = convolution_stepper()
    expected = {(0, 0): "19 = 0×0 + 1×1 + 3×2 + 4×3",
                (0, 1): "25 = 1×0 + 2×1 + 4×2 + 5×3",
                (1, 0): "37 = 3×0 + 4×1 + 6×2 + 7×3",
                (1, 1): "43 = 4×0 + 5×1 + 7×2 + 8×3"}
    guard = FrameSizeGuard(app)
    for (r, c), text in expected.items():
        app.row.value, app.col.value = r, c
        assert app.text == text
        assert text in app.summary.value
        assert app.facts.label == f"y[{r}, {c}]"
        guard.check()
    assert app.text == "43 = 4×0 + 5×1 + 7×2 + 8×3"
    # The equation is shown once: in the summary below the picture, not drawn in the widget's
    # figure; the static fallback (no summary there) draws the same text in its figure.
    assert app.summary.value.count(app.facts.text) == 1
    assert not app._view._eq.get_visible() and app._view._eq.get_text() == ""
    static = V.ConvolutionStepperView()
    facts = static.show(1, 1)
    assert facts.text in static._eq.get_text() and static._eq.get_visible()
    # Explanations are HTML prose, never a <pre> (JupyterLab breaks <pre> text mid-word).
    assert "<pre" not in app.summary.value and "Σ<sub><i>a</i></sub> Σ<sub><i>b</i></sub>" in app.summary.value


@pytest.mark.parametrize("operation", ["correlate", "convolve"])
def test_stepper_values_come_from_functional_and_terms_add_up(operation):
    rng = np.random.default_rng(0)
    x = rng.integers(-5, 6, size=(5, 6))
    k = rng.integers(-3, 4, size=(3, 2))
    app = convolution_stepper(x, k, operation)
    ref = F.correlate2d(x, k) if operation == "correlate" else F.convolve2d(x, k)
    oh, ow = ref.shape
    assert (app.row.max, app.col.max) == (oh - 1, ow - 1)
    for r, c in itertools.product(range(oh), range(ow)):
        with app.hold():
            app.row.value, app.col.value = r, c
        f = app.facts
        assert f.value == ref[r, c]
        # The products shown really add up to the value shown, and the window is the right one.
        assert np.sum(f.window * f.kernel) == ref[r, c]
        np.testing.assert_array_equal(f.window, x[r:r + 3, c:c + 2])
        expected_kernel = k if operation == "correlate" else k[::-1, ::-1]
        np.testing.assert_array_equal(f.kernel, expected_kernel)
        assert f.text.startswith(V.format_number(ref[r, c]) + " = ")
        assert f.text.count("×") == k.size


def test_stepper_operation_toggle_flips_kernel():
    app = convolution_stepper()
    app.operation.value = "convolve"
    assert app.facts.operation == "convolve"
    assert app.facts.value == F.convolve2d(X, K)[0, 0] == 5
    assert app.text == "5 = 0×3 + 1×2 + 3×1 + 4×0"
    assert app._view.ax_k.get_title() == "k rotated 180°"
    app.operation.value = "correlate"
    assert app.text == "19 = 0×0 + 1×1 + 3×2 + 4×3"
    assert app._view.ax_k.get_title() == "kernel k"


def test_stepper_negative_factors_get_parentheses():
    app = convolution_stepper(np.array([[1, -2], [3, 4]]), np.array([[-1, 0], [2, 1]]))
    assert app.text == "9 = 1×(−1) + (−2)×0 + 3×2 + 4×1"
    assert F.correlate2d(np.array([[1, -2], [3, 4]]), np.array([[-1, 0], [2, 1]]))[0, 0] == 9


def test_stepper_1d():
    x, k = np.array([1, 2, 3, 4, 5]), np.array([1, 0, -1])
    app = convolution_stepper(x, k)
    assert app.row.layout.display == "none"
    assert app.col.max == 2
    app.col.value = 1
    assert app.text == "−2 = 2×1 + 3×0 + 4×(−1)"
    assert app.facts.label == "y[1]"
    assert app.facts.value == F.correlate1d(x, k)[1]
    app.operation.value = "convolve"
    assert app.facts.value == F.convolve1d(x, k)[1] == 2
    assert app.text == "2 = 2×(−1) + 3×0 + 4×1"


def test_stepper_play_moves_the_window_row_major():
    app = convolution_stepper()
    assert app.play.max == 3
    app.play.value = 2
    assert (app.row.value, app.col.value) == (1, 0)
    assert app.text.startswith("37 = ")
    app.col.value = 1               # moving a slider keeps the Play in step
    assert app.play.value == 3


def test_stepper_output_filled_so_far():
    app = convolution_stepper()
    app.row.value, app.col.value = 1, 0
    shown = [[t.get_text() for t in row] for row in app._view._y_text]
    assert shown == [["19", "25"], ["37", ""]]


def test_stepper_bad_input_is_explained():
    with pytest.raises(ValueError, match="1-D or both 2-D"):
        convolution_stepper(np.arange(5), K)
    with pytest.raises(ValueError, match="operation"):
        convolution_stepper(operation="flip")


# ------------------------------------------------------------------------------ lesson 2
@pytest.fixture(scope="module")
def playground():
    return kernel_playground()


def test_playground_sobel_equals_functional(playground):
    app = playground
    app.source.value = "photo (Grace Hopper)"
    app.preset.value = "Sobel x (vertical edges)"
    sobel = kernels.IMAGE_KERNELS["Sobel x (vertical edges)"]
    np.testing.assert_array_equal(app.kernel, sobel)
    np.testing.assert_array_equal(app.facts.result, F.correlate2d(app.image_array, sobel))
    # Signed output: diverging map with symmetric limits, so no sign is hidden.
    img = app._view._out
    assert img.get_cmap().name == "RdBu_r"
    vmin, vmax = img.get_clim()
    assert vmin == -vmax and vmax > 0
    assert app.facts.flat_response == 0
    assert "Weights sum to 0" in app.text


def test_playground_presets_and_colours(playground):
    app = playground
    for name, kernel in kernels.IMAGE_KERNELS.items():
        app.preset.value = name
        np.testing.assert_allclose(app.kernel, kernel, atol=1e-4)          # the boxes show it
        np.testing.assert_array_equal(app.facts.kernel, kernel)            # exact weights used
        np.testing.assert_allclose(app.facts.result, F.correlate2d(app.image_array, kernel))
        signed = app._view._out.get_cmap().name == "RdBu_r"
        assert signed == (kernel.sum() <= 1e-9), name
        assert app.preset.value == name
    app.preset.value = "box blur"
    assert app._view._out.get_cmap().name == "gray"
    app.colours.value = "signed"
    assert app._view._out.get_cmap().name == "RdBu_r"
    app.colours.value = "auto"


def test_playground_editing_a_weight_makes_a_custom_kernel(playground):
    app = playground
    app.preset.value = "identity"
    app.weights[1].value = -1.0
    assert app.preset.value == "custom"
    expected = np.array([[0, -1, 0], [0, 1, 0], [0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(app.kernel, expected)
    np.testing.assert_allclose(app.facts.result, F.correlate2d(app.image_array, expected))
    assert app.facts.flat_response == 0.0
    app.preset.value = "sharpen"           # choosing a preset overwrites all nine boxes at once
    np.testing.assert_array_equal(app.kernel, kernels.IMAGE_KERNELS["sharpen"])
    assert app.preset.value == "sharpen"


def test_playground_digit_and_frame_size(playground):
    app = playground
    guard = FrameSizeGuard(app)
    app.source.value = "handwritten digit"
    assert app.image_array.shape == (28, 28)
    assert app.facts.result.shape == (26, 26)
    guard.check()
    app.source.value = "photo (Grace Hopper)"
    guard.check()


def test_playground_with_own_image():
    img = np.zeros((12, 12))
    img[:, 6:] = 1.0                       # a vertical edge
    app = kernel_playground(img, preset="Sobel x (vertical edges)")
    res = app.facts.result
    np.testing.assert_array_equal(res, F.correlate2d(img, kernels.IMAGE_KERNELS["Sobel x (vertical edges)"]))
    assert res.max() == 4 and res.min() == 0
    with pytest.raises(ValueError, match="2-D gray image"):
        kernel_playground(np.zeros((5, 5, 3)))


# ------------------------------------------------------------------------------ lesson 3
def test_stride_explorer_fractional_case():
    app = stride_explorer(7, 3, 3)
    f = app.facts
    assert f.size == F.output_size(7, 3, stride=3) == 2
    assert f.exact == pytest.approx(7 / 3)
    assert not f.fits
    assert "2.33" in app.text and "O = 2" in app.text
    assert f.unvisited_cols == [6] and f.unvisited_rows == [6]
    assert "row 6 and column 6" in app.text
    assert "2.33" in app.summary.value and "<pre" not in app.summary.value
    assert not app._view._formula.get_visible()            # shown once: in the summary only
    assert "2.33" in V.static_stride_explorer(7, 3, 3).axes[-1].texts[0].get_text()
    # The window sits at the right place for every output cell.
    for r, c in itertools.product(range(2), range(2)):
        with app.hold():
            app.row.value, app.col.value = r, c
        assert app.facts.window_rows == [3 * r, 3 * r + 1, 3 * r + 2]
        assert app.facts.window_cols == [3 * c, 3 * c + 1, 3 * c + 2]


def test_stride_explorer_fitting_case_and_padding():
    app = stride_explorer(5, 3, 2, 1)
    f = app.facts
    assert f.size == 3 and f.fits and f.exact == 3.0
    assert "the stride fits exactly" in app.text
    assert f.unvisited_cols == [] and not (f.visits == 0).any()
    app.col.value = 2
    assert app.facts.window_cols == [3, 4, 5]                     # 5 is padding
    assert app.facts.window_rows == [-1, 0, 1]                    # -1 is padding


def test_stride_explorer_invalid_is_explained_not_raised():
    app = stride_explorer(3, 7, 1)
    f = app.facts
    assert f.size is None and f.error
    assert "Invalid" in app.text and "no output" in app.text
    assert app.row.disabled and app.col.disabled
    assert app._view._no_out.get_text().startswith("no output")
    app.p.value = 2                                               # 3 + 2*2 = 7 fits now
    assert app.facts.size == 1 and not app.row.disabled
    assert app._view._no_out.get_text() == ""


def test_stride_explorer_survives_a_grid_of_hyperparameters():
    """Valid, fractional and impossible settings: never raises, numbers match F, frame keeps its size.

    (The numbers themselves are checked against plain loops over a bigger grid in
    tests/test_viz_convolution.py, without the rendering.)
    """
    app = stride_explorer()
    guard = FrameSizeGuard(app)
    kinds = set()
    for n, f, s, p, d in itertools.product((1, 7), (1, 3, 7), (1, 3), (0, 2), (1, 3)):
        with app.hold():
            app.n.value, app.f.value, app.s.value, app.p.value, app.d.value = n, f, s, p, d
        app.row.value = 5                                # the slider clamps it to the last output
        facts = app.facts
        try:
            o = F.output_size(n, f, s, p, d)
        except ValueError:
            kinds.add("invalid")
            assert facts.size is None and "Invalid" in app.text and app.row.disabled
        else:
            kinds.add("fits" if facts.fits else "fractional")
            assert facts.size == o and app.row.max == o - 1
            assert facts.row == min(5, o - 1) == app.row.value
            assert len(facts.window_rows) == len(facts.window_cols) == f
            assert facts.exact == F.output_size_exact(n, f, s, p, d)
        guard.check()
    assert kinds == {"invalid", "fits", "fractional"}


def test_stride_explorer_accepts_nonsense_arguments():
    for args in [(7, 3, 0, 0, 1), (7, 3, 1, -1, 1), (7, 0, 1, 0, 1), (0, 3, 1, 0, 1), (7, 3, 1, 0, 0)]:
        app = stride_explorer(*args)
        assert app.facts.size is None
        assert "Invalid" in app.text
        assert app.facts.error                      # F's own message names the argument


def test_stride_explorer_valid_and_same_buttons():
    app = stride_explorer(7, 3, 2, 2)
    app.same_button.click()
    assert (app.s.value, app.p.value) == (1, 1)
    assert app.facts.size == 7
    assert "'same'" in app.text
    app.f.value = 5
    app.d.value = 2
    app.same_button.click()
    assert app.p.value == 4 and app.facts.size == 7
    app.d.value = 1
    app.f.value = 4                                 # even kernel: no symmetric 'same' padding
    app.same_button.click()
    assert "no symmetric padding" in app.text
    app.valid_button.click()
    assert app.p.value == 0 and app.facts.size == 4


def test_stride_explorer_play():
    app = stride_explorer(5, 3, 1)
    assert app.play.max == 8
    app.play.value = 5
    assert (app.row.value, app.col.value) == (1, 2)


# ------------------------------------------------------------------------------ lesson 4
@pytest.fixture(scope="module")
def channels():
    return channel_explorer()


def test_channel_explorer_sum_of_partials_is_conv2d(channels):
    app = channels
    weight, bias, _ = kernels.default_channel_weights()
    x = app._view.x
    assert x.shape[0] == 3
    for o in range(weight.shape[0]):
        app.out_channel.value = o
        f = app.facts
        ref = F.conv2d(x[None], weight, bias)[0, o]
        np.testing.assert_allclose(f.output, ref, atol=1e-12)
        np.testing.assert_allclose(f.partials.sum(axis=0) + f.bias, ref, atol=1e-12)
        for c in range(3):
            np.testing.assert_allclose(f.partials[c], F.correlate2d(x[c], weight[o, c]))
    assert app.facts.parameters == F.conv_parameter_count(3, 4, 3) == (3 * 3 * 3 + 1) * 4 == 112
    assert "112 parameters" in app.text


def test_channel_explorer_bias_adds_to_every_pixel(channels):
    app = channels
    app.out_channel.value = 1
    before = app.facts.output.copy()
    app.bias.value = 0.25
    np.testing.assert_allclose(app.facts.output - before, 0.25)
    assert "b[1] = 0.25" in app.text
    app.out_channel.value = 0
    assert app.bias.value == 0.0                   # each filter keeps its own bias
    app.out_channel.value = 1
    assert app.bias.value == 0.25
    app.bias.value = 0.0


def test_channel_explorer_custom_weights_and_frame_size():
    rng = np.random.default_rng(1)
    img = rng.random((10, 12, 3))
    w = rng.normal(size=(2, 3, 5, 5))
    b = np.array([0.5, -0.5])
    app = channel_explorer(img, w, b)
    guard = FrameSizeGuard(app)
    np.testing.assert_allclose(app.facts.output, F.conv2d(img.transpose(2, 0, 1)[None], w, b)[0, 0])
    app.out_channel.value = 1
    np.testing.assert_allclose(app.facts.output, F.conv2d(img.transpose(2, 0, 1)[None], w, b)[0, 1])
    assert app.facts.parameters == 152
    guard.check()
    with pytest.raises(ValueError, match="RGB"):
        channel_explorer(np.zeros((5, 5)), w, b)


# ------------------------------------------------------------------------------ all apps
def test_apps_have_the_common_interface(playground, channels):
    apps = [convolution_stepper(), playground, stride_explorer(), channels]
    for app in apps:
        assert app.widget.children[-2] is app.image
        assert app.widget.children[-1] is app.summary
        assert app.image.value[:2] in (b"\x89P", b"\xff\xd8")
        assert app.figure.dpi <= 100 and 6 <= app.figure.get_figwidth() <= 9.5
        assert app.update() is app.facts
        assert app.last_update_ms > 0
        assert "application/vnd.jupyter.widget-view+json" in app._repr_mimebundle_()
        # Explanations are wrapped HTML prose: no <pre>, which JupyterLab breaks mid-word.
        assert "<pre" not in app.summary.value and "word-break:normal" in app.summary.value


def test_widget_cells_of_lessons_1_4_hold_no_asserts():
    """In slides a widget cell shows its source: its checks live in the next (skipped) cell."""
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parent.parent / "notebooks"
    names = ["01_discrete_convolution", "02_image_kernels", "03_stride_padding_dilation", "04_channels"]
    widget_cells = 0
    for name in names:
        cells = nbformat.read(root / f"{name}.ipynb", as_version=4).cells
        for i, cell in enumerate(cells):
            if cell.cell_type == "code" and cell.source.rstrip().endswith(".widget"):
                widget_cells += 1
                assert "assert" not in cell.source, f"{name} cell {i}"
                nxt = cells[i + 1]
                if nxt.cell_type == "code" and "assert" in nxt.source:
                    assert nxt.metadata["slideshow"]["slide_type"] == "skip", f"{name} cell {i + 1}"
    assert widget_cells == 6


def test_encode_frame_formats():
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    assert image_size(encode_frame(rgba, "png")) == (6, 4)
    assert image_size(encode_frame(rgba, "jpeg")) == (6, 4)
    with pytest.raises(ValueError, match="image_format"):
        encode_frame(rgba, "gif")
