"""Backpropagation (lesson 7): what one output cell sends back through a convolution, and how
max and average pooling route gradients.

:func:`backprop_facts` and :func:`pool_gradient_facts` compute the gradients with
``F.conv2d_backward`` and the pooling backward passes (the totals, and one δ cell's share: the
backward of a one-hot δ); :class:`BackpropView` and :class:`PoolGradientView` draw them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.patches import Rectangle

from cnnlab import functional as F
from cnnlab.kernels import BACKPROP_W, BACKPROP_X, POOL_GRAD_X
from cnnlab.viz.grids import NumberGrid, clamp_cell, outline_rect
from cnnlab.viz.pooling import pool2d, pool2d_backward, pool_window
from cnnlab.viz.render import View
from cnnlab.viz.style import ALERT, NUMBERS_CMAP, WINNER, format_number, signed_limit

__all__ = ["SHOW_OPTIONS", "default_delta", "largest_delta_shape", "BackpropFacts",
           "backprop_facts", "BackpropView", "static_backprop", "PoolGradientFacts",
           "pool_gradient_facts", "PoolGradientView", "static_pool_gradient"]

# Both explorers show one δ cell's share ("cell") or the totals over all cells ("all").
SHOW_OPTIONS = {"cell": "this cell's share", "all": "all cells (total)"}


def _check_show(show):
    if show not in SHOW_OPTIONS:
        raise ValueError(f"show must be one of {list(SHOW_OPTIONS)}, got {show!r}")
    return show == "cell"


def _one_hot(delta, row, col):
    """δ with every cell but (row, col) set to 0: its backward is that cell's share."""
    one = np.zeros_like(delta)
    one[row, col] = delta[row, col]
    return one


def _array(a) -> str:
    """A small array on one line: [[1, −2], [0.5, 3]]."""
    a = np.asarray(a)
    if a.ndim == 0:
        return format_number(a, 3)
    return "[" + ", ".join(_array(row) for row in a) + "]"


def default_delta(shape):
    """A deterministic small-integer δ of any shape, so hand-checking stays easy."""
    # no zeros: every cell of the default δ sends something back
    pattern = np.array([1, -1, 2, 1, 2, -2, 1, 1, -1, 2, 1, -1, 1, 2, -1, 1], dtype=np.float64)
    return np.resize(pattern, shape).reshape(shape)


def largest_delta_shape(x_shape, w_shape, max_padding=1):
    """The largest δ (output) a convolution of these shapes gives: stride 1, the most padding."""
    return tuple(F.output_size(n, k, 1, max_padding) for n, k in zip(x_shape, w_shape))


# ----------------------------------------------------------------------------------------
# Backpropagation through a convolution
# ----------------------------------------------------------------------------------------
@dataclass
class BackpropFacts:
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
    grad_input: np.ndarray | None = None       # the totals, F.conv2d_backward(δ, ...)
    grad_weight: np.ndarray | None = None
    grad_bias: float | None = None
    cell_grad_input: np.ndarray | None = None  # the selected cell's share
    cell_grad_weight: np.ndarray | None = None
    cell_grad_bias: float | None = None
    text: str = ""


def _conv_grads(delta, x, w, stride, padding):
    gx, gw, gb = F.conv2d_backward(delta[None, None], x[None, None], w[None, None],
                                   stride=stride, padding=padding)
    return gx[0, 0], gw[0, 0], float(np.asarray(gb).reshape(-1)[0])


def _backprop_text(f: BackpropFacts) -> str:
    r, c, s, p = f.row, f.col, f.stride, f.padding
    kh, kw = f.w.shape
    r0, c0 = pool_window(r, c, kh, s, p)
    d = format_number(f.delta[r, c], 3)
    if f.delta[r, c] == 0:
        sends = "so **nothing flows back** from this cell: all its shares are 0."
    else:
        sends = f"goes back as ∂L/∂W += {d}·window, ∂L/∂X[window] += {d}·W, ∂L/∂b += {d}."
    return (f"Y[{r}, {c}] read the window X[{r0}:{r0 + kh}, {c0}:{c0 + kw}] (stride {s}, padding "
            f"{p}); its gradient is δ[{r}, {c}] = **{d}**, {sends}\n"
            f"Totals over all {f.delta.size} cells: ∂L/∂b = Σδ = **{format_number(f.grad_bias, 3)}**; "
            f"∂L/∂W = {_array(f.grad_weight)}")


