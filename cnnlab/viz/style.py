"""The lessons' look, in one place: figure factory, colour maps, colours, number formatting.

Every figure and widget of the course takes its colours and numbers from here, so a sign is
drawn the same way and ``2.33`` is written the same way in every lesson.

Colour maps, one per kind of data:

- ``SIGNED_CMAP`` (``RdBu_r``): signed values (kernels, gradients, feature maps before ReLU,
  edge responses), always with symmetric limits (:func:`signed_limit`) so that white is 0,
  red positive and blue negative;
- ``IMAGE_CMAP`` (``gray``): images and digits, brightness as it is;
- ``SEQUENTIAL_CMAP`` (``viridis``): maps of non-negative values (pooled ReLU responses);
- ``NUMBERS_CMAP`` (``Blues``) and ``ERRORS_CMAP`` (``Reds``): the light tints behind numbers
  written in cells (non-negative values, counts) and the one for mistakes and differences.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "DPI", "SIGNED_CMAP", "IMAGE_CMAP", "SEQUENTIAL_CMAP", "NUMBERS_CMAP", "ERRORS_CMAP",
    "new_figure", "bare", "format_number", "signed_limit", "gray_limits", "all_integers",
]

DPI = 90

SIGNED_CMAP = "RdBu_r"        # diverging, white at zero: red positive, blue negative
IMAGE_CMAP = "gray"           # images and digits
SEQUENTIAL_CMAP = "viridis"   # non-negative maps
NUMBERS_CMAP = "Blues"        # light tint behind numbers written in cells (non-negative values)
ERRORS_CMAP = "Reds"          # mistakes, differences

# Colours of the grid drawings (colour-blind safe pairs: blue / orange, grey / red).
C_INPUT = (1.0, 1.0, 1.0)
C_PAD = (0.86, 0.86, 0.86)
C_WINDOW = (0.62, 0.79, 0.94)
C_WINDOW_PAD = (0.45, 0.63, 0.82)
C_UNVISITED = (0.97, 0.67, 0.62)
C_OUTPUT = (0.99, 0.73, 0.40)
C_DONE = (1.0, 0.93, 0.82)
C_TODO = (0.95, 0.95, 0.95)
EDGE_WINDOW = "#1f5fa8"       # the sliding window
EDGE_OUTPUT = "#b35806"       # the output cell it writes
EDGE_ERROR = "#c0392b"        # a window that does not fit
HILITE = "#ff8c00"            # the selected window / cell (lessons 5-6)
WINNER = "#00a000"            # the max-pool winner
ALERT = "#b00020"             # "nothing flows back", "not possible"
HISTORY_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def new_figure(figsize=(8.0, 3.5), dpi: int = DPI, layout=None) -> Figure:
    """A matplotlib Figure with its own Agg canvas (no pyplot state, displays once in Jupyter)."""
    fig = Figure(figsize=figsize, dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def bare(ax) -> None:
    """No ticks on either axis."""
    ax.set_xticks([])
    ax.set_yticks([])


def format_number(value, digits: int = 2, fixed: bool = False) -> str:
    """Format a number the way the lessons print it: ``19``, ``2.33``, ``−0.5`` (true minus).

    Whole numbers lose their ``.0``; others are rounded to ``digits`` decimals with trailing
    zeros dropped. ``fixed=True`` always writes ``digits`` decimals (``0.00``, ``1.10``), for a
    map of measured values where ``0``, ``1.1`` and ``2.02`` side by side would look uneven.
    Infinities are ``∞`` / ``−∞`` (max-pool padding). Presentation only: no arithmetic beyond
    rounding for display.
    """
    v = float(value)
    if math.isinf(v):
        return "\u2212∞" if v < 0 else "∞"
    if math.isnan(v):
        return "nan"
    text = f"{v:.{digits}f}"
    if not fixed:
        text = text.rstrip("0").rstrip(".") if "." in text else text
    if text.lstrip("-").strip("0.") == "":          # -0, -0.00: no sign on a zero
        text = text.lstrip("-") or "0"
    return text.replace("-", "\u2212")


def signed_limit(*arrays, robust: bool = False, percentile: float = 98.0) -> float:
    """Symmetric colour limit m for signed data, drawn from -m to m (zero is the white middle).

    Non-finite values (max-pool padding) are left out. robust=True uses the given percentile
    (default 98th) of |values| instead of the maximum, so that a few extreme pixels do not wash
    out the rest of an image (those few saturate instead). 1.0 when everything is 0.
    """
    values = [np.abs(np.asarray(a, dtype=float)).ravel() for a in arrays if np.size(a)]
    values = np.concatenate(values) if values else np.zeros(0)
    values = values[np.isfinite(values)]
    if not values.size:
        return 1.0
    m = float(np.percentile(values, percentile)) if robust else float(values.max())
    if m <= 0:
        m = float(values.max())
    return m if m > 0 else 1.0


def gray_limits(im) -> tuple[float, float]:
    """Gray limits: [0, 1] for images that live there (true brightness), else from the data's
    minimum to its 99th percentile (a few very bright pixels do not darken the rest)."""
    lo, hi = float(np.min(im)), float(np.max(im))
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    top = float(np.percentile(im, 99))
    return lo, top if top > lo else hi


def all_integers(a) -> bool:
    """True when every finite value of ``a`` is a whole number (then no decimals are written)."""
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return bool(np.all(np.abs(a - np.round(a)) < 1e-9))
