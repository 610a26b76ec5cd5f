"""The pooling explorer (lesson 5): kind, size, stride, padding and a shift of the input."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from cnnlab.kernels import default_feature_map
from cnnlab.viz.pooling import POOL_KINDS, POOL_LABELS, PoolingView
from cnnlab.widgets.base import App, follow_cell, slider, widget_em

__all__ = ["PoolingApp", "pooling_explorer"]


class PoolingApp(App):
    """Pooling type, size, stride, padding (and a shift of the input) on one feature map."""

    dynamic_controls = ("row", "col")
    summary_lines = 5

    def __init__(self, feature_map=None, kind="max", kernel_size=2, stride=2, padding=0):
        x = default_feature_map() if feature_map is None else feature_map
        self.base = np.asarray(x, dtype=np.float64)
        c = dict(kind=W.Dropdown(options=[(POOL_LABELS[k], k) for k in POOL_KINDS], value=kind,
                                 description="pooling", layout=W.Layout(width=widget_em(16))),
                 kernel_size=slider("kernel size", kernel_size, 1, PoolingView.MAX_K, width=16),
                 stride=slider("stride", stride, 1, 4, width=16),
                 padding=slider("padding", padding, 0, PoolingView.MAX_PAD, width=16),
                 shift=slider("shift input →", 0, 0, 3, width=16),
                 row=slider("output row", 0, 0, 0, width=16),
                 col=slider("output col", 0, 0, 0, width=16))
        rows = [W.HBox([W.VBox([c["kind"], c["kernel_size"], c["stride"]]),
                        W.VBox([c["padding"], c["shift"]]), W.VBox([c["row"], c["col"]])])]
        super().__init__(PoolingView(self.base.shape), c, rows, fixed=dict(x=self.base))
        if self.error is None:        # start on the busiest window, not a blank corner
            with self.hold():
                self.row.value, self.col.value = self.facts.busiest

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
