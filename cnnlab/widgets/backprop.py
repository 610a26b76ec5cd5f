"""The explorers of lesson 7: backpropagation through a convolution, and through pooling."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from cnnlab.kernels import BACKPROP_W, BACKPROP_X, POOL_GRAD_X
from cnnlab.viz.backprop import SHOW_OPTIONS, BackpropView, PoolGradientView
from cnnlab.widgets.base import App, choice, follow_cell, slider

__all__ = ["BackpropApp", "backprop_explorer", "PoolGradientApp", "pool_gradient_explorer"]


def _cell_controls():
    """A δ cell (row, col) and what to show: its share (the start) or the totals."""
    return dict(row=slider("δ row", 0, 0, 0, width=16),
                col=slider("δ col", 0, 0, 0, width=16),
                show=choice("show", [(label, value) for value, label in SHOW_OPTIONS.items()],
                            "cell"))


class _DeltaCellApp(App):
    """An app whose ``row``/``col`` pick a δ cell, clamped to δ's shape by the facts."""

    dynamic_controls = ("row", "col", "show")
    summary_lines = 4

    def _sync(self, facts):
        follow_cell(self.row, self.col, facts.delta.shape, (facts.row, facts.col))


class BackpropApp(_DeltaCellApp):
    """Pick an output cell (a δ position): see which inputs and weights receive its gradient."""

    def __init__(self, x=None, weight=None, delta=None):
        x = BACKPROP_X if x is None else np.asarray(x, dtype=np.float64)
        w = BACKPROP_W if weight is None else np.asarray(weight, dtype=np.float64)
        delta = None if delta is None else np.asarray(delta, dtype=np.float64)
        c = dict(_cell_controls(), stride=slider("stride", 1, 1, 2, width=16),
                 padding=slider("padding", 0, 0, 1, width=16))
        if delta is not None:               # a given δ fixes the output's shape
            c["stride"].disabled = c["padding"].disabled = True
        view = BackpropView(x.shape, w.shape, None if delta is None else delta.shape)
        rows = [W.HBox([W.VBox([c["row"], c["col"]]), W.VBox([c["stride"], c["padding"]]),
                        c["show"]])]
        super().__init__(view, c, rows, fixed=dict(x=x, w=w, delta=delta))


def backprop_explorer(x=None, weight=None, delta=None):
    """Explore the backward pass of a single-channel 2-D convolution.

    Controls: ``row``/``col`` (a position of δ = ∂L/∂Y), ``stride``, ``padding``, ``show``
    ("cell": that position's share of the gradients, "all": the totals).  Attributes
    ``grad_input``, ``grad_weight``, ``grad_bias`` are ``F.conv2d_backward``'s totals,
    ``cell_grad_*`` the selected cell's share (the backward of a one-hot δ).
    """
    return BackpropApp(x, weight, delta)


class PoolGradientApp(_DeltaCellApp):
    """Max pooling routes each δ to its window's winner; average pooling spreads it."""

    def __init__(self, x=None, kind="max", kernel_size=2, stride=2):
        x = POOL_GRAD_X if x is None else np.asarray(x, dtype=np.float64)
        c = dict(_cell_controls(),
                 kind=choice("pooling", [("max", "max"), ("average", "avg")], kind,
                             button_width=6),
                 kernel_size=slider("kernel size", kernel_size, 2, 3, width=16),
                 stride=slider("stride", stride, 1, 3, width=16))
        rows = [W.HBox([W.VBox([c["kind"], c["show"]]), W.VBox([c["kernel_size"], c["stride"]]),
                        W.VBox([c["row"], c["col"]])])]
        super().__init__(PoolGradientView(x.shape), c, rows, fixed=dict(x=x))


def pool_gradient_explorer(x=None, kind="max", kernel_size=2, stride=2):
    """Explore the backward pass of max and average pooling (δ = 1, 2, 3, ... for tracing).

    Controls: ``kind``, ``kernel_size``, ``stride``, ``row``/``col`` (a δ position),
    ``show``.  ``grad_input`` comes from ``F.max_pool2d_backward`` / ``F.avg_pool2d_backward``.
    """
    return PoolGradientApp(x, kind, kernel_size, stride)
