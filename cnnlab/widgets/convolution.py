"""Interactive apps for lessons 1-4 (ipywidgets): thin wiring of cnnlab.viz and cnnlab.functional.

Each function returns an :class:`App` with

- ``.widget``   the ipywidgets box to display (``app.widget`` as the last line of a cell;
                ``app`` alone displays it too),
- the controls as attributes (``app.row``, ``app.stride`` ...): set ``.value`` to drive the app
  from code or from a test, exactly as a student's mouse does,
- ``.figure``   the current matplotlib Figure, ``.update()`` to redraw,
- ``.summary``  an ``ipywidgets.HTML`` with the numbers in words; ``.text`` is the same as plain
  text and ``.facts`` the record of numbers the view displayed.

How it renders: the view draws its figure once and each control change only moves artists
and redraws those (blitting, see ``viz.convolution.FrameView``); the frame is encoded as a PNG
of fixed pixel size and shown in an ``ipywidgets.Image``.
That works the same in JupyterLab, classic Notebook, VS Code and voila with the default inline
backend (no ``%matplotlib widget`` needed), and the layout never jumps because the picture
keeps its size.
"""
from __future__ import annotations

import html
import io
import time
from contextlib import contextmanager

import ipywidgets as W
import numpy as np

from cnnlab.viz import convolution as V

__all__ = ["App", "convolution_stepper", "kernel_playground", "stride_explorer",
           "channel_explorer", "encode_frame"]


def encode_frame(rgba, image_format: str = "png") -> bytes:
    """Encode an (H, W, 4) uint8 frame for an ``ipywidgets.Image``.

    "png" (fast zlib level 1, RGB) for diagrams: crisp, 20-30 kB; "jpeg" (quality 92) for
    frames that are mostly photographs, where a PNG would be ~250 kB per slider move.
    """
    from PIL import Image

    img = Image.fromarray(np.asarray(rgba)).convert("RGB")
    buf = io.BytesIO()
    if image_format == "png":
        img.save(buf, format="png", compress_level=1)
    elif image_format == "jpeg":
        img.save(buf, format="jpeg", quality=92)
    else:
        raise ValueError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
    return buf.getvalue()


class App:
    """A lesson app: controls + a figure rendered into an Image + a text summary.

    Subclasses set ``self.controls`` (the ordered rows of the control panel), build a view and
    implement ``_compute()`` that reads the controls, calls the view's ``show`` and returns its
    facts (which carry ``.text``).
    """

    _ready = False
    image_format = "png"

    def __init__(self, controls, view):
        self._view = view
        self._holding = 0
        self.facts = None
        self.last_update_ms = float("nan")
        self.image = W.Image(format=self.image_format)
        self.summary = W.HTML()
        for c in self._value_controls():
            c.observe(self._on_change, names="value")
        self.widget = W.VBox([*controls, self.image, self.summary],
                             layout=W.Layout(align_items="flex-start"))
        self._ready = True
        self.update()
        w, h = (self.figure.get_size_inches() * self.figure.dpi).round().astype(int)
        self.image.layout = W.Layout(width=f"{w}px", max_width="100%", height="auto")

    # -- to be provided by subclasses ------------------------------------------------------
    def _value_controls(self):
        """The controls whose value change triggers an update."""
        raise NotImplementedError

    def _compute(self):
        raise NotImplementedError

    # -- common machinery --------------------------------------------------------------------
    @property
    def figure(self):
        """The current matplotlib Figure (the same object between updates)."""
        return self._view.figure

    @property
    def text(self) -> str:
        """The summary as plain text (what the tests read)."""
        return self.facts.text if self.facts is not None else ""

    @contextmanager
    def hold(self):
        """Change several controls and redraw once at the end: ``with app.hold(): ...``."""
        self._holding += 1
        try:
            yield self
        finally:
            self._holding -= 1
        if not self._holding:
            self.update()

    def _on_change(self, change=None):
        if self._ready and not self._holding:
            self.update()

    def _summary_html(self, facts) -> str:
        """The facts' text as wrapped prose (not a <pre>: JupyterLab breaks <pre> text mid-word)."""
        return _prose(facts.text)

    def update(self):
        """Recompute from the controls, move the artists, re-render; returns the facts."""
        t0 = time.perf_counter()
        self._holding += 1          # controls adjusted inside _compute do not re-trigger
        try:
            facts = self._compute()
        finally:
            self._holding -= 1
        self.facts = facts
        self.summary.value = self._summary_html(facts)
        self.image.value = encode_frame(self._view.render_rgba(), self.image_format)
        self.last_update_ms = (time.perf_counter() - t0) * 1e3
        return facts

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# Explanations below a figure: proportional font, wrapped between words only (JupyterLab's
# output CSS sets word-break: break-all on <pre>, which splits "RdBu_r" into "RdBu" / "_r").
_PROSE_STYLE = ("font-size:13.5px; line-height:1.5; margin:6px 0 2px 0; max-width:820px; "
                "white-space:normal; word-break:normal; overflow-wrap:break-word")
