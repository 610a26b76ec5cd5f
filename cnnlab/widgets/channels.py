"""The channel explorer (lesson 4): one output channel of a conv layer, channel by channel."""
from __future__ import annotations

import ipywidgets as W

from cnnlab.kernels import default_channel_weights
from cnnlab.viz.channels import ChannelExplorerView
from cnnlab.widgets.base import App, widget_em

__all__ = ["ChannelExplorer", "channel_explorer"]


class ChannelExplorer(App):
    """One output channel of a conv layer on RGB input, channel by channel."""

    image_format = "jpeg"
    dynamic_controls = ("out_channel", "bias")
    summary_lines = 3

    def __init__(self, image, weight, bias, names):
        view = ChannelExplorerView(image, weight, bias, names)
        c_out = view.weight.shape[0]
        out_channel = W.Dropdown(options=[(f"{o}: {view.names[o]}", o) for o in range(c_out)],
                                 value=0, description="filter", layout=W.Layout(width=widget_em(29)))
        bias = W.FloatSlider(value=float(view.bias[0]), min=-1.0, max=1.0, step=0.05,
                             description="bias b", continuous_update=True,
                             layout=W.Layout(width=widget_em(23)))
        out_channel.observe(self._on_channel, names="value")   # sets the bias, then redraws
        super().__init__(view, dict(out_channel=out_channel, bias=bias), watch=[bias])

    def _on_channel(self, change):
        """Each filter keeps its own bias: the slider shows the chosen filter's."""
        with self.hold():
            self.bias.value = float(self._view.bias[change["new"]])


def channel_explorer(image=None, weight=None, bias=None, names=None) -> ChannelExplorer:
    """Channels (lesson 4): per input channel its kernel slice and partial map, then their sum + bias.

    image  : RGB (H, W, 3) in [0, 1]; default: the Grace Hopper photo at quarter resolution
    weight : (C_out, 3, kH, kW); default: ``kernels.default_channel_weights()`` (4 hand-made filters)
    bias   : (C_out,)

    Controls: ``app.out_channel`` (which filter), ``app.bias`` (its bias).
    ``app.facts.output`` is ``F.conv2d(x, W, b)[0, o]`` and ``app.facts.partials`` the
    per-channel ``F.correlate2d`` maps.
    """
    if image is None:
        from cnnlab.data import sample_image

        image = sample_image("grace_hopper", grayscale=False)[::4, ::4]
    if weight is None:
        weight, b0, n0 = default_channel_weights()
        bias = b0 if bias is None else bias
        names = n0 if names is None else names
    return ChannelExplorer(image, weight, bias, names)
