"""Grids: cells with numbers written in them, cell borders, outlines, and grids of images.

Drawing helpers shared by the views; they place and colour numbers, they never compute them.
"""
from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab.viz.style import (HILITE, IMAGE_CMAP, SIGNED_CMAP, bare, format_number, gray_limits,
                              new_figure, signed_limit)

__all__ = ["grid_segments", "grid_lines", "cell_axes", "cell_fontsize", "NumberGrid",
           "outline_rect", "clamp_cell", "kernel_labels", "write_kernel", "image_grid"]


def grid_segments(nrows: int, ncols: int, x0: float = -0.5, y0: float = -0.5):
    """Line segments of the cell borders of an nrows x ncols grid whose top-left corner is (x0, y0)."""
    segs = [[(x0 + j, y0), (x0 + j, y0 + nrows)] for j in range(ncols + 1)]
    segs += [[(x0, y0 + i), (x0 + ncols, y0 + i)] for i in range(nrows + 1)]
    return segs


def grid_lines(ax, nrows: int, ncols: int, x0: float = -0.5, y0: float = -0.5,
               color="0.55", linewidth: float = 0.8) -> LineCollection:
    """Cell borders drawn as one LineCollection (much cheaper than a tick-based grid)."""
    lc = LineCollection(grid_segments(nrows, ncols, x0, y0), colors=color, linewidths=linewidth,
                        clip_on=False)   # the outer lines lie on the axes' edge: do not halve them
    ax.add_collection(lc, autolim=False)
    return lc


def cell_axes(ax, nrows: int, ncols: int) -> None:
    """An axes showing an nrows x ncols grid of unit cells centred on integer coordinates."""
    bare(ax)
    ax.set_xlim(-0.5, ncols - 0.5)
    ax.set_ylim(nrows - 0.5, -0.5)
    ax.set_aspect("equal")
    for spine in ax.spines.values():
        spine.set_visible(False)


def cell_fontsize(ax, nrows: int, ncols: int, fig: Figure, fraction: float = 0.34,
                  lo: float = 6.0, hi: float = 13.0) -> float:
    """A font size that fills about ``fraction`` of a cell of an axes showing nrows x ncols cells."""
    bbox = ax.get_position()
    w_in = bbox.width * fig.get_figwidth()
    h_in = bbox.height * fig.get_figheight()
    cell_pt = 72 * min(w_in / max(ncols, 1), h_in / max(nrows, 1))
    return float(np.clip(cell_pt * fraction, lo, hi))


class NumberGrid:
    """A small array drawn as coloured cells with its numbers written in them.

    The axes frame is fixed at ``max_shape``; smaller arrays are centred in it, so the
    cell size never changes and the layout never jumps. ``set`` updates in place.
    """

    def __init__(self, ax, max_shape, cmap=SIGNED_CMAP, fontsize=10, decimals=2, numbers=True,
                 blank_zero=False, margin=0):
        self.ax = ax
        self.max_shape = tuple(max_shape)
        self.decimals = decimals
        self.fixed = False             # True: always `decimals` decimals (see format_number)
        self.blank_zero = blank_zero   # gradients: cells that receive nothing stay blank
        H, W = self.max_shape
        self.image = ax.imshow(np.zeros((1, 1)), cmap=cmap, vmin=-1, vmax=1,
                               interpolation="nearest", extent=(-0.5, 0.5, 0.5, -0.5))
        ax.set_xlim(-0.5 - margin, W - 0.5 + margin)
        ax.set_ylim(H - 0.5 + margin, -0.5 - margin)
        ax.set_aspect("equal")
        bare(ax)
        for side in ax.spines.values():
            side.set_visible(False)
        self.texts = []
        if numbers:
            self.texts = [[ax.text(0, 0, "", ha="center", va="center", fontsize=fontsize,
                                   visible=False) for _ in range(W)] for _ in range(H)]
        self.shape = (1, 1)
        self.offset = (0.0, 0.0)

    def set(self, arr, clim=None):
        """Show ``arr`` (colours within ``clim``, default symmetric around 0) and its numbers."""
        arr = np.asarray(arr, dtype=np.float64)
        h, w = arr.shape
        H, W = self.max_shape
        if h > H or w > W:
            raise ValueError(f"array of shape {arr.shape} does not fit the frame {self.max_shape}")
        r0, c0 = (H - h) / 2, (W - w) / 2
        self.shape, self.offset = (h, w), (r0, c0)
        finite = np.isfinite(arr)
        self.image.set_data(np.where(finite, arr, np.nan))
        self.image.set_extent((c0 - 0.5, c0 + w - 0.5, r0 + h - 0.5, r0 - 0.5))
        if clim is None:
            m = signed_limit(arr)
            clim = (-m, m)
        lo, hi = clim
        self.image.set_clim(lo, hi)
        if not self.texts:
            return
        # text colour from the cell's colour: white on dark cells, black on light ones
        rgba = self.image.to_rgba(np.where(finite, arr, lo))
        dark = (rgba[..., :3] @ np.array([0.299, 0.587, 0.114])) < 0.5
        for i in range(H):
            for j in range(W):
                t = self.texts[i][j]
                if i < h and j < w and not (self.blank_zero and arr[i, j] == 0):
                    t.set_position((c0 + j, r0 + i))
                    t.set_text(format_number(arr[i, j], self.decimals, self.fixed))
                    t.set_color("white" if dark[i, j] and finite[i, j] else "black")
                    t.set_visible(True)
                else:
                    t.set_visible(False)

    @property
    def artists(self):
        """The image, then its numbers (drawing order for blitting)."""
        return [self.image] + [t for row in self.texts for t in row]

    def cell_xy(self, i, j):
        """Lower-left corner (x, y) of cell (i, j) in data coordinates, for a Rectangle."""
        r0, c0 = self.offset
        return c0 + j - 0.5, r0 + i - 0.5

    def outline(self, rect, i, j, h=1, w=1):
        """Move ``rect`` over cells i..i+h-1, j..j+w-1 (may reach outside = padding)."""
        rect.set_xy(self.cell_xy(i, j))
        rect.set_width(w)
        rect.set_height(h)