_MONO_STYLE = ("font-family:var(--jp-code-font-family, 'DejaVu Sans Mono', monospace); "
               "font-size:13px; white-space:pre; word-break:normal; overflow-x:auto")


def _prose(text: str) -> str:
    """Plain text as HTML: one paragraph per line, words never split."""
    lines = [f"<div>{html.escape(line.strip())}</div>" for line in text.split("\n") if line.strip()]
    return f"<div style=\"{_PROSE_STYLE}\">{''.join(lines)}</div>"


def _slider(description, value, lo, hi, **kw):
    lo, hi = min(lo, value), max(hi, value)
    style = {"description_width": "initial"}
    return W.IntSlider(value=value, min=lo, max=hi, description=description, style=style,
                       continuous_update=True, layout=W.Layout(width="260px"), **kw)


# --------------------------------------------------------------------------- lesson 1
class ConvolutionStepper(App):
    """Step the window over the input; see the products and their sum for each output cell."""

    def __init__(self, x=None, k=None, operation="correlate"):
        view = V.ConvolutionStepperView(x, k, operation, caption=False)   # equation: in the summary
        oh, ow = view.output_shape
        self.row = _slider("output row", 0, 0, oh - 1)
        self.col = _slider("output column", 0, 0, ow - 1)
        if view.ndim == 1:
            self.row.layout.display = "none"
        self.operation = W.ToggleButtons(
            options=[("cross-correlation (CNNs)", "correlate"), ("convolution (flipped kernel)", "convolve")],
            value=operation, style={"button_width": "210px"})
        self.play = W.Play(value=0, min=0, max=oh * ow - 1, interval=900, description="play")
        self.play.observe(self._on_play, names="value")
        self._shape = (oh, ow)
        controls = [self.operation, W.HBox([self.play, self.row, self.col])]
        super().__init__(controls, view)

    def _value_controls(self):
        return [self.row, self.col, self.operation]

    def _on_play(self, change):
        oh, ow = self._shape
        r, c = divmod(int(change["new"]), ow)
        if (r, c) != (self.row.value, self.col.value):
            with self.hold():
                self.row.value, self.col.value = r, c

    def _compute(self):
        facts = self._view.show(self.row.value, self.col.value, self.operation.value)
        self.play.value = facts.row * self._shape[1] + facts.col   # keep the Play in step
        return facts

    def _summary_html(self, facts) -> str:
        # The definition, with HTML subscripts (a, b are the kernel row and column offsets).
        i, j, a, b = (f"<i>{v}</i>" for v in "ijab")
        total = f"Σ<sub>{a}</sub> Σ<sub>{b}</sub>"
        if self._view.ndim == 1:
            op = (f"y[{i}] = Σ<sub>{a}</sub> x[{i}+{a}] · k[{a}]" if facts.operation == "correlate"
                  else f"y[{i}] = Σ<sub>{a}</sub> x[{i}+{a}] · k[K−1−{a}]&nbsp;&nbsp;(k reversed)")
        else:
            op = (f"y[{i}, {j}] = {total} x[{i}+{a}, {j}+{b}] · k[{a}, {b}]"
                  if facts.operation == "correlate" else
                  f"y[{i}, {j}] = {total} x[{i}+{a}, {j}+{b}] · k[k<sub>h</sub>−1−{a}, k<sub>w</sub>−1−{b}]"
                  f"&nbsp;&nbsp;(k rotated 180°)")
        return (f"<div style=\"{_PROSE_STYLE}\"><div>{op}</div>"
                f"<div style=\"{_MONO_STYLE}; font-size:14.5px; margin-top:4px\"><b>"
                f"{html.escape(facts.label)}:&nbsp;&nbsp;{html.escape(facts.text)}</b></div></div>")


