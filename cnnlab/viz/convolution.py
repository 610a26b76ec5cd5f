"""Figures for lessons 1-4: the sliding window, image kernels, stride/padding/dilation, channels.

Views only. Every number drawn or written here comes from ``cnnlab.functional`` (or from the
window machinery in ``cnnlab._windows`` that ``functional`` itself uses); this module only
places, colours and labels those numbers.

Each interactive figure is a *view* object: it builds its matplotlib Figure once, and its
``show(...)`` method moves the existing artists (``set_data``, ``set_text``, ``set_xy``) and
returns a small record of the numbers it displayed (the widgets in ``cnnlab.widgets`` print
that record and the tests read it). The ``static_*`` functions draw one state of the same view
for static renders of the notebooks (GitHub, nbconvert).

Figures are plain ``matplotlib.figure.Figure`` objects with an Agg canvas, not pyplot figures:
they are never shown twice by the inline backend and never leak into pyplot's figure list.
A notebook displays one by making it the last expression of a cell.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.collections import LineCollection
from matplotlib.patches import Patch, Rectangle

from cnnlab import functional as F
from cnnlab._windows import window_view
from cnnlab.kernels import CHANNEL_NAMES, IMAGE_KERNELS, KERNEL_NOTES, default_channel_weights

__all__ = [
    "IMAGE_KERNELS", "KERNEL_NOTES", "format_number", "new_figure", "image_grid",
    "ConvolutionStepperView", "KernelPlaygroundView", "StrideExplorerView", "ChannelExplorerView",
    "StepFacts", "KernelFacts", "StrideFacts", "ChannelFacts",
    "static_convolution_stepper", "static_kernel_playground", "static_kernel_gallery",
    "static_stride_explorer", "static_channel_explorer", "static_receptive_field",
    "default_channel_weights", "stride_facts", "flat_response", "FrameView",
]

DPI = 90
SIGNED_CMAP = "RdBu_r"     # diverging, white at zero: red positive, blue negative
IMAGE_CMAP = "gray"

# Colours of the grid drawings (colour-blind safe pairs: blue / orange, grey / red).
C_INPUT = (1.0, 1.0, 1.0)
C_PAD = (0.86, 0.86, 0.86)
C_WINDOW = (0.62, 0.79, 0.94)
C_WINDOW_PAD = (0.45, 0.63, 0.82)
C_UNVISITED = (0.97, 0.67, 0.62)
C_OUTPUT = (0.99, 0.73, 0.40)
C_DONE = (1.0, 0.93, 0.82)
C_TODO = (0.95, 0.95, 0.95)
EDGE_WINDOW = "#1f5fa8"
EDGE_ERROR = "#c0392b"

def format_number(value, digits: int = 2) -> str:
    """Format a number the way the lessons print it: ``19``, ``2.33``, ``−0.5`` (true minus).

    Whole numbers lose their ``.0``; others are rounded to ``digits`` decimals with trailing
    zeros dropped. Presentation only: no arithmetic beyond rounding for display.
    """
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    text = f"{v:.{digits}f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace("-", "\u2212")


def _factor(value) -> str:
    """A factor inside a product: negative numbers get parentheses, ``3×(−1)``."""
    text = format_number(value)
    return f"({text})" if text.startswith("\u2212") else text


def new_figure(figsize=(8.0, 3.5), dpi: int = DPI, layout=None) -> Figure:
    """A matplotlib Figure with its own Agg canvas (no pyplot state, displays once in Jupyter)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _grid_segments(nrows: int, ncols: int, x0: float = -0.5, y0: float = -0.5):
    """Line segments of the cell borders of an nrows x ncols grid whose top-left corner is (x0, y0)."""
    segs = [[(x0 + j, y0), (x0 + j, y0 + nrows)] for j in range(ncols + 1)]
    segs += [[(x0, y0 + i), (x0 + ncols, y0 + i)] for i in range(nrows + 1)]
    return segs


def _grid_lines(ax, nrows: int, ncols: int, x0: float = -0.5, y0: float = -0.5,
                color="0.55", linewidth: float = 0.8) -> LineCollection:
    """Cell borders drawn as one LineCollection (much cheaper than a tick-based grid)."""
    lc = LineCollection(_grid_segments(nrows, ncols, x0, y0), colors=color, linewidths=linewidth,
                        clip_on=False)   # the outer lines lie on the axes' edge: do not halve them
    ax.add_collection(lc, autolim=False)
    return lc


def _cell_axes(ax, nrows: int, ncols: int) -> None:
    """An axes showing an nrows x ncols grid of unit cells centred on integer coordinates."""
    _bare(ax)
    ax.set_xlim(-0.5, ncols - 0.5)
    ax.set_ylim(nrows - 0.5, -0.5)
    ax.set_aspect("equal")
    for spine in ax.spines.values():
        spine.set_visible(False)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


class FrameView:
    """A figure drawn once, then redrawn quickly frame by frame (blitting in three layers).

    - static artists (not registered) are drawn once by a full draw of the figure;
    - ``dynamic(artist, "config")`` artists change only with the configuration (titles, tick
      labels, the formula): drawn on top of the static picture, which is then kept until
      :meth:`invalidate` is called;
    - ``dynamic(artist)`` ("frame") artists change every frame (the window, the output cell):
      each frame restores the kept picture and draws only these, in registration order.

    Registered artists are marked ``animated``, which is how matplotlib's own blitting keeps
    them out of the full draw. Saving the figure (``savefig``, the inline backend showing a
    static fallback) ignores all this and draws everything in z-order.
    """

    def __init__(self, figsize, dpi: int = DPI):
        self.figure = new_figure(figsize, dpi)
        self._layers: dict[str, list] = {"config": [], "frame": []}
        self._bg_static = None      # pixels after the full draw
        self._bg_config = None      # pixels after the config layer

    def dynamic(self, artist, layer: str = "frame"):
        """Register ``artist`` as redrawn per "frame" (default) or per "config"; returns it.

        Only artists that live in an Axes may be registered (matplotlib's savefig skips
        animated figure-level artists): use :meth:`text` for text placed in figure coordinates.
        """
        artist.set_animated(True)
        self._layers[layer].append(artist)
        return artist

    def text(self, x: float, y: float, s: str = "", layer: str | None = None, **kwargs):
        """Text at figure coordinates (x, y), held by an invisible full-figure Axes so that it
        can be redrawn per frame/config and still appears when the figure is saved."""
        if getattr(self, "_overlay", None) is None:
            self._overlay = self.figure.add_axes((0, 0, 1, 1), zorder=10)
            self._overlay.set_axis_off()
            self._overlay.patch.set_visible(False)
            self._overlay.set_navigate(False)
        t = self._overlay.text(x, y, s, transform=self._overlay.transAxes, **kwargs)
        return self.dynamic(t, layer) if layer else t

    def colour_bar(self, rect, layer: str = "frame") -> "_ColourBar":
        """A light colour bar at ``rect`` (figure coordinates) whose map and limits are artists of
        this view, so it updates with the frame (matplotlib's own colorbar cannot be blitted)."""
        return _ColourBar(self, rect, layer)

    def invalidate(self, everything: bool = False) -> None:
        """Redraw the config layer (or, with everything=True, the whole figure) next frame."""
        self._bg_config = None
        if everything:
            self._bg_static = None

    def _draw_layer(self, renderer, layer: str) -> None:
        for artist in self._layers[layer]:
            if artist.get_visible():
                artist.draw(renderer)

    def render_rgba(self) -> np.ndarray:
        """The current frame as an (H, W, 4) uint8 array (a view of the canvas buffer)."""
        canvas = self.figure.canvas
        if self._bg_static is None:
            canvas.draw()
            self._bg_static = canvas.copy_from_bbox(self.figure.bbox)
            self._bg_config = None
        renderer = canvas.get_renderer()
        if self._bg_config is None:
            canvas.restore_region(self._bg_static)
            self._draw_layer(renderer, "config")
            self._bg_config = canvas.copy_from_bbox(self.figure.bbox)
        else:
            canvas.restore_region(self._bg_config)
        self._draw_layer(renderer, "frame")
        return np.asarray(canvas.buffer_rgba())


