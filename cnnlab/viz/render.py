"""From a figure to the picture a widget shows: the one renderer, and the base of every view.

A :class:`View` builds its matplotlib Figure once. ``view.show(**params)`` asks its facts
function for the numbers (computed by ``cnnlab.functional``), then ``view.draw(facts)`` moves
the existing artists (``set_data``, ``set_text``, ``set_xy``); nothing is rebuilt.

The :class:`Renderer` turns the figure into pixels, redrawing as little as it can (matplotlib
blitting, in three layers):

- the *static* layer: every artist not registered below, drawn by one full draw of the figure;
- the *config* layer (``view.dynamic(artist, "config")``): artists that change only with the
  configuration (titles, tick labels, a kernel): drawn on top of the static picture, which is
  then kept;
- the *frame* layer (``view.dynamic(artist)``): artists that change every frame (the window,
  the selected cell): each frame restores the kept picture and draws only these, in
  registration order.

A view says what changed with ``view.changed(layer, key)``: when ``key`` differs from the one
given last time, that layer (for "static": everything) is redrawn on the next frame. Registered
artists are marked ``animated`` only while the renderer draws the layers below them, so saving
the figure (``savefig``, a static render of a notebook) draws everything, in z-order.

:func:`encode_frame` turns the frame into the PNG or JPEG an ``ipywidgets.Image`` shows;
:func:`figure_png` renders a whole figure the way a static render would.
"""
from __future__ import annotations

import hashlib
import io

import numpy as np

from cnnlab.viz.style import DPI, bare, format_number, new_figure

__all__ = ["Renderer", "View", "ColourBar", "encode_frame", "figure_png"]

def _digest(key):
    """A comparable stand-in for ``key``: arrays are replaced by a hash of their bytes."""
    if isinstance(key, np.ndarray):
        return (key.shape, key.dtype.str, hashlib.blake2b(np.ascontiguousarray(key).tobytes(),
                                                          digest_size=16).digest())
    if isinstance(key, (tuple, list)):
        return tuple(_digest(k) for k in key)
    return key


class Renderer:
    """Renders a figure to an RGBA frame, redrawing only the layers that changed (see module doc)."""

    def __init__(self, figure):
        self.figure = figure
        self._layers: dict[str, list] = {"config": [], "frame": []}
        self._keys: dict[str, object] = {}
        self._bg_static = None      # pixels after the full draw
        self._bg_config = None      # pixels after the config layer
        self.full_draws = 0

    def register(self, artist, layer: str = "frame"):
        """Redraw ``artist`` with the "frame" (default) or the "config" layer; returns it."""
        if layer not in self._layers:
            raise ValueError(f"layer must be 'config' or 'frame', got {layer!r}")
        if not hasattr(artist, "set_animated"):
            raise TypeError(f"artist must be a matplotlib Artist, got {type(artist).__name__}; "
                            f"ax.plot returns a list: register its line, e.g. (line,) = ax.plot(...)")
        self._layers[layer].append(artist)
        return artist

    def changed(self, layer: str, key) -> bool:
        """True, and ``layer`` is redrawn next frame, when ``key`` differs from the last one."""
        if layer not in ("static", "config"):
            raise ValueError(f"layer must be 'static' or 'config', got {layer!r}")
        key = _digest(key)
        if layer in self._keys and self._keys[layer] == key:
            return False
        self._keys[layer] = key
        self.invalidate(everything=layer == "static")
        return True

    def invalidate(self, everything: bool = False) -> None:
        """Redraw the config layer (or, with everything=True, the whole figure) next frame."""
        self._bg_config = None
        if everything:
            self._bg_static = None

    def _draw_layer(self, renderer, layer: str) -> None:
        for artist in self._layers[layer]:
            if artist.get_visible():
                artist.draw(renderer)

    def _full_draw(self) -> None:
        canvas = self.figure.canvas
        dynamic = self._layers["config"] + self._layers["frame"]
        for artist in dynamic:
            artist.set_animated(True)          # left out of the static picture
        try:
            canvas.draw()
        finally:
            for artist in dynamic:
                artist.set_animated(False)     # so savefig draws them
        self._bg_static = canvas.copy_from_bbox(self.figure.bbox)
        self._bg_config = None
        self.full_draws += 1

    def render_rgba(self) -> np.ndarray:
        """The current frame as an (H, W, 4) uint8 array (a view of the canvas buffer)."""
        canvas = self.figure.canvas
        if self._bg_static is None:
            self._full_draw()
        renderer = canvas.get_renderer()
        if self._bg_config is None:
            canvas.restore_region(self._bg_static)
            self._draw_layer(renderer, "config")
            self._bg_config = canvas.copy_from_bbox(self.figure.bbox)
        else:
            canvas.restore_region(self._bg_config)
        self._draw_layer(renderer, "frame")
        return np.asarray(canvas.buffer_rgba())

    def encode(self, image_format: str = "png") -> bytes:
        """The current frame encoded for an ``ipywidgets.Image`` (see :func:`encode_frame`)."""
        return encode_frame(self.render_rgba(), image_format)


