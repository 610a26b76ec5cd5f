"""Tests of cnnlab.viz.convolution: the numbers the lesson 1-4 figures show, and the figures."""
import io
import itertools

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import ndimage

from cnnlab import functional as F
from cnnlab.data import sample_image
from cnnlab import kernels, viz as V
from cnnlab.viz.grids import kernel_labels


@pytest.mark.parametrize("value, text", [
    (19, "19"), (19.0, "19"), (np.int64(-3), "−3"), (2.3333333, "2.33"), (0.5, "0.5"),
    (-0.0, "0"), (1 / 9, "0.11"), (-0.004, "0"), (1e6, "1000000"),
])
def test_format_number(value, text):
    assert V.format_number(value) == text


def brute_force(n, f, s, p, d):
    """Output size, visit counts and window taps by plain loops (no cnnlab code)."""
    o = (n + 2 * p - d * (f - 1) - 1) // s + 1
    visits = np.zeros((n, n), dtype=int)
    for orow, ocol, i, j in itertools.product(range(o), range(o), range(f), range(f)):
        r, c = orow * s + i * d - p, ocol * s + j * d - p
        if 0 <= r < n and 0 <= c < n:
            visits[r, c] += 1
    return o, visits


def test_stride_facts_match_plain_loops_over_a_grid():
    n_valid = n_invalid = n_fractional = 0
    for n, f, s, p, d in itertools.product((1, 2, 5, 8), (1, 2, 3, 5), (1, 2, 3), (0, 1, 3), (1, 2, 3)):
        facts = V.stride_facts(n, f, s, p, d, row=99, col=1)
        if d * (f - 1) + 1 > n + 2 * p:
            n_invalid += 1
            assert facts.size is None and facts.error and "Invalid" in facts.text
            continue
        n_valid += 1
        o, visits = brute_force(n, f, s, p, d)
        assert facts.size == o
        assert facts.fits == ((n + 2 * p - d * (f - 1) - 1) % s == 0)
        n_fractional += not facts.fits
        np.testing.assert_array_equal(facts.visits, visits)
        r, c = facts.row, facts.col
        assert r == o - 1 and c == min(1, o - 1)
        assert facts.window_rows == [r * s + i * d - p for i in range(f)]
        assert facts.window_cols == [c * s + j * d - p for j in range(f)]
        never = visits == 0
        assert facts.unvisited_cols == [j for j in range(n) if never[:, j].all()]
        if not facts.fits:
            assert V.format_number(facts.exact) in facts.text and f"O = {o}" in facts.text
    assert n_valid > 200 and n_invalid > 20 and n_fractional > 50


def test_stride_facts_text_for_the_lesson_example():
    facts = V.stride_facts(7, 3, 3)
    assert facts.text.splitlines()[0] == "O = ⌊(N + 2P − D(F−1) − 1) / S⌋ + 1"
    assert "⌊(7 + 2·0 − 1·(3−1) − 1) / 3⌋ + 1" in facts.text
    assert "= 2.33" in facts.text and "O = 2" in facts.text
    assert "row 6 and column 6" in facts.text
    dilated = V.stride_facts(7, 3, 1, 0, 3)          # taps 0, 3, 6 only
    assert dilated.size == 1 and dilated.visits.sum() == 9
    assert "rows 1–2, 4–5 and columns 1–2, 4–5" in dilated.text


def test_stride_facts_never_raise():
    for args in [(7, 3, 0), (7, 3, 1, -2), (0, 3), (7, 0), (7, 3, 1, 0, 0), (3, 9)]:
        facts = V.stride_facts(*args)
        assert facts.size is None and "Invalid" in facts.text


def png_pixels(fig: Figure) -> np.ndarray:
    import matplotlib.image as mpimg

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    buf.seek(0)
    return mpimg.imread(buf)[..., :3]


