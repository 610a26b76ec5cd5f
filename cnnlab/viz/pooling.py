"""Pooling (lesson 5): max, average, sum and L2 pooling of one feature map, and shifts.

:func:`pool2d` / :func:`pool2d_backward` are thin adapters (one 2-D map in, one out) around
``cnnlab.functional``'s pooling; :func:`pooling_facts` gathers what the pooling explorer
shows; :class:`PoolingView` draws it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.patches import Rectangle

from cnnlab import functional as F
from cnnlab.kernels import default_feature_map
from cnnlab.viz.grids import NumberGrid, clamp_cell, outline_rect
from cnnlab.viz.render import View
from cnnlab.viz.style import (ERRORS_CMAP, NUMBERS_CMAP, SEQUENTIAL_CMAP, SIGNED_CMAP, WINNER,
                              all_integers, bare, format_number, new_figure, signed_limit)

__all__ = [
    "POOL_KINDS", "POOL_LABELS", "pool2d", "pool2d_backward", "pool_window", "shift_right",
    "PoolingFacts", "pooling_facts", "PoolingView", "static_pooling", "static_pooling_kinds",
    "static_shift_invariance",
]

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


# ----------------------------------------------------------------------------------------
# The pooling explorer
# ----------------------------------------------------------------------------------------
@dataclass
class PoolingFacts:
    """Everything the pooling explorer shows (computed by :func:`pooling_facts`)."""
    x: np.ndarray             # the input map (H, W), shifted when shift > 0
    output: np.ndarray        # the pooled map (OH, OW)
    kind: str
    kernel_size: int
    stride: int
    padding: int
    row: int                  # selected output cell
    col: int
    winners: np.ndarray | None = None   # max pooling: flat winner index per output cell
    shift: int = 0                      # pixels the map was moved right
    base: np.ndarray | None = None      # the map before the shift
    output_unshifted: np.ndarray | None = None  # the pooled unshifted map
    busiest: tuple = (0, 0)             # the output cell with the largest value
    text: str = ""


def _shift_line(facts: PoolingFacts) -> str:
    """How much a shift changed the input and the pooled map (cells where either is nonzero)."""
    def changed(a, b):
        active = (a != 0) | (b != 0)
        return int(np.count_nonzero(a != b)), int(np.count_nonzero(active))

    (ci, ai) = changed(facts.x, facts.base)
    (co, ao) = changed(facts.output, facts.output_unshifted)
    return (f"input shifted {facts.shift} px right: {ci} of its {ai} active values changed "
            f"({100 * ci / max(ai, 1):.0f}%); pooled: {co} of {ao} ({100 * co / max(ao, 1):.0f}%)")


def _pooling_text(facts: PoolingFacts) -> str:
    k, s, p, r, c = facts.kernel_size, facts.stride, facts.padding, facts.row, facts.col
    H, W = facts.x.shape
    oh, ow = facts.output.shape
    exact = F.output_size_exact(H, k, s, p)
    args = (f"norm_type=2, kernel_size={k}, stride={s}" if facts.kind == "l2"
            else f"kernel_size={k}, stride={s}, padding={p}")
    size = (f"⌊({H} + 2·{p} − {k}) / {s} + 1⌋ = ⌊{format_number(exact, 3)}⌋ = {oh}"
            if exact != oh else f"({H} + 2·{p} − {k}) / {s} + 1 = {oh}")
    r0, c0 = pool_window(r, c, k, s, p)
    padded = min(r0, c0) < 0 or max(r0, c0) + k > H
    lines = [f"**F.{POOL_KINDS[facts.kind]}**(x, {args}): {H}×{W} → **{oh}×{ow}**; "
             f"output size {size}",
             f"output[{r}, {c}] = **{format_number(facts.output[r, c], 3)}** from the window rows "
             f"{r0}…{r0 + k - 1}, columns {c0}…{c0 + k - 1}"
             + (" (part of it is padding)" if padded else "")]
    if facts.shift:
        lines.append(_shift_line(facts))
    return "\n".join(lines)


def pooling_facts(x=None, kind: str = "max", kernel_size: int = 2, stride: int | None = None,
                  padding: int = 0, row: int | None = 0, col: int | None = 0,
                  shift: int = 0) -> PoolingFacts:
    """Pool ``x`` (moved ``shift`` pixels right) with ``cnnlab.functional``; the selected cell.

    x : (H, W), default ``cnnlab.kernels.default_feature_map()``. row/col are clamped to the
    output; None selects the busiest cell (the largest output). Raises ValueError (from
    ``cnnlab.functional``) for a setting PyTorch refuses, e.g. padding > kernel_size / 2.
    """
    base = default_feature_map() if x is None else np.asarray(x, dtype=np.float64)
    s = kernel_size if stride is None else stride
    shown = shift_right(base, shift) if shift else base
    out, winners = pool2d(shown, kind, kernel_size, s, padding)
    busiest = tuple(int(i) for i in np.unravel_index(int(np.argmax(out)), out.shape))
    row, col = clamp_cell(row, col, out.shape, default=busiest)
    unshifted = pool2d(base, kind, kernel_size, s, padding)[0] if shift else out
    facts = PoolingFacts(shown, out, kind, kernel_size, s, padding, row, col, winners, shift,
                         base, unshifted, busiest)
    facts.text = _pooling_text(facts)
    return facts


class PoolingView(View):
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
        super().__init__((width, height))
        fig = self.figure
        self.ax_in = fig.add_axes([0.0, 0.05, 0.36, 0.8])
        self.cax_in = fig.add_axes([0.355, 0.15, 0.012, 0.6])
        self.ax_win = fig.add_axes([0.425, 0.2, 0.17, 0.5])
        self.ax_out = fig.add_axes([0.645, 0.05, 0.29, 0.8])
        self.cax = fig.add_axes([0.945, 0.15, 0.012, 0.6])
        self._build_input()
        self.grid = NumberGrid(self.ax_win, (self.MAX_K, self.MAX_K), cmap=SEQUENTIAL_CMAP,
                               fontsize=10)
        self.win_best = outline_rect(self.ax_win, color=WINNER, lw=3, halo=True)
        self.title_win = self.ax_win.set_title("", fontsize=10)
        self.im_out = self.ax_out.imshow(np.zeros((1, 1)), cmap=SEQUENTIAL_CMAP,
                                         interpolation="nearest", extent=(0, 1, 1, 0))
        self.ax_out.set_xlim(0, 1)
        self.ax_out.set_ylim(1, 0)
        bare(self.ax_out)
        self.cell_out = outline_rect(self.ax_out, lw=3, halo=True)
        self.title_out = self.ax_out.set_title("", fontsize=10)
        self.cbar = fig.colorbar(self.im_out, cax=self.cax)
        self.cbar.ax.tick_params(labelsize=8)
        self.arrow = fig.text(0.62, 0.45, "→", fontsize=20, ha="center", va="center")
        # what moving the selected output cell changes
        for artist in (self.grid.artists + [self.win_best, self.title_win, self.win_in,
                                            self.win_dot, self.cell_out, self.title_out]):
            self.dynamic(artist)

    def _build_input(self):
        H, W = self.shape
        m = self.MAX_PAD
        self.im_in = self.ax_in.imshow(np.zeros(self.shape), cmap=SEQUENTIAL_CMAP,
                                       interpolation="nearest")
        self.ax_in.set_xlim(-0.5 - m, W - 0.5 + m)
        self.ax_in.set_ylim(H - 0.5 + m, -0.5 - m)
        self.ax_in.add_patch(Rectangle((-0.5, -0.5), W, H, fill=False, edgecolor="0.6",
                                       linestyle=":", linewidth=1))
        bare(self.ax_in)
        for side in self.ax_in.spines.values():      # the dotted line is the map's border
            side.set_visible(False)
        self.win_in = outline_rect(self.ax_in, lw=3, halo=True)
        # the winner: a solid green dot with a white rim, inside the orange window
        (self.win_dot,) = self.ax_in.plot([], [], "o", ms=7.5, mfc=WINNER, mec="white",
                                          mew=1.5, zorder=6)
        self.title_in = self.ax_in.set_title("", fontsize=10)
        self.cbar_in = self.figure.colorbar(self.im_in, cax=self.cax_in)
        self.cbar_in.ax.tick_params(labelsize=8)

    def facts(self, x, kind="max", kernel_size=2, stride=None, padding=0, row=0, col=0,
              shift=0) -> PoolingFacts:
        """See :func:`pooling_facts`."""
        return pooling_facts(x, kind, kernel_size, stride, padding, row, col, shift)

    def draw(self, s: PoolingFacts) -> None:
        H, W = self.shape
        x, out, k = s.x, s.output, s.kernel_size
        signed = float(np.min(x)) < 0
        cmap = SIGNED_CMAP if signed else SEQUENTIAL_CMAP
        m = signed_limit(x)
        clim_in = (-m, m) if signed else (0.0, float(np.max(x)) or 1.0)
        self.changed("static", (x, s.kind, k, s.stride, s.padding))
        self.im_in.set_data(x)
        self.im_in.set_cmap(cmap)
        self.im_in.set_clim(*clim_in)
        self.title_in.set_text(f"input {H}×{W}" + (f", padding {s.padding}" if s.padding else ""))
        r0, c0 = pool_window(s.row, s.col, k, s.stride, s.padding)
        self.win_in.set_xy((c0 - 0.5, r0 - 0.5))
        self.win_in.set_width(k)
        self.win_in.set_height(k)
        # the window's numbers; cells outside the map are padding
        win = np.full((k, k), -np.inf if s.kind == "max" else 0.0)
        rs, cs, re, ce = max(r0, 0), max(c0, 0), min(r0 + k, H), min(c0 + k, W)
        if re > rs and ce > cs:
            win[rs - r0:re - r0, cs - c0:ce - c0] = x[rs:re, cs:ce]
        self.grid.image.set_cmap(cmap)
        # one number format for the whole map: integers as integers, else always 2 decimals
        fixed = not all_integers(x)
        self.grid.fixed = fixed
        self.grid.set(win, clim=clim_in)
        self.title_win.set_text(f"window {k}×{k}\n(input's colour scale)")
        self._draw_winner(s, r0, c0)
        oh, ow = out.shape
        mo = signed_limit(out)
        self.im_out.set_data(out)
        self.im_out.set_cmap(cmap)
        self.im_out.set_clim(*((-mo, mo) if signed else (0.0, float(np.max(out)) or 1.0)))
        self.cell_out.set_xy((s.col / ow, s.row / oh))
        self.cell_out.set_width(1 / ow)
        self.cell_out.set_height(1 / oh)
        self.title_out.set_text(f"{POOL_LABELS[s.kind]} pool → {oh}×{ow}   [{s.row}, {s.col}] = "
                                f"{format_number(out[s.row, s.col], 2, fixed)}")

    def _draw_winner(self, s: PoolingFacts, r0: int, c0: int) -> None:
        if s.kind == "max" and s.winners is not None:
            wr, wc = divmod(int(s.winners[s.row, s.col]), self.shape[1])
            self.win_dot.set_data([wc], [wr])
            self.grid.outline(self.win_best, wr - r0, wc - c0)
            self.win_best.set_visible(True)
        else:
            self.win_dot.set_data([], [])
            self.win_best.set_visible(False)


def static_pooling(feature_map=None, kind="max", kernel_size=2, stride=2, padding=0,
                   row=None, col=None):
    """Static fallback of the pooling explorer: one setting, drawn once (default: the busiest
    window, the cell with the largest pooled value)."""
    facts = pooling_facts(feature_map, kind, kernel_size, stride, padding, row, col)
    view = PoolingView(facts.x.shape)
    view.draw(facts)
    return view.figure


def static_pooling_kinds(x=None, kernel_size=2, stride=None):
    """The four pooling kinds side by side on a small map, numbers written in the cells."""
    if x is None:
        x = np.array([[1, 2, 0, 6], [2, 4, 0, 8], [2, 6, 1, 1], [3, 0, 1, 1]], np.float64)
    x = np.asarray(x, dtype=np.float64)
    outs = [(kind, pool2d(x, kind, kernel_size, stride)[0]) for kind in POOL_KINDS]
    fig = new_figure((9.0, 2.6))
    axes = fig.subplots(1, 5, gridspec_kw=dict(wspace=0.25, left=0.02, right=0.98,
                                               top=0.82, bottom=0.04))
    hi = max(float(np.max(x)), *(float(np.max(o)) for _, o in outs))
    g = NumberGrid(axes[0], x.shape, cmap=NUMBERS_CMAP, fontsize=10)
    g.set(x, clim=(0, hi))
    step = stride or kernel_size
    for i in range(1, x.shape[0] // step):
        axes[0].axhline(i * step - 0.5, color="k", lw=1.5)
        axes[0].axvline(i * step - 0.5, color="k", lw=1.5)
    axes[0].set_title(f"input, {kernel_size}×{kernel_size} windows", fontsize=10)
    for ax, (kind, o) in zip(axes[1:], outs):
        g = NumberGrid(ax, x.shape, cmap=NUMBERS_CMAP, fontsize=11)
        g.set(o, clim=(0, hi))
        ax.set_title(POOL_LABELS[kind], fontsize=10)
    return fig


def static_shift_invariance(feature_map=None, pixels=1, kernel_size=2, stride=2):
    """Map, map shifted, and their max-pooled versions, with where they differ.

    Top row: the map, the map moved ``pixels`` to the right, |difference|.
    Bottom row: the same after max pooling.  Fewer pooled cells light up in the difference.
    """
    facts = pooling_facts(feature_map, "max", kernel_size, stride, shift=pixels)
    x, xs, p, ps = facts.base, facts.x, facts.output_unshifted, facts.output
    fig = new_figure((8.0, 5.4))
    axes = fig.subplots(2, 3, gridspec_kw=dict(wspace=0.08, hspace=0.22, left=0.09, right=0.98,
                                               top=0.9, bottom=0.02))
    hi = float(np.max(x)) or 1.0
    pooled_name = f"max pool {kernel_size}×{kernel_size}, stride {stride}"
    rows = [(x, xs, "feature map"), (p, ps, pooled_name)]
    for axrow, (a, b, name) in zip(axes, rows):
        axrow[0].imshow(a, cmap=SEQUENTIAL_CMAP, vmin=0, vmax=hi, interpolation="nearest")
        axrow[1].imshow(b, cmap=SEQUENTIAL_CMAP, vmin=0, vmax=hi, interpolation="nearest")
        axrow[2].imshow(np.abs(b - a), cmap=ERRORS_CMAP, vmin=0, vmax=hi, interpolation="nearest")
        axrow[0].set_ylabel(name, fontsize=10)
        for ax in axrow:
            bare(ax)
    axes[0, 0].set_title("original", fontsize=10)
    axes[0, 1].set_title(f"shifted {pixels} px right", fontsize=10)
    axes[0, 2].set_title("|difference|", fontsize=10)
    return fig
