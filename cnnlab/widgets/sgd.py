"""The SGD-step explorer (lesson 8): one gradient step on deck 004's network, for any η."""
from __future__ import annotations

import ipywidgets as W

from cnnlab.viz.sgd import MAX_ETA, SGD_UPDATE_LABELS, SGD_UPDATES, SGDStepView
from cnnlab.widgets.base import App, choice, widget_em

__all__ = ["SGDStepApp", "sgd_step_explorer"]


class SGDStepApp(App):
    """The learning rate η of one SGD step, and which parameters it updates."""

    dynamic_controls = ("eta",)
    summary_lines = 3

    def __init__(self, eta=0.01, updated="all"):
        eta_slider = W.FloatSlider(value=eta, min=0.0, max=MAX_ETA, step=0.001, readout_format=".3f",
                                   description="learning rate η", continuous_update=True,
                                   style={"description_width": "initial"},
                                   layout=W.Layout(width=widget_em(30)))
        updates = choice("update", [(SGD_UPDATE_LABELS[u], u) for u in SGD_UPDATES], updated,
                         button_width=15)
        super().__init__(SGDStepView(), dict(eta=eta_slider, updated=updates),
                         rows=[W.HBox([eta_slider, updates])])


def sgd_step_explorer(eta=0.01, updated="all") -> SGDStepApp:
    """One SGD step w <- w - η ∂L/∂w on deck 004's network (lesson 8).

    Controls: ``app.eta`` (the learning rate, 0 .. 0.1) and ``app.updated`` ("all" parameters or
    only the "conv" kernel and bias). ``app.loss_before`` / ``app.loss_after`` are the
    cross-entropy before and after the step, ``app.losses`` the loss after one step for every
    η of ``app.etas`` (``cnnlab.viz.sgd_step_facts``).
    """
    return SGDStepApp(eta, updated)
