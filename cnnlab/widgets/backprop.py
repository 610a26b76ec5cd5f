"""The explorers of lesson 6: backpropagation through a convolution, and through pooling."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from cnnlab.kernels import BACKPROP_W, BACKPROP_X, POOL_GRAD_X
from cnnlab.viz.backprop import SHOW_OPTIONS, BackpropView, PoolGradientView
from cnnlab.widgets.base import App, choice, follow_cell, slider

__all__ = ["BackpropApp", "backprop_explorer", "PoolGradientApp", "pool_gradient_explorer"]

_SHOW = [(label, value) for value, label in SHOW_OPTIONS.items()]


def _show_choice():
    """Both explorers start on the same view: one δ cell's share."""
    return choice("show", _SHOW, "cell")


class _DeltaCellApp(App):
    """An app whose ``row``/``col`` pick a δ cell, clamped to δ's shape by the facts."""

    dynamic_controls = ("row", "col", "show")

    def _sync(self, facts):
        follow_cell(self.row, self.col, facts.delta.shape, (facts.row, facts.col))


class BackpropApp(_DeltaCellApp):
    """Pick an output cell (a δ position): see which inputs and weights receive its gradient."""

    def __init__(self, x=None, weight=None, delta=None):
        self._x = BACKPROP_X if x is None else np.asarray(x, dtype=np.float64)
        self._w = BACKPROP_W if weight is None else np.asarray(weight, dtype=np.float64)
        self._delta = None if delta is None else np.asarray(delta, dtype=np.float64)
        self.row = slider("δ row", 0, 0, 0, width="210px")
        self.col = slider("δ col", 0, 0, 0, width="210px")
        self.stride = slider("stride", 1, 1, 2, width="210px")
        self.padding = slider("padding", 0, 0, 1, width="210px")
        self.show = _show_choice()
        if delta is not None:
            self.stride.disabled = self.padding.disabled = True
        view = BackpropView(self._x.shape, self._w.shape,
                            None if delta is None else self._delta.shape)
        rows = [W.HBox([W.VBox([self.row, self.col]), W.VBox([self.stride, self.padding]),
                        self.show])]
        super().__init__(view, rows, watch=[self.row, self.col, self.stride, self.padding,
                                            self.show])

    def params(self):
        return dict(x=self._x, w=self._w, delta=self._delta, stride=self.stride.value,
                    padding=self.padding.value, row=self.row.value, col=self.col.value,
                    show=self.show.value)


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
        self._x = POOL_GRAD_X if x is None else np.asarray(x, dtype=np.float64)
        self.kind = choice("pooling", [("max", "max"), ("average", "avg")], kind,
                           button_width="80px")
        self.kernel_size = slider("kernel size", kernel_size, 2, 3, width="210px")
        self.stride = slider("stride", stride, 1, 3, width="210px")
        self.row = slider("δ row", 0, 0, 0, width="210px")
        self.col = slider("δ col", 0, 0, 0, width="210px")
        self.show = _show_choice()
        view = PoolGradientView(self._x.shape)
        rows = [W.HBox([W.VBox([self.kind, self.show]), W.VBox([self.kernel_size, self.stride]),
                        W.VBox([self.row, self.col])])]
        super().__init__(view, rows, watch=[self.kind, self.kernel_size, self.stride, self.row,
                                            self.col, self.show])

    def params(self):
        return dict(x=self._x, kind=self.kind.value, kernel_size=self.kernel_size.value,
                    stride=self.stride.value, row=self.row.value, col=self.col.value,
                    show=self.show.value)


def pool_gradient_explorer(x=None, kind="max", kernel_size=2, stride=2):
    """Explore the backward pass of max and average pooling (δ = 1, 2, 3, ... for tracing).

    Controls: ``kind``, ``kernel_size``, ``stride``, ``row``/``col`` (a δ position),
    ``show``.  ``grad_input`` comes from ``F.max_pool2d_backward`` / ``F.avg_pool2d_backward``.
    """
    return PoolGradientApp(x, kind, kernel_size, stride)
