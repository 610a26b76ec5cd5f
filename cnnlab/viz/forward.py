"""The forward pass by hand (lesson 6): activations, and deck 004's conv → ReLU → pool → dense
→ softmax with one number changed.

:func:`activation_facts` computes the activations and their derivatives on a grid of inputs
(``cnnlab.functional``); :func:`static_activations` plots them. :func:`forward_facts` runs the
small network of ``cnnlab.kernels.DECK004_*`` with one input pixel or one kernel weight
changed, and records which numbers of every stage changed; :class:`ForwardView` draws every
stage as numbers in cells, the changed ones outlined.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnlab import functional as F
from cnnlab.kernels import (DECK004_DENSE_BIAS, DECK004_DENSE_WEIGHT, DECK004_INPUT,
                            DECK004_KERNEL)
from cnnlab.viz.grids import NumberGrid, outline_rect
from cnnlab.viz.render import View
from cnnlab.viz.style import HILITE, SIGNED_CMAP, format_number, new_figure, signed_limit

__all__ = ["ACTIVATIONS", "ActivationFacts", "activation_facts", "static_activations",
           "deck004_stages", "FORWARD_STAGES", "ForwardFacts", "forward_facts", "ForwardView",
           "static_forward_pass"]

# name: (label, forward, backward) — every one from cnnlab.functional.
ACTIVATIONS = {
    "relu": ("ReLU  max(0, x)", F.relu, F.relu_backward),
    "sigmoid": ("sigmoid  1/(1+e⁻ˣ)", F.sigmoid, F.sigmoid_backward),
    "tanh": ("tanh", F.tanh, F.tanh_backward),
    "leaky_relu": ("leaky ReLU (slope 0.1)", lambda x: F.leaky_relu(x, 0.1),
                   lambda g, x: F.leaky_relu_backward(g, x, 0.1)),
    "silu": ("SiLU / swish  x·σ(x)", F.silu, F.silu_backward),
}


@dataclass
class ActivationFacts:
    """Each activation and its derivative on ``x`` (the derivative is the backward of a
    gradient of ones)."""
    x: np.ndarray
    values: dict
    derivatives: dict


def activation_facts(lo: float = -4.0, hi: float = 4.0, n: int = 401) -> ActivationFacts:
    """The activations of :data:`ACTIVATIONS` and their derivatives on ``n`` points in [lo, hi]."""
    x = np.linspace(lo, hi, n)
    ones = np.ones_like(x)
    values = {k: fwd(x) for k, (_, fwd, _) in ACTIVATIONS.items()}
    derivs = {k: bwd(ones, x) for k, (_, _, bwd) in ACTIVATIONS.items()}
    return ActivationFacts(x, values, derivs)


def static_activations(lo: float = -4.0, hi: float = 4.0):
    """One panel per activation: the function (solid) and its derivative (dashed)."""
    facts = activation_facts(lo, hi)
    fig = new_figure((10.5, 2.6))
    axes = fig.subplots(1, len(ACTIVATIONS), sharey=True,
                        gridspec_kw=dict(wspace=0.08, left=0.05, right=0.99, top=0.86,
                                         bottom=0.12))
    for ax, (name, (label, _, _)) in zip(axes, ACTIVATIONS.items()):
        ax.axhline(0, color="0.75", lw=0.8)
        ax.axvline(0, color="0.75", lw=0.8)
        ax.plot(facts.x, facts.values[name], lw=2, label="f(x)")
        ax.plot(facts.x, facts.derivatives[name], "--", lw=1.6, label="f′(x)")
        ax.set_title(label, fontsize=10)
        ax.set_ylim(-1.6, 4.0)
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=8, loc="upper left", frameon=False)
    return fig


# ----------------------------------------------------------------------------------------
# Deck 004's network, one number changed
# ----------------------------------------------------------------------------------------
# (attribute, title, shape) of every stage, in the order the data flows.
FORWARD_STAGES = (
    ("x", "input x (4×4)", (4, 4)),
    ("k", "kernel k", (2, 2)),
    ("s", "conv S = x ⋆ k", (3, 3)),
    ("a", "ReLU A", (3, 3)),
    ("p", "max pool 2×2, s=1", (2, 2)),
    ("f", "flatten f", (1, 4)),
    ("w", "dense W (out, in)", (2, 4)),
    ("z", "logits z = Wf + b (b = 0)", (1, 2)),
    ("probs", "softmax p", (1, 2)),
)
_COMPUTED = ("s", "a", "p", "f", "z", "probs")


@dataclass
class ForwardFacts:
    """Every stage of the forward pass, the untouched network's stages, and what changed."""
    x: np.ndarray
    k: np.ndarray
    s: np.ndarray
    a: np.ndarray
    p: np.ndarray
    f: np.ndarray
    w: np.ndarray
    b: np.ndarray
    z: np.ndarray
    probs: np.ndarray
    target: str                          # "input" or "kernel": what was edited
    row: int
    col: int
    old: float                           # the edited number before and after
    new: float
    base: dict = field(default_factory=dict)      # stage name -> the untouched network's array
    changed: dict = field(default_factory=dict)   # stage name -> bool mask of changed cells
    text: str = ""

    def stage(self, name: str) -> np.ndarray:
        """A stage as the 2-D array the view shows (f, z and p as one row)."""
        return np.atleast_2d(getattr(self, name))

    def n_changed(self, name: str) -> int:
        return int(np.count_nonzero(self.changed[name]))


