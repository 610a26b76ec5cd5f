"""Channels (lesson 4): one output channel of a conv layer on an RGB image, channel by channel.

:func:`channel_facts` computes the per-channel partial maps (``F.correlate2d``) and the output
channel (``F.conv2d``); :class:`ChannelExplorerView` draws them with the kernel slices.
The default filters are ``cnnlab.kernels.default_channel_weights()``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from cnnlab import functional as F
from cnnlab.kernels import CHANNEL_NAMES, default_channel_weights
from cnnlab.viz.grids import cell_axes, cell_fontsize, grid_lines, kernel_labels, write_kernel
from cnnlab.viz.render import View
from cnnlab.viz.style import DPI, SIGNED_CMAP, bare, format_number, signed_limit

__all__ = ["ChannelFacts", "channel_facts", "ChannelExplorerView", "static_channel_explorer"]


@dataclass
class ChannelFacts:
    """What the channel explorer shows for one output channel."""
    out_channel: int
    partials: np.ndarray        # (C_in, OH, OW): F.correlate2d(x[c], W[o, c]) per input channel
    output: np.ndarray          # (OH, OW): F.conv2d(x, W, b)[0, o]
    bias: float
    parameters: int             # F.conv_parameter_count(C_in, C_out, (kH, kW)) of the layer
    text: str
    partial_limit: float = 1.0  # one symmetric colour scale for the partial maps (98th pct.)
    output_limit: float = 1.0   # the output's own symmetric scale
    kernel_limit: float = 1.0   # the kernel slices' scale: the filter's largest |weight|
    name: str = ""


def channel_facts(x, weight, bias, out_channel: int = 0, names=None) -> ChannelFacts:
    """One output channel of ``F.conv2d(x[None], weight, bias)`` and the partial maps it adds up.

    x : (C_in, H, W) channels first; weight : (C_out, C_in, kH, kW); bias : (C_out,).
    """
    weight = np.asarray(weight, dtype=float)
    c_out, c_in, kh, kw = weight.shape
    o = int(out_channel)
    if not 0 <= o < c_out:
        raise ValueError(f"out_channel must be in 0..{c_out - 1}, got {out_channel}")
    bias = np.asarray(bias, dtype=float)
    name = list(names)[o] if names is not None else f"filter {o}"
    partials = np.stack([F.correlate2d(x[c], weight[o, c]) for c in range(c_in)])
    output = F.conv2d(x[None], weight[o:o + 1], bias[o:o + 1])[0, 0]
    parameters = F.conv_parameter_count(c_in, c_out, (kh, kw))
    plim = signed_limit(partials, robust=True)     # one scale for the three partial maps
    olim = signed_limit(output, robust=True)       # the output's own scale (colour bar)
    b = float(bias[o])
    text = (f"Output channel {o} ({name}): {c_in} kernel slices of {kh}×{kw}, one per "
            f"input channel; the {c_in} partial maps are added and the bias b[{o}] = "
            f"{format_number(b)} is added to every pixel.\nColours: the partial maps share one "
            f"symmetric scale (±{format_number(plim)}); the output has its own "
            f"(±{format_number(olim)}, the bar).\nThe layer has {c_out} such filters: "
            f"({kh}·{kw}·{c_in} + 1)·{c_out} = {parameters} parameters.")
    return ChannelFacts(o, partials, output, b, parameters, text, plim, olim,
                        signed_limit(weight[o]), name)


class ChannelExplorerView(View):
    """One output channel of a conv layer on an RGB image, taken apart channel by channel.

    Rows: input channel c | its kernel slice W[o, c] | the partial map x[c] ⋆ W[o, c]
    (``F.correlate2d``). Right: ``F.conv2d(x, W, b)[0, o]``, which is their sum plus b[o].
    Colours: the three partial maps share one symmetric scale (so the channels' contributions
    compare), set by the partial maps only; the output has its own symmetric scale, shown by
    the colour bar (it would otherwise wash the partial maps out, or be washed out by them).
    """

    def __init__(self, image, weight, bias=None, names=None, figsize=(9.0, 6.2), dpi: int = DPI):
        image = np.asarray(image, dtype=float)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"image must be an RGB image of shape (H, W, 3); got {image.shape}")
        weight = np.asarray(weight, dtype=float)
        if weight.ndim != 4 or weight.shape[1] != 3:
            raise ValueError(f"weight must have shape (C_out, 3, kH, kW) for RGB input; got {weight.shape}")
        self.x = np.ascontiguousarray(image.transpose(2, 0, 1))  # (3, H, W): channels first, as PyTorch
        self.weight = weight
        c_out = weight.shape[0]
        self.bias = np.zeros(c_out) if bias is None else np.asarray(bias, dtype=float).copy()
        self.names = list(names) if names is not None else [f"filter {o}" for o in range(c_out)]
        out_shape = channel_facts(self.x, weight, self.bias, 0, self.names).output.shape
        super().__init__(figsize, dpi)
        # Columns: input channel | kernel slice | partial map | "+ b =" | output.
        gs = self.figure.add_gridspec(3, 5, width_ratios=[1, 0.95, 1, 0.62, 1.75], left=0.035,
                                      right=0.915, top=0.88, bottom=0.02, wspace=0.22, hspace=0.28)
        self._build_rows(gs, out_shape)
        self._build_output(gs, out_shape)

    def _build_rows(self, gs, out_shape) -> None:
        """One row per input channel: the channel ⋆ its kernel slice = its partial map."""
        fig, dyn = self.figure, self.dynamic
        kh, kw = self.weight.shape[2:]
        self._k_ax, self._p_ax, self._k_img, self._k_txt, self._p_img = [], [], [], [], []
        for c in range(3):
            ax = fig.add_subplot(gs[c, 0])
            alone = np.zeros(self.x.shape[1:] + (3,))
            alone[..., c] = self.x[c]                 # the channel on its own, in its colour
            ax.imshow(np.clip(alone, 0, 1))
            ax.set_ylabel(f"channel {CHANNEL_NAMES[c]}", fontsize=10)
            bare(ax)
            axk = fig.add_subplot(gs[c, 1])
            cell_axes(axk, kh, kw)
            self._k_img.append(dyn(axk.imshow(np.zeros((kh, kw)), cmap=SIGNED_CMAP, vmin=-1, vmax=1),
                                   "config"))
            dyn(grid_lines(axk, kh, kw, color="0.4"), "config")
            fs = cell_fontsize(axk, kh, kw, fig, fraction=0.42, lo=7.0, hi=11.0)
            self._k_txt.append([[dyn(axk.text(j, i, "", ha="center", va="center", fontsize=fs), "config")
                                 for j in range(kw)] for i in range(kh)])
            dyn(axk.title, "config")
            axp = fig.add_subplot(gs[c, 2])
            self._p_img.append(dyn(axp.imshow(np.zeros(out_shape), cmap=SIGNED_CMAP, vmin=-1, vmax=1)))
            bare(axp)
            self._k_ax.append(axk)
            self._p_ax.append(axp)
            fig.text(*self._between(ax, axk), "⋆", fontsize=22, ha="center", va="center")
            fig.text(*self._between(axk, axp), "=", fontsize=16, ha="center", va="center")
        self._kernel_fontsize = fs
        fig.axes[0].set_title("input channel", fontsize=10)
        for c in (0, 1):
            fig.text(*self._below(self._p_ax[c], self._p_ax[c + 1]), "+", fontsize=15,
                     ha="center", va="center")

    def _build_output(self, gs, out_shape) -> None:
        """The output channel with its colour bar, and the bracket "+ b[o] =" leading to it."""
        fig, dyn = self.figure, self.dynamic
        self._ax_sum = fig.add_subplot(gs[:, 4])
        self._sum_img = dyn(self._ax_sum.imshow(np.zeros(out_shape), cmap=SIGNED_CMAP, vmin=-1, vmax=1))
        bare(self._ax_sum)
        dyn(self._ax_sum.title)
        pos = self._ax_sum.get_position()
        self.colorbar = self.colour_bar((pos.x1 + 0.012, pos.y0 + 0.1 * pos.height, 0.014, 0.8 * pos.height))
        # A bracket gathers the three partial maps (their sum); "+ b[o] =" leads from it to the
        # output, on the output's centre line.
        p_top, p_bot = self._p_ax[0].get_position(), self._p_ax[2].get_position()
        bx = p_top.x1 + 0.012
        y_mid = (pos.y0 + pos.y1) / 2
        overlay = self.overlay()
        tick = 0.008
        overlay.plot([bx - tick, bx, bx, bx - tick], [p_top.y1, p_top.y1, p_bot.y0, p_bot.y0],
                     color="0.25", linewidth=1.4, transform=overlay.transAxes)
        overlay.plot([bx, bx + tick], [y_mid, y_mid], color="0.25", linewidth=1.4,
                     transform=overlay.transAxes)
        self._plus_b = self.text((bx + tick + pos.x0) / 2, y_mid, "", "config", ha="center",
                                 va="center", fontsize=14)
        self._p_title = self.text((p_top.x0 + p_top.x1) / 2, p_top.y1 + 0.012, "", "frame",
                                  ha="center", va="bottom", fontsize=9.5)
        self._title = self.text(0.5, 0.985, "", "config", ha="center", va="top", fontsize=11)

    @staticmethod
    def _between(a, b):
        pa, pb = a.get_position(), b.get_position()
        return (pa.x1 + pb.x0) / 2, (pa.y0 + pa.y1) / 2

    @staticmethod
    def _below(a, b):
        pa, pb = a.get_position(), b.get_position()
        return (pa.x0 + pa.x1) / 2, (pa.y0 + pb.y1) / 2

    def _draw_kernels(self, facts: ChannelFacts) -> None:
        o = facts.out_channel
        for c in range(self.weight.shape[1]):
            factor, labels = kernel_labels(self.weight[o, c])
            longest = max(len(t) for t in labels)
            fs = self._kernel_fontsize * (1.0 if longest <= 3 else 0.85)
            write_kernel(self._k_img[c], self._k_txt[c], self.weight[o, c], labels, fs,
                         facts.kernel_limit)
            self._k_ax[c].set_title(f"W[{o}, {c}] = {factor.strip()}" if factor else f"W[{o}, {c}]",
                                    fontsize=10)
        self._title.set_text(f"filter {o}: {facts.name}   (red > 0 > blue, white = 0)")
        self._plus_b.set_text(f"+ b[{o}]  =")

    def facts(self, out_channel: int = 0, bias: float | None = None) -> ChannelFacts:
        """Output channel ``out_channel``; ``bias`` (if given) becomes its bias b[o] from now on."""
        o = int(out_channel)
        if bias is not None and 0 <= o < len(self.bias):
            self.bias[o] = float(bias)
        return channel_facts(self.x, self.weight, self.bias, o, self.names)

    def draw(self, facts: ChannelFacts) -> None:
        o, plim, olim = facts.out_channel, facts.partial_limit, facts.output_limit
        for c, img in enumerate(self._p_img):
            img.set_data(facts.partials[c])
            img.set_clim(-plim, plim)
        if self.changed("config", o):
            self._draw_kernels(facts)
        self._p_title.set_text(f"partial maps\n(one shared scale, ±{format_number(plim)})")
        self._sum_img.set_data(facts.output)
        self._sum_img.set_clim(-olim, olim)
        self.colorbar.set(SIGNED_CMAP, -olim, olim, "0")
        self._ax_sum.set_title(f"output channel {o}  (b[{o}] = {format_number(facts.bias)})\n"
                               f"= sum of the partial maps + b[{o}]\n(its own scale: bar on the right)",
                               fontsize=10)


def static_channel_explorer(image, weight=None, bias=None, out_channel: int = 0, names=None) -> Figure:
    """Static fallback of ``widgets.channel_explorer``."""
    if weight is None:
        weight, bias0, names0 = default_channel_weights()
        bias = bias0 if bias is None else bias
        names = names0 if names is None else names
    view = ChannelExplorerView(image, weight, bias, names)
    view.show(out_channel)
    return view.figure

