"""Image kernels (lesson 2): a 3x3 kernel slid over a photo, and the gallery of presets.

:func:`kernel_facts` applies a kernel with ``F.correlate2d`` and decides how to colour the
result; :class:`KernelPlaygroundView` draws it. The kernels themselves live in
``cnnlab.kernels`` (``IMAGE_KERNELS``, ``KERNEL_NOTES``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from cnnlab import functional as F
from cnnlab.kernels import IMAGE_KERNELS, KERNEL_NOTES
from cnnlab.viz.grids import cell_axes, grid_lines, image_grid, write_kernel
from cnnlab.viz.render import View
from cnnlab.viz.style import DPI, IMAGE_CMAP, SIGNED_CMAP, bare, format_number, signed_limit

__all__ = ["KernelFacts", "flat_response", "kernel_facts", "KernelPlaygroundView",
           "static_kernel_playground", "static_kernel_gallery"]

COLOURS = ("auto", "gray", "signed")


@dataclass
class KernelFacts:
    """What the kernel playground shows."""
    name: str
    kernel: np.ndarray
    result: np.ndarray          # F.correlate2d(image, kernel), mode "valid"
    flat_response: float        # the output on a flat patch of ones (= sum of the weights)
    signed: bool                # drawn with the diverging map?
    vmin: float
    vmax: float
    text: str


def flat_response(kernel) -> float:
    """What a kernel answers on a flat patch of brightness 1 (it equals the sum of its weights)."""
    kernel = np.asarray(kernel, dtype=float)
    return float(F.correlate2d(np.ones(kernel.shape), kernel)[0, 0])


def _gray_image(image) -> np.ndarray:
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D gray image (H, W); got shape {image.shape}. "
                         f"For an RGB image pass one channel, e.g. image[..., 0].")
    return image


def kernel_facts(image, kernel, name: str = "custom", colours: str = "auto") -> KernelFacts:
    """``F.correlate2d(image, kernel)`` (mode "valid") and how it is coloured.

    colours "auto": gray when the kernel averages (its answer on a flat patch of brightness 1,
    the sum of its weights, is positive), from 0 to that answer times the image's brightest
    value; signed (``RdBu_r``, symmetric limits at the 98th percentile of |result|) when that
    answer is 0 or negative: the output is then signed, and gray would hide its negative half.
    "gray" / "signed" force one of the two.
    """
    image = _gray_image(image)
    kernel = np.asarray(kernel, dtype=float)
    if colours not in COLOURS:
        raise ValueError(f"colours must be 'auto', 'gray' or 'signed', got {colours!r}")
    result = F.correlate2d(image, kernel)
    flat = flat_response(kernel)
    signed = flat <= 1e-9 if colours == "auto" else colours == "signed"
    if signed:
        lim = signed_limit(result, robust=True)
        vmin, vmax = -lim, lim
    else:
        top = flat if flat > 1e-9 else 1.0
        vmin, vmax = 0.0, top * max(1.0, float(image.max()))
    note = KERNEL_NOTES.get(name, "")
    drawn = (f"signed: RdBu_r from {format_number(vmin)} to {format_number(vmax)} (white = 0; the "
             f"few pixels beyond saturate)" if signed else
             f"in gray from {format_number(vmin)} to {format_number(vmax)}")
    text = (f"{name}: {note}\nWeights sum to {format_number(flat)} (its answer on a flat patch of "
            f"brightness 1). Output range {format_number(result.min())} … "
            f"{format_number(result.max())}, drawn {drawn}.")
    return KernelFacts(name, kernel.copy(), result, flat, bool(signed), vmin, vmax, text)


class KernelPlaygroundView(View):
    """Image, 3x3 kernel and result ``F.correlate2d(image, kernel)`` (mode "valid"), side by side.

    Colours: the image in gray; the kernel in RdBu_r (red positive, blue negative); the result
    as :func:`kernel_facts` decides (gray for averages, RdBu_r for signed outputs).
    """

    def __init__(self, image, figsize=(9.0, 3.9), dpi: int = DPI, kernel_size: int = 3):
        image = _gray_image(image)
        n = kernel_size
        blank = kernel_facts(image, np.zeros((n, n)))
        super().__init__(figsize, dpi)
        fig = self.figure
        self.image = image
        self.kernel_size = n
        gs = fig.add_gridspec(1, 3, width_ratios=[1, 0.55, 1], left=0.03, right=0.91,
                              top=0.8, bottom=0.03, wspace=0.12)
        self.ax_img, self.ax_k, self.ax_out = (fig.add_subplot(gs[0, i]) for i in range(3))
        h, w = image.shape
        self.ax_img.imshow(image, cmap=IMAGE_CMAP, vmin=0, vmax=max(1.0, float(image.max())))
        self.ax_img.set_title(f"input image ({h}×{w})", fontsize=10.5)
        bare(self.ax_img)
        cell_axes(self.ax_k, n, n)
        self.ax_k.set_title(f"kernel ({n}×{n})", fontsize=10.5)
        dyn = self.dynamic
        self._k_img = dyn(self.ax_k.imshow(np.zeros((n, n)), cmap=SIGNED_CMAP, vmin=-1, vmax=1))
        dyn(grid_lines(self.ax_k, n, n, color="0.4"))
        self._k_text = [[dyn(self.ax_k.text(j, i, "", ha="center", va="center", fontsize=11))
                         for j in range(n)] for i in range(n)]
        # Same pixel scale as the input: output pixel (i, j) is drawn over input pixel
        # (i + r, j + r), the centre of its window, inside a frame as large as the input; the
        # r-pixel border where the kernel does not fit ("valid" mode) stays empty.
        r = (n - 1) / 2
        oh, ow = blank.result.shape
        self._out = dyn(self.ax_out.imshow(blank.result, cmap=IMAGE_CMAP, vmin=0, vmax=1,
                                           extent=(r - 0.5, r + ow - 0.5, r + oh - 0.5, r - 0.5)))
        self.ax_out.set_xlim(-0.5, w - 0.5)
        self.ax_out.set_ylim(h - 0.5, -0.5)
        self.ax_out.set_facecolor("0.93")
        bare(self.ax_out)
        for spine in self.ax_out.spines.values():
            spine.set_color("0.6")
        pos = self.ax_out.get_position()
        self.colorbar = self.colour_bar((pos.x1 + 0.01, pos.y0 + 0.1 * pos.height, 0.012, 0.8 * pos.height))
        dyn(self.ax_out.title)
        self._title = self.text(0.5, 0.985, "", "frame", ha="center", va="top", fontsize=11)

    def facts(self, kernel, name: str = "custom", colours: str = "auto") -> KernelFacts:
        """Apply ``kernel`` to the view's image (see :func:`kernel_facts`). colours: auto|gray|signed."""
        n = self.kernel_size
        if np.shape(kernel) != (n, n):
            raise ValueError(f"kernel must have shape ({n}, {n}); got {np.shape(kernel)}")
        return kernel_facts(self.image, kernel, name, colours)

    def draw(self, facts: KernelFacts) -> None:
        cmap = SIGNED_CMAP if facts.signed else IMAGE_CMAP
        self._out.set_data(facts.result)
        self._out.set_cmap(cmap)
        self._out.set_clim(facts.vmin, facts.vmax)
        self.colorbar.set(cmap, facts.vmin, facts.vmax, "0" if facts.signed else "")
        write_kernel(self._k_img, self._k_text, facts.kernel,
                     [format_number(v) for v in facts.kernel.ravel()],
                     lambda label: 11 if len(label) <= 4 else 8.5)
        how = "signed: red > 0 > blue" if facts.signed else "gray"
        border = (self.kernel_size - 1) // 2
        oh, ow = facts.result.shape
        self.ax_out.set_title(f"output ({oh}×{ow}), {how}\n"
                              f"at the input's scale; no output on the {border}-pixel border (gray)",
                              fontsize=9.5)
        self._title.set_text(f"{facts.name}:  output = correlate2d(image, kernel)")


