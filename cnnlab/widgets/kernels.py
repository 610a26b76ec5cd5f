"""The kernel playground (lesson 2): presets or a hand-typed 3x3 kernel on a real photo."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from cnnlab.kernels import IMAGE_KERNELS
from cnnlab.viz.kernels import KernelPlaygroundView
from cnnlab.widgets.base import App, choice, widget_em

__all__ = ["KernelPlayground", "kernel_playground"]


class KernelPlayground(App):
    """Pick a preset or type a 3x3 kernel; see ``F.correlate2d(image, kernel)``."""

    image_format = "jpeg"
    dynamic_controls = ("preset", "colours")
    summary_lines = 3

    def __init__(self, images: dict, preset: str):
        self._images = images
        self._views = {}
        names = list(IMAGE_KERNELS) + ["custom"]
        if preset not in names:
            raise ValueError(f"preset must be one of {names}, got {preset!r}")
        self.source = W.Dropdown(options=list(images), description="image",
                                 layout=W.Layout(width=widget_em(21.5)))
        self.preset = W.Dropdown(options=names, value=preset, description="kernel",
                                 layout=W.Layout(width=widget_em(26)))
        colours = choice("colours", [(c, c) for c in ("auto", "gray", "signed")], "auto",
                         button_width=5.5)
        start = IMAGE_KERNELS.get(preset, IMAGE_KERNELS["identity"])
        self.weights = [W.FloatText(value=round(float(v), 4), step=0.1, layout=W.Layout(width=widget_em(5.5)))
                        for v in start.ravel()]
        grid = W.GridBox(self.weights, layout=W.Layout(grid_template_columns=f"repeat(3, {widget_em(5.8)})",
                                                       grid_gap="2px"))
        self.preset.observe(self._on_preset, names="value")
        left = W.VBox([self.source, self.preset, colours])
        rows = [W.HBox([left, W.VBox([W.Label("kernel weights (edit me)"), grid])],
                       layout=W.Layout(grid_gap="24px"))]
        super().__init__(self._view_for(self.source.value), dict(colours=colours), rows,
                         watch=[self.source, colours, *self.weights])

    def _view_for(self, source):
        """One view per image (switching images switches views: no full redraw)."""
        if source not in self._views:
            self._views[source] = KernelPlaygroundView(self._images[source])
        return self._views[source]

    @property
    def kernel(self) -> np.ndarray:
        """The 3x3 kernel currently in the boxes."""
        return np.array([w.value for w in self.weights], dtype=float).reshape(3, 3)

    @property
    def image_array(self) -> np.ndarray:
        return self._images[self.source.value]

    def _on_preset(self, change):
        name = change["new"]
        if name in IMAGE_KERNELS:
            with self.hold():
                for box, v in zip(self.weights, IMAGE_KERNELS[name].ravel()):
                    box.value = round(float(v), 4)

    def params(self):
        kernel, name = self.kernel, self.preset.value
        if name != "custom" and not np.allclose(kernel, IMAGE_KERNELS[name], atol=1e-4):
            name = "custom"                   # the student edited a weight
        # Presets are shown with their exact weights (the boxes show 4 decimals, e.g. 0.1111).
        used = IMAGE_KERNELS[name] if name != "custom" else kernel
        return dict(kernel=used, name=name, colours=self.colours.value)

    def _sync(self, facts):
        self.preset.value = facts.name

    def update(self):
        self._view = self._view_for(self.source.value)
        return super().update()


def kernel_playground(image=None, preset: str = "Sobel x (vertical edges)") -> KernelPlayground:
    """Image kernels on a real photo (lesson 2): presets or a hand-typed 3x3 kernel.

    image : a 2-D gray image in [0, 1]; default: matplotlib's Grace Hopper photo (at half
            resolution, 300x256) and a handwritten digit, chosen with ``app.source``.

    Controls: ``app.source``, ``app.preset``, ``app.weights`` (9 FloatText boxes, row-major),
    ``app.colours`` ("auto": signed outputs in RdBu_r centred on 0, averages in gray).
    ``app.facts.result`` is ``F.correlate2d(image, kernel)``.
    """
    if image is None:
        from cnnlab.data import sample_image

        images = {"photo (Grace Hopper)": sample_image("grace_hopper")[::2, ::2],
                  "handwritten digit": sample_image("digit")}
    else:
        images = {"your image": np.asarray(image, dtype=float)}
    return KernelPlayground(images, preset)