def backprop_facts(x=None, w=None, delta=None, stride=1, padding=0, row=0, col=0,
                   show="cell") -> BackpropFacts:
    """The gradients of a single-channel 2-D convolution, and δ[row, col]'s share of them.

    x : (H, W) (default ``kernels.BACKPROP_X``), w : (kH, kW) (default ``kernels.BACKPROP_W``),
    delta : ∂L/∂Y (default :func:`default_delta` of the output's shape). Totals and shares
    come from ``F.conv2d_backward``; show "cell" draws the share, "all" the totals.
    """
    only_cell = _check_show(show)
    x = BACKPROP_X if x is None else np.asarray(x, dtype=np.float64)
    w = BACKPROP_W if w is None else np.asarray(w, dtype=np.float64)
    if delta is None:
        delta = default_delta(tuple(F.output_size(n, k, stride, padding)
                                    for n, k in zip(x.shape, w.shape)))
    delta = np.asarray(delta, dtype=np.float64)
    row, col = clamp_cell(row, col, delta.shape)
    total = _conv_grads(delta, x, w, stride, padding)
    cell = _conv_grads(_one_hot(delta, row, col), x, w, stride, padding)
    facts = BackpropFacts(x, w, delta, *(cell if only_cell else total), stride, padding, row, col,
                          only_cell, *total, *cell)
    facts.text = _backprop_text(facts)
    return facts


class BackpropView(View):
    """X, W, δ on top; dL/dX, dL/dW, dL/db below; the selected δ cell and its window outlined."""

    def __init__(self, x_shape=(5, 5), w_shape=(3, 3), max_delta_shape=None,
                 width=9.0, height=5.4, max_pad=1):
        max_delta_shape = max_delta_shape or largest_delta_shape(x_shape, w_shape, max_pad)
        frame = tuple(max(a, b, c) for a, b, c in zip(x_shape, w_shape, max_delta_shape))
        super().__init__((width, height))
        fig = self.figure
        gs = fig.add_gridspec(2, 3, left=0.02, right=0.98, top=0.88, bottom=0.01,
                              wspace=0.12, hspace=0.18)
        axes = [[fig.add_subplot(gs[i, j]) for j in range(3)] for i in range(2)]
        # one frame (+ room for padding) for every panel, so all cells have the same size
        kw = dict(fontsize=11, margin=max_pad)
        self.g_x, self.g_w, self.g_d = (NumberGrid(ax, frame, **kw) for ax in axes[0])
        self.g_dx = NumberGrid(axes[1][0], frame, blank_zero=True, **kw)
        self.g_dw = NumberGrid(axes[1][1], frame, blank_zero=True, **kw)
        self.g_db = NumberGrid(axes[1][2], frame, **kw)
        self.max_pad = max_pad
        H, W = x_shape
        self.borders = [g.ax.add_patch(Rectangle((-0.5, -0.5), W, H, fill=False,
                                                 edgecolor="0.5", linestyle=":", linewidth=1))
                        for g in (self.g_x, self.g_dx)]
        self.win_x = outline_rect(self.g_x.ax)
        self.win_dx = outline_rect(self.g_dx.ax)
        self.cell_d = outline_rect(self.g_d.ax)
        self.titles = {name: g.ax.set_title("", fontsize=10) for name, g in
                       [("x", self.g_x), ("w", self.g_w), ("d", self.g_d), ("dx", self.g_dx),
                        ("dw", self.g_dw), ("db", self.g_db)]}
        self.suptitle = fig.suptitle("", fontsize=11)
        # shown over the bottom row when the selected δ is 0 (its panels are then empty)
        self.zero_note = fig.text(0.5, 0.25, "", ha="center", va="center", fontsize=12,
                                  color=ALERT, zorder=10,
                                  bbox=dict(boxstyle="round,pad=0.4", facecolor="white",
                                            edgecolor=ALERT))
        self.zero_note.set_visible(False)
        # what moving the selected δ cell (or switching cell/total) changes
        t = self.titles
        for artist in (self.g_dx.artists + [self.borders[1]] + self.g_dw.artists
                       + self.g_db.artists
                       + [self.win_x, self.win_dx, self.cell_d, t["d"], t["dx"], t["dw"],
                          t["db"], self.suptitle, self.zero_note]):
            self.dynamic(artist)

    def facts(self, x=None, w=None, delta=None, stride=1, padding=0, row=0, col=0,
              show="cell") -> BackpropFacts:
        """See :func:`backprop_facts`."""
        return backprop_facts(x, w, delta, stride, padding, row, col, show)

    def draw(self, s: BackpropFacts) -> None:
        self.changed("static", (s.x, s.w, s.delta, s.stride, s.padding))
        self.g_x.set(s.x)
        self.g_w.set(s.w)
        self.g_d.set(s.delta)
        m = signed_limit(s.dx, s.dw, [s.db])
        self.g_dx.set(s.dx, clim=(-m, m))
        self.g_dw.set(s.dw, clim=(-m, m))
        self.g_db.set(np.array([[s.db]]), clim=(-m, m))
        kh, kw = s.w.shape
        r0, c0 = pool_window(s.row, s.col, kh, s.stride, s.padding)
        for g, rect in ((self.g_x, self.win_x), (self.g_dx, self.win_dx)):
            g.outline(rect, r0, c0, kh, kw)
        self.g_d.outline(self.cell_d, s.row, s.col)
        self._draw_titles(s)

    def _draw_titles(self, s: BackpropFacts) -> None:
        t, cell, how = self.titles, f"δ[{s.row},{s.col}]", f"(stride {s.stride}, padding {s.padding})"
        t["x"].set_text("input X" + (f" (padding {s.padding})" if s.padding else ""))
        t["w"].set_text("kernel W")
        t["d"].set_text(f"δ = ∂L/∂Y   ({cell} = {format_number(s.delta[s.row, s.col])})")
        if s.only_cell:
            t["dx"].set_text(f"{cell}·W added to ∂L/∂X")
            t["dw"].set_text(f"{cell}·(window of X) added to ∂L/∂W")
            t["db"].set_text(f"{cell} added to ∂L/∂b")
            self.suptitle.set_text(f"what output cell [{s.row}, {s.col}] sends back {how}")
            self.zero_note.set_text(f"nothing flows back: {cell} = 0 here")
            self.zero_note.set_visible(float(s.delta[s.row, s.col]) == 0)
        else:
            t["dx"].set_text("∂L/∂X (all cells)")
            t["dw"].set_text("∂L/∂W (all cells)")
            t["db"].set_text("∂L/∂b = sum of δ")
            self.suptitle.set_text(f"the full gradients: every δ cell's share, summed {how}")
            self.zero_note.set_visible(False)


