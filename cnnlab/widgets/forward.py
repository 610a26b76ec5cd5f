"""The forward-pass explorer (lesson 6): change one input pixel or one kernel weight of deck
004's network and watch the change ripple through conv, ReLU, pooling, dense and softmax."""
from __future__ import annotations

import ipywidgets as W

from cnnlab.kernels import DECK004_INPUT, DECK004_KERNEL
from cnnlab.viz.forward import ForwardView
from cnnlab.widgets.base import App, choice, set_range, slider

__all__ = ["ForwardApp", "forward_pass_explorer"]

# The value slider's range for each target (the deck's numbers lie well inside).
VALUE_RANGE = {"input": (-20, 30), "kernel": (-3, 3)}


class ForwardApp(App):
    """One cell of the input or of the kernel (row, col) and its new value; the picture shows
    every stage with the cells that changed outlined. Choosing another cell starts from its
    original value again: one change at a time, against the deck's network."""

    summary_lines = 4

    def __init__(self, target: str = "input", row: int = 1, col: int = 1):
        c = dict(target=choice("change", [("an input pixel", "input"),
                                          ("a kernel weight", "kernel")], target),
                 row=slider("row", row, 0, 3, width=14),
                 col=slider("column", col, 0, 3, width=14),
                 value=slider("new value", 0, -20, 30, width=22))
        self._cell = None
        rows = [c["target"], W.HBox([c["row"], c["col"], c["value"]])]
        super().__init__(ForwardView(), c, rows)

    def params(self) -> dict:
        target = self.target.value
        shape = (DECK004_INPUT if target == "input" else DECK004_KERNEL).shape
        set_range(self.row, shape[0] - 1, min(self.row.value, shape[0] - 1))
        set_range(self.col, shape[1] - 1, min(self.col.value, shape[1] - 1))
        cell = (target, self.row.value, self.col.value)
        if cell != self._cell:             # a new cell: its slider starts at its own value
            self._cell = cell
            lo, hi = VALUE_RANGE[target]
            self.value.min, self.value.max = min(lo, self.value.min), max(hi, self.value.max)
            original = (DECK004_INPUT if target == "input" else DECK004_KERNEL)[cell[1:]]
            self.value.value = int(original)
            self.value.min, self.value.max = lo, hi
        return dict(target=target, row=self.row.value, col=self.col.value,
                    value=self.value.value)


def forward_pass_explorer(target: str = "input", row: int = 1, col: int = 1) -> ForwardApp:
    """Deck 004's forward pass (``cnnlab.kernels.DECK004_*``) with one number changed.

    Controls: ``app.target`` ("input" / "kernel"), ``app.row``, ``app.col`` (the cell),
    ``app.value`` (its new value; moving to another cell resets it to that cell's value).
    ``app.facts`` is a :class:`cnnlab.viz.ForwardFacts` (``s``, ``a``, ``p``, ``f``, ``z``,
    ``probs``, ``changed``); ``app.text`` says what changed.
    """
    return ForwardApp(target, row, col)