def convolution_stepper(x=None, k=None, operation: str = "correlate") -> ConvolutionStepper:
    """Step-through of a 1-D or 2-D cross-correlation / convolution (lesson 1).

    x, k      : 1-D or 2-D arrays (default: the worked example, x = 0..8 as 3x3,
                k = [[0, 1], [2, 3]] → 19 25 37 43)
    operation : "correlate" (what CNNs compute) or "convolve" (kernel rotated 180°)

    Controls: ``app.row``, ``app.col`` (the output cell), ``app.operation``, ``app.play``.
    ``app.text`` reads e.g. ``"19 = 0×0 + 1×1 + 3×2 + 4×3"``.
    """
    return ConvolutionStepper(x, k, operation)


# --------------------------------------------------------------------------- lesson 2
class KernelPlayground(App):
    """Pick a preset or type a 3x3 kernel; see ``F.correlate2d(image, kernel)``."""

    image_format = "jpeg"

    def __init__(self, images: dict, preset: str):
        self._images = images
        self._views = {}
        names = list(V.IMAGE_KERNELS) + ["custom"]
        if preset not in names:
            raise ValueError(f"preset must be one of {names}, got {preset!r}")
        self.source = W.Dropdown(options=list(images), description="image",
                                 layout=W.Layout(width="280px"))
        self.preset = W.Dropdown(options=names, value=preset, description="kernel",
                                 layout=W.Layout(width="340px"))
        self.colours = W.ToggleButtons(options=["auto", "gray", "signed"], value="auto",
                                       description="colours", style={"button_width": "70px"})
        start = V.IMAGE_KERNELS.get(preset, V.IMAGE_KERNELS["identity"])
        self.weights = [W.FloatText(value=round(float(v), 4), step=0.1, layout=W.Layout(width="72px"))
                        for v in start.ravel()]
        grid = W.GridBox(self.weights, layout=W.Layout(grid_template_columns="repeat(3, 76px)",
                                                       grid_gap="2px"))
        self.preset.observe(self._on_preset, names="value")
        left = W.VBox([self.source, self.preset, self.colours])
        controls = [W.HBox([left, W.VBox([W.Label("kernel weights (edit me)"), grid])],
                           layout=W.Layout(grid_gap="24px"))]
        super().__init__(controls, self._view_for(self.source.value))

    def _view_for(self, source):
        if source not in self._views:
            self._views[source] = V.KernelPlaygroundView(self._images[source])
        return self._views[source]

    def _value_controls(self):
        return [self.source, self.colours, *self.weights]

    @property
    def kernel(self) -> np.ndarray:
        """The 3x3 kernel currently in the boxes."""
        return np.array([w.value for w in self.weights], dtype=float).reshape(3, 3)

    @property
    def image_array(self) -> np.ndarray:
        return self._images[self.source.value]

    def _on_preset(self, change):
        name = change["new"]
        if name in V.IMAGE_KERNELS:
            with self.hold():
                for box, v in zip(self.weights, V.IMAGE_KERNELS[name].ravel()):
                    box.value = round(float(v), 4)

    def _compute(self):
        self._view = self._view_for(self.source.value)
        kernel = self.kernel
        name = self.preset.value
        if name != "custom" and not np.allclose(kernel, V.IMAGE_KERNELS[name], atol=1e-4):
            self.preset.value = name = "custom"      # the student edited a weight
        # Presets are shown with their exact weights (the boxes show 4 decimals, e.g. 0.1111).
        used = V.IMAGE_KERNELS[name] if name != "custom" else kernel
        return self._view.show(used, name, self.colours.value)


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


