"""The sliding window (lesson 1): one output cell of a cross-correlation or convolution.

:func:`stepper_facts` computes what one output cell is made of (``cnnlab.functional``);
:class:`ConvolutionStepperView` draws it: the input with the window, the kernel as applied,
and the output filled so far. :func:`static_convolution_stepper` is the static fallback.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab import functional as F
from cnnlab.kernels import WORKED_K, WORKED_X
from cnnlab.viz.grids import cell_axes, cell_fontsize, grid_lines
from cnnlab.viz.render import View
from cnnlab.viz.style import (C_DONE, C_OUTPUT, C_TODO, C_WINDOW, DPI, EDGE_OUTPUT, EDGE_WINDOW,
                              format_number)

__all__ = ["StepFacts", "stepper_facts", "ConvolutionStepperView", "static_convolution_stepper"]

OPERATIONS = {"correlate": (F.correlate1d, F.correlate2d), "convolve": (F.convolve1d, F.convolve2d)}


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
    output: np.ndarray | None = None   # the whole output, 2-D ((1, OW) for 1-D input)


def _check_operation(operation):
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be 'correlate' or 'convolve', got {operation!r}")


def _x_and_k(x, k):
    """The input and kernel (default: the worked example), checked to be both 1-D or both 2-D."""
    x = WORKED_X if x is None else np.asarray(x)
    k = WORKED_K if k is None else np.asarray(k)
    if x.ndim not in (1, 2) or x.ndim != k.ndim:
        raise ValueError(f"x and k must both be 1-D or both 2-D arrays; got x.ndim={x.ndim}, "
                         f"k.ndim={k.ndim}. Pass e.g. x=np.arange(9).reshape(3, 3), "
                         f"k=np.array([[0, 1], [2, 3]]).")
    return x, k


def _factor(value) -> str:
    """A factor inside a product: negative numbers get parentheses, ``3×(−1)``."""
    text = format_number(value)
    return f"({text})" if text.startswith("\u2212") else text


def stepper_facts(x=None, k=None, row: int = 0, col: int = 0,
                  operation: str = "correlate") -> StepFacts:
    """The numbers behind output cell (row, col): window, kernel as applied, value, sum written out.

    x, k : 1-D or 2-D arrays (default: the worked example, 0..8 as 3x3 and [[0, 1], [2, 3]]).
    The value is ``F.correlate2d(x, k)[row, col]`` (``F.convolve2d`` for "convolve"; the 1-D
    functions for 1-D input, where ``row`` is ignored).
    """
    x, k = _x_and_k(x, k)
    _check_operation(operation)
    one_d = x.ndim == 1
    output = OPERATIONS[operation][0 if one_d else 1](x, k)
    out2 = output.reshape(1, -1) if one_d else output
    x2 = x.reshape(1, -1) if one_d else x
    # Convolution = correlation with the kernel rotated by 180 degrees (a relabelling of its
    # entries, no arithmetic): the kernel as it is laid on the window.
    kern = np.flip(k) if operation == "convolve" else k
    kern2 = kern.reshape(1, -1) if one_d else kern
    oh, ow = out2.shape
    row = 0 if one_d else row
    if not (0 <= row < oh and 0 <= col < ow):
        raise ValueError(f"output position ({row}, {col}) is outside the {oh}x{ow} output; "
                         f"rows go 0..{oh - 1}, columns 0..{ow - 1}")
    kh, kw = kern2.shape
    window = x2[row:row + kh, col:col + kw]
    value = out2[row, col]
    terms = [f"{_factor(window[i, j])}×{_factor(kern2[i, j])}" for i in range(kh) for j in range(kw)]
    text = f"{format_number(value)} = " + " + ".join(terms)
    label = f"y[{col}]" if one_d else f"y[{row}, {col}]"
    if one_d:
        window = window.ravel()
    return StepFacts(row, col, operation, np.asarray(value).item(), window.copy(), kern.copy(),
                     label, text, out2)


class ConvolutionStepperView(View):
    """Input with the current window, the kernel (as applied), and the output filled so far.

    x, k : 1-D or 2-D arrays of the same number of dimensions, k no larger than x.
    operation "correlate" applies k as it is (what CNN layers compute); "convolve" applies k
    rotated by 180 degrees (scipy.signal semantics, mode "valid"). The numbers come from
    :func:`stepper_facts`. caption=False (the widgets): the equation is not drawn, the widget
    prints it below the picture; the static fallback draws it, as nothing else shows it there.
    """

    def __init__(self, x=None, k=None, operation: str = "correlate", figsize=None, dpi: int = DPI,
                 caption: bool = True):
        x, k = _x_and_k(x, k)
        first = stepper_facts(x, k, 0, 0, operation)
        self.x, self.k, self.ndim, self.operation = x, k, x.ndim, operation
        self._x2 = x.reshape(1, -1) if self.ndim == 1 else x
        self._kh, self._kw = (1, k.size) if self.ndim == 1 else k.shape
        self.output_shape = first.output.shape
        self._many = self._kh * self._kw > 6
        self.caption = caption
        figsize, cell = self._size(figsize)
        super().__init__(figsize, dpi)
        self._place_axes(figsize, cell)
        self._build()

    def _size(self, figsize):
        """The figure size and the cell size (inches), same cells in all three panels."""
        (xh, xw), (kh, kw), (_, ow) = self._x2.shape, (self._kh, self._kw), self.output_shape
        eq_lines = (kh if self._many else 1) if self.caption else 0
        gap = 1.3                                        # space between panels, in cells
        margin = 1.05 if self.caption else 0.8           # titles (+ room for the equation)
        if figsize is None:
            # Cells as large as the width allows (at most 0.62 in), the height to match.
            cell = min(0.62, 8.0 / (xw + kw + ow + 2 * gap))
            return (8.4, cell * xh + 0.3 * eq_lines + margin), cell
        cell = min(0.62, (figsize[0] - 0.4) / (xw + kw + ow + 2 * gap),
                   (figsize[1] - 0.3 * eq_lines - margin) / xh)
        return figsize, cell

    def _place_axes(self, figsize, cell):
        """Three panels with the same cell size, tops aligned, the whole row centred."""
        fig, (fw, h_in), gap = self.figure, figsize, 1.3
        shapes = (self._x2.shape, (self._kh, self._kw), self.output_shape)
        left = (fw - cell * (sum(w for _, w in shapes) + 2 * gap)) / 2
        top = h_in - 0.62
        axes = []
        for rows, cols in shapes:
            axes.append(fig.add_axes([left / fw, (top - rows * cell) / h_in, cols * cell / fw,
                                      rows * cell / h_in]))
            left += (cols + gap) * cell
        self.ax_x, self.ax_k, self.ax_y = axes
        for ax, (h, w) in zip(axes, shapes):
            cell_axes(ax, h, w)
        fs = min(cell_fontsize(ax, h, w, fig) for ax, (h, w) in zip(axes, shapes))
        self._fs = max(fs, 8.0)
        self._h_in = h_in

    def _build(self):
        """Static: the input numbers and grid. Config (changes with the operation): the kernel
        panel and the titles. Frame: the window, its weights, the output cells, the equation."""
        (xh, xw), kh, kw, (oh, ow) = self._x2.shape, self._kh, self._kw, self.output_shape
        fs, dyn, h_in = self._fs, self.dynamic, self._h_in
        grid_lines(self.ax_x, xh, xw)
        for i in range(xh):
            for j in range(xw):
                self.ax_x.text(j, i, format_number(self._x2[i, j]), ha="center", va="center", fontsize=fs)
        dyn(self.ax_k.imshow(np.broadcast_to(np.array(C_WINDOW), (kh, kw, 3)), interpolation="nearest"),
            "config")
        dyn(grid_lines(self.ax_k, kh, kw), "config")
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
        dyn(grid_lines(self.ax_y, oh, ow))
        self._y_text = [[dyn(self.ax_y.text(j, i, "", ha="center", va="center", fontsize=fs))
                         for j in range(ow)] for i in range(oh)]
        self._cur = dyn(self.ax_y.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, clip_on=False,
                                                      edgecolor=EDGE_OUTPUT, linewidth=2.5)))
        self._eq = self.text(0.5, 0.14 / h_in, "", "frame", ha="center", va="bottom", fontsize=11.5,
                             family="DejaVu Sans Mono", linespacing=1.35)
        self._eq.set_visible(self.caption)

    def facts(self, row: int = 0, col: int = 0, operation: str | None = None) -> StepFacts:
        """The numbers behind output cell (row, col) (see :func:`stepper_facts`)."""
        return stepper_facts(self.x, self.k, row, col, operation or self.operation)

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

    def draw(self, facts: StepFacts) -> None:
        """Move the window to the facts' output cell and fill the output so far."""
        row, col, op = facts.row, facts.col, facts.operation
        self.operation = op
        kh, kw = self._kh, self._kw
        oh, ow = self.output_shape
        kern = facts.kernel.reshape(kh, kw)
        window = facts.window.reshape(kh, kw)
        self._win.set_xy((col - 0.5, row - 0.5))
        for i in range(kh):
            for j in range(kw):
                t = self._w_text[i][j]
                t.set_position((col + j + 0.46, row + i + 0.46))
                t.set_text(f"×{_factor(kern[i, j])}")
                v = self._v_text[i][j]
                v.set_position((col + j, row + i))
                v.set_text(format_number(window[i, j]))
        ybg = np.empty((oh, ow, 3))
        ybg[...] = C_TODO
        done = np.arange(oh * ow).reshape(oh, ow) < row * ow + col   # cells the window passed already
        ybg[done] = C_DONE
        ybg[row, col] = C_OUTPUT
        self._bg_y.set_data(ybg)
        for i in range(oh):
            for j in range(ow):
                shown = done[i, j] or (i == row and j == col)
                self._y_text[i][j].set_text(format_number(facts.output[i, j]) if shown else "")
        self._cur.set_xy((col - 0.5, row - 0.5))
        if self.changed("config", op):
            self._draw_config(op, kern)
        if self.caption:
            self._eq.set_text(self._equation_text(facts))

    def _draw_config(self, op: str, kern) -> None:
        oh, ow = self.output_shape
        word = "cross-correlation" if op == "correlate" else "convolution"
        self.ax_x.set_title("input x", fontsize=10.5)
        self.ax_k.set_title("kernel k" if op == "correlate" else "k rotated 180°", fontsize=10.5)
        self.ax_y.set_title(f"output y ({oh}×{ow})" if self.ndim == 2 else f"output y ({ow})",
                            fontsize=10.5)
        self._title.set_text(f"{word}: multiply the window by the kernel, add up")
        for i in range(self._kh):
            for j in range(self._kw):
                self._k_text[i][j].set_text(format_number(kern[i, j]))


def static_convolution_stepper(x=None, k=None, row: int = 0, col: int = 0,
                               operation: str = "correlate") -> Figure:
    """Static fallback of ``widgets.convolution_stepper``: one output cell of the sliding window."""
    view = ConvolutionStepperView(x, k, operation)
    view.show(row, col, operation)
    return view.figure
