"""Figures for lessons 5-7: pooling, backpropagation, LeNet-5 on MNIST.

Views only. Every number drawn here comes from :mod:`cnnlab.functional` or from a model;
this module decides *where* things go on the page, never *what* they are.

Two kinds of objects live here:

* ``*Figure`` classes build a matplotlib :class:`~matplotlib.figure.Figure` once and then
  update its artists in place (``set_data`` / ``set_clim`` / ``set_text``).  The widgets in
  :mod:`cnnlab.widgets.networks` drive them; figure size and axis limits never change, so
  the picture does not jump while a slider moves.
* ``static_*`` / ``plot_*`` functions return a finished figure: the fallback shown in a
  static render of a lesson (GitHub, nbconvert) and the plain plots of lesson 7.

Figures are created with :class:`matplotlib.figure.Figure` (not ``pyplot``) so a notebook
shows each exactly once (as the value of its cell) and nothing leaks into pyplot's state.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab import functional as F
from cnnlab.kernels import BACKPROP_W, BACKPROP_X, POOL_GRAD_X, SOBEL_X, default_feature_map

__all__ = [
    "POOL_KINDS",
    "pool2d",
    "pool2d_backward",
    "pool_window",
    "default_feature_map",
    "SOBEL_X",
    "shift_right",
    "figure_png",
    "BlitRenderer",
    "PoolingFigure",
    "static_pooling",
    "static_pooling_kinds",
    "static_shift_invariance",
    "BackpropFigure",
    "static_backprop",
    "PoolGradientFigure",
    "static_pool_gradient",
    "FeatureMapFigure",
    "static_feature_maps",
    "plot_digits",
    "plot_mistakes",
    "plot_kernels",
    "plot_confusion_matrix",
    "plot_histories",
    "plot_lenet_architecture",
    "BACKPROP_X",
    "BACKPROP_W",
    "POOL_GRAD_X",
]

DIVERGING = "RdBu_r"   # signed maps: gradients, kernels, feature maps before ReLU
SEQUENTIAL = "viridis"  # non-negative maps: pooled ReLU responses
DIGITS = "gray_r"      # MNIST digits: dark ink on white paper
HILITE = "#ff8c00"     # the selected window / cell
WINNER = "#00a000"     # the max-pool winner

# Display names of the pooling kinds, and the cnnlab.functional function behind each.
POOL_KINDS = {
    "max": "max_pool2d",
    "avg": "avg_pool2d",
    "sum": "sum_pool2d",
    "l2": "lp_pool2d",
}
POOL_LABELS = {"max": "max", "avg": "average", "sum": "sum", "l2": "L2 (square-sum)"}

# ----------------------------------------------------------------------------------------
# Thin adapters: one 2-D map in, one 2-D map out, all arithmetic in cnnlab.functional.
# ----------------------------------------------------------------------------------------
def _as_nchw(x2d):
    x2d = np.asarray(x2d)
    if x2d.ndim != 2:
        raise ValueError(f"expected a single 2-D map (H, W), got shape {x2d.shape}")
    return x2d[None, None]


def _pool_kwargs(kind, kernel_size, stride, padding):
    if kind not in POOL_KINDS:
        raise ValueError(f"kind must be one of {sorted(POOL_KINDS)}, got {kind!r}")
    if kind == "l2":
        if padding:
            raise ValueError(
                "padding: L2 pooling (lp_pool2d) has no padding argument, as in "
                "torch.nn.functional.lp_pool2d; set padding=0")
        return {"norm_type": 2, "kernel_size": kernel_size, "stride": stride}
    return {"kernel_size": kernel_size, "stride": stride, "padding": padding}


def pool2d(x2d, kind="max", kernel_size=2, stride=None, padding=0):
    """Pool one 2-D map with ``cnnlab.functional``.

    Returns ``(out, winners)``: the pooled (OH, OW) map and, for ``kind="max"``, the flat
    index (into the unpadded H*W plane, as PyTorch) of the input that won each window;
    ``None`` for the other kinds.
    """
    x = _as_nchw(x2d)
    kw = _pool_kwargs(kind, kernel_size, stride, padding)
    if kind == "max":
        out, idx = F.max_pool2d(x, return_indices=True, **kw)
        return out[0, 0], idx[0, 0]
    return getattr(F, POOL_KINDS[kind])(x, **kw)[0, 0], None


def pool2d_backward(grad_out2d, x2d, kind="max", kernel_size=2, stride=None, padding=0):
    """Gradient of a 2-D pooling with respect to its input, from ``cnnlab.functional``."""
    g = _as_nchw(grad_out2d)
    x = _as_nchw(x2d)
    kw = _pool_kwargs(kind, kernel_size, stride, padding)
    if kind == "l2":
        return F.lp_pool2d_backward(g, x, **kw)[0, 0]
    return getattr(F, POOL_KINDS[kind] + "_backward")(g, x, **kw)[0, 0]


def pool_window(row, col, kernel_size, stride, padding=0):
    """Top-left corner (in input coordinates) of the window that output cell (row, col) reads.

    This is where the window *is*: output cell ``(r, c)`` starts at input
    ``(r*stride - padding, c*stride - padding)``; negative or too-large positions are padding.
    """
    return row * stride - padding, col * stride - padding


def shift_right(x, pixels=1):
    """``x`` moved ``pixels`` columns to the right (last axis); zeros enter on the left."""
    x = np.asarray(x)
    out = np.zeros_like(x)
    if pixels == 0:
        out[...] = x
    else:
        out[..., pixels:] = x[..., :-pixels]
    return out


def figure_png(fig, dpi=None):
    """The figure rendered to PNG bytes (a full draw, as a static render would show it)."""
    buf = io.BytesIO()
    # fast zlib level: the widget re-renders on every slider step
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def _png_from_canvas(canvas):
    from PIL import Image

    rgba = np.asarray(canvas.buffer_rgba())
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="png", compress_level=1)
    return buf.getvalue()


class BlitRenderer:
    """Render a figure to PNG, redrawing only the artists that change (matplotlib blitting).

    ``dynamic`` lists, in drawing order, the artists a small change (moving the selected cell)
    touches. ``render(key)`` does a full draw of everything else when ``key`` changes (e.g.
    the pooling type or the stride), keeps that as the background, and otherwise restores the
    background and draws only the dynamic artists on top: the part of a slider step that
    costs most (laying out and rasterising dozens of numbers) is skipped for what did not
    move. The PNG is what a full draw would give.
    """

    def __init__(self, fig, dynamic):
        self.fig = fig
        self.dynamic = list(dynamic)
        self._key = object()
        self._background = None
        self.full_draws = 0

    def invalidate(self):
        self._background = None

    def render(self, key=None) -> bytes:
        canvas = self.fig.canvas
        if self._background is None or key != self._key:
            for a in self.dynamic:
                a.set_animated(True)            # left out of the background
            try:
                canvas.draw()
            finally:
                for a in self.dynamic:
                    a.set_animated(False)       # so savefig / static renders show them
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._key = key
            self.full_draws += 1
        else:
            canvas.restore_region(self._background)
        for a in self.dynamic:
            self.fig.draw_artist(a)
        return _png_from_canvas(canvas)


# ----------------------------------------------------------------------------------------
# Drawing helpers
# ----------------------------------------------------------------------------------------
def _figure(width, height, dpi=90):
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _symmetric(a):
    """Symmetric colour limits (-m, m) so zero sits at the centre of a diverging map."""
    a = np.asarray(a, dtype=np.float64)
    finite = a[np.isfinite(a)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    return (-m, m) if m > 0 else (-1.0, 1.0)


def _bare(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def _fmt(v, decimals=2, fixed=False):
    """Short, exact-looking number: integers without decimals, others rounded.

    ``fixed=True``: always ``decimals`` decimals ("0.00", "1.10", "2.02"), for maps of
    measured values where a mix of "0", "1.1" and "2.02" would look inconsistent.
    """
    if not np.isfinite(v):
        return "−∞" if v < 0 else "∞"
    if fixed:
        s = f"{v:.{decimals}f}"
    elif abs(v - round(v)) < 1e-9:
        s = str(int(round(v)))
    else:
        s = f"{v:.{decimals}f}".rstrip("0").rstrip(".")
    return s.replace("-", "−")


def _all_integers(a):
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return bool(np.all(np.abs(a - np.round(a)) < 1e-9))


class _NumberGrid:
    """A small array drawn as coloured cells with its numbers written in them.

    The axes frame is fixed at ``max_shape``; smaller arrays are centred in it, so the
    cell size never changes and the layout never jumps.  ``set`` updates in place.
    """

    def __init__(self, ax, max_shape, cmap=DIVERGING, fontsize=10, decimals=2, numbers=True,
                 blank_zero=False, margin=0):
        self.ax = ax
        self.max_shape = tuple(max_shape)
        self.decimals = decimals
        self.fixed = False             # True: always `decimals` decimals (see _fmt)
        self.blank_zero = blank_zero   # gradients: cells that receive nothing stay blank
        H, W = self.max_shape
        self.image = ax.imshow(np.zeros((1, 1)), cmap=cmap, vmin=-1, vmax=1,
                               interpolation="nearest", extent=(-0.5, 0.5, 0.5, -0.5))
        ax.set_xlim(-0.5 - margin, W - 0.5 + margin)
        ax.set_ylim(H - 0.5 + margin, -0.5 - margin)
        ax.set_aspect("equal")
        _bare(ax)
        for side in ax.spines.values():
            side.set_visible(False)
        self.texts = []
        if numbers:
            self.texts = [[ax.text(0, 0, "", ha="center", va="center", fontsize=fontsize,
                                   visible=False) for _ in range(W)] for _ in range(H)]
        self.shape = (1, 1)
        self.offset = (0.0, 0.0)

    def set(self, arr, clim=None):
        arr = np.asarray(arr, dtype=np.float64)
        h, w = arr.shape
        H, W = self.max_shape
        if h > H or w > W:
            raise ValueError(f"array of shape {arr.shape} does not fit the frame {self.max_shape}")
        r0, c0 = (H - h) / 2, (W - w) / 2
        self.shape, self.offset = (h, w), (r0, c0)
        self.image.set_data(np.where(np.isfinite(arr), arr, np.nan))
        self.image.set_extent((c0 - 0.5, c0 + w - 0.5, r0 + h - 0.5, r0 - 0.5))
        lo, hi = clim if clim is not None else _symmetric(arr)
        self.image.set_clim(lo, hi)
        # text colour from the cell's colour: white on dark cells, black on light ones
        rgba = self.image.to_rgba(np.where(np.isfinite(arr), arr, lo))
        dark = (rgba[..., :3] @ np.array([0.299, 0.587, 0.114])) < 0.5
        for i in range(H):
            for j in range(W):
                if not self.texts:
                    break
                t = self.texts[i][j]
                if i < h and j < w and not (self.blank_zero and arr[i, j] == 0):
                    t.set_position((c0 + j, r0 + i))
                    t.set_text(_fmt(arr[i, j], self.decimals, self.fixed))
                    t.set_color("white" if dark[i, j] and np.isfinite(arr[i, j]) else "black")
                    t.set_visible(True)
                else:
                    t.set_visible(False)

    @property
    def artists(self):
        """The image, then its numbers (drawing order for blitting)."""
        return [self.image] + [t for row in self.texts for t in row]

    def cell_xy(self, i, j):
        """Lower-left corner (x, y) of cell (i, j) in data coordinates, for a Rectangle."""
        r0, c0 = self.offset
        return c0 + j - 0.5, r0 + i - 0.5

    def outline(self, rect, i, j, h=1, w=1):
        """Move ``rect`` over cells i..i+h-1, j..j+w-1 (may reach outside = padding)."""
        rect.set_xy(self.cell_xy(i, j))
        rect.set_width(w)
        rect.set_height(h)


# a thin white halo around markers, so they stand out on dark and light cells alike
def _halo(lw):
    return [patheffects.withStroke(linewidth=lw + 2.5, foreground="white")]


def _rect(ax, color=HILITE, lw=2.5, ls="-", z=5, halo=False):
    r = Rectangle((0, 0), 1, 1, fill=False, edgecolor=color, linewidth=lw, linestyle=ls,
                  zorder=z, clip_on=False)
    if halo:
        r.set_path_effects(_halo(lw))
    ax.add_patch(r)
    return r


# ----------------------------------------------------------------------------------------
# Lesson 5: pooling
# ----------------------------------------------------------------------------------------
@dataclass
class PoolingState:
    """Everything the pooling figure shows (computed by the caller with cnnlab.functional)."""
    x: np.ndarray             # the input map (H, W)
    out: np.ndarray           # the pooled map (OH, OW)
    kind: str
    kernel_size: int
    stride: int
    padding: int
    row: int                  # selected output cell
    col: int
    winners: np.ndarray | None = None   # max pooling: flat winner index per output cell


class PoolingFigure:
    """Input map with the selected window | the window's numbers | the pooled map.

    Fixed layout: the input panel always shows the map plus a margin for the largest padding,
    the output panel always has the same size (a smaller output just has bigger cells).
    The input and the window share one colour scale (left colour bar), the pooled map has its
    own (right colour bar): sum and L2 pooling give values larger than any input.
    """

    MAX_K = 4
    MAX_PAD = 2

    def __init__(self, shape, width=9.0, height=4.0):
        H, W = shape
        self.shape = (H, W)
        fig = self.fig = _figure(width, height)
        self.ax_in = fig.add_axes([0.0, 0.05, 0.36, 0.8])
        self.cax_in = fig.add_axes([0.355, 0.15, 0.012, 0.6])
        self.ax_win = fig.add_axes([0.425, 0.2, 0.17, 0.5])
        self.ax_out = fig.add_axes([0.645, 0.05, 0.29, 0.8])
        self.cax = fig.add_axes([0.945, 0.15, 0.012, 0.6])

        m = self.MAX_PAD
        self.im_in = self.ax_in.imshow(np.zeros(shape), cmap=SEQUENTIAL, interpolation="nearest")
        self.ax_in.set_xlim(-0.5 - m, W - 0.5 + m)
        self.ax_in.set_ylim(H - 0.5 + m, -0.5 - m)
        self.ax_in.add_patch(Rectangle((-0.5, -0.5), W, H, fill=False, edgecolor="0.6",
                                       linestyle=":", linewidth=1))
        _bare(self.ax_in)
        for side in self.ax_in.spines.values():      # the dotted line is the map's border
            side.set_visible(False)
        self.win_in = _rect(self.ax_in, lw=3, halo=True)
        # the winner: a solid green dot with a white rim, inside the orange window
        (self.win_dot,) = self.ax_in.plot([], [], "o", ms=7.5, mfc=WINNER, mec="white",
                                          mew=1.5, zorder=6)
        self.title_in = self.ax_in.set_title("", fontsize=10)
        self.cbar_in = fig.colorbar(self.im_in, cax=self.cax_in)
        self.cbar_in.ax.tick_params(labelsize=8)

        self.grid = _NumberGrid(self.ax_win, (self.MAX_K, self.MAX_K), cmap=SEQUENTIAL,
                                fontsize=10)
        self.win_best = _rect(self.ax_win, color=WINNER, lw=3, halo=True)
        self.title_win = self.ax_win.set_title("", fontsize=10)

        self.im_out = self.ax_out.imshow(np.zeros((1, 1)), cmap=SEQUENTIAL,
                                         interpolation="nearest", extent=(0, 1, 1, 0))
        self.ax_out.set_xlim(0, 1)
        self.ax_out.set_ylim(1, 0)
        _bare(self.ax_out)
        self.cell_out = _rect(self.ax_out, lw=3, halo=True)
        self.title_out = self.ax_out.set_title("", fontsize=10)
        self.cbar = fig.colorbar(self.im_out, cax=self.cax)
        self.cbar.ax.tick_params(labelsize=8)
        self.arrow = fig.text(0.62, 0.45, "→", fontsize=20, ha="center", va="center")
        # what moving the selected output cell changes (see BlitRenderer)
        self.dynamic = (self.grid.artists + [self.win_best, self.title_win, self.win_in,
                                             self.win_dot, self.cell_out, self.title_out])

    def show(self, s: PoolingState):
        H, W = self.shape
        x, out = s.x, s.out
        lo_in = min(0.0, float(np.min(x)))
        hi_in = float(np.max(x)) or 1.0
        cmap = DIVERGING if lo_in < 0 else SEQUENTIAL
        clim_in = _symmetric(x) if lo_in < 0 else (0.0, hi_in)
        self.im_in.set_data(x)
        self.im_in.set_cmap(cmap)
        self.im_in.set_clim(*clim_in)
        self.title_in.set_text(f"input {H}×{W}" + (f", padding {s.padding}" if s.padding else ""))

        k = s.kernel_size
        r0, c0 = pool_window(s.row, s.col, k, s.stride, s.padding)
        self.win_in.set_xy((c0 - 0.5, r0 - 0.5))
        self.win_in.set_width(k)
        self.win_in.set_height(k)

        # the window's numbers; cells outside the map are padding
        pad_value = -np.inf if s.kind == "max" else 0.0
        win = np.full((k, k), pad_value)
        rs, cs = max(r0, 0), max(c0, 0)
        re, ce = min(r0 + k, H), min(c0 + k, W)
        if re > rs and ce > cs:
            win[rs - r0:re - r0, cs - c0:ce - c0] = x[rs:re, cs:ce]
        self.grid.image.set_cmap(cmap)
        # one number format for the whole map: integers as integers, else always 2 decimals
        fixed = not _all_integers(x)
        self.grid.fixed = fixed
        self.grid.set(win, clim=clim_in)
        self.title_win.set_text(f"window {k}×{k}\n(input's colour scale)")

        if s.kind == "max" and s.winners is not None:
            wr, wc = divmod(int(s.winners[s.row, s.col]), W)
            self.win_dot.set_data([wc], [wr])
            self.grid.outline(self.win_best, wr - r0, wc - c0)
            self.win_best.set_visible(True)
        else:
            self.win_dot.set_data([], [])
            self.win_best.set_visible(False)

        oh, ow = out.shape
        self.im_out.set_data(out)
        self.im_out.set_cmap(cmap)
        self.im_out.set_clim(*(_symmetric(out) if lo_in < 0 else (0.0, float(np.max(out)) or 1.0)))
        self.cell_out.set_xy((s.col / ow, s.row / oh))
        self.cell_out.set_width(1 / ow)
        self.cell_out.set_height(1 / oh)
        self.title_out.set_text(f"{POOL_LABELS[s.kind]} pool → {oh}×{ow}   "
                                f"[{s.row}, {s.col}] = "
                                f"{_fmt(float(out[s.row, s.col]), 2, fixed)}")
        return self.fig


def static_pooling(feature_map=None, kind="max", kernel_size=2, stride=2, padding=0,
                   row=None, col=None):
    """Static fallback of the pooling explorer: one setting, drawn once."""
    x = default_feature_map() if feature_map is None else np.asarray(feature_map, np.float64)
    out, winners = pool2d(x, kind, kernel_size, stride, padding)
    if row is None or col is None:
        # show the busiest window: the cell with the largest pooled value
        row, col = np.unravel_index(int(np.argmax(out)), out.shape)
    fig = PoolingFigure(x.shape)
    return fig.show(PoolingState(x, out, kind, kernel_size, stride, padding,
                                 int(row), int(col), winners))


def static_pooling_kinds(x=None, kernel_size=2, stride=None):
    """The four pooling kinds side by side on a small map, numbers written in the cells."""
    if x is None:
        x = np.array([[1, 2, 0, 6], [2, 4, 0, 8], [2, 6, 1, 1], [3, 0, 1, 1]], np.float64)
    x = np.asarray(x, dtype=np.float64)
    outs = [(kind, pool2d(x, kind, kernel_size, stride)[0]) for kind in POOL_KINDS]
    fig = _figure(9.0, 2.6)
    axes = fig.subplots(1, 5, gridspec_kw=dict(wspace=0.25, left=0.02, right=0.98,
                                               top=0.82, bottom=0.04))
    hi = max(float(np.max(x)), *(float(np.max(o)) for _, o in outs))
    g = _NumberGrid(axes[0], x.shape, cmap="Blues", fontsize=10)
    g.set(x, clim=(0, hi))
    step = stride or kernel_size
    for i in range(1, x.shape[0] // step):
        axes[0].axhline(i * step - 0.5, color="k", lw=1.5)
        axes[0].axvline(i * step - 0.5, color="k", lw=1.5)
    axes[0].set_title(f"input, {kernel_size}×{kernel_size} windows", fontsize=10)
    for ax, (kind, o) in zip(axes[1:], outs):
        g = _NumberGrid(ax, x.shape, cmap="Blues", fontsize=11)
        g.set(o, clim=(0, hi))
        ax.set_title(POOL_LABELS[kind], fontsize=10)
    return fig


def static_shift_invariance(feature_map=None, pixels=1, kernel_size=2, stride=2):
    """Map, map shifted, and their max-pooled versions, with where they differ.

    Top row: the map, the map moved ``pixels`` to the right, |difference|.
    Bottom row: the same after max pooling.  Fewer pooled cells light up in the difference.
    """
    x = default_feature_map() if feature_map is None else np.asarray(feature_map, np.float64)
    xs = shift_right(x, pixels)
    p, _ = pool2d(x, "max", kernel_size, stride)
    ps, _ = pool2d(xs, "max", kernel_size, stride)
    fig = _figure(8.0, 5.4)
    axes = fig.subplots(2, 3, gridspec_kw=dict(wspace=0.08, hspace=0.22, left=0.09, right=0.98,
                                               top=0.9, bottom=0.02))
    hi = float(np.max(x)) or 1.0
    pooled_name = f"max pool {kernel_size}×{kernel_size}, stride {stride}"
    rows = [(x, xs, "feature map"), (p, ps, pooled_name)]
    for axrow, (a, b, name) in zip(axes, rows):
        axrow[0].imshow(a, cmap=SEQUENTIAL, vmin=0, vmax=hi, interpolation="nearest")
        axrow[1].imshow(b, cmap=SEQUENTIAL, vmin=0, vmax=hi, interpolation="nearest")
        axrow[2].imshow(np.abs(b - a), cmap="Reds", vmin=0, vmax=hi, interpolation="nearest")
        axrow[0].set_ylabel(name, fontsize=10)
        for ax in axrow:
            _bare(ax)
    axes[0, 0].set_title("original", fontsize=10)
    axes[0, 1].set_title(f"shifted {pixels} px right", fontsize=10)
    axes[0, 2].set_title("|difference|", fontsize=10)
    return fig


# ----------------------------------------------------------------------------------------
# Lesson 6: backpropagation through a convolution and through pooling
# ----------------------------------------------------------------------------------------
@dataclass
class BackpropState:
    x: np.ndarray         # input (H, W)
    w: np.ndarray         # kernel (kH, kW)
    delta: np.ndarray     # dL/dY (OH, OW)
    dx: np.ndarray        # shown input gradient (one cell's share, or the total)
    dw: np.ndarray        # shown weight gradient
    db: float             # shown bias gradient
    stride: int
    padding: int
    row: int
    col: int
    only_cell: bool       # True: dx/dw/db are the selected cell's contribution


class BackpropFigure:
    """X, W, δ on top; dL/dX, dL/dW, dL/db below; the selected δ cell and its window outlined."""

    def __init__(self, x_shape=(5, 5), w_shape=(3, 3), max_delta_shape=None,
                 width=9.0, height=5.4, max_pad=1):
        max_delta_shape = max_delta_shape or x_shape
        frame = tuple(max(a, b, c) for a, b, c in zip(x_shape, w_shape, max_delta_shape))
        fig = self.fig = _figure(width, height)
        gs = fig.add_gridspec(2, 3, left=0.02, right=0.98, top=0.88, bottom=0.01,
                              wspace=0.12, hspace=0.18)
        axes = [[fig.add_subplot(gs[i, j]) for j in range(3)] for i in range(2)]
        # one frame (+ room for padding) for every panel, so all cells have the same size
        kw = dict(fontsize=11, margin=max_pad)
        self.g_x = _NumberGrid(axes[0][0], frame, **kw)
        self.g_w = _NumberGrid(axes[0][1], frame, **kw)
        self.g_d = _NumberGrid(axes[0][2], frame, **kw)
        self.g_dx = _NumberGrid(axes[1][0], frame, blank_zero=True, **kw)
        self.g_dw = _NumberGrid(axes[1][1], frame, blank_zero=True, **kw)
        self.g_db = _NumberGrid(axes[1][2], frame, **kw)
        self.max_pad = max_pad
        H, W = x_shape
        self.borders = [g.ax.add_patch(Rectangle((-0.5, -0.5), W, H, fill=False,
                                                 edgecolor="0.5", linestyle=":", linewidth=1))
                        for g in (self.g_x, self.g_dx)]
        self.win_x = _rect(self.g_x.ax)
        self.win_dx = _rect(self.g_dx.ax)
        self.cell_d = _rect(self.g_d.ax)
        self.titles = {name: g.ax.set_title("", fontsize=10) for name, g in
                       [("x", self.g_x), ("w", self.g_w), ("d", self.g_d), ("dx", self.g_dx),
                        ("dw", self.g_dw), ("db", self.g_db)]}
        self.suptitle = fig.suptitle("", fontsize=11)
        # shown over the bottom row when the selected δ is 0 (its panels are then empty)
        self.zero_note = fig.text(0.5, 0.25, "", ha="center", va="center", fontsize=12,
                                  color="#b00020", zorder=10,
                                  bbox=dict(boxstyle="round,pad=0.4", facecolor="white",
                                            edgecolor="#b00020"))
        self.zero_note.set_visible(False)
        # what moving the selected δ cell (or switching cell/total) changes
        t = self.titles
        self.dynamic = (self.g_dx.artists + [self.borders[1]] + self.g_dw.artists
                        + self.g_db.artists
                        + [self.win_x, self.win_dx, self.cell_d, t["d"], t["dx"], t["dw"],
                           t["db"], self.suptitle, self.zero_note])

    def show(self, s: BackpropState):
        self.g_x.set(s.x)
        self.g_w.set(s.w)
        self.g_d.set(s.delta)
        lim = _symmetric(np.concatenate([s.dx.ravel(), s.dw.ravel(), [s.db]]))
        self.g_dx.set(s.dx, clim=lim)
        self.g_dw.set(s.dw, clim=lim)
        self.g_db.set(np.array([[s.db]]), clim=lim)
        kh, kw = s.w.shape
        r0, c0 = pool_window(s.row, s.col, kh, s.stride, s.padding)
        for g, rect in ((self.g_x, self.win_x), (self.g_dx, self.win_dx)):
            g.outline(rect, r0, c0, kh, kw)
        self.g_d.outline(self.cell_d, s.row, s.col)
        d = _fmt(float(s.delta[s.row, s.col]))
        self.titles["x"].set_text("input X" + (f" (padding {s.padding})" if s.padding else ""))
        self.titles["w"].set_text("kernel W")
        self.titles["d"].set_text(f"δ = ∂L/∂Y   (δ[{s.row},{s.col}] = {d})")
        if s.only_cell:
            self.titles["dx"].set_text(f"δ[{s.row},{s.col}]·W added to ∂L/∂X")
            self.titles["dw"].set_text(f"δ[{s.row},{s.col}]·(window of X) added to ∂L/∂W")
            self.titles["db"].set_text(f"δ[{s.row},{s.col}] added to ∂L/∂b")
            self.suptitle.set_text(f"what output cell [{s.row}, {s.col}] sends back "
                                   f"(stride {s.stride}, padding {s.padding})")
            zero = float(s.delta[s.row, s.col]) == 0
            self.zero_note.set_text(f"nothing flows back: δ[{s.row},{s.col}] = 0 here")
            self.zero_note.set_visible(zero)
        else:
            self.titles["dx"].set_text("∂L/∂X (all cells)")
            self.titles["dw"].set_text("∂L/∂W (all cells)")
            self.titles["db"].set_text("∂L/∂b = sum of δ")
            self.suptitle.set_text(f"the full gradients: every δ cell's share, summed "
                                   f"(stride {s.stride}, padding {s.padding})")
            self.zero_note.set_visible(False)
        return self.fig


def _conv_backward_2d(delta, x, w, stride, padding):
    gx, gw, gb = F.conv2d_backward(delta[None, None], x[None, None], w[None, None],
                                   stride=stride, padding=padding)
    return gx[0, 0], gw[0, 0], float(np.asarray(gb).reshape(-1)[0])


def static_backprop(x=None, w=None, delta=None, row=0, col=0, stride=1, padding=0,
                    only_cell=True):
    """Static fallback of the backprop explorer: one output cell's share of the gradients."""
    x = BACKPROP_X if x is None else np.asarray(x, np.float64)
    w = BACKPROP_W if w is None else np.asarray(w, np.float64)
    oh = F.output_size(x.shape[0], w.shape[0], stride, padding)
    ow = F.output_size(x.shape[1], w.shape[1], stride, padding)
    if delta is None:
        delta = default_delta((oh, ow))
    shown = delta
    if only_cell:
        shown = np.zeros_like(delta)
        shown[row, col] = delta[row, col]
    gx, gw, gb = _conv_backward_2d(shown, x, w, stride, padding)
    fig = BackpropFigure(x.shape, w.shape)
    return fig.show(BackpropState(x, w, delta, gx, gw, gb, stride, padding, row, col, only_cell))