def static_backprop(x=None, w=None, delta=None, row=0, col=0, stride=1, padding=0,
                    only_cell=True):
    """Static fallback of the backprop explorer: one output cell's share of the gradients."""
    facts = backprop_facts(x, w, delta, stride, padding, row, col, "cell" if only_cell else "all")
    view = BackpropView(facts.x.shape, facts.w.shape)
    view.draw(facts)
    return view.figure


# ----------------------------------------------------------------------------------------
# How pooling routes gradients
# ----------------------------------------------------------------------------------------
@dataclass
class PoolGradientFacts:
    x: np.ndarray
    output: np.ndarray
    delta: np.ndarray          # δ = 1, 2, 3, ... (row by row), for tracing
    dx: np.ndarray             # shown input gradient (one cell's share, or the total)
    kind: str                  # "max" or "avg"
    kernel_size: int
    stride: int
    row: int
    col: int
    only_cell: bool
    winners: np.ndarray | None = None
    grad_input: np.ndarray | None = None        # F.max_pool2d_backward / F.avg_pool2d_backward
    cell_grad_input: np.ndarray | None = None   # the selected cell's share
    text: str = ""


def _pool_gradient_text(f: PoolGradientFacts) -> str:
    r, c, k, s = f.row, f.col, f.kernel_size, f.stride
    r0, c0 = pool_window(r, c, k, s)
    d = format_number(f.delta[r, c], 3)
    window = f"window X[{r0}:{r0 + k}, {c0}:{c0 + k}]"
    if f.kind == "max":
        wr, wc = divmod(int(f.winners[r, c]), f.x.shape[1])
        first = (f"{window} has maximum {format_number(f.output[r, c], 3)} at X[{wr}, {wc}] (the "
                 f"first one, row by row, on ties): all of δ[{r}, {c}] = **{d}** goes there, the "
                 f"other {k * k - 1} inputs get 0.")
    else:
        first = (f"{window}: each of its {k * k} inputs gets δ[{r}, {c}]/{k * k} = "
                 f"**{format_number(f.cell_grad_input[r0, c0], 3)}**.")
    overlap = (" Windows overlap (stride < kernel size), so an input can collect gradient "
               "from several windows: the shares add up." if s < k else "")
    return first + overlap