@pytest.mark.parametrize("make, steps", [
    (lambda: V.ConvolutionStepperView(), [dict(row=1, col=0), dict(row=0, col=1, operation="convolve")]),
    (lambda: V.StrideExplorerView(), [dict(n=7, f=3, s=3), dict(n=5, f=3, s=1, p=1, row=2, col=3),
                                      dict(n=3, f=7), dict(n=8, f=2, s=2, d=2, row=1)]),
    (lambda: V.ChannelExplorerView(np.random.default_rng(0).random((20, 16, 3)),
                                   *kernels.default_channel_weights()),
     [dict(out_channel=1), dict(out_channel=1, bias=0.3), dict(out_channel=3)]),
])
def test_blitted_frames_show_the_current_state(make, steps):
    """Each fast frame equals a full, from-scratch drawing of the same figure (no stale artists)."""
    view = make()
    for step in steps:
        view.show(**step)
        frame = view.render_rgba()[..., :3] / 255.0
        full = png_pixels(view.figure)
        assert frame.shape == full.shape
        # Draw order (registration vs z-order) changes a few thin outlines, nothing more. Thin
        # lines vanish under a 5x5 erosion; a stale window or output cell (a filled area of
        # thousands of pixels) would not.
        differs = np.abs(frame - full).max(axis=2) > 0.1
        assert differs.mean() < 0.02
        assert not ndimage.binary_erosion(differs, np.ones((5, 5))).any()


def test_kernel_view_colours():
    img = sample_image("grace_hopper")[::4, ::4]
    view = V.KernelPlaygroundView(img)
    facts = view.show(kernels.IMAGE_KERNELS["Sobel y (horizontal edges)"], "Sobel y (horizontal edges)")
    assert facts.signed and facts.vmin == -facts.vmax
    np.testing.assert_array_equal(facts.result, F.correlate2d(img, kernels.IMAGE_KERNELS["Sobel y (horizontal edges)"]))
    facts = view.show(kernels.IMAGE_KERNELS["Gaussian blur"], "Gaussian blur")
    assert not facts.signed and (facts.vmin, facts.vmax) == (0.0, pytest.approx(1.0))
    assert facts.flat_response == pytest.approx(1.0)
    facts = view.show(-kernels.IMAGE_KERNELS["box blur"], "custom")       # negative average: signed
    assert facts.signed
    with pytest.raises(ValueError, match="shape"):
        view.show(np.ones((2, 2)))
    with pytest.raises(ValueError, match="colours"):
        view.show(np.ones((3, 3)), colours="rainbow")


def test_flat_response_is_the_weight_sum():
    for k in kernels.IMAGE_KERNELS.values():
        assert V.flat_response(k) == pytest.approx(k.sum())