def default_delta(shape):
    """A deterministic small-integer δ of any shape, so hand-checking stays easy."""
    # no zeros: every cell of the default δ sends something back
    pattern = np.array([1, -1, 2, 1, 2, -2, 1, 1, -1, 2, 1, -1, 1, 2, -1, 1], dtype=np.float64)
    return np.resize(pattern, shape).reshape(shape)


@dataclass
class PoolGradientState:
    x: np.ndarray
    out: np.ndarray
    delta: np.ndarray
    dx: np.ndarray
    kind: str
    kernel_size: int
    stride: int
    row: int
    col: int
    only_cell: bool
    winners: np.ndarray | None = None


class PoolGradientFigure:
    """X | pooled Y | δ | ∂L/∂X, with the selected window and (max) its winner marked."""

    def __init__(self, x_shape=(6, 6), width=9.0, height=3.0):
        fig = self.fig = _figure(width, height)
        gs = fig.add_gridspec(1, 4, left=0.01, right=0.99, top=0.8, bottom=0.02, wspace=0.12)
        axes = [fig.add_subplot(gs[0, j]) for j in range(4)]
        self.x_shape = x_shape
        self.g_x = _NumberGrid(axes[0], x_shape, cmap="Blues", fontsize=11)
        self.g_y = _NumberGrid(axes[1], x_shape, cmap="Blues", fontsize=11, decimals=1)
        self.g_d = _NumberGrid(axes[2], x_shape, fontsize=11)
        self.g_dx = _NumberGrid(axes[3], x_shape, fontsize=11, blank_zero=True)
        self.win_x = _rect(self.g_x.ax)
        self.win_dx = _rect(self.g_dx.ax)
        self.cell_y = _rect(self.g_y.ax)
        self.cell_d = _rect(self.g_d.ax)
        self.best = [_rect(self.g_x.ax, color=WINNER, lw=2, z=6),
                     _rect(self.g_dx.ax, color=WINNER, lw=2, z=6)]
        self.titles = [g.ax.set_title("", fontsize=10)
                       for g in (self.g_x, self.g_y, self.g_d, self.g_dx)]
        self.suptitle = fig.suptitle("", fontsize=11)
        self.dynamic = (self.g_dx.artists + [self.win_x, self.win_dx, self.cell_y, self.cell_d]
                        + self.best + [self.titles[3]])

    def show(self, s: PoolGradientState):
        hi = float(np.max(s.x)) or 1.0
        self.g_x.set(s.x, clim=(0, hi))
        self.g_y.set(s.out, clim=(0, hi))
        self.g_d.set(s.delta)
        self.g_dx.set(s.dx)
        k = s.kernel_size
        r0, c0 = pool_window(s.row, s.col, k, s.stride)
        self.g_x.outline(self.win_x, r0, c0, k, k)
        self.g_dx.outline(self.win_dx, r0, c0, k, k)
        self.g_y.outline(self.cell_y, s.row, s.col)
        self.g_d.outline(self.cell_d, s.row, s.col)
        if s.kind == "max" and s.winners is not None:
            wr, wc = divmod(int(s.winners[s.row, s.col]), s.x.shape[1])
            self.g_x.outline(self.best[0], wr, wc)
            self.g_dx.outline(self.best[1], wr, wc)
            for b in self.best:
                b.set_visible(True)
        else:
            for b in self.best:
                b.set_visible(False)
        name = "max" if s.kind == "max" else "average"
        self.titles[0].set_text("input X")
        self.titles[1].set_text(f"{name} pool Y")
        self.titles[2].set_text("δ = ∂L/∂Y")
        self.titles[3].set_text(f"∂L/∂X from δ[{s.row},{s.col}]" if s.only_cell
                                else "∂L/∂X")
        how = ("routed to the window's winner (first max on ties)" if s.kind == "max"
               else f"spread evenly: δ/{k * k} to each of the {k}×{k} inputs")
        self.suptitle.set_text(f"{name} pool {k}×{k}, stride {s.stride}: gradient {how}")
        return self.fig


