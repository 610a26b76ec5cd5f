"""The feature-map explorer (lesson 9): pick a digit, see LeNet-5's conv1 and conv2 maps."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from cnnlab.viz.training import FeatureMapView, feature_map_facts
from cnnlab.widgets.base import App, widget_em

__all__ = ["FeatureMapApp", "feature_map_explorer"]


class FeatureMapApp(App):
    """Pick a digit, see conv1's and conv2's feature maps and the model's prediction."""

    def __init__(self, model, images, labels=None, index=0):
        self.model = model
        self.images = np.asarray(images)
        if self.images.ndim == 3:
            self.images = self.images[:, None]
        self.labels = None if labels is None else np.asarray(labels)
        first = feature_map_facts(model, self.images[:1])
        view = FeatureMapView(((1,) + self.images.shape[2:], first.conv1.shape, first.conv2.shape))
        n = len(self.images)
        # the slider has no readout of its own: the number box next to it shows the value
        # (and takes a typed one)
        index_slider = W.IntSlider(value=index, min=0, max=n - 1, description="digit #",
                                   continuous_update=False, readout=False,
                                   style={"description_width": "initial"},
                                   layout=W.Layout(width=widget_em(31)))
        self.index_box = W.BoundedIntText(value=index, min=0, max=n - 1,
                                          layout=W.Layout(width=widget_em(7)))
        # slider and number box move together (a kernel-side link, so it also works headless)
        W.link((index_slider, "value"), (self.index_box, "value"))
        super().__init__(view, dict(index=index_slider), [W.HBox([index_slider, self.index_box])],
                         fixed=dict(model=model, images=self.images, labels=self.labels))


def feature_map_explorer(model, images, labels=None, index=0):
    """Pick a digit (``index``) and see LeNet-5's conv1 / conv2 feature maps for it.

    ``images`` (N, 28, 28) or (N, 1, 28, 28), already normalised the way the model was
    trained; maps come from ``model.features``, probabilities from ``F.softmax`` of the
    logits.
    """
    return FeatureMapApp(model, images, labels, index)