def test_static_figures():
    img = sample_image("grace_hopper")[::8, ::8]
    rgb = sample_image("grace_hopper", grayscale=False)[::8, ::8]
    figs = [
        V.static_convolution_stepper(),
        V.static_convolution_stepper(np.arange(7), np.array([1, 2]), col=3, operation="convolve"),
        V.static_kernel_playground(img),
        V.static_kernel_playground(img, np.eye(3)),
        V.static_kernel_gallery(img),
        V.static_stride_explorer(),
        V.static_stride_explorer(3, 5),
        V.static_channel_explorer(rgb),
        V.static_receptive_field([(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)]),
        V.image_grid([img, -img, rgb], ["a", "b", "c"]),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
        assert fig.dpi <= 100 and 5 <= fig.get_figwidth() <= 9.5
        assert png_pixels(fig).size > 0


def test_receptive_field_figure_uses_functional():
    layers = [(5, 1, 1), (2, 2, 1), (5, 1, 1), (2, 2, 1)]
    fig = V.static_receptive_field(layers)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == [f"{size}×{size}" for size in F.receptive_field(layers)] == ["5×5", "6×6", "14×14", "16×16"]


def test_image_grid_signed_detection():
    fig = V.image_grid([np.ones((4, 4)), np.array([[-1.0, 1.0]])], colorbar=False)
    cmaps = [ax.images[0].get_cmap().name for ax in fig.axes if ax.images]
    assert cmaps == ["gray", "RdBu_r"]
    vmin, vmax = fig.axes[1].images[0].get_clim()
    assert vmin == -vmax


def test_receptive_field_axis_is_symmetric_with_whole_pixel_ticks():
    fig = V.static_receptive_field([(5, 1, 1), (2, 2, 1), (5, 1, 1), (2, 2, 1)])
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo == -hi
    ticks = ax.get_xticks()
    assert np.all(ticks == np.round(ticks)) and 0 in ticks
    np.testing.assert_array_equal(ticks, -ticks[::-1])


def test_gallery_signed_maps_are_clipped_symmetrically_at_a_percentile():
    img = sample_image("grace_hopper")[60:260, 150:350]
    fig = V.static_kernel_gallery(img, signed_percentile=96)
    by_title = {ax.get_title(): ax.images[0] for ax in fig.axes if ax.images}
    sobel = by_title["Sobel x\n(vertical edges)"]
    vmin, vmax = sobel.get_clim()
    result = F.correlate2d(img, kernels.IMAGE_KERNELS["Sobel x (vertical edges)"])
    assert vmin == -vmax and vmax == pytest.approx(np.percentile(np.abs(result), 96))
    assert vmax < 0.5 * np.abs(result).max()          # the thin strong edges saturate
    assert by_title["box blur"].get_cmap().name == "gray"


def test_playground_output_is_drawn_at_the_input_scale():
    digit = sample_image("digit")
    view = V.KernelPlaygroundView(digit)
    view.show(kernels.IMAGE_KERNELS["Sobel x (vertical edges)"], "Sobel x (vertical edges)")
    # Same data limits in both panels; output pixel (i, j) over input pixel (i + 1, j + 1).
    assert view.ax_out.get_xlim() == view.ax_img.get_xlim()
    assert view.ax_out.get_ylim() == view.ax_img.get_ylim()
    assert tuple(view._out.get_extent()) == (0.5, 26.5, 26.5, 0.5)
    view.render_rgba()
    w_in, w_out = (ax.get_window_extent().width for ax in (view.ax_img, view.ax_out))
    assert w_in == pytest.approx(w_out, rel=0.02)
    assert "1-pixel border" in view.ax_out.get_title()


def test_kernel_labels():
    factor, labels = kernel_labels(kernels.IMAGE_KERNELS["Sobel x (vertical edges)"] / 3)
    assert factor == "1/3 × " and labels == ["−1", "0", "1", "−2", "0", "2", "−1", "0", "1"]
    assert kernel_labels(kernels.IMAGE_KERNELS["box blur"])[0] == "1/9 × "
    assert kernel_labels(kernels.IMAGE_KERNELS["identity"]) == ("", ["0"] * 4 + ["1"] + ["0"] * 4)
    assert kernel_labels(np.array([[0.123, -0.456]])) == ("", ["0.1", "−0.5"])


def test_channel_explorer_scales_and_readable_kernel_numbers():
    rgb = sample_image("grace_hopper", grayscale=False)[::4, ::4]
    view = V.ChannelExplorerView(rgb, *kernels.default_channel_weights())
    facts = view.show(0)
    view.render_rgba()
    # The partial maps share one symmetric scale set by the partial maps alone; the output has
    # its own (the colour bar), which is not the partial maps' one.
    plims = {img.get_clim() for img in view._p_img}
    assert len(plims) == 1
    (pmin, pmax), = plims
    assert pmin == -pmax and pmax == pytest.approx(np.percentile(np.abs(facts.partials), 98))
    omin, omax = view._sum_img.get_clim()
    assert omin == -omax and omax == pytest.approx(np.percentile(np.abs(facts.output), 98))
    assert omax > 1.5 * pmax
    assert "shared scale" in view._p_title.get_text() and "own scale" in view._ax_sum.get_title()
    # Kernel numbers: short whole numbers (factor in the title) at 9 pt or more.
    assert view._k_ax[0].get_title() == "W[0, 0] = 1/3 ×"
    texts = [t for rows in view._k_txt[0] for t in rows]
    assert [t.get_text() for t in texts] == ["−1", "0", "1", "−2", "0", "2", "−1", "0", "1"]
    assert min(t.get_fontsize() for t in texts) >= 9
    assert view._plus_b.get_text() == "+ b[0]  ="
