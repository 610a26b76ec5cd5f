"""One SGD step on deck 004's network (lesson 8): facts, the view of the SGD-step explorer and
its static figure.

The network is lesson 6's hand-worked one (``cnnlab.kernels.DECK004_*``): conv 2×2 → ReLU →
max pool 2×2 stride 1 → flatten → dense (2 outputs) → softmax cross-entropy. Every number comes
from ``cnnlab.functional``; the view only draws it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from cnnlab import functional as F
from cnnlab import kernels
from cnnlab.viz.forward import deck004_stages
from cnnlab.viz.render import View
from cnnlab.viz.style import HISTORY_COLOURS, format_number

__all__ = ["SGD_UPDATES", "SGD_UPDATE_LABELS", "deck004_forward", "deck004_gradients",
           "SGDStepFacts", "sgd_step_facts", "SGDStepView", "static_sgd_step"]

SGD_UPDATES = ("all", "conv")
SGD_UPDATE_LABELS = {"all": "every parameter", "conv": "conv kernel and bias only"}
MAX_ETA = 0.1


def _params():
    return dict(K=np.array(kernels.DECK004_KERNEL), b=float(kernels.DECK004_BIAS),
                W=np.array(kernels.DECK004_DENSE_WEIGHT), bd=np.array(kernels.DECK004_DENSE_BIAS))


def deck004_forward(K, b, W, bd):
    """(S, A, P, f, z) of deck 004's network for these parameters, NCHW with a batch of one
    (``viz.forward.deck004_stages`` computes them)."""
    st = deck004_stages(kernels.DECK004_INPUT, K, W, bd, conv_bias=b)
    return (st["s"][None, None], st["a"][None, None], st["p"][None, None], st["f"][None],
            st["z"][None])


def _loss(z) -> float:
    return float(F.cross_entropy(z, np.array([kernels.DECK004_LABEL])))


@lru_cache(maxsize=1)
def deck004_gradients() -> dict:
    """The gradients of the loss at deck 004's parameters: {"K", "b", "W", "bd"}, by the
    layers' backward functions (lesson 8 traces them one by one)."""
    p = _params()
    S, A, P, f, z = deck004_forward(**p)
    dz = F.cross_entropy_backward(np.array(1.0), z, np.array([kernels.DECK004_LABEL]))
    df, dW, dbd = F.linear_backward(dz, f, p["W"])
    dA = F.max_pool2d_backward(F.flatten_backward(df, P), A, 2, stride=1)
    _, dK, db = F.conv2d_backward(F.relu_backward(dA, S), kernels.DECK004_INPUT[None, None],
                                  p["K"][None, None])
    return dict(K=dK[0, 0], b=float(db[0]), W=dW, bd=dbd)


def _after(eta: float, updated: str) -> dict:
    """The parameters after one SGD step of size ``eta`` on those ``updated`` names."""
    p, g = _params(), deck004_gradients()
    names = ("K", "b") if updated == "conv" else ("K", "b", "W", "bd")
    return {k: (v - eta * g[k] if k in names else v) for k, v in p.items()}