def static_pool_gradient(x=None, kind="max", kernel_size=2, stride=2, row=0, col=0,
                         only_cell=False):
    """Static fallback of the pooling-gradient explorer."""
    x = POOL_GRAD_X if x is None else np.asarray(x, np.float64)
    out, winners = pool2d(x, kind, kernel_size, stride)
    delta = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    shown = delta
    if only_cell:
        shown = np.zeros_like(delta)
        shown[row, col] = delta[row, col]
    dx = pool2d_backward(shown, x, kind, kernel_size, stride)
    fig = PoolGradientFigure(x.shape)
    return fig.show(PoolGradientState(x, out, delta, dx, kind, kernel_size, stride, row, col,
                                      only_cell, winners))


# ----------------------------------------------------------------------------------------
# Lesson 7: LeNet-5 on MNIST
# ----------------------------------------------------------------------------------------
class FeatureMapFigure:
    """One digit and what LeNet-5's two convolutions make of it.

    Left: the digit. Middle: conv1's maps (6 × 28×28). Right: conv2's maps (16 × 10×10).
    The maps are shown before ReLU with a diverging colour map centred at zero, each on its
    own symmetric scale (red = positive response, blue = negative; ReLU keeps only the red).
    """

    def __init__(self, shapes=((1, 28, 28), (6, 28, 28), (16, 10, 10)), width=9.0, height=4.4):
        fig = self.fig = _figure(width, height)
        (_, H, W), (c1, h1, w1), (c2, h2, w2) = shapes
        self.ax_img = fig.add_axes([0.01, 0.2, 0.2, 0.56])
        self.im_img = self.ax_img.imshow(np.zeros((H, W)), cmap=DIGITS, vmin=0, vmax=1,
                                         interpolation="nearest")
        _bare(self.ax_img)
        self.title_img = self.ax_img.set_title("", fontsize=10)

        def grid(n, left, right, ncols, h, w):
            nrows = int(np.ceil(n / ncols))
            sub = fig.add_gridspec(nrows, ncols, left=left, right=right, top=0.86, bottom=0.04,
                                   wspace=0.06, hspace=0.06)
            axes, ims = [], []
            for i in range(n):
                ax = fig.add_subplot(sub[i // ncols, i % ncols])
                ims.append(ax.imshow(np.zeros((h, w)), cmap=DIVERGING, vmin=-1, vmax=1,
                                     interpolation="nearest"))
                _bare(ax)
                axes.append(ax)
            return axes, ims

        self.ax1, self.im1 = grid(c1, 0.25, 0.5, 2, h1, w1)
        self.ax2, self.im2 = grid(c2, 0.55, 0.99, 4, h2, w2)
        self.head1 = fig.text(0.375, 0.93, f"conv1: {c1} maps {h1}×{w1}", ha="center",
                              fontsize=10)
        self.head2 = fig.text(0.77, 0.93, f"conv2: {c2} maps {h2}×{w2}", ha="center",
                              fontsize=10)
        self.note = fig.text(0.11, 0.1, "before ReLU, each map\non its own scale:\n"
                             "red +, blue −, white 0", ha="center", fontsize=9, color="0.3")
        self.dynamic = []          # a new digit changes every panel: always a full draw

    def show(self, image, conv1, conv2, title=""):
        self.im_img.set_data(image)
        self.im_img.set_clim(0, max(float(np.max(image)), 1e-6))
        self.title_img.set_text(title)
        for ims, maps in ((self.im1, conv1), (self.im2, conv2)):
            for im, m in zip(ims, maps):
                im.set_data(m)
                im.set_clim(*_symmetric(m))   # each map on its own scale, zero = white
        return self.fig


def static_feature_maps(image, conv1, conv2, title=""):
    """Static fallback of the feature-map explorer for one digit.

    ``conv1`` (6, 28, 28) and ``conv2`` (16, 10, 10) are the model's own conv outputs
    (e.g. from ``model.features(x)``).
    """
    image, conv1, conv2 = (np.asarray(a) for a in (image, conv1, conv2))
    fig = FeatureMapFigure(((1,) + image.shape, conv1.shape, conv2.shape))
    return fig.show(image, conv1, conv2, title)


def plot_digits(images, labels=None, predictions=None, ncols=10, title=None, size=0.9):
    """A grid of digits; with predictions, wrong ones get a red 'true→predicted' caption."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, int(np.ceil(n / ncols)))
    fig = _figure(size * ncols, size * nrows * 1.15 + (0.35 if title else 0.05))
    top = 1 - 0.35 / fig.get_figheight() if title else 0.98
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False,
                                      gridspec_kw=dict(wspace=0.1, hspace=0.35, left=0.01,
                                                       right=0.99, top=top, bottom=0.01)))
    for i, ax in enumerate(axes.ravel()):
        _bare(ax)
        for side in ax.spines.values():
            side.set_visible(False)
        if i >= n:
            ax.set_visible(False)
            continue
        ax.imshow(images[i], cmap=DIGITS, interpolation="nearest")
        if predictions is not None:
            ok = labels is not None and labels[i] == predictions[i]
            text = f"{labels[i]}→{predictions[i]}" if labels is not None else f"{predictions[i]}"
            ax.set_title(text, fontsize=9, color="black" if ok else "crimson", pad=2)
        elif labels is not None:
            ax.set_title(f"{labels[i]}", fontsize=9, pad=2)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_mistakes(images, labels, predictions, max_images=20, ncols=10):
    """The misclassified digits, captioned 'true→predicted'."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    wrong = np.flatnonzero(labels != predictions)[:max_images]
    title = f"{len(np.flatnonzero(labels != predictions))} mistakes; first {len(wrong)} shown " \
            "(true→predicted)"
    if len(wrong) == 0:
        fig = _figure(4, 1)
        fig.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        return fig
    return plot_digits(np.asarray(images)[wrong], labels[wrong], predictions[wrong],
                       ncols=ncols, title=title)


def plot_kernels(weight, title=None, size=1.3):
    """Conv kernels (C_out, C_in, kH, kW) as images, one shared diverging scale centred at 0."""
    w = np.asarray(weight)
    c_out, c_in = w.shape[:2]
    lim = _symmetric(w)
    fig = _figure(size * c_out + 0.8, size * c_in + 0.55)
    axes = fig.subplots(c_in, c_out, squeeze=False,
                        gridspec_kw=dict(wspace=0.08, hspace=0.08, left=0.02,
                                         right=1 - 0.75 / fig.get_figwidth(),
                                         top=1 - 0.45 / fig.get_figheight(), bottom=0.03))
    im = None
    for o in range(c_out):
        for i in range(c_in):
            ax = axes[i, o]
            im = ax.imshow(w[o, i], cmap=DIVERGING, vmin=lim[0], vmax=lim[1],
                           interpolation="nearest")
            _bare(ax)
            if i == 0:
                ax.set_title(f"{o}", fontsize=9, pad=2)
    cax = fig.add_axes([1 - 0.6 / fig.get_figwidth(), 0.1, 0.15 / fig.get_figwidth(), 0.7])
    fig.colorbar(im, cax=cax).ax.tick_params(labelsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_confusion_matrix(cm, class_names=None, title="confusion matrix"):
    """Counts (rows = true class, columns = predicted), every count written in its cell.

    Two colour scales, so that a handful of mistakes is as visible as 95 correct answers:
    the diagonal (correct) in blue by the share of its row; the off-diagonal cells (mistakes)
    in red by their count relative to the most frequent mistake. Zero cells stay white.
    """
    cm = np.asarray(cm)
    n = cm.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    rows = cm.sum(axis=1, keepdims=True)
    share = cm / np.maximum(rows, 1)
    diag = np.eye(n, dtype=bool)
    off_max = max(int(cm[~diag].max()) if n > 1 else 0, 1)
    fig = _figure(6.0, 5.9)
    ax = fig.add_axes([0.12, 0.15, 0.8, 0.75])
    correct = np.ma.masked_where(~diag, share)
    wrong = np.ma.masked_where(diag | (cm == 0), cm / off_max)
    ax.imshow(correct, cmap="Blues", vmin=0, vmax=1.15, interpolation="nearest")
    ax.imshow(wrong, cmap="Reds", vmin=-0.15, vmax=1, interpolation="nearest")
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    fontsize = 11 if n <= 10 else 8
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                dark = (share[i, j] > 0.6) if i == j else (cm[i, j] / off_max > 0.55)
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=fontsize,
                        fontweight="bold" if i != j else "normal",
                        color="white" if dark else ("#8b0000" if i != j else "black"))
    ax.set_xticks(range(n), names, fontsize=10)
    ax.set_yticks(range(n), names, fontsize=10)
    ax.set_xlabel("predicted", fontsize=11)
    ax.set_ylabel("true", fontsize=11)
    ax.set_title(title, fontsize=12)
    fig.text(0.52, 0.015, "blue diagonal: correct answers, shaded by the share of the row\n"
             f"red: mistakes, shaded by count (darkest = {off_max})", ha="center", fontsize=9.5,
             color="0.3", linespacing=1.4)
    return fig


def _curve(history, key):
    """A metric's values from a History (attribute, dict-like or ``as_dict()``)."""
    if isinstance(history, dict):
        return list(history.get(key, []) or [])
    if hasattr(history, "as_dict"):
        return list(history.as_dict().get(key, []) or [])
    value = getattr(history, key, None)
    return list(value) if value is not None else []


def plot_histories(histories, smooth=20):
    """Compare training runs, e.g. ``{"modern": h1, "faithful": h2}`` (``train.History``).

    Left: the training loss of every step (faint) with its ``smooth``-step moving average, so
    even a one-epoch run shows how learning went. Right: the validation accuracy after each
    epoch, each value written next to its point.
    """
    fig = _figure(8.6, 3.2)
    ax, bx = fig.subplots(1, 2, gridspec_kw=dict(wspace=0.25, left=0.07, right=0.98,
                                                 top=0.9, bottom=0.16))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    n_epochs = 1
    for color, (name, h) in zip(colors, histories.items()):
        steps = np.asarray(_curve(h, "step_loss"), dtype=float)
        if steps.size:
            x = np.arange(1, steps.size + 1)
            ax.plot(x, steps, color=color, alpha=0.25, lw=0.8)
            if steps.size >= smooth:
                avg = np.convolve(steps, np.ones(smooth) / smooth, mode="valid")
                ax.plot(x[smooth - 1:], avg, color=color, lw=2, label=name)
            else:
                ax.plot(x, steps, color=color, lw=2, label=name)
        acc = np.asarray(_curve(h, "val_acc"), dtype=float)
        if acc.size and np.isfinite(acc).any():
            ep = np.arange(1, acc.size + 1)
            n_epochs = max(n_epochs, acc.size)
            bx.plot(ep, 100 * acc, "o-", color=color, label=name)
            bx.annotate(f"{100 * acc[-1]:.1f}%", (ep[-1], 100 * acc[-1]),
                        textcoords="offset points", xytext=(8, -3), fontsize=9, color=color)
    ax.set_title(f"training loss per step (bold: {smooth}-step average)", fontsize=10)
    ax.set_xlabel("step (minibatch)", fontsize=10)
    bx.set_title("test accuracy after each epoch (%)", fontsize=10)
    bx.set_xlabel("epoch", fontsize=10)
    bx.set_xlim(0.5, n_epochs + 0.5 + 0.12 * max(n_epochs, 3))   # room for the labels
    bx.set_xticks(range(1, n_epochs + 1))
    for a in (ax, bx):
        a.tick_params(labelsize=9)
        a.grid(alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=9, loc="best")
    return fig


def plot_lenet_architecture(rows, input_shape=(1, 28, 28)):
    """LeNet-5 as a row of blocks, one per layer that changes the shape.

    ``rows``: sequence of ``(name, output_shape)``, e.g. from ``cnnlab.nn.summary(...).rows``
    (the caller extracts names and shapes). Block height follows the spatial size, width the
    number of channels, so the funnel 28 → 14 → 10 → 5 → 400 → 120 → 84 → 10 shows.
    """
    blocks = [("input", tuple(input_shape))] + [(n, tuple(s)) for n, s in rows]
    fig = _figure(9.0, 2.4)
    ax = fig.add_axes([0.0, 0.0, 1.0, 1.0])
    ax.set_xlim(0, len(blocks))
    ax.set_ylim(-0.12, 1.0)
    ax.axis("off")
    for i, (name, shape) in enumerate(blocks):
        if len(shape) == 3:
            c, h, w = shape
            height = 0.15 + 0.75 * h / 28
            depth = 0.1 + 0.4 * min(c, 16) / 16
            label = f"{c}@{h}×{w}"
            color = "#9ecae1" if "pool" not in name.lower() else "#c7e9c0"
        else:
            n = int(np.prod(shape))
            height = 0.15 + 0.75 * min(n, 400) / 400
            depth = 0.12
            label = f"{n}"
            color = "#fdd0a2"
        x0 = i + 0.5 - depth / 2
        ax.add_patch(Rectangle((x0, 0.5 - height / 2), depth, height, facecolor=color,
                               edgecolor="0.3"))
        ax.text(i + 0.5, 0.5 + height / 2 + 0.04, label, ha="center", va="bottom", fontsize=8.5)
        ax.text(i + 0.5, 0.02, name, ha="center", va="top", fontsize=9)
        if i:
            ax.annotate("", xy=(x0 - 0.02, 0.5), xytext=(i - 0.5 + 0.3, 0.5),
                        arrowprops=dict(arrowstyle="->", color="0.4"))
    return fig