def encode_frame(rgba, image_format: str = "png") -> bytes:
    """Encode an (H, W, 4) uint8 frame for an ``ipywidgets.Image``.

    "png" (fast zlib level 1, RGB) for diagrams: crisp, 20-30 kB; "jpeg" (quality 92) for
    frames that are mostly photographs, where a PNG would be ~250 kB per slider move.
    """
    from PIL import Image

    if image_format not in ("png", "jpeg"):
        raise ValueError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
    img = Image.fromarray(np.asarray(rgba)).convert("RGB")
    buf = io.BytesIO()
    if image_format == "png":
        img.save(buf, format="png", compress_level=1)
    else:
        img.save(buf, format="jpeg", quality=92)
    return buf.getvalue()


def figure_png(fig, dpi=None) -> bytes:
    """The figure rendered to PNG bytes (a full draw, as a static render would show it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


class View:
    """The base of every interactive figure: built once, then shown for new parameters.

    A subclass builds its figure in ``__init__`` (after ``super().__init__(figsize)``),
    registers the artists that change with :meth:`dynamic`, and implements

    - ``facts(**params)``: the numbers to show, from the module's facts function (which calls
      ``cnnlab.functional``); never drawing;
    - ``draw(facts)``: move the artists to show those numbers; never computing them. It calls
      :meth:`changed` for the layers whose picture changed.

    ``show(**params)`` is ``draw(facts(**params))`` and returns the facts. The widgets call
    ``show``; a static figure may also ``draw`` facts computed elsewhere.
    """

    def __init__(self, figsize, dpi: int = DPI, layout=None):
        self.figure = new_figure(figsize, dpi, layout)
        self.renderer = Renderer(self.figure)

    # -- to be provided by subclasses ----------------------------------------------------------
    def facts(self, *args, **params):
        raise NotImplementedError

    def draw(self, facts) -> None:
        raise NotImplementedError

    # -- common ----------------------------------------------------------------------------------
    def show(self, *args, **params):
        """Compute the facts for these parameters, draw them, and return them."""
        facts = self.facts(*args, **params)
        self.draw(facts)
        return facts

    def dynamic(self, artist, layer: str = "frame"):
        """Register ``artist`` as redrawn per "frame" (default) or per "config"; returns it."""
        return self.renderer.register(artist, layer)

    def changed(self, layer: str, key) -> bool:
        """True (and ``layer`` is redrawn next frame) when ``key`` changed since the last call."""
        return self.renderer.changed(layer, key)

    def invalidate(self, everything: bool = False) -> None:
        self.renderer.invalidate(everything)

    def render_rgba(self) -> np.ndarray:
        """The current frame as an (H, W, 4) uint8 array."""
        return self.renderer.render_rgba()

    def overlay(self):
        """An invisible Axes over the whole figure, in figure coordinates (0..1), on top of the
        others: the home of text and lines placed relative to the figure (:meth:`text`)."""
        if getattr(self, "_overlay", None) is None:
            self._overlay = self.figure.add_axes((0, 0, 1, 1), zorder=10)
            self._overlay.set_axis_off()
            self._overlay.patch.set_visible(False)
            self._overlay.set_navigate(False)
        return self._overlay

    def text(self, x: float, y: float, s: str = "", layer: str | None = None, **kwargs):
        """Text at figure coordinates (x, y); with ``layer``, redrawn with that layer."""
        ax = self.overlay()
        t = ax.text(x, y, s, transform=ax.transAxes, **kwargs)
        return self.dynamic(t, layer) if layer else t

    def colour_bar(self, rect, layer: str = "frame") -> "ColourBar":
        """A light colour bar at ``rect`` (figure coordinates) redrawn with ``layer``
        (matplotlib's own colorbar is a static artist)."""
        return ColourBar(self, rect, layer)


class ColourBar:
    """A vertical colour bar: a gradient image and three tick labels, redrawn with a layer."""

    def __init__(self, view: View, rect, layer: str = "frame"):
        ax = view.figure.add_axes(rect)
        bare(ax)
        self.ax = ax
        self._img = view.dynamic(ax.imshow(np.linspace(1, 0, 256)[:, None], aspect="auto",
                                           extent=(0, 1, 0, 1), vmin=0, vmax=1), layer)
        kw = dict(transform=ax.transAxes, ha="left", va="center", fontsize=8)
        self._labels = [view.dynamic(ax.text(1.25, y, "", **kw), layer) for y in (1.0, 0.5, 0.0)]

    def set(self, cmap: str, vmin: float, vmax: float, middle: str = "") -> None:
        self._img.set_cmap(cmap)
        for t, v in zip(self._labels, (format_number(vmax), middle, format_number(vmin))):
            t.set_text(v)

    def get(self) -> tuple[str, str, str]:
        return tuple(t.get_text() for t in self._labels)