class _ColourBar:
    """A vertical colour bar: a gradient image and three tick labels, all redrawn per frame."""

    def __init__(self, view: FrameView, rect, layer: str = "frame"):
        ax = view.figure.add_axes(rect)
        _bare(ax)
        self.ax = ax
        self._img = view.dynamic(ax.imshow(np.linspace(1, 0, 256)[:, None], aspect="auto",
                                           extent=(0, 1, 0, 1), vmin=0, vmax=1), layer)
        kw = dict(transform=ax.transAxes, ha="left", va="center", fontsize=8)
        self._labels = [view.dynamic(ax.text(1.25, y, "", **kw), layer) for y in (1.0, 0.5, 0.0)]

    def set(self, cmap: str, vmin: float, vmax: float, middle: str = "") -> None:
        self._img.set_cmap(cmap)
        for t, v in zip(self._labels, (format_number(vmax), middle, format_number(vmin))):
            t.set_text(v)

    def get(self) -> tuple[str, str, str]:
        return tuple(t.get_text() for t in self._labels)


def _cell_fontsize(ax, nrows: int, ncols: int, fig: Figure, fraction: float = 0.34,
                   lo: float = 6.0, hi: float = 13.0) -> float:
    """A font size that fills about ``fraction`` of a cell of an axes showing nrows x ncols cells."""
    bbox = ax.get_position()
    w_in = bbox.width * fig.get_figwidth()
    h_in = bbox.height * fig.get_figheight()
    cell_pt = 72 * min(w_in / max(ncols, 1), h_in / max(nrows, 1))
    return float(np.clip(cell_pt * fraction, lo, hi))


def _signed_limit(*arrays, robust: bool = False, percentile: float = 98.0) -> float:
    """Symmetric colour limit for signed data (zero is the white middle of RdBu_r).

    robust=True uses the given percentile (default 98th) of |values| instead of the maximum, so
    that a few extreme pixels do not wash out the rest of an image (those few saturate instead).
    """
    values = [np.abs(np.asarray(a, dtype=float)).ravel() for a in arrays if np.size(a)]
    if not values:
        return 1.0
    values = np.concatenate(values)
    m = float(np.percentile(values, percentile)) if robust else float(values.max())
    if m <= 0:
        m = float(values.max())
    return m if m > 0 else 1.0


def _gray_limits(im) -> tuple[float, float]:
    """Gray limits: [0, 1] for images that live there (true brightness), else from the data's
    minimum to its 99th percentile (a few very bright pixels do not darken the rest)."""
    lo, hi = float(np.min(im)), float(np.max(im))
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    top = float(np.percentile(im, 99))
    return lo, top if top > lo else hi