def deck004_stages(x, k, w, b, conv_bias: float = 0.0) -> dict:
    """The network of deck 004 with cnnlab.functional: conv (+ ``conv_bias``), ReLU, max pool
    (2, stride 1), flatten, linear, softmax. Returns {stage: array} (batch and channel axes
    removed): s, a, p, f, z, probs. Lesson 6 runs it forwards, lesson 8 (``viz.sgd``) backwards."""
    s = F.conv2d(np.asarray(x)[None, None], np.asarray(k)[None, None], np.array([conv_bias]))
    a = F.relu(s)
    p = F.max_pool2d(a, kernel_size=2, stride=1)
    f = F.flatten(p)
    z = F.linear(f, w, b)
    probs = F.softmax(z, dim=1)
    return dict(s=s[0, 0], a=a[0, 0], p=p[0, 0], f=f[0], z=z[0], probs=probs[0])


def forward_facts(target: str = "input", row: int = 1, col: int = 1, value: float | None = None,
                  x=None, k=None, w=None, b=None) -> ForwardFacts:
    """The forward pass with ``x[row, col]`` (target "input") or ``k[row, col]`` ("kernel") set
    to ``value`` (None: unchanged); defaults are ``cnnlab.kernels.DECK004_*``. ``changed``
    marks the cells of each stage that differ from the untouched network's."""
    if target not in ("input", "kernel"):
        raise ValueError(f"target must be 'input' or 'kernel', got {target!r}")
    x0 = np.array(DECK004_INPUT if x is None else x, dtype=np.float64)
    k0 = np.array(DECK004_KERNEL if k is None else k, dtype=np.float64)
    w = np.array(DECK004_DENSE_WEIGHT if w is None else w, dtype=np.float64)
    b = np.array(DECK004_DENSE_BIAS if b is None else b, dtype=np.float64)
    edited = x0 if target == "input" else k0
    if not (0 <= row < edited.shape[0] and 0 <= col < edited.shape[1]):
        raise ValueError(f"row, col: ({row}, {col}) is outside the {target} of shape "
                         f"{edited.shape}; choose a cell inside it")
    old = float(edited[row, col])
    new = old if value is None else float(value)
    x1, k1 = x0.copy(), k0.copy()
    (x1 if target == "input" else k1)[row, col] = new
    base, now = deck004_stages(x0, k0, w, b), deck004_stages(x1, k1, w, b)
    facts = ForwardFacts(x1, k1, w=w, b=b, target=target, row=row, col=col, old=old, new=new,
                         base=dict(base, x=x0, k=k0, w=w), **now)
    for name, _, _ in FORWARD_STAGES:
        facts.changed[name] = ~np.isclose(facts.stage(name), np.atleast_2d(facts.base[name]),
                                          rtol=0, atol=1e-12)
    facts.text = _forward_text(facts)
    return facts


def _vector(v) -> str:
    return "[" + ", ".join(format_number(u, 4) for u in v) + "]"