def static_kernel_playground(image, kernel="Sobel x (vertical edges)", colours: str = "auto") -> Figure:
    """Static fallback of ``widgets.kernel_playground``: one kernel applied to ``image``."""
    name = kernel if isinstance(kernel, str) else "custom"
    k = IMAGE_KERNELS[kernel] if isinstance(kernel, str) else np.asarray(kernel, dtype=float)
    view = KernelPlaygroundView(image)
    view.show(k, name, colours)
    return view.figure


def static_kernel_gallery(image, names=None, ncols: int = 4, width: float = 9.0,
                          signed_percentile: float = 96.0) -> Figure:
    """Presets of ``IMAGE_KERNELS`` applied to ``image``: averages in gray, signed ones in RdBu_r.

    Signed thumbnails are clipped symmetrically at the ``signed_percentile`` of |values|: edge
    maps are mostly near 0 with thin strong lines, and at thumbnail size a limit set by the
    strongest pixels would leave them nearly white (the strongest few percent saturate instead).
    Pass an image that is drawn at about one image pixel per screen pixel (a crop), so thin
    edges are not averaged away.
    """
    names = list(IMAGE_KERNELS) if names is None else list(names)
    images, titles, signed, limits = [], [], [], []
    for name in names:
        facts = kernel_facts(image, IMAGE_KERNELS[name], name)
        images.append(facts.result)
        titles.append(name.replace(" (", "\n("))
        signed.append(facts.signed)
        if facts.signed:
            lim = signed_limit(facts.result, robust=True, percentile=signed_percentile)
            limits.append((-lim, lim))
        else:
            # Averaging kernels: the playground's gray scale, 0 .. (brightness 1 x weight sum).
            limits.append((facts.vmin, facts.vmax))
    return image_grid(images, titles, signed, ncols=ncols, width=width, colorbar=False, limits=limits)