# --------------------------------------------------------------------------- lesson 3
class StrideExplorer(App):
    """Sliders for N, F, S, P, D; the sliding window, the output grid and the formula."""

    def __init__(self, n, f, s, p, d):
        self.n = _slider("input N", n, 1, 16)
        self.f = _slider("kernel F", f, 1, 7)
        self.s = _slider("stride S", s, 1, 5)
        self.p = _slider("padding P", p, 0, 6)
        self.d = _slider("dilation D", d, 1, 4)
        self.row = _slider("window row", 0, 0, 0)
        self.col = _slider("window column", 0, 0, 0)
        self.play = W.Play(value=0, min=0, max=0, interval=700, description="play")
        self.play.observe(self._on_play, names="value")
        self.valid_button = W.Button(description="valid (P = 0)", layout=W.Layout(width="130px"))
        self.same_button = W.Button(description="same (S = 1)", layout=W.Layout(width="130px"))
        self.valid_button.on_click(self._on_valid)
        self.same_button.on_click(self._on_same)
        self.note = ""
        self._size = None
        controls = [W.HBox([W.VBox([self.n, self.f, self.s]), W.VBox([self.p, self.d, W.HBox(
                        [self.valid_button, self.same_button])]), W.VBox([self.row, self.col, self.play])])]
        super().__init__(controls, V.StrideExplorerView(caption=False))   # formula: in the summary

    def _value_controls(self):
        return [self.n, self.f, self.s, self.p, self.d, self.row, self.col]

    def _on_play(self, change):
        if not self._size:
            return
        r, c = divmod(int(change["new"]), self._size)
        if (r, c) != (self.row.value, self.col.value):
            with self.hold():
                self.row.value, self.col.value = r, c

    def _on_valid(self, _button=None):
        self.note = "'valid': no padding, the window stays inside the input."
        self.p.value = 0

    def _on_same(self, _button=None):
        """Stride 1 and the symmetric padding for which F.output_size gives back N, if any."""
        from cnnlab import functional as F

        n, f, d = self.n.value, self.f.value, self.d.value
        found = None
        for p in range(0, self.p.max + 1):
            try:
                if F.output_size(n, f, stride=1, padding=p, dilation=d) == n:
                    found = p
                    break
            except ValueError:
                continue
        with self.hold():
            self.s.value = 1
            if found is None:
                self.note = (f"'same' asks for output size = N = {n}. With F = {f}, D = {d} no "
                             f"symmetric padding 0..{self.p.max} gives that: D(F−1) is odd, so the "
                             "padding would be a half pixel. PyTorch's padding='same' then pads one "
                             "more pixel at the bottom/right.")
            else:
                self.note = f"'same': stride 1 and P = {found} keep the output size equal to N = {n}."
                self.p.value = found

    def _summary_html(self, facts) -> str:
        """The formula and its substitution in monospace (aligned), the explanation as prose."""
        parts = []
        for line in facts.text.split("\n"):
            if line.startswith("O =") or line.startswith("  = "):
                parts.append(f"<div style=\"{_MONO_STYLE}\">{html.escape(line)}</div>")
            elif line.strip():
                parts.append(f"<div>{html.escape(line.strip())}</div>")
        return f"<div style=\"{_PROSE_STYLE}\">{''.join(parts)}</div>"

    def _compute(self):
        v = self._view
        facts = v.show(self.n.value, self.f.value, self.s.value, self.p.value, self.d.value,
                       self.row.value, self.col.value)
        self._size = facts.size          # the Play's flat index counts rows of this many cells
        if facts.size is None:
            for c in (self.row, self.col):
                c.max, c.value, c.disabled = 0, 0, True
            self.play.max, self.play.disabled = 0, True
        else:
            last = facts.size - 1
            for c, val in ((self.row, facts.row), (self.col, facts.col)):
                c.max = last                  # clamps the value if it was larger
                c.value, c.disabled = val, False
            self.play.disabled = False
            self.play.max = facts.size * facts.size - 1
            self.play.value = facts.row * facts.size + facts.col
        if self.note:
            facts.text = f"{facts.text}\n{self.note}"
            self.note = ""
        return facts