def image_grid(images, titles=None, signed=None, ncols: int | None = None, width: float = 8.5,
               colorbar: bool = True, suptitle: str | None = None, limits=None) -> Figure:
    """A row (or grid) of images with the lessons' colour rules.

    images : list of 2-D arrays (H, W) or RGB (H, W, 3) in [0, 1]
    signed : list of bools (default: True where an image has negative values); signed images
             use the diverging map ``RdBu_r`` with symmetric limits (at the 98th percentile of
             |values|), so a sign is never hidden; the others use ``gray``.
    limits : optional list of (vmin, vmax) or None per image, to override the automatic ones.
    """
    images = [np.asarray(im) for im in images]
    n = len(images)
    titles = list(titles) if titles is not None else [""] * n
    if signed is None:
        signed = [im.ndim == 2 and bool(np.min(im) < 0) for im in images]
    limits = list(limits) if limits is not None else [None] * n
    ncols = ncols or n
    nrows = -(-n // ncols)
    fig = new_figure((width, width / ncols * nrows * 1.05 + 0.35 * bool(suptitle)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, im, title, sgn, lims in zip(axes, images, titles, signed, limits):
        if im.ndim == 3:
            ax.imshow(np.clip(im, 0, 1))
        else:
            if sgn:
                lim = _signed_limit(im, robust=True)
                vmin, vmax = lims or (-lim, lim)
            else:
                vmin, vmax = lims or _gray_limits(im)
            art = ax.imshow(im, cmap=SIGNED_CMAP if sgn else IMAGE_CMAP, vmin=vmin, vmax=vmax)
            if colorbar:
                cb = fig.colorbar(art, ax=ax, fraction=0.046, pad=0.03)
                cb.ax.tick_params(labelsize=8)
        ax.set_title(title, fontsize=10)
        _bare(ax)
    for ax in axes[n:]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


# ----------------------------------------------------------------------------- lesson 1
@dataclass
class StepFacts:
    """What the convolution stepper shows for one output cell."""
    row: int
    col: int
    operation: str             # "correlate" or "convolve"
    value: float               # the output value, from cnnlab.functional
    window: np.ndarray         # the input numbers under the kernel
    kernel: np.ndarray         # the kernel as applied (rotated 180° for convolution)
    label: str                 # "y[0, 0]" or "y[2]"
    text: str                  # "19 = 0×0 + 1×1 + 3×2 + 4×3"


class ConvolutionStepperView(FrameView):
    """Input with the current window, the kernel (as applied), and the output filled so far.

    x, k : 1-D or 2-D arrays of the same number of dimensions, k no larger than x.
    operation "correlate" applies k as it is (what CNN layers compute); "convolve" applies k
    rotated by 180 degrees (scipy.signal semantics, mode "valid"). The output values come from
    ``F.correlate2d`` / ``F.convolve2d`` (``F.correlate1d`` / ``F.convolve1d`` for 1-D).
    """

    def __init__(self, x=None, k=None, operation: str = "correlate", figsize=None, dpi: int = DPI,
                 caption: bool = True):
        x = np.arange(9).reshape(3, 3) if x is None else np.asarray(x)
        k = np.array([[0, 1], [2, 3]]) if k is None else np.asarray(k)
        if x.ndim not in (1, 2) or x.ndim != k.ndim:
            raise ValueError(f"x and k must both be 1-D or both 2-D arrays; got x.ndim={x.ndim}, "
                             f"k.ndim={k.ndim}. Pass e.g. x=np.arange(9).reshape(3, 3), "
                             f"k=np.array([[0, 1], [2, 3]]).")
        self._check_operation(operation)
        self.ndim = x.ndim
        if self.ndim == 1:
            outputs = {"correlate": F.correlate1d(x, k), "convolve": F.convolve1d(x, k)}
        else:
            outputs = {"correlate": F.correlate2d(x, k), "convolve": F.convolve2d(x, k)}
        self.x, self.k = x, k
        x2 = x.reshape(1, -1) if self.ndim == 1 else x
        k2 = k.reshape(1, -1) if self.ndim == 1 else k
        self._x2, self._k2 = x2, k2
        # The kernel each operation lays on a window: convolution = correlation with the kernel
        # rotated by 180 degrees (a relabelling of its entries, no arithmetic).
        self._applied = {"correlate": k2, "convolve": np.flip(k2)}
        self._out2 = {op: (v.reshape(1, -1) if self.ndim == 1 else v) for op, v in outputs.items()}
        xh, xw = x2.shape
        kh, kw = k2.shape
        oh, ow = self._out2["correlate"].shape
        self.output_shape = (oh, ow)
        self.operation = operation
        self._kh, self._kw = kh, kw
        self._many = kh * kw > 6
        # caption=False (the widgets): the equation is not drawn, the widget prints it below the
        # picture instead; the static fallback draws it, as nothing else shows it there.
        self.caption = caption
        eq_lines = (kh if self._many else 1) if caption else 0
        gap = 1.3                                   # space between panels, in cells
        margin = 1.05 if caption else 0.8          # title + panel titles (+ room for the equation)
        if figsize is None:
            # Cells as large as the width allows (at most 0.62 in), the height to match.
            cell = min(0.62, 8.0 / (xw + kw + ow + 2 * gap))
            figsize = (8.4, cell * xh + 0.3 * eq_lines + margin)
        else:
            cell = min(0.62, (figsize[0] - 0.4) / (xw + kw + ow + 2 * gap),
                       (figsize[1] - 0.3 * eq_lines - margin) / xh)
        super().__init__(figsize, dpi)
        fig = self.figure
        fw, h_in = figsize
        # Same cell size in all three panels, tops aligned, the whole row centred.
        left = (fw - cell * (xw + kw + ow + 2 * gap)) / 2
        top = h_in - 0.62
        axes = []
        for rows, cols in ((xh, xw), (kh, kw), (oh, ow)):
            axes.append(fig.add_axes([left / fw, (top - rows * cell) / h_in, cols * cell / fw, rows * cell / h_in]))
            left += (cols + gap) * cell
        self.ax_x, self.ax_k, self.ax_y = axes
        for ax, (h, w) in ((self.ax_x, (xh, xw)), (self.ax_k, (kh, kw)), (self.ax_y, (oh, ow))):
            _cell_axes(ax, h, w)
        fs = min(_cell_fontsize(self.ax_x, xh, xw, fig), _cell_fontsize(self.ax_k, kh, kw, fig),
                 _cell_fontsize(self.ax_y, oh, ow, fig))
        self._fs = fs = max(fs, 8.0)
        dyn = self.dynamic
        # Static: the input numbers and grid. Config (changes with the operation): the kernel
        # panel and the titles. Frame: the window, its weights, the output cells, the equation.
        _grid_lines(self.ax_x, xh, xw)
        for i in range(xh):
            for j in range(xw):
                self.ax_x.text(j, i, format_number(x2[i, j]), ha="center", va="center", fontsize=fs)
        dyn(self.ax_k.imshow(np.broadcast_to(np.array(C_WINDOW), (kh, kw, 3)), interpolation="nearest"),
            "config")
        dyn(_grid_lines(self.ax_k, kh, kw), "config")
        self._k_text = [[dyn(self.ax_k.text(j, i, "", ha="center", va="center", fontsize=fs), "config")
                         for j in range(kw)] for i in range(kh)]
        for ax in (self.ax_x, self.ax_k, self.ax_y):
            dyn(ax.title, "config")
        self._title = self.text(0.5, 1 - 0.1 / h_in, "", "config", ha="center", va="top", fontsize=11)
        self._win = dyn(self.ax_x.add_patch(Rectangle((-0.5, -0.5), kw, kh, facecolor=(*C_WINDOW, 0.55),
                                                      edgecolor=EDGE_WINDOW, linewidth=2.5, clip_on=False)))
        # The window's own numbers are drawn again above the translucent window, so they stay black.
        self._v_text = [[dyn(self.ax_x.text(0, 0, "", ha="center", va="center", fontsize=fs))
                         for _ in range(kw)] for _ in range(kh)]
        self._w_text = [[dyn(self.ax_x.text(0, 0, "", ha="right", va="bottom", fontsize=max(7.5, fs * 0.7),
                                            color=EDGE_WINDOW)) for _ in range(kw)] for _ in range(kh)]
        self._bg_y = dyn(self.ax_y.imshow(np.ones((oh, ow, 3)), interpolation="nearest"))
        dyn(_grid_lines(self.ax_y, oh, ow))
        self._y_text = [[dyn(self.ax_y.text(j, i, "", ha="center", va="center", fontsize=fs))
                         for j in range(ow)] for i in range(oh)]
        self._cur = dyn(self.ax_y.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, clip_on=False,
                                                      edgecolor="#b35806", linewidth=2.5)))
        self._eq = self.text(0.5, 0.14 / h_in, "", "frame", ha="center", va="bottom", fontsize=11.5,
                             family="DejaVu Sans Mono", linespacing=1.35)
        self._eq.set_visible(caption)
        self._titles_for = None

    @staticmethod
    def _check_operation(operation):
        if operation not in ("correlate", "convolve"):
            raise ValueError(f"operation must be 'correlate' or 'convolve', got {operation!r}")

    def facts(self, row: int, col: int, operation: str | None = None) -> StepFacts:
        """The numbers behind output cell (row, col): window, kernel as applied, value, text."""
        operation = operation or self.operation
        self._check_operation(operation)
        oh, ow = self.output_shape
        if self.ndim == 1:
            row = 0
        if not (0 <= row < oh and 0 <= col < ow):
            raise ValueError(f"output position ({row}, {col}) is outside the {oh}x{ow} output; "
                             f"rows go 0..{oh - 1}, columns 0..{ow - 1}")
        kh, kw = self._kh, self._kw
        window = self._x2[row:row + kh, col:col + kw]
        kern = self._applied[operation]
        value = self._out2[operation][row, col]
        terms = [f"{_factor(window[i, j])}×{_factor(kern[i, j])}" for i in range(kh) for j in range(kw)]
        text = f"{format_number(value)} = " + " + ".join(terms)
        label = f"y[{col}]" if self.ndim == 1 else f"y[{row}, {col}]"
        if self.ndim == 1:
            window, kern = window.ravel(), kern.ravel()
        return StepFacts(row, col, operation, np.asarray(value).item(), window.copy(), kern.copy(),
                         label, text)

    def _equation_text(self, facts: StepFacts) -> str:
        if not self._many:
            return f"{facts.label}:  {facts.text}"
        kh, kw = self._kh, self._kw
        w2 = facts.window.reshape(kh, kw)
        k2 = facts.kernel.reshape(kh, kw)
        rows = [" + ".join(f"{_factor(w2[i, j])}×{_factor(k2[i, j])}" for j in range(kw)) for i in range(kh)]
        head = f"{facts.label}:  {format_number(facts.value)} = "
        pad = " " * (len(head) - 2)
        return "\n".join((head if i == 0 else pad + "+ ") + r for i, r in enumerate(rows))

    def show(self, row: int = 0, col: int = 0, operation: str | None = None) -> StepFacts:
        """Move the window to output cell (row, col) and update the artists; returns the facts."""
        facts = self.facts(row, col, operation)
        row, col, op = facts.row, facts.col, facts.operation
        self.operation = op
        kh, kw = self._kh, self._kw
        xh, xw = self._x2.shape
        oh, ow = self.output_shape
        kern = self._applied[op]
        out = self._out2[op]

        self._win.set_xy((col - 0.5, row - 0.5))
        for i in range(kh):
            for j in range(kw):
                t = self._w_text[i][j]
                t.set_position((col + j + 0.46, row + i + 0.46))
                t.set_text(f"×{_factor(kern[i, j])}")
                v = self._v_text[i][j]
                v.set_position((col + j, row + i))
                v.set_text(format_number(facts.window.reshape(kh, kw)[i, j]))

        ybg = np.empty((oh, ow, 3))
        ybg[...] = C_TODO
        done = np.arange(oh * ow).reshape(oh, ow) < row * ow + col   # cells the window passed already
        ybg[done] = C_DONE
        ybg[row, col] = C_OUTPUT
        self._bg_y.set_data(ybg)
        for i in range(oh):
            for j in range(ow):
                shown = done[i, j] or (i == row and j == col)
                self._y_text[i][j].set_text(format_number(out[i, j]) if shown else "")
        self._cur.set_xy((col - 0.5, row - 0.5))

        if self._titles_for != op:
            word = "cross-correlation" if op == "correlate" else "convolution"
            self.ax_x.set_title("input x", fontsize=10.5)
            self.ax_k.set_title("kernel k" if op == "correlate" else "k rotated 180°", fontsize=10.5)
            self.ax_y.set_title(f"output y ({oh}×{ow})" if self.ndim == 2 else f"output y ({ow})",
                                fontsize=10.5)
            self._title.set_text(f"{word}: multiply the window by the kernel, add up")
            for i in range(kh):
                for j in range(kw):
                    self._k_text[i][j].set_text(format_number(kern[i, j]))
            self._titles_for = op
            self.invalidate()
        if self.caption:
            self._eq.set_text(self._equation_text(facts))
        return facts


def static_convolution_stepper(x=None, k=None, row: int = 0, col: int = 0,
                               operation: str = "correlate") -> Figure:
    """Static fallback of ``widgets.convolution_stepper``: one output cell of the sliding window."""
    view = ConvolutionStepperView(x, k, operation)
    view.show(row, col, operation)
    return view.figure


# ----------------------------------------------------------------------------- lesson 2
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


class KernelPlaygroundView(FrameView):
    """Image, 3x3 kernel and result ``F.correlate2d(image, kernel)`` (mode "valid"), side by side.

    Colours: the image in gray; the kernel in RdBu_r (red positive, blue negative); the result in
    gray when the kernel averages (its answer on a flat patch of brightness 1, the sum of its
    weights, is positive) and in RdBu_r with symmetric limits when that answer is 0 or negative:
    the output is then signed, and gray would hide its negative half.
    """

    def __init__(self, image, figsize=(9.0, 3.9), dpi: int = DPI, kernel_size: int = 3):
        image = np.asarray(image, dtype=float)
        if image.ndim != 2:
            raise ValueError(f"image must be a 2-D gray image (H, W); got shape {image.shape}. "
                             f"For an RGB image pass one channel, e.g. image[..., 0].")
        super().__init__(figsize, dpi)
        fig = self.figure
        self.image = image
        self.kernel_size = n = kernel_size
        gs = fig.add_gridspec(1, 3, width_ratios=[1, 0.55, 1], left=0.03, right=0.91,
                              top=0.8, bottom=0.03, wspace=0.12)
        self.ax_img, self.ax_k, self.ax_out = (fig.add_subplot(gs[0, i]) for i in range(3))
        h, w = image.shape
        self.ax_img.imshow(image, cmap=IMAGE_CMAP, vmin=0, vmax=max(1.0, float(image.max())))
        self.ax_img.set_title(f"input image ({h}×{w})", fontsize=10.5)
        _bare(self.ax_img)
        _cell_axes(self.ax_k, n, n)
        self.ax_k.set_title(f"kernel ({n}×{n})", fontsize=10.5)
        dyn = self.dynamic
        self._k_img = dyn(self.ax_k.imshow(np.zeros((n, n)), cmap=SIGNED_CMAP, vmin=-1, vmax=1))
        dyn(_grid_lines(self.ax_k, n, n, color="0.4"))
        self._k_text = [[dyn(self.ax_k.text(j, i, "", ha="center", va="center", fontsize=11))
                         for j in range(n)] for i in range(n)]
        blank = F.correlate2d(image, np.zeros((n, n)))
        # Same pixel scale as the input: output pixel (i, j) is drawn over input pixel
        # (i + r, j + r), the centre of its window, inside a frame as large as the input; the
        # r-pixel border where the kernel does not fit ("valid" mode) stays empty.
        r = (n - 1) / 2
        oh, ow = blank.shape
        self._out = dyn(self.ax_out.imshow(blank, cmap=IMAGE_CMAP, vmin=0, vmax=1,
                                           extent=(r - 0.5, r + ow - 0.5, r + oh - 0.5, r - 0.5)))
        self.ax_out.set_xlim(-0.5, w - 0.5)
        self.ax_out.set_ylim(h - 0.5, -0.5)
        self.ax_out.set_facecolor("0.93")
        _bare(self.ax_out)
        for spine in self.ax_out.spines.values():
            spine.set_color("0.6")
        pos = self.ax_out.get_position()
        self.colorbar = self.colour_bar((pos.x1 + 0.01, pos.y0 + 0.1 * pos.height, 0.012, 0.8 * pos.height))
        dyn(self.ax_out.title)
        self._title = self.text(0.5, 0.985, "", "frame", ha="center", va="top", fontsize=11)

    def show(self, kernel, name: str = "custom", colours: str = "auto") -> KernelFacts:
        """Apply ``kernel`` (cross-correlation, mode "valid") and redraw. colours: auto|gray|signed."""
        kernel = np.asarray(kernel, dtype=float)
        n = self.kernel_size
        if kernel.shape != (n, n):
            raise ValueError(f"kernel must have shape ({n}, {n}); got {kernel.shape}")
        if colours not in ("auto", "gray", "signed"):
            raise ValueError(f"colours must be 'auto', 'gray' or 'signed', got {colours!r}")
        result = F.correlate2d(self.image, kernel)
        flat = flat_response(kernel)
        signed = flat <= 1e-9 if colours == "auto" else colours == "signed"
        if signed:
            lim = _signed_limit(result, robust=True)
            vmin, vmax, cmap = -lim, lim, SIGNED_CMAP
        else:
            top = flat if flat > 1e-9 else 1.0
            vmin, vmax, cmap = 0.0, top * max(1.0, float(self.image.max())), IMAGE_CMAP
        self._out.set_data(result)
        self._out.set_cmap(cmap)
        self._out.set_clim(vmin, vmax)
        self.colorbar.set(cmap, vmin, vmax, "0" if signed else "")
        klim = _signed_limit(kernel)
        self._k_img.set_data(kernel)
        self._k_img.set_clim(-klim, klim)
        for i in range(n):
            for j in range(n):
                v = kernel[i, j]
                t = self._k_text[i][j]
                t.set_text(format_number(v))
                t.set_color("white" if abs(v) > 0.6 * klim else "black")
                t.set_fontsize(11 if len(format_number(v)) <= 4 else 8.5)
        how = "signed: red > 0 > blue" if signed else "gray"
        border = (n - 1) // 2
        self.ax_out.set_title(f"output ({result.shape[0]}×{result.shape[1]}), {how}\n"
                              f"at the input's scale; no output on the {border}-pixel border (gray)",
                              fontsize=9.5)
        self._title.set_text(f"{name}:  output = correlate2d(image, kernel)")
        note = KERNEL_NOTES.get(name, "")
        drawn = (f"signed: RdBu_r from {format_number(vmin)} to {format_number(vmax)} (white = 0; the "
                 f"few pixels beyond saturate)" if signed else
                 f"in gray from {format_number(vmin)} to {format_number(vmax)}")
        text = (f"{name}: {note}\nWeights sum to {format_number(flat)} (its answer on a flat patch of "
                f"brightness 1). Output range {format_number(result.min())} … "
                f"{format_number(result.max())}, drawn {drawn}.")
        return KernelFacts(name, kernel.copy(), result, flat, signed, vmin, vmax, text)


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
        k = IMAGE_KERNELS[name]
        result = F.correlate2d(image, k)
        images.append(result)
        titles.append(name.replace(" (", "\n("))
        flat = flat_response(k)
        signed.append(flat <= 1e-9)
        if flat <= 1e-9:
            lim = _signed_limit(result, robust=True, percentile=signed_percentile)
            limits.append((-lim, lim))
        else:
            # Averaging kernels: the playground's gray scale, 0 .. (brightness 1 x weight sum).
            limits.append((0.0, flat * max(1.0, float(np.max(image)))))
    return image_grid(images, titles, signed, ncols=ncols, width=width, colorbar=False, limits=limits)


# ----------------------------------------------------------------------------- lesson 3
@dataclass
class StrideFacts:
    """What the stride explorer shows for one set of hyperparameters."""
    n: int
    f: int
    s: int
    p: int
    d: int
    exact: float | None          # F.output_size_exact (None if it raised)
    size: int | None             # F.output_size (None if the configuration is invalid)
    error: str | None            # F.output_size's message when invalid
    fits: bool                   # the stride fits exactly (exact is a whole number)
    row: int = 0
    col: int = 0
    window_rows: list = field(default_factory=list)   # input rows of the current window's taps
    window_cols: list = field(default_factory=list)   # (negative or >= n: padding)
    visits: np.ndarray | None = None                  # how many windows read each input cell
    unvisited_rows: list = field(default_factory=list)  # input rows no window ever reads
    unvisited_cols: list = field(default_factory=list)
    text: str = ""


def _ranges(values) -> str:
    """[6] -> '6'; [4, 5, 6] -> '4–6'; [1, 3] -> '1, 3'."""
    values = list(values)
    out, i = [], 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        out.append(str(values[i]) if j == i else f"{values[i]}–{values[j]}")
        i = j + 1
    return ", ".join(out)


def _wrap(text: str, width: int) -> str:
    """Wrap each line of ``text`` at ``width`` characters, keeping its indentation."""
    out = []
    for line in text.split("\n"):
        indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
        out.append(textwrap.fill(line, width, subsequent_indent=indent, break_long_words=False))
    return "\n".join(out)


def _plural(word: str, values) -> str:
    return f"{word}{'s' if len(values) > 1 else ''} {_ranges(values)}"


def stride_facts(n: int, f: int, s: int = 1, p: int = 0, d: int = 1, row: int = 0, col: int = 0) -> StrideFacts:
    """Every number the stride explorer shows, all from ``cnnlab.functional``.

    Never raises for bad hyperparameters: an invalid configuration comes back with ``error``
    set to ``F.output_size``'s message and an explanation in ``text``.
    """
    n, f, s, p, d = (int(v) for v in (n, f, s, p, d))
    formula = "O = ⌊(N + 2P − D(F−1) − 1) / S⌋ + 1"
    subst = f"  = ⌊({n} + 2·{p} − {d}·({f}−1) − 1) / {s}⌋ + 1"
    try:
        exact = float(F.output_size_exact(n, f, stride=s, padding=p, dilation=d))
    except (ValueError, TypeError, ZeroDivisionError):
        exact = None
    try:
        size, error = int(F.output_size(n, f, stride=s, padding=p, dilation=d)), None
    except (ValueError, TypeError) as e:
        size, error = None, str(e)
    facts = StrideFacts(n, f, s, p, d, exact, size, error, False)
    if error is not None:
        lines = [formula, subst, f"Invalid: {error}"]
        if min(n, f, s, d) >= 1 and p >= 0:
            lines.append("No window fits, so there is no output: add padding (P), or use a smaller "
                         "kernel (F) or dilation (D).")
        facts.text = "\n".join(lines)
        return facts
    facts.fits = float(exact).is_integer()
    facts.row = row = int(np.clip(row, 0, size - 1))
    facts.col = col = int(np.clip(col, 0, size - 1))
    # Input coordinates of every tap of every window, read through the engine's own window view
    # of a grid of coordinates (padding cells have coordinates < 0 or >= n).
    coords = np.arange(-p, n + p)
    side = coords.size
    rows_grid = np.broadcast_to(coords[:, None], (side, side))[None, None]
    cols_grid = np.broadcast_to(coords[None, :], (side, side))[None, None]
    facts.window_rows = window_view(rows_grid, (f, f), (s, s), (d, d))[0, 0, :, 0, row, col].tolist()
    facts.window_cols = window_view(cols_grid, (f, f), (s, s), (d, d))[0, 0, 0, :, row, col].tolist()
    # How many windows read each input cell: the input gradient of a convolution with an
    # all-ones kernel and an all-ones output gradient counts exactly that.
    visits = F.conv2d_backward(np.ones((1, 1, size, size)), np.zeros((1, 1, n, n)),
                               np.ones((1, 1, f, f)), stride=s, padding=p, dilation=d)[0][0, 0]
    facts.visits = visits
    never = visits == 0
    facts.unvisited_rows = np.flatnonzero(never.all(axis=1)).tolist()
    facts.unvisited_cols = np.flatnonzero(never.all(axis=0)).tolist()
    lines = [formula, subst]
    if facts.fits:
        lines.append(f"  = {size}   the stride fits exactly → output {size}×{size}")
    else:
        lines.append(f"  unfloored: ({n} + 2·{p} − {d}·({f}−1) − 1) / {s} + 1 = {format_number(exact)}: "
                     f"not a whole number, the stride does not fit.")
        lines.append(f"  PyTorch (and cnnlab) round down → O = {size}; the window that would stick "
                     f"out is dropped → output {size}×{size}")
    if never.any():
        # The windows of a square kernel read a product set of rows x columns, so every cell no
        # window reads lies in a row or a column that no window reads.
        lines.append(f"Never visited (red): input {_plural('row', facts.unvisited_rows)} and "
                     f"{_plural('column', facts.unvisited_cols)}. They cannot affect the output.")
    facts.text = "\n".join(lines)
    return facts


class StrideExplorerView(FrameView):
    """The padded input grid with the current window, the output grid, and the formula.

    Input cells are white, padding gray, the current window's taps blue, cells that no window
    ever reads red. Both panels use the same cell size, so the output's shrinkage shows. Axis
    limits and ticks change only with the hyperparameters, never with the window position.
    """

    def __init__(self, figsize=None, dpi: int = DPI, caption: bool = True):
        # caption=False (the widget): no formula under the grids, the widget prints it below
        # the picture; the static fallback draws it, as nothing else shows it there.
        self.caption = caption
        if figsize is None:
            figsize = (8.6, 4.8) if caption else (8.6, 3.6)
        super().__init__(figsize, dpi)
        fig = self.figure
        h_in = figsize[1]
        bottom = (1.49 if caption else 0.28) / h_in           # room for the formula / tick labels
        gs = fig.add_gridspec(1, 2, left=0.05, right=0.98, top=1 - 0.62 / h_in, bottom=bottom,
                              wspace=0.12)
        self.ax_in = fig.add_subplot(gs[0, 0])
        self.ax_out = fig.add_subplot(gs[0, 1])
        dyn = self.dynamic
        self._img_in = dyn(self.ax_in.imshow(np.ones((2, 2, 3)), interpolation="nearest"))
        self._img_out = dyn(self.ax_out.imshow(np.ones((2, 2, 3)), interpolation="nearest"))
        self._grid_in = dyn(_grid_lines(self.ax_in, 1, 1, color="0.6", linewidth=0.7))
        self._grid_out = dyn(_grid_lines(self.ax_out, 1, 1, color="0.6", linewidth=0.7))
        self._outer = dyn(self.ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False, edgecolor="0.45",
                                                         linewidth=1.0)))
        self._inner = dyn(self.ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False, edgecolor="black",
                                                         linewidth=1.8)))
        self._out_frame = dyn(self.ax_out.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False,
                                                              edgecolor="black", linewidth=1.8)))
        self._win = dyn(self.ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False, edgecolor=EDGE_WINDOW,
                                                       linewidth=2.8)))
        self._cur = dyn(self.ax_out.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False, edgecolor="#b35806",
                                                        linewidth=2.5)))
        self._no_out = dyn(self.ax_out.text(0.5, 0.5, "", transform=self.ax_out.transAxes, ha="center",
                                            va="center", fontsize=12, color=EDGE_ERROR), "config")
        for art in (self.ax_in.title, self.ax_out.title, self.ax_in.xaxis, self.ax_in.yaxis):
            dyn(art, "config")
        _bare(self.ax_out)
        for ax in (self.ax_in, self.ax_out):
            ax.tick_params(labelsize=8, length=0)
            ax.set_aspect("equal")
            for spine in ax.spines.values():
                spine.set_visible(False)
        handles = [Patch(facecolor=C_INPUT, edgecolor="0.4", label="input"),
                   Patch(facecolor=C_PAD, edgecolor="0.4", label="padding (zeros)"),
                   Patch(facecolor=C_WINDOW, edgecolor="0.4", label="current window"),
                   Patch(facecolor=C_UNVISITED, edgecolor="0.4", label="never visited"),
                   Patch(facecolor=C_OUTPUT, edgecolor="0.4", label="current output")]
        fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=9, frameon=False,
                   bbox_to_anchor=(0.5, 0.995))
        self._formula = self.text(0.03, 1.22 / h_in, "", "config", ha="left", va="top", fontsize=9.5,
                                  family="DejaVu Sans Mono", linespacing=1.45)
        self._formula.set_visible(caption)
        self._config = None

    @staticmethod
    def _ticks(ax, count: int) -> None:
        """Tick labels 0..count-1 on both axes, at most about 12 of them."""
        step = max(1, -(-count // 12))
        ticks = list(range(0, count, step))
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)

    def show(self, n: int, f: int, s: int = 1, p: int = 0, d: int = 1, row: int = 0, col: int = 0) -> StrideFacts:
        facts = stride_facts(n, f, s, p, d, row, col)
        n, f, s, p, d = facts.n, facts.f, facts.s, facts.p, facts.d
        nd, pd = max(n, 1), max(p, 0)          # what can be drawn for nonsense input
        side = nd + 2 * pd
        lo = -pd
        bg = np.empty((side, side, 3))
        bg[...] = C_PAD
        bg[pd:pd + nd, pd:pd + nd] = C_INPUT
        config = (n, f, s, p, d, facts.size)
        if facts.size is not None:
            o = facts.size
            inner = bg[pd:pd + nd, pd:pd + nd]
            inner[facts.visits == 0] = C_UNVISITED
            for r in facts.window_rows:
                for c in facts.window_cols:
                    inside = 0 <= r < n and 0 <= c < n
                    bg[r + pd, c + pd] = C_WINDOW if inside else C_WINDOW_PAD
            r0, r1 = facts.window_rows[0], facts.window_rows[-1]
            c0, c1 = facts.window_cols[0], facts.window_cols[-1]
            self._win.set_bounds(c0 - 0.5, r0 - 0.5, c1 - c0 + 1, r1 - r0 + 1)
            obg = np.empty((o, o, 3))
            obg[...] = C_DONE
            obg[facts.row, facts.col] = C_OUTPUT
            self._img_out.set_data(obg)
            self._cur.set_bounds(facts.col - 0.5, facts.row - 0.5, 1, 1)
            extent = side
        else:
            o = 0
            # No valid window: draw the kernel's footprint from the top-left corner, hanging over
            # the edge of the padded input (the drawing's geometry: tap i sits i*D cells further).
            taps = np.arange(max(f, 1)) * max(d, 1)
            span = int(taps[-1]) + 1
            self._win.set_bounds(lo - 0.5, lo - 0.5, span, span)
            extent = max(side, span)
        if config != self._config:
            valid = facts.size is not None
            self._win.set_edgecolor(EDGE_WINDOW if valid else EDGE_ERROR)
            self._win.set_linestyle("-" if valid else "--")
            for art in (self._img_out, self._cur, self._out_frame, self._grid_out):
                art.set_visible(valid)
            self._no_out.set_text("" if valid else "no output:\nthe window does not fit")
            self._img_in.set_extent((lo - 0.5, lo + side - 0.5, lo + side - 0.5, lo - 0.5))
            self._grid_in.set_segments(_grid_segments(side, side, lo - 0.5, lo - 0.5))
            self._outer.set_bounds(lo - 0.5, lo - 0.5, side, side)
            self._inner.set_bounds(-0.5, -0.5, nd, nd)
            if valid:
                self._img_out.set_extent((-0.5, o - 0.5, o - 0.5, -0.5))
                self._grid_out.set_segments(_grid_segments(o, o))
                self._out_frame.set_bounds(-0.5, -0.5, o, o)
            self.ax_in.set_xlim(lo - 0.5, lo + extent - 0.5)
            self.ax_in.set_ylim(lo + extent - 0.5, lo - 0.5)
            self.ax_out.set_xlim(-0.5, extent - 0.5)
            self.ax_out.set_ylim(extent - 0.5, -0.5)
            self._ticks(self.ax_in, nd)
            pad_word = f", padding {p}" if p else ""
            self.ax_in.set_title(f"input {n}×{n}{pad_word}; kernel {f}×{f}, stride {s}, dilation {d}",
                                 fontsize=10.5)
            self.ax_out.set_title(f"output {o}×{o}" if valid else "output: none", fontsize=10.5)
            if self.caption:
                self._formula.set_text(_wrap(facts.text, 106))
            self._config = config
            self.invalidate()
        self._img_in.set_data(bg)
        return facts


def static_stride_explorer(n: int = 7, f: int = 3, s: int = 3, p: int = 0, d: int = 1,
                           row: int = 0, col: int = 0) -> Figure:
    """Static fallback of ``widgets.stride_explorer`` (default: the stride that does not fit)."""
    view = StrideExplorerView()
    view.show(n, f, s, p, d, row, col)
    return view.figure


# ----------------------------------------------------------------------------- lesson 4
@dataclass
class ChannelFacts:
    """What the channel explorer shows for one output channel."""
    out_channel: int
    partials: np.ndarray        # (C_in, OH, OW): F.correlate2d(x[c], W[o, c]) per input channel
    output: np.ndarray          # (OH, OW): F.conv2d(x, W, b)[0, o]
    bias: float
    parameters: int             # F.conv_parameter_count(C_in, C_out, (kH, kW)) of the layer
    text: str


def _kernel_labels(kernel) -> tuple[str, list[str]]:
    """How a small kernel's weights are written in its cells: (factor, labels).

    Weights that are all multiples of 1/q for a small q (Sobel / 3, a box blur of 1/9) are
    written as whole numbers with the factor in the title ("1/3 ×" and −1 0 1 ...), so the
    cells stay short and readable; other weights with one decimal. Presentation only.
    """
    k = np.asarray(kernel, dtype=float)
    for q in (1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 16):
        scaled = k * q
        if np.allclose(scaled, np.round(scaled), atol=1e-9) and np.abs(scaled).max() <= 99:
            return ("" if q == 1 else f"1/{q} × "), [format_number(v) for v in np.round(scaled).ravel()]
    return "", [format_number(v, 1) for v in k.ravel()]


class ChannelExplorerView(FrameView):
    """One output channel of a conv layer on an RGB image, taken apart channel by channel.

    Rows: input channel c | its kernel slice W[o, c] | the partial map x[c] ⋆ W[o, c]
    (``F.correlate2d``). Right: ``F.conv2d(x, W, b)[0, o]``, which is their sum plus b[o].
    Colours: the three partial maps share one symmetric scale (so the channels' contributions
    compare), set by the partial maps only; the output has its own symmetric scale, shown by
    the colour bar (it would otherwise wash the partial maps out, or be washed out by them).
    """

    def __init__(self, image, weight, bias=None, names=None, figsize=(9.0, 6.2), dpi: int = DPI):
        image = np.asarray(image, dtype=float)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"image must be an RGB image of shape (H, W, 3); got {image.shape}")
        weight = np.asarray(weight, dtype=float)
        if weight.ndim != 4 or weight.shape[1] != 3:
            raise ValueError(f"weight must have shape (C_out, 3, kH, kW) for RGB input; got {weight.shape}")
        super().__init__(figsize, dpi)
        fig = self.figure
        self.x = np.ascontiguousarray(image.transpose(2, 0, 1))  # (3, H, W): channels first, as PyTorch
        self.weight = weight
        c_out, c_in, kh, kw = weight.shape
        self.bias = np.zeros(c_out) if bias is None else np.asarray(bias, dtype=float).copy()
        self.names = list(names) if names is not None else [f"filter {o}" for o in range(c_out)]
        self.parameters = F.conv_parameter_count(c_in, c_out, (kh, kw))
        # Columns: input channel | kernel slice | partial map | "+ b =" | output.
        gs = fig.add_gridspec(3, 5, width_ratios=[1, 0.95, 1, 0.62, 1.75], left=0.035, right=0.915,
                              top=0.88, bottom=0.02, wspace=0.22, hspace=0.28)
        oh, ow = F.correlate2d(self.x[0], weight[0, 0]).shape
        dyn = self.dynamic
        self._k_ax, self._p_ax, self._k_img, self._k_txt, self._p_img = [], [], [], [], []
        for c in range(3):
            ax = fig.add_subplot(gs[c, 0])
            alone = np.zeros(self.x.shape[1:] + (3,))
            alone[..., c] = self.x[c]                 # the channel on its own, in its colour
            ax.imshow(np.clip(alone, 0, 1))
            ax.set_ylabel(f"channel {CHANNEL_NAMES[c]}", fontsize=10)
            _bare(ax)
            axk = fig.add_subplot(gs[c, 1])
            _cell_axes(axk, kh, kw)
            self._k_img.append(dyn(axk.imshow(np.zeros((kh, kw)), cmap=SIGNED_CMAP, vmin=-1, vmax=1),
                                   "config"))
            dyn(_grid_lines(axk, kh, kw, color="0.4"), "config")
            fs = _cell_fontsize(axk, kh, kw, fig, fraction=0.42, lo=7.0, hi=11.0)
            self._k_txt.append([[dyn(axk.text(j, i, "", ha="center", va="center", fontsize=fs), "config")
                                 for j in range(kw)] for i in range(kh)])
            dyn(axk.title, "config")
            axp = fig.add_subplot(gs[c, 2])
            self._p_img.append(dyn(axp.imshow(np.zeros((oh, ow)), cmap=SIGNED_CMAP, vmin=-1, vmax=1)))
            _bare(axp)
            self._k_ax.append(axk)
            self._p_ax.append(axp)
            fig.text(*self._between(ax, axk), "⋆", fontsize=22, ha="center", va="center")
            fig.text(*self._between(axk, axp), "=", fontsize=16, ha="center", va="center")
        self._kernel_fontsize = fs
        fig.axes[0].set_title("input channel", fontsize=10)
        for c in (0, 1):
            fig.text(*self._below(self._p_ax[c], self._p_ax[c + 1]), "+", fontsize=15,
                     ha="center", va="center")
        self._ax_sum = fig.add_subplot(gs[:, 4])
        self._sum_img = dyn(self._ax_sum.imshow(np.zeros((oh, ow)), cmap=SIGNED_CMAP, vmin=-1, vmax=1))
        _bare(self._ax_sum)
        dyn(self._ax_sum.title)
        pos = self._ax_sum.get_position()
        self.colorbar = self.colour_bar((pos.x1 + 0.012, pos.y0 + 0.1 * pos.height, 0.014, 0.8 * pos.height))
        # A bracket gathers the three partial maps (their sum); "+ b[o] =" leads from it to the
        # output, on the output's centre line.
        p_top, p_bot = self._p_ax[0].get_position(), self._p_ax[2].get_position()
        bx = p_top.x1 + 0.012
        y_mid = (pos.y0 + pos.y1) / 2
        overlay = self.text(0, 0, "").axes
        tick = 0.008
        overlay.plot([bx - tick, bx, bx, bx - tick], [p_top.y1, p_top.y1, p_bot.y0, p_bot.y0],
                     color="0.25", linewidth=1.4, transform=overlay.transAxes)
        overlay.plot([bx, bx + tick], [y_mid, y_mid], color="0.25", linewidth=1.4,
                     transform=overlay.transAxes)
        self._plus_b = self.text((bx + tick + pos.x0) / 2, y_mid, "", "config", ha="center",
                                 va="center", fontsize=14)
        self._p_title = self.text((p_top.x0 + p_top.x1) / 2, p_top.y1 + 0.012, "", "frame",
                                  ha="center", va="bottom", fontsize=9.5)
        self._title = self.text(0.5, 0.985, "", "config", ha="center", va="top", fontsize=11)
        self._shown_channel = None

    @staticmethod
    def _between(a, b):
        pa, pb = a.get_position(), b.get_position()
        return (pa.x1 + pb.x0) / 2, (pa.y0 + pa.y1) / 2

    @staticmethod
    def _below(a, b):
        pa, pb = a.get_position(), b.get_position()
        return (pa.x0 + pa.x1) / 2, (pa.y0 + pb.y1) / 2

    def _show_kernels(self, o: int, klim: float) -> None:
        c_out, c_in, kh, kw = self.weight.shape
        for c in range(c_in):
            self._k_img[c].set_data(self.weight[o, c])
            self._k_img[c].set_clim(-klim, klim)
            factor, labels = _kernel_labels(self.weight[o, c])
            longest = max(len(t) for t in labels)
            fs = self._kernel_fontsize * (1.0 if longest <= 3 else 0.85)
            for i in range(kh):
                for j in range(kw):
                    v = self.weight[o, c, i, j]
                    t = self._k_txt[c][i][j]
                    t.set_text(labels[i * kw + j])
                    t.set_color("white" if abs(v) > 0.6 * klim else "black")
                    t.set_fontsize(fs)
            self._k_ax[c].set_title(f"W[{o}, {c}] = {factor.strip()}" if factor else f"W[{o}, {c}]",
                                    fontsize=10)
        self._title.set_text(f"filter {o}: {self.names[o]}   (red > 0 > blue, white = 0)")
        self._plus_b.set_text(f"+ b[{o}]  =")
        self._shown_channel = o
        self.invalidate()

    def show(self, out_channel: int = 0, bias: float | None = None) -> ChannelFacts:
        c_out, c_in, kh, kw = self.weight.shape
        o = int(out_channel)
        if not 0 <= o < c_out:
            raise ValueError(f"out_channel must be in 0..{c_out - 1}, got {out_channel}")
        if bias is not None:
            self.bias[o] = float(bias)
        partials = np.stack([F.correlate2d(self.x[c], self.weight[o, c]) for c in range(c_in)])
        output = F.conv2d(self.x[None], self.weight[o:o + 1], self.bias[o:o + 1])[0, 0]
        plim = _signed_limit(partials, robust=True)     # one scale for the three partial maps
        olim = _signed_limit(output, robust=True)       # the output's own scale (colour bar)
        klim = _signed_limit(self.weight[o])
        for c in range(c_in):
            self._p_img[c].set_data(partials[c])
            self._p_img[c].set_clim(-plim, plim)
        if self._shown_channel != o:
            self._show_kernels(o, klim)
        self._p_title.set_text(f"partial maps\n(one shared scale, ±{format_number(plim)})")
        self._sum_img.set_data(output)
        self._sum_img.set_clim(-olim, olim)
        self.colorbar.set(SIGNED_CMAP, -olim, olim, "0")
        b = self.bias[o]
        self._ax_sum.set_title(f"output channel {o}  (b[{o}] = {format_number(b)})\n"
                               f"= sum of the partial maps + b[{o}]\n(its own scale: bar on the right)",
                               fontsize=10)
        text = (f"Output channel {o} ({self.names[o]}): {c_in} kernel slices of {kh}×{kw}, one per "
                f"input channel; the {c_in} partial maps are added and the bias b[{o}] = "
                f"{format_number(b)} is added to every pixel.\nColours: the partial maps share one "
                f"symmetric scale (±{format_number(plim)}); the output has its own "
                f"(±{format_number(olim)}, the bar).\nThe layer has {c_out} such filters: "
                f"({kh}·{kw}·{c_in} + 1)·{c_out} = {self.parameters} parameters.")
        return ChannelFacts(o, partials, output, float(b), self.parameters, text)


