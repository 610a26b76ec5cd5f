"""Stride, padding and dilation (lesson 3): where the windows go, and the output size.

:func:`stride_facts` computes every number the stride explorer shows (``F.output_size``,
``F.output_size_exact``, the engine's own window view, ``F.conv2d_backward`` for the visit
counts); :class:`StrideExplorerView` draws them. :func:`static_receptive_field` draws
``F.receptive_field`` layer by layer.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from cnnlab import functional as F
from cnnlab._windows import window_view
from cnnlab.viz.grids import grid_lines, grid_segments
from cnnlab.viz.render import View
from cnnlab.viz.style import (C_DONE, C_INPUT, C_OUTPUT, C_PAD, C_UNVISITED, C_WINDOW, C_WINDOW_PAD,
                              DPI, EDGE_ERROR, EDGE_OUTPUT, EDGE_WINDOW, bare, format_number,
                              new_figure)

__all__ = ["StrideFacts", "stride_facts", "same_padding", "StrideExplorerView",
           "static_stride_explorer", "static_receptive_field"]


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


def same_padding(n: int, f: int, d: int = 1, max_padding: int = 6) -> int | None:
    """The symmetric padding 0..max_padding for which stride 1 keeps the size N
    (``F.output_size(n, f, 1, p, d) == n``), or None when there is none (D(F−1) odd: the
    padding would be a half pixel; PyTorch's padding='same' then pads one more pixel at the
    bottom/right)."""
    for p in range(0, max_padding + 1):
        try:
            if F.output_size(n, f, stride=1, padding=p, dilation=d) == n:
                return p
        except ValueError:
            continue
    return None


class StrideExplorerView(View):
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
        self._grid_in = dyn(grid_lines(self.ax_in, 1, 1, color="0.6", linewidth=0.7))
        self._grid_out = dyn(grid_lines(self.ax_out, 1, 1, color="0.6", linewidth=0.7))
        self._outer = dyn(self.ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False, edgecolor="0.45",
                                                         linewidth=1.0)))
        self._inner = dyn(self.ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False, edgecolor="black",
                                                         linewidth=1.8)))
        self._out_frame = dyn(self.ax_out.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False,
                                                              edgecolor="black", linewidth=1.8)))
        self._win = dyn(self.ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False, edgecolor=EDGE_WINDOW,
                                                       linewidth=2.8)))
        self._cur = dyn(self.ax_out.add_patch(Rectangle((0, 0), 1, 1, fill=False, clip_on=False, edgecolor=EDGE_OUTPUT,
                                                        linewidth=2.5)))
        self._no_out = dyn(self.ax_out.text(0.5, 0.5, "", transform=self.ax_out.transAxes, ha="center",
                                            va="center", fontsize=12, color=EDGE_ERROR), "config")
        for art in (self.ax_in.title, self.ax_out.title, self.ax_in.xaxis, self.ax_in.yaxis):
            dyn(art, "config")
        bare(self.ax_out)
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

    @staticmethod
    def _ticks(ax, count: int) -> None:
        """Tick labels 0..count-1 on both axes, at most about 12 of them."""
        step = max(1, -(-count // 12))
        ticks = list(range(0, count, step))
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)

    def facts(self, n: int, f: int, s: int = 1, p: int = 0, d: int = 1, row: int = 0,
              col: int = 0) -> StrideFacts:
        """The numbers for these hyperparameters and window position (see :func:`stride_facts`)."""
        return stride_facts(n, f, s, p, d, row, col)

    def draw(self, facts: StrideFacts) -> None:
        """Colour the input cells (padding, window, never visited), move the window and the
        output cell; redraw titles, limits and grids when the hyperparameters changed."""
        n, p = facts.n, facts.p
        nd, pd = max(n, 1), max(p, 0)          # what can be drawn for nonsense input
        side = nd + 2 * pd
        lo = -pd
        bg = np.empty((side, side, 3))
        bg[...] = C_PAD
        bg[pd:pd + nd, pd:pd + nd] = C_INPUT
        if facts.size is not None:
            inner = bg[pd:pd + nd, pd:pd + nd]
            inner[facts.visits == 0] = C_UNVISITED
            for r in facts.window_rows:
                for c in facts.window_cols:
                    inside = 0 <= r < n and 0 <= c < n
                    bg[r + pd, c + pd] = C_WINDOW if inside else C_WINDOW_PAD
            r0, r1 = facts.window_rows[0], facts.window_rows[-1]
            c0, c1 = facts.window_cols[0], facts.window_cols[-1]
            self._win.set_bounds(c0 - 0.5, r0 - 0.5, c1 - c0 + 1, r1 - r0 + 1)
            obg = np.empty((facts.size, facts.size, 3))
            obg[...] = C_DONE
            obg[facts.row, facts.col] = C_OUTPUT
            self._img_out.set_data(obg)
            self._cur.set_bounds(facts.col - 0.5, facts.row - 0.5, 1, 1)
            extent = side
        else:
            # No valid window: draw the kernel's footprint from the top-left corner, hanging over
            # the edge of the padded input (the drawing's geometry: tap i sits i*D cells further).
            span = (max(facts.f, 1) - 1) * max(facts.d, 1) + 1
            self._win.set_bounds(lo - 0.5, lo - 0.5, span, span)
            extent = max(side, span)
        if self.changed("config", (facts.n, facts.f, facts.s, facts.p, facts.d, facts.size)):
            self._draw_config(facts, side, extent)
        self._img_in.set_data(bg)

    def _draw_config(self, facts: StrideFacts, side: int, extent: int) -> None:
        n, f, s, p, d, o = facts.n, facts.f, facts.s, facts.p, facts.d, facts.size or 0
        nd, lo = max(n, 1), -max(p, 0)
        valid = facts.size is not None
        self._win.set_edgecolor(EDGE_WINDOW if valid else EDGE_ERROR)
        self._win.set_linestyle("-" if valid else "--")
        for art in (self._img_out, self._cur, self._out_frame, self._grid_out):
            art.set_visible(valid)
        self._no_out.set_text("" if valid else "no output:\nthe window does not fit")
        self._img_in.set_extent((lo - 0.5, lo + side - 0.5, lo + side - 0.5, lo - 0.5))
        self._grid_in.set_segments(grid_segments(side, side, lo - 0.5, lo - 0.5))
        self._outer.set_bounds(lo - 0.5, lo - 0.5, side, side)
        self._inner.set_bounds(-0.5, -0.5, nd, nd)
        if valid:
            self._img_out.set_extent((-0.5, o - 0.5, o - 0.5, -0.5))
            self._grid_out.set_segments(grid_segments(o, o))
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


def static_stride_explorer(n: int = 7, f: int = 3, s: int = 3, p: int = 0, d: int = 1,
                           row: int = 0, col: int = 0) -> Figure:
    """Static fallback of ``widgets.stride_explorer`` (default: the stride that does not fit)."""
    view = StrideExplorerView()
    view.show(n, f, s, p, d, row, col)
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