def pool_gradient_facts(x=None, kind="max", kernel_size=2, stride=2, row=0, col=0,
                        show="cell") -> PoolGradientFacts:
    """The backward pass of max or average pooling with δ = 1, 2, 3, ... (row by row).

    x : (H, W), default ``kernels.POOL_GRAD_X``. ``grad_input`` comes from
    ``F.max_pool2d_backward`` / ``F.avg_pool2d_backward``; ``cell_grad_input`` is δ[row, col]'s
    share. show "cell" draws the share, "all" the total.
    """
    only_cell = _check_show(show)
    if kind not in ("max", "avg"):
        raise ValueError(f"kind must be 'max' or 'avg', got {kind!r}")
    x = POOL_GRAD_X if x is None else np.asarray(x, dtype=np.float64)
    out, winners = pool2d(x, kind, kernel_size, stride)
    delta = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    row, col = clamp_cell(row, col, out.shape)
    total = pool2d_backward(delta, x, kind, kernel_size, stride)
    cell = pool2d_backward(_one_hot(delta, row, col), x, kind, kernel_size, stride)
    facts = PoolGradientFacts(x, out, delta, cell if only_cell else total, kind, kernel_size,
                              stride, row, col, only_cell, winners, total, cell)
    facts.text = _pool_gradient_text(facts)
    return facts


class PoolGradientView(View):
    """X | pooled Y | δ | ∂L/∂X, with the selected window and (max) its winner marked."""

    def __init__(self, x_shape=(6, 6), width=9.0, height=3.0):
        super().__init__((width, height))
        fig = self.figure
        gs = fig.add_gridspec(1, 4, left=0.01, right=0.99, top=0.8, bottom=0.02, wspace=0.12)
        axes = [fig.add_subplot(gs[0, j]) for j in range(4)]
        self.x_shape = x_shape
        self.g_x = NumberGrid(axes[0], x_shape, cmap=NUMBERS_CMAP, fontsize=11)
        self.g_y = NumberGrid(axes[1], x_shape, cmap=NUMBERS_CMAP, fontsize=11, decimals=1)
        self.g_d = NumberGrid(axes[2], x_shape, fontsize=11)
        self.g_dx = NumberGrid(axes[3], x_shape, fontsize=11, blank_zero=True)
        self.win_x = outline_rect(self.g_x.ax)
        self.win_dx = outline_rect(self.g_dx.ax)
        self.cell_y = outline_rect(self.g_y.ax)
        self.cell_d = outline_rect(self.g_d.ax)
        self.best = [outline_rect(self.g_x.ax, color=WINNER, lw=2, z=6),
                     outline_rect(self.g_dx.ax, color=WINNER, lw=2, z=6)]
        self.titles = [g.ax.set_title("", fontsize=10)
                       for g in (self.g_x, self.g_y, self.g_d, self.g_dx)]
        self.suptitle = fig.suptitle("", fontsize=11)
        for artist in (self.g_dx.artists + [self.win_x, self.win_dx, self.cell_y, self.cell_d]
                       + self.best + [self.titles[3]]):
            self.dynamic(artist)

    def facts(self, x=None, kind="max", kernel_size=2, stride=2, row=0, col=0,
              show="cell") -> PoolGradientFacts:
        """See :func:`pool_gradient_facts`."""
        return pool_gradient_facts(x, kind, kernel_size, stride, row, col, show)

    def draw(self, s: PoolGradientFacts) -> None:
        self.changed("static", (s.x, s.kind, s.kernel_size, s.stride))
        hi = float(np.max(s.x)) or 1.0
        self.g_x.set(s.x, clim=(0, hi))
        self.g_y.set(s.output, clim=(0, hi))
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
            b.set_visible(s.kind == "max" and s.winners is not None)
        name = "max" if s.kind == "max" else "average"
        self.titles[0].set_text("input X")
        self.titles[1].set_text(f"{name} pool Y")
        self.titles[2].set_text("δ = ∂L/∂Y")
        self.titles[3].set_text(f"∂L/∂X from δ[{s.row},{s.col}]" if s.only_cell else "∂L/∂X")
        how = ("routed to the window's winner (first max on ties)" if s.kind == "max"
               else f"spread evenly: δ/{k * k} to each of the {k}×{k} inputs")
        self.suptitle.set_text(f"{name} pool {k}×{k}, stride {s.stride}: gradient {how}")


def static_pool_gradient(x=None, kind="max", kernel_size=2, stride=2, row=0, col=0,
                         only_cell=False):
    """Static fallback of the pooling-gradient explorer."""
    facts = pool_gradient_facts(x, kind, kernel_size, stride, row, col,
                                "cell" if only_cell else "all")
    view = PoolGradientView(facts.x.shape)
    view.draw(facts)
    return view.figure
