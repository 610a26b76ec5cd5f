"""The pooling explorer (lesson 5): kind, size, stride, padding and a shift of the input."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from cnnlab.kernels import default_feature_map
from cnnlab.viz.pooling import POOL_KINDS, POOL_LABELS, PoolingView
from cnnlab.widgets.base import App, follow_cell, slider

__all__ = ["PoolingApp", "pooling_explorer"]


class PoolingApp(App):
    """Pooling type, size, stride, padding (and a shift of the input) on one feature map."""

    dynamic_controls = ("row", "col")

    def __init__(self, feature_map=None, kind="max", kernel_size=2, stride=2, padding=0):
        x = default_feature_map() if feature_map is None else feature_map
        self.base = np.asarray(x, dtype=np.float64)
        self.kind = W.Dropdown(options=[(POOL_LABELS[k], k) for k in POOL_KINDS],
                               value=kind, description="pooling", layout=W.Layout(width="210px"))
        self.kernel_size = slider("kernel size", kernel_size, 1, PoolingView.MAX_K, width="210px")
        self.stride = slider("stride", stride, 1, 4, width="210px")
        self.padding = slider("padding", padding, 0, PoolingView.MAX_PAD, width="210px")
        self.shift = slider("shift input →", 0, 0, 3, width="210px")
        self.row = slider("output row", 0, 0, 0, width="210px")
        self.col = slider("output col", 0, 0, 0, width="210px")
        controls = [self.kind, self.kernel_size, self.stride, self.padding, self.shift,
                    self.row, self.col]
        rows = [W.HBox([W.VBox([self.kind, self.kernel_size, self.stride]),
                        W.VBox([self.padding, self.shift]),
                        W.VBox([self.row, self.col])])]
        super().__init__(PoolingView(self.base.shape), rows, watch=controls)
        if self.error is None:        # start on the busiest window, not a blank corner
            with self.hold():
                self.row.value, self.col.value = self.facts.busiest

    def params(self):
        return dict(x=self.base, kind=self.kind.value, kernel_size=self.kernel_size.value,
                    stride=self.stride.value, padding=self.padding.value, shift=self.shift.value,
                    row=self.row.value, col=self.col.value)

    def _sync(self, facts):
        follow_cell(self.row, self.col, facts.output.shape, (facts.row, facts.col))


def pooling_explorer(feature_map=None, kind="max", kernel_size=2, stride=2, padding=0):
    """Explore pooling on a feature map (default: ReLU of a Sobel response of a digit).

    Controls: ``kind`` (max / avg / sum / l2), ``kernel_size``, ``stride``, ``padding``,
    ``shift`` (move the input right by 0-3 pixels), ``row``/``col`` (the output cell whose
    window is outlined).  ``app.output`` is the pooled map, ``app.winners`` the max-pool
    winner indices (``None`` for other kinds).
    """
    return PoolingApp(feature_map, kind, kernel_size, stride, padding)
