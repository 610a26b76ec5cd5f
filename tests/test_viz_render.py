"""cnnlab.viz.render: the one renderer (blitting in layers) and the View base."""
import io

import matplotlib.image as mpimg
import numpy as np
import pytest

from cnnlab.viz.render import Renderer, View, encode_frame, figure_png


class Marker(View):
    """A dot that moves per frame, a title per config, a figure-level note per frame."""

    def __init__(self):
        super().__init__((4.0, 3.0))
        self.ax = self.figure.add_subplot()
        self.ax.set_xlim(0, 10)
        self.ax.set_ylim(0, 10)
        (self.dot,) = self.ax.plot([1], [1], "o", ms=20, color="red")
        self.dynamic(self.dot)
        self.dynamic(self.ax.title, "config")
        self.note = self.dynamic(self.figure.suptitle("", color="blue"))   # figure-level artist
        self.background = self.ax.axhline(5, color="green", lw=8)

    def facts(self, x=1, title="", level=5):
        return dict(x=x, title=title, level=level)

    def draw(self, facts):
        self.dot.set_data([facts["x"]], [facts["x"]])
        self.note.set_text(f"x = {facts['x']}")
        if self.changed("config", facts["title"]):
            self.ax.set_title(facts["title"])
        if self.changed("static", facts["level"]):
            self.background.set_ydata([facts["level"]] * 2)


def saved(fig):
    return mpimg.imread(io.BytesIO(figure_png(fig)))[..., :3]


def test_frames_equal_a_full_draw_and_count_full_draws():
    view = Marker()
    steps = [dict(x=1), dict(x=4), dict(x=4, title="hello"), dict(x=7, title="hello"),
             dict(x=7, title="hello", level=2), dict(x=2, title="again", level=2)]
    full = []
    for step in steps:
        view.show(**step)
        frame = view.render_rgba()[..., :3] / 255.0
        full.append(view.renderer.full_draws)
        assert np.abs(frame - saved(view.figure)).max(axis=2).__gt__(0.1).mean() < 0.01, step
    # a full draw at the start and when the static layer changed, never for frames or configs
    assert full == [1, 1, 1, 1, 2, 2]


def test_saving_draws_every_registered_artist():
    view = Marker()
    view.show(x=5, title="T")
    view.render_rgba()
    assert not any(a.get_animated() for a in (view.dot, view.note, view.ax.title))
    img = saved(view.figure)
    red = (img[..., 0] > 0.8) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)
    blue_text = (img[..., 2] > 0.8) & (img[..., 0] < 0.3)
    assert red.sum() > 50 and blue_text.sum() > 5


def test_changed_and_layers_are_checked():
    r = Renderer(Marker().figure)
    assert r.changed("static", np.arange(3)) and not r.changed("static", np.arange(3))
    assert r.changed("static", np.arange(3) + 1)            # arrays compare by content
    with pytest.raises(ValueError, match="layer"):
        r.changed("frame", 1)
    with pytest.raises(ValueError, match="layer"):
        r.register(None, "static")
    with pytest.raises(TypeError, match="matplotlib Artist"):
        r.register([None])


def test_encode_frame_is_rgb():
    from PIL import Image

    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    assert Image.open(io.BytesIO(encode_frame(rgba))).mode == "RGB"