def outline_rect(ax, color=HILITE, lw=2.5, ls="-", z=5, halo=False) -> Rectangle:
    """An unfilled rectangle (a window or cell marker) in ``ax``; ``halo``: a thin white rim
    so that it stands out on dark and light cells alike. Place it with ``NumberGrid.outline``."""
    r = Rectangle((0, 0), 1, 1, fill=False, edgecolor=color, linewidth=lw, linestyle=ls,
                  zorder=z, clip_on=False)
    if halo:
        r.set_path_effects([patheffects.withStroke(linewidth=lw + 2.5, foreground="white")])
    ax.add_patch(r)
    return r


def clamp_cell(row, col, shape, default=(0, 0)) -> tuple[int, int]:
    """The cell (row, col) moved inside a grid of ``shape``; None takes ``default``'s part."""
    row = default[0] if row is None else row
    col = default[1] if col is None else col
    return min(max(int(row), 0), shape[0] - 1), min(max(int(col), 0), shape[1] - 1)


def kernel_labels(kernel) -> tuple[str, list[str]]:
    """How a small kernel's weights are written in its cells: (factor, labels).

    Weights that are all multiples of 1/q for a small q (Sobel / 3, a box blur of 1/9) are
    written as whole numbers with the factor in the title ("1/3 ×" and −1 0 1 ...), so the
    cells stay short and readable; other weights with one decimal. Presentation only.
    """
    k = np.asarray(kernel, dtype=float)
    for q in (1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 16):
        scaled = k * q
        if np.allclose(scaled, np.round(scaled), atol=1e-9) and np.abs(scaled).max() <= 99:
            return ("" if q == 1 else f"1/{q} × "), [format_number(v) for v in np.round(scaled).ravel()]
    return "", [format_number(v, 1) for v in k.ravel()]


def image_grid(images, titles=None, signed=None, ncols: int | None = None, width: float = 8.5,
               colorbar: bool = True, suptitle: str | None = None, limits=None) -> Figure:
    """A row (or grid) of images with the lessons' colour rules.

    images : list of 2-D arrays (H, W) or RGB (H, W, 3) in [0, 1]
    signed : list of bools (default: True where an image has negative values); signed images
             use the diverging map ``RdBu_r`` with symmetric limits (at the 98th percentile of
             |values|), so a sign is never hidden; the others use ``gray``.
    limits : optional list of (vmin, vmax) or None per image, to override the automatic ones.
    """
    images = [np.asarray(im) for im in images]
    n = len(images)
    titles = list(titles) if titles is not None else [""] * n
    if signed is None:
        signed = [im.ndim == 2 and bool(np.min(im) < 0) for im in images]
    limits = list(limits) if limits is not None else [None] * n
    ncols = ncols or n
    nrows = -(-n // ncols)
    fig = new_figure((width, width / ncols * nrows * 1.05 + 0.35 * bool(suptitle)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, im, title, sgn, lims in zip(axes, images, titles, signed, limits):
        if im.ndim == 3:
            ax.imshow(np.clip(im, 0, 1))
        else:
            if sgn:
                lim = signed_limit(im, robust=True)
                vmin, vmax = lims or (-lim, lim)
            else:
                vmin, vmax = lims or gray_limits(im)
            art = ax.imshow(im, cmap=SIGNED_CMAP if sgn else IMAGE_CMAP, vmin=vmin, vmax=vmax)
            if colorbar:
                cb = fig.colorbar(art, ax=ax, fraction=0.046, pad=0.03)
                cb.ax.tick_params(labelsize=8)
        ax.set_title(title, fontsize=10)
        bare(ax)
    for ax in axes[n:]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def write_kernel(image, texts, kernel, labels, fontsize, limit: float | None = None) -> None:
    """Show a small signed kernel in its cells: colours within ±``limit`` (default: its largest
    |weight|), ``labels`` (row-major) written in black, white on the strongest colours.
    ``fontsize``: a size, or a function of the label."""
    k = np.asarray(kernel, dtype=float)
    limit = signed_limit(k) if limit is None else limit
    image.set_data(k)
    image.set_clim(-limit, limit)
    kw = k.shape[1]
    for i, row in enumerate(texts):
        for j, t in enumerate(row):
            label = labels[i * kw + j]
            t.set_text(label)
            t.set_color("white" if abs(k[i, j]) > 0.6 * limit else "black")
            t.set_fontsize(fontsize(label) if callable(fontsize) else fontsize)
