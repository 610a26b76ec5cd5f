"""The convolution stepper (lesson 1): step the window over the input, see each sum."""
from __future__ import annotations

import html

import ipywidgets as W

from cnnlab.viz.convolution import ConvolutionStepperView
from cnnlab.widgets.base import MONO_STYLE, PROSE_STYLE, App, choice, slider

__all__ = ["ConvolutionStepper", "convolution_stepper"]


class ConvolutionStepper(App):
    """Step the window over the input; see the products and their sum for each output cell."""

    dynamic_controls = ("row", "col", "operation")

    def __init__(self, x=None, k=None, operation="correlate"):
        view = ConvolutionStepperView(x, k, operation, caption=False)   # equation: in the summary
        oh, ow = view.output_shape
        row = slider("output row", 0, 0, oh - 1)
        col = slider("output column", 0, 0, ow - 1)
        if view.ndim == 1:
            row.layout.display = "none"
        operation = choice("", [("cross-correlation (CNNs)", "correlate"),
                                ("convolution (flipped kernel)", "convolve")],
                           operation, button_width=16)
        self.play = W.Play(value=0, min=0, max=oh * ow - 1, interval=900, description="play")
        self.play.observe(self._on_play, names="value")
        self._width = ow
        super().__init__(view, dict(row=row, col=col, operation=operation),
                         rows=[operation, W.HBox([self.play, row, col])])

    def _on_play(self, change):
        r, c = divmod(int(change["new"]), self._width)
        if (r, c) != (self.row.value, self.col.value):
            with self.hold():
                self.row.value, self.col.value = r, c

    def _sync(self, facts):
        self.play.value = facts.row * self._width + facts.col   # keep the Play in step

    def _summary_html(self, facts) -> str:
        # The definition, with HTML subscripts (a, b are the kernel row and column offsets).
        i, j, a, b = (f"<i>{v}</i>" for v in "ijab")
        total = f"Σ<sub>{a}</sub> Σ<sub>{b}</sub>"
        if self._view.ndim == 1:
            op = (f"y[{i}] = Σ<sub>{a}</sub> x[{i}+{a}] · k[{a}]" if facts.operation == "correlate"
                  else f"y[{i}] = Σ<sub>{a}</sub> x[{i}+{a}] · k[K−1−{a}]&nbsp;&nbsp;(k reversed)")
        else:
            op = (f"y[{i}, {j}] = {total} x[{i}+{a}, {j}+{b}] · k[{a}, {b}]"
                  if facts.operation == "correlate" else
                  f"y[{i}, {j}] = {total} x[{i}+{a}, {j}+{b}] · k[k<sub>h</sub>−1−{a}, k<sub>w</sub>−1−{b}]"
                  f"&nbsp;&nbsp;(k rotated 180°)")
        return (f"<div style=\"{PROSE_STYLE}\"><div>{op}</div>"
                f"<div style=\"{MONO_STYLE}; font-size:1.07em; margin-top:4px\"><b>"
                f"{html.escape(facts.label)}:&nbsp;&nbsp;{html.escape(facts.text)}</b></div></div>")


def convolution_stepper(x=None, k=None, operation: str = "correlate") -> ConvolutionStepper:
    """Step-through of a 1-D or 2-D cross-correlation / convolution (lesson 1).

    x, k      : 1-D or 2-D arrays (default: the worked example, x = 0..8 as 3x3,
                k = [[0, 1], [2, 3]] → 19 25 37 43)
    operation : "correlate" (what CNNs compute) or "convolve" (kernel rotated 180°)

    Controls: ``app.row``, ``app.col`` (the output cell), ``app.operation``, ``app.play``.
    ``app.text`` reads e.g. ``"19 = 0×0 + 1×1 + 3×2 + 4×3"``.
    """
    return ConvolutionStepper(x, k, operation)