def _forward_text(facts: ForwardFacts) -> str:
    name = "x" if facts.target == "input" else "k"
    counts = ", ".join(f"{n} {facts.n_changed(n)}/{facts.changed[n].size}" for n in _COMPUTED)
    lines = [f"**{name}[{facts.row}, {facts.col}]: {format_number(facts.old)} → "
             f"{format_number(facts.new)}**; changed cells: {counts}",
             f"logits {_vector(facts.base['z'])} → {_vector(facts.z)}; probabilities "
             f"{_vector(facts.base['probs'])} → **{_vector(facts.probs)}**"]
    if facts.old == facts.new:
        lines.append("nothing edited yet: move the value slider")
    elif facts.n_changed("s") and not facts.n_changed("a"):
        lines.append("the convolution changed, but only cells that stay ≤ 0: ReLU sends them "
                     "to 0 either way, so nothing after it moves")
    elif facts.n_changed("a") and not facts.n_changed("p"):
        lines.append("ReLU's output changed, but never a window's maximum: max pooling "
                     "absorbs the change")
    return "\n".join(lines)


class ForwardView(View):
    """Every stage of the network as numbers in cells; the edited cell and every cell that
    changed because of it are outlined in orange. Top row: x ⋆ k → S → A → P; bottom row:
    f, W, z, p. Colours: red positive, blue negative, white 0 (each panel its own scale)."""

    CELL = 0.46                     # inches per cell (the bottom row's are wider)
    WIDE = {"z": 0.66, "probs": 0.66}

    def __init__(self, width: float = 11.0, height: float = 4.1):
        super().__init__((width, height))
        top = [("x", 0.35), ("k", 2.75), ("s", 4.35), ("a", 6.55), ("p", 8.75)]
        bottom = [("f", 0.35), ("w", 3.0), ("z", 6.2), ("probs", 8.6)]
        place = {n: (x0, 1.9) for n, x0 in top} | {n: (x0, 0.08) for n, x0 in bottom}
        self.grids, self.outlines = {}, {}
        for name, title, (h, w) in FORWARD_STAGES:
            c = self.WIDE.get(name, self.CELL)
            x0, y0 = place[name]
            y0 += (4 - h) * c / 2 if name in ("x", "k", "s", "a", "p") else (2 - h) * c / 2 + 0.3
            ax = self.figure.add_axes([x0 / width, y0 / height, w * c / width, h * c / height])
            grid = NumberGrid(ax, (h, w), cmap=SIGNED_CMAP, fontsize=10, decimals=4)
            self.grids[name] = grid
            ax.set_title(title, fontsize=10, pad=7)
            for artist in grid.artists:          # drawn first: the outlines go on top
                self.dynamic(artist)
            rects = [[outline_rect(ax, color=HILITE, lw=2.5, halo=True) for _ in range(w)]
                     for _ in range(h)]
            for i in range(h):
                for j in range(w):
                    grid.outline(rects[i][j], i, j)
                    self.dynamic(rects[i][j])
            self.outlines[name] = rects
        arrows = [(2.35, 2.82, "⋆"), (4.0, 2.82, "="), (6.05, 2.82, "→"), (8.25, 2.82, "→"),
                  (2.5, 0.64, "→"), (5.7, 0.64, "→"), (8.05, 0.64, "→")]
        for xi, yi, s in arrows:
            self.text(xi / width, yi / height, s, fontsize=16, ha="center", va="center")

    def facts(self, target="input", row=1, col=1, value=None, x=None, k=None, w=None,
              b=None) -> ForwardFacts:
        """See :func:`forward_facts`."""
        return forward_facts(target, row, col, value, x, k, w, b)

    def draw(self, facts: ForwardFacts) -> None:
        for name, _, _ in FORWARD_STAGES:
            arr = facts.stage(name)
            m = signed_limit(arr)
            self.grids[name].set(arr, clim=(-m, m))
            mask = facts.changed[name]
            for i, row in enumerate(self.outlines[name]):
                for j, rect in enumerate(row):
                    rect.set_visible(bool(mask[i, j]))
                    rect.set_linestyle("-")
        edited = "x" if facts.target == "input" else "k"
        rect = self.outlines[edited][facts.row][facts.col]
        rect.set_visible(True)
        rect.set_linestyle("-" if facts.old != facts.new else "--")


def static_forward_pass(target: str = "input", row: int = 1, col: int = 1,
                        value: float | None = None):
    """Static fallback of the forward-pass widget: one edit (default none), drawn once."""
    view = ForwardView()
    view.show(target, row, col, value)
    return view.figure