def stride_explorer(n: int = 7, f: int = 3, s: int = 1, p: int = 0, d: int = 1) -> StrideExplorer:
    """Stride, padding and dilation on an N x N input (lesson 3).

    Controls: ``app.n``, ``app.f``, ``app.s``, ``app.p``, ``app.d``, the window position
    ``app.row``/``app.col`` (and ``app.play``), buttons ``app.valid_button``/``app.same_button``.
    Accepts every combination: a fractional output size is shown and floored as PyTorch does,
    with the never-visited input cells in red; an impossible one (kernel larger than the padded
    input) is explained in the text instead of raising. ``app.facts`` holds the numbers.
    """
    return StrideExplorer(n, f, s, p, d)


# --------------------------------------------------------------------------- lesson 4
class ChannelExplorer(App):
    """One output channel of a conv layer on RGB input, channel by channel."""

    image_format = "jpeg"

    def __init__(self, image, weight, bias, names):
        view = V.ChannelExplorerView(image, weight, bias, names)
        c_out = view.weight.shape[0]
        self.out_channel = W.Dropdown(options=[(f"{o}: {view.names[o]}", o) for o in range(c_out)],
                                      value=0, description="filter", layout=W.Layout(width="380px"))
        self.bias = W.FloatSlider(value=float(view.bias[0]), min=-1.0, max=1.0, step=0.05,
                                  description="bias b", continuous_update=True,
                                  layout=W.Layout(width="300px"))
        self.out_channel.observe(self._on_channel, names="value")
        super().__init__([W.HBox([self.out_channel, self.bias])], view)

    def _value_controls(self):
        return [self.bias]

    def _on_channel(self, change):
        with self.hold():
            self.bias.value = float(self._view.bias[change["new"]])

    def _compute(self):
        return self._view.show(self.out_channel.value, self.bias.value)


def channel_explorer(image=None, weight=None, bias=None, names=None) -> ChannelExplorer:
    """Channels (lesson 4): per input channel its kernel slice and partial map, then their sum + bias.

    image  : RGB (H, W, 3) in [0, 1]; default: the Grace Hopper photo at quarter resolution
    weight : (C_out, 3, kH, kW); default: ``viz.default_channel_weights()`` (4 hand-made filters)
    bias   : (C_out,)

    Controls: ``app.out_channel`` (which filter), ``app.bias`` (its bias).
    ``app.facts.output`` is ``F.conv2d(x, W, b)[0, o]`` and ``app.facts.partials`` the
    per-channel ``F.correlate2d`` maps.
    """
    if image is None:
        from cnnlab.data import sample_image

        image = sample_image("grace_hopper", grayscale=False)[::4, ::4]
    if weight is None:
        weight, b0, n0 = V.default_channel_weights()
        bias = b0 if bias is None else bias
        names = n0 if names is None else names
    return ChannelExplorer(image, weight, bias, names)