def static_channel_explorer(image, weight=None, bias=None, out_channel: int = 0, names=None) -> Figure:
    """Static fallback of ``widgets.channel_explorer``."""
    if weight is None:
        weight, bias0, names0 = default_channel_weights()
        bias = bias0 if bias is None else bias
        names = names0 if names is None else names
    view = ChannelExplorerView(image, weight, bias, names)
    view.show(out_channel)
    return view.figure


def static_receptive_field(layers, names=None, width: float = 8.0) -> Figure:
    """How many input pixels one unit sees after each layer (``F.receptive_field``).

    layers : list of (kernel_size, stride, dilation)
    Draws, for each layer, a bar as wide as its receptive field, centred on one unit.
    """
    sizes = list(F.receptive_field(layers))
    names = list(names) if names is not None else [
        f"layer {i + 1}: {k}×{k}, stride {s}" + (f", dilation {d}" if d != 1 else "")
        for i, (k, s, d) in enumerate(layers)]
    fig = new_figure((width, 0.5 * len(sizes) + 1.3), layout="constrained")
    ax = fig.subplots()
    biggest = max(sizes)
    for i, size in enumerate(sizes):
        ax.barh(i, size, left=-size / 2, height=0.6, color=C_WINDOW, edgecolor=EDGE_WINDOW)
        ax.text(size / 2 + 0.3, i, f"{size}×{size}", va="center", fontsize=9.5)
    ax.set_yticks(range(len(sizes)), [f"{name}: sees" for name in names], fontsize=9.5)
    ax.tick_params(axis="y", length=0)
    # A symmetric axis centred on the unit (0), with whole-pixel ticks; room on the right for
    # the labels, mirrored on the left so that 0 stays in the middle.
    half = int(math.ceil(biggest / 2 + 0.2 * biggest + 2))
    step = max(1, int(math.ceil(half / 4)))
    ticks = np.arange(0, half + 1, step)
    ax.set_xticks(np.concatenate([-ticks[:0:-1], ticks]))
    ax.set_xlim(-half, half)
    ax.set_ylim(len(sizes) - 0.4, -0.6)
    ax.axvline(0, color="0.5", linewidth=0.8, linestyle=":", zorder=0)
    ax.set_xlabel("input pixels, centred on one output unit", fontsize=9.5)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_title("receptive field, layer by layer", fontsize=11)
    return fig