@lru_cache(maxsize=4)
def _curve(updated: str, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    etas = np.linspace(0.0, MAX_ETA, points)
    return etas, np.array([_loss(deck004_forward(**_after(e, updated))[-1]) for e in etas])


@dataclass
class SGDStepFacts:
    """What the SGD-step explorer shows for one step size."""
    eta: float
    updated: str
    loss_before: float
    loss_after: float
    p_before: np.ndarray        # softmax probabilities (2,) before the step
    p_after: np.ndarray         # ... and after it
    kernel_after: np.ndarray    # the conv kernel (2, 2) after the step
    active_before: int          # ReLU outputs > 0 (of 9) before the step
    active_after: int           # ... after it
    etas: np.ndarray            # the curve: step sizes 0 .. MAX_ETA
    losses: np.ndarray          # ... and the loss after one step of each
    text: str


def sgd_step_facts(eta: float = 0.01, updated: str = "all") -> SGDStepFacts:
    """One SGD step ``w <- w - eta * dL/dw`` on deck 004's network (``updated``: "all"
    parameters or only the "conv" kernel and bias), and the loss after it for every eta."""
    if updated not in SGD_UPDATES:
        raise ValueError(f"updated must be one of {SGD_UPDATES}, got {updated!r}")
    eta = float(eta)
    if not 0 <= eta <= MAX_ETA:
        raise ValueError(f"eta must be in 0..{MAX_ETA}, got {eta}")
    S0, *_, z0 = deck004_forward(**_params())
    new = _after(eta, updated)
    S1, *_, z1 = deck004_forward(**new)
    before, after = _loss(z0), _loss(z1)
    etas, losses = _curve(updated)
    a0, a1 = int((S0 > 0).sum()), int((S1 > 0).sum())
    verdict = ("lower" if after < before - 1e-12 else "higher" if after > before + 1e-12
               else "the same")
    text = (f"η = {format_number(eta, 3)}, {SGD_UPDATE_LABELS[updated]}: loss "
            f"**{format_number(before, 4, fixed=True)} → {format_number(after, 4, fixed=True)}** "
            f"({verdict}); p(class 0) {format_number(F.softmax(z0)[0, 0], 3, fixed=True)} → "
            f"{format_number(F.softmax(z1)[0, 0], 3, fixed=True)}.\n"
            f"Kernel after the step: {np.round(new['K'], 4).tolist()}; ReLUs active: "
            f"{a0} of 9 before, {a1} after.")
    return SGDStepFacts(eta, updated, before, after, F.softmax(z0)[0], F.softmax(z1)[0],
                        new["K"], a0, a1, etas, losses, text)


class SGDStepView(View):
    """Left: the loss after one step against η, the chosen η marked. Right: p before/after."""

    def __init__(self, width: float = 9.0, height: float = 3.2):
        super().__init__((width, height))
        self.ax, self.bx = self.figure.subplots(
            1, 2, gridspec_kw=dict(width_ratios=(3, 1), wspace=0.3, left=0.08, right=0.97,
                                   top=0.88, bottom=0.16))
        ax, bx = self.ax, self.bx
        blue, orange = HISTORY_COLOURS[:2]
        self.curve = self.dynamic(ax.plot([], [], color=blue, lw=2)[0], "config")
        self.before = self.dynamic(ax.axhline(0, color="0.5", lw=1, ls="--"), "config")
        self.marker = self.dynamic(ax.axvline(0, color=orange, lw=1), "frame")
        self.dot = self.dynamic(ax.plot([], [], "o", color=orange)[0], "frame")
        self.label = self.dynamic(ax.text(0, 0, "", fontsize=9, color="0.1"), "frame")
        ax.set_xlim(0, MAX_ETA)
        ax.set_xlabel("learning rate η", fontsize=10)
        ax.set_ylabel("loss after one step", fontsize=10)
        ax.set_title("loss after one SGD step (dashed: before)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=9)
        self.bars = [self.dynamic(r, "frame") for r in
                     bx.bar([0, 1, 3, 4], [0, 0, 0, 0], color=["0.6", orange, "0.6", orange])]
        self.bar_text = [self.dynamic(bx.text(x, 0, "", ha="center", fontsize=8), "frame")
                         for x in (0, 1, 3, 4)]
        bx.set_xticks([0.5, 3.5], ["p(class 0)\n(the target)", "p(class 1)"], fontsize=9)
        bx.set_ylim(0, 1.15)
        bx.set_title("before (grey) / after", fontsize=10)
        bx.tick_params(labelsize=9)

    def facts(self, eta=0.01, updated="all") -> SGDStepFacts:
        return sgd_step_facts(eta, updated)

    def draw(self, s: SGDStepFacts) -> None:
        if self.changed("static", s.updated):      # the axis limits change: a full redraw
            self.curve.set_data(s.etas, s.losses)
            self.before.set_ydata([s.loss_before, s.loss_before])
            self.ax.set_ylim(0, 1.1 * max(s.loss_before, float(s.losses.max())))
        self.marker.set_xdata([s.eta, s.eta])
        self.dot.set_data([s.eta], [s.loss_after])
        right = s.eta > 0.6 * MAX_ETA
        self.label.set_position((s.eta + (-0.002 if right else 0.002), s.loss_after + 0.05))
        self.label.set_horizontalalignment("right" if right else "left")
        self.label.set_text(f"η = {format_number(s.eta, 3)}: {format_number(s.loss_after, 4)}")
        values = (s.p_before[0], s.p_after[0], s.p_before[1], s.p_after[1])
        for bar, t, v in zip(self.bars, self.bar_text, values):
            bar.set_height(v)
            t.set_y(v + 0.02)
            t.set_text(format_number(v, 2, fixed=True))


def static_sgd_step(eta: float = 0.01, updated: str = "all") -> Figure:
    """Static fallback of ``widgets.sgd_step_explorer``."""
    view = SGDStepView()
    view.show(eta, updated)
    return view.figure
