"""Interactive apps for lessons 5-7: pooling, backpropagation, LeNet-5's feature maps.

Thin wiring only: numbers come from :mod:`cnnlab.functional` (or the model), drawing from
:mod:`cnnlab.viz.networks`.  Each function returns an app with

* ``.widget``  the ipywidgets box to display (controls, the figure as a PNG, a summary);
* the controls as attributes (``app.kernel_size.value = 3`` re-computes and redraws);
* ``.figure``  the current matplotlib figure, built once and updated in place;
* ``.summary`` an HTML widget with the numbers in words (tests read it);
* ``.update()`` recompute and redraw; the computed arrays as attributes (``app.output`` ...).

The figure is shown through an ``ipywidgets.Image`` holding its PNG, so the apps work in
JupyterLab with the stock ``%matplotlib inline`` backend (no ipympl) and headlessly in tests.
"""
from __future__ import annotations

import html
import re
import time
from contextlib import contextmanager

import ipywidgets as W
import numpy as np

from cnnlab import functional as F
from cnnlab.viz import networks as V

__all__ = [
    "pooling_explorer",
    "backprop_explorer",
    "pool_gradient_explorer",
    "feature_map_explorer",
    "PoolingApp",
    "BackpropApp",
    "PoolGradientApp",
    "FeatureMapApp",
]

_SLIDER = dict(continuous_update=True, style={"description_width": "initial"},
               layout=W.Layout(width="210px"))


def _slider(description, value, lo, hi):
    return W.IntSlider(value=value, min=lo, max=hi, step=1, description=description, **_SLIDER)


# The selected button of a choice must be obvious at a glance: the stock style only darkens
# it a little. The rule is scoped to the apps' own toggles (class "cnnlab-choice").
_CHOICE_CSS = ("<style>.cnnlab-choice button.mod-active{background-color:#1976d2;color:#fff;"
               "font-weight:bold}.cnnlab-choice button:not(.mod-active){color:#333;"
               "background-color:#eee}</style>")


def _choice(description, options, value, button_width="150px"):
    """Labelled toggle buttons whose selected button is filled blue (see ``_CHOICE_CSS``)."""
    t = W.ToggleButtons(options=options, value=value, description=description,
                        tooltips=[label for label, _ in options],
                        style={"button_width": button_width, "description_width": "initial"},
                        layout=W.Layout(width="auto"))      # label and buttons on one line
    t.add_class("cnnlab-choice")
    return t


def _choice_style():
    """The ``<style>`` element for ``_choice`` buttons; put it once in an app's box."""
    return W.HTML(_CHOICE_CSS, layout=W.Layout(height="0px", margin="0px"))


# The two explorers of lesson 6 start on the same view: one δ cell's share.
SHOW_OPTIONS = [("this cell's share", "cell"), ("all cells (total)", "all")]
SHOW_DEFAULT = "cell"


def _nowrap(text):
    """Keep a formula on one line in the summary (browsers may break after "/")."""
    return f'<span style="white-space:nowrap">{text}</span>'


def _n(v, decimals=3):
    """A number for the summary text: integers plain, others rounded."""
    v = float(v)
    if abs(v - round(v)) < 1e-9:
        return str(int(round(v)))
    return f"{v:.{decimals}f}".rstrip("0").rstrip(".")


def _array(a):
    """A small array on one line: [[1, −2], [0.5, 3]]."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _n(a)
    return "[" + ", ".join(_array(row) for row in a) + "]"


class _App:
    """Shared plumbing: observe the controls, recompute, redraw, re-render the PNG."""

    controls: tuple = ()
    # names of the controls whose change only moves the "dynamic" artists of the figure
    # (redrawn on top of a cached background); any other control triggers a full draw
    dynamic_controls: tuple = ("row", "col", "show")

    def __init__(self, fig):
        self._fig = fig
        self._renderer = V.BlitRenderer(fig.fig, fig.dynamic)
        self._busy = False
        self.error = None
        self.last_update_ms = None
        w, _ = (fig.fig.get_size_inches() * fig.fig.dpi).round().astype(int)
        self.image = W.Image(format="png",
                             layout=W.Layout(width=f"{w}px", max_width="100%", height="auto"))
        self.summary = W.HTML(layout=W.Layout(min_height="3.5em"))

    @property
    def figure(self):
        """The current matplotlib figure (the same object on every update)."""
        return self._fig.fig

    @property
    def text(self) -> str:
        """The summary as plain text (what the tests read)."""
        return html.unescape(re.sub(r"<br\s*/?>", "\n", re.sub(r"<(?!br)[^>]+>", "",
                                                                self.summary.value)))

    def _watch(self):
        for c in self.controls:
            c.observe(self._changed, names="value")

    def _changed(self, _change=None):
        if not self._busy:
            self.update()

    @contextmanager
    def hold(self):
        """Change several controls and redraw once at the end: ``with app.hold(): ...``."""
        was, self._busy = self._busy, True
        try:
            yield self
        finally:
            self._busy = was
        if not was:
            self.update()

    def _set_range(self, slider, hi):
        """Adjust a slider's max without triggering a cascade of updates."""
        was, self._busy = self._busy, True
        try:
            if slider.value > hi:
                slider.value = hi
            slider.max = hi
        finally:
            self._busy = was

    def update(self):
        """Recompute from the controls, move the artists, re-render the PNG; returns self."""
        t0 = time.perf_counter()
        was, self._busy = self._busy, True
        try:
            try:
                self.error = None
                self._compute()
            except ValueError as exc:     # an impossible setting: explain, keep the old figure
                self.error = str(exc)
                self.summary.value = ('<span style="color:#b00020"><b>Not possible:</b> '
                                      f"{html.escape(self.error)}</span>")
                return self
            self._draw()
            self.image.value = self._renderer.render(self._static_key())
        finally:
            self._busy = was
            self.last_update_ms = (time.perf_counter() - t0) * 1e3
        return self

    def _static_key(self):
        dynamic = {id(getattr(self, n)) for n in self.dynamic_controls if hasattr(self, n)}
        return tuple(c.value for c in self.controls if id(c) not in dynamic)

    def _repr_mimebundle_(self, **kwargs):   # `app` alone in a cell shows the widget
        return self.widget._repr_mimebundle_(**kwargs)


# ----------------------------------------------------------------------------------------
# Lesson 5: pooling explorer
# ----------------------------------------------------------------------------------------
class PoolingApp(_App):
    """Pooling type, size, stride, padding (and a shift of the input) on one feature map."""

    def __init__(self, feature_map=None, kind="max", kernel_size=2, stride=2, padding=0):
        x = V.default_feature_map() if feature_map is None else np.asarray(feature_map)
        self.base = np.asarray(x, dtype=np.float64)
        super().__init__(V.PoolingFigure(self.base.shape))
        self.kind = W.Dropdown(options=[(V.POOL_LABELS[k], k) for k in V.POOL_KINDS],
                               value=kind, description="pooling",
                               layout=W.Layout(width="210px"))
        self.kernel_size = _slider("kernel size", kernel_size, 1, V.PoolingFigure.MAX_K)
        self.stride = _slider("stride", stride, 1, 4)
        self.padding = _slider("padding", padding, 0, V.PoolingFigure.MAX_PAD)
        self.shift = _slider("shift input →", 0, 0, 3)
        self.row = _slider("output row", 0, 0, 0)
        self.col = _slider("output col", 0, 0, 0)
        self.controls = (self.kind, self.kernel_size, self.stride, self.padding, self.shift,
                         self.row, self.col)
        self.widget = W.VBox([
            W.HBox([W.VBox([self.kind, self.kernel_size, self.stride]),
                    W.VBox([self.padding, self.shift]),
                    W.VBox([self.row, self.col])]),
            self.image, self.summary])
        self._watch()
        self.update()
        self._select_busiest()

    def _select_busiest(self):
        """Start on the window with the largest output (more interesting than a blank corner)."""
        if self.error is None:
            r, c = np.unravel_index(int(np.argmax(self.output)), self.output.shape)
            with self.hold():
                self.row.value, self.col.value = int(r), int(c)

    def _compute(self):
        kind, k = self.kind.value, self.kernel_size.value
        s, p = self.stride.value, self.padding.value
        self.x = V.shift_right(self.base, self.shift.value)
        out, winners = V.pool2d(self.x, kind, k, s, p)
        self.output, self.winners = out, winners
        self._set_range(self.row, out.shape[0] - 1)
        self._set_range(self.col, out.shape[1] - 1)
        # the unshifted pooled map, to say how much a shift changed
        self.output_unshifted = (out if self.shift.value == 0
                                 else V.pool2d(self.base, kind, k, s, p)[0])

    def _draw(self):
        kind, k = self.kind.value, self.kernel_size.value
        s, p = self.stride.value, self.padding.value
        r, c = self.row.value, self.col.value
        self._fig.show(V.PoolingState(self.x, self.output, kind, k, s, p, r, c, self.winners))
        H, Wd = self.x.shape
        oh, ow = self.output.shape
        exact = F.output_size_exact(H, k, s, p)
        fname = V.POOL_KINDS[kind]
        args = (f"norm_type=2, kernel_size={k}, stride={s}" if kind == "l2"
                else f"kernel_size={k}, stride={s}, padding={p}")
        size = (f"⌊({H} + 2·{p} − {k}) / {s} + 1⌋ = ⌊{_n(exact)}⌋ = {oh}"
                if exact != oh else f"({H} + 2·{p} − {k}) / {s} + 1 = {oh}")
        r0, c0 = V.pool_window(r, c, k, s, p)
        lines = [
            f"<b>F.{fname}</b>(x, {args}): {H}×{Wd} → <b>{oh}×{ow}</b>; "
            f"output size {size}",
            f"output[{r}, {c}] = <b>{_n(self.output[r, c])}</b> from the window rows "
            f"{r0}…{r0 + k - 1}, columns {c0}…{c0 + k - 1}"
            + (" (part of it is padding)" if min(r0, c0) < 0 or max(r0, c0) + k > H else ""),
        ]
        if self.shift.value:
            def changed(a, b):          # among the cells where either map is nonzero
                active = (a != 0) | (b != 0)
                return int(np.count_nonzero(a != b)), int(np.count_nonzero(active))

            (ci, ai), (co, ao) = changed(self.x, self.base), changed(self.output,
                                                                     self.output_unshifted)
            lines.append(f"input shifted {self.shift.value} px right: {ci} of its {ai} active "
                         f"values changed ({100 * ci / max(ai, 1):.0f}%); pooled: {co} of {ao} "
                         f"({100 * co / max(ao, 1):.0f}%)")
        self.summary.value = "<br>".join(lines)


def pooling_explorer(feature_map=None, kind="max", kernel_size=2, stride=2, padding=0):
    """Explore pooling on a feature map (default: ReLU of a Sobel response of a digit).

    Controls: ``kind`` (max / avg / sum / l2), ``kernel_size``, ``stride``, ``padding``,
    ``shift`` (move the input right by 0-3 pixels), ``row``/``col`` (the output cell whose
    window is outlined).  ``app.output`` is the pooled map, ``app.winners`` the max-pool
    winner indices (``None`` for other kinds).
    """
    return PoolingApp(feature_map, kind, kernel_size, stride, padding)


# ----------------------------------------------------------------------------------------
# Lesson 6: backpropagation through a convolution
# ----------------------------------------------------------------------------------------
class BackpropApp(_App):
    """Pick an output cell (a δ position): see which inputs and weights receive its gradient."""

    def __init__(self, x=None, weight=None, delta=None):
        self.x = V.BACKPROP_X if x is None else np.asarray(x, dtype=np.float64)
        self.w = V.BACKPROP_W if weight is None else np.asarray(weight, dtype=np.float64)
        self._fixed_delta = None if delta is None else np.asarray(delta, dtype=np.float64)
        super().__init__(V.BackpropFigure(self.x.shape, self.w.shape,
                                          max_delta_shape=self._max_delta_shape()))
        self.row = _slider("δ row", 0, 0, 0)
        self.col = _slider("δ col", 0, 0, 0)
        self.stride = _slider("stride", 1, 1, 2)
        self.padding = _slider("padding", 0, 0, 1)
        self.show = _choice("show", SHOW_OPTIONS, SHOW_DEFAULT)
        if self._fixed_delta is not None:
            self.stride.disabled = self.padding.disabled = True
        self.controls = (self.row, self.col, self.stride, self.padding, self.show)
        self.widget = W.VBox([_choice_style(),
                              W.HBox([W.VBox([self.row, self.col]),
                                      W.VBox([self.stride, self.padding]), self.show]),
                              self.image, self.summary])
        self._watch()
        self.update()

    def _max_delta_shape(self):
        if self._fixed_delta is not None:
            return self._fixed_delta.shape
        return tuple(F.output_size(n, k, 1, 1) for n, k in zip(self.x.shape, self.w.shape))

    def _compute(self):
        s, p = self.stride.value, self.padding.value
        if self._fixed_delta is not None:
            delta = self._fixed_delta
        else:
            shape = tuple(F.output_size(n, k, s, p) for n, k in zip(self.x.shape, self.w.shape))
            delta = V.default_delta(shape)
        self.delta = delta
        self._set_range(self.row, delta.shape[0] - 1)
        self._set_range(self.col, delta.shape[1] - 1)
        r, c = self.row.value, self.col.value
        # the totals, and the selected cell's share (backward of a one-hot δ)
        self.grad_input, self.grad_weight, self.grad_bias = V._conv_backward_2d(
            delta, self.x, self.w, s, p)
        one = np.zeros_like(delta)
        one[r, c] = delta[r, c]
        self.cell_grad_input, self.cell_grad_weight, self.cell_grad_bias = V._conv_backward_2d(
            one, self.x, self.w, s, p)

    def _draw(self):
        s, p = self.stride.value, self.padding.value
        r, c = self.row.value, self.col.value
        only = self.show.value == "cell"
        dx, dw, db = ((self.cell_grad_input, self.cell_grad_weight, self.cell_grad_bias) if only
                      else (self.grad_input, self.grad_weight, self.grad_bias))
        self._fig.show(V.BackpropState(self.x, self.w, self.delta, dx, dw, db, s, p, r, c, only))
        kh, kw = self.w.shape
        r0, c0 = V.pool_window(r, c, kh, s, p)
        d = _n(self.delta[r, c])
        if self.delta[r, c] == 0:
            sends = "so <b>nothing flows back</b> from this cell: all its shares are 0."
        else:
            sends = ("goes back as " + _nowrap(f"∂L/∂W += {d}·window,") + " "
                     + _nowrap(f"∂L/∂X[window] += {d}·W,") + " " + _nowrap(f"∂L/∂b += {d}."))
        self.summary.value = "<br>".join([
            f"Y[{r}, {c}] read the window X[{r0}:{r0 + kh}, {c0}:{c0 + kw}] "
            f"(stride {s}, padding {p}); its gradient is δ[{r}, {c}] = <b>{d}</b>, {sends}",
            f"Totals over all {self.delta.size} cells: "
            + _nowrap(f"∂L/∂b = Σδ = <b>{_n(self.grad_bias)}</b>;") + " "
            + _nowrap(f"∂L/∂W = {_array(self.grad_weight)}"),
        ])


def backprop_explorer(x=None, weight=None, delta=None):
    """Explore the backward pass of a single-channel 2-D convolution.

    Controls: ``row``/``col`` (a position of δ = ∂L/∂Y), ``stride``, ``padding``, ``show``
    ("cell": that position's share of the gradients, "all": the totals).  Attributes
    ``grad_input``, ``grad_weight``, ``grad_bias`` are ``F.conv2d_backward``'s totals,
    ``cell_grad_*`` the selected cell's share (the backward of a one-hot δ).
    """
    return BackpropApp(x, weight, delta)


# ----------------------------------------------------------------------------------------
# Lesson 6: how pooling routes gradients
# ----------------------------------------------------------------------------------------
class PoolGradientApp(_App):
    """Max pooling routes each δ to its window's winner; average pooling spreads it."""

    def __init__(self, x=None, kind="max", kernel_size=2, stride=2):
        self.x = V.POOL_GRAD_X if x is None else np.asarray(x, dtype=np.float64)
        super().__init__(V.PoolGradientFigure(self.x.shape))
        self.kind = _choice("pooling", [("max", "max"), ("average", "avg")], kind,
                            button_width="80px")
        self.kernel_size = _slider("kernel size", kernel_size, 2, 3)
        self.stride = _slider("stride", stride, 1, 3)
        self.row = _slider("δ row", 0, 0, 0)
        self.col = _slider("δ col", 0, 0, 0)
        self.show = _choice("show", SHOW_OPTIONS, SHOW_DEFAULT)
        self.controls = (self.kind, self.kernel_size, self.stride, self.row, self.col, self.show)
        self.widget = W.VBox([_choice_style(),
                              W.HBox([W.VBox([self.kind, self.show]),
                                      W.VBox([self.kernel_size, self.stride]),
                                      W.VBox([self.row, self.col])]),
                              self.image, self.summary])
        self._watch()
        self.update()

    def _compute(self):
        kind, k, s = self.kind.value, self.kernel_size.value, self.stride.value
        out, winners = V.pool2d(self.x, kind, k, s)
        self.output, self.winners = out, winners
        self.delta = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
        self._set_range(self.row, out.shape[0] - 1)
        self._set_range(self.col, out.shape[1] - 1)
        r, c = self.row.value, self.col.value
        self.grad_input = V.pool2d_backward(self.delta, self.x, kind, k, s)
        one = np.zeros_like(self.delta)
        one[r, c] = self.delta[r, c]
        self.cell_grad_input = V.pool2d_backward(one, self.x, kind, k, s)

    def _draw(self):
        kind, k, s = self.kind.value, self.kernel_size.value, self.stride.value
        r, c = self.row.value, self.col.value
        only = self.show.value == "cell"
        dx = self.cell_grad_input if only else self.grad_input
        self._fig.show(V.PoolGradientState(self.x, self.output, self.delta, dx, kind, k, s, r, c,
                                           only, self.winners))
        r0, c0 = V.pool_window(r, c, k, s)
        d = _n(self.delta[r, c])
        if kind == "max":
            wr, wc = divmod(int(self.winners[r, c]), self.x.shape[1])
            first = (f"window X[{r0}:{r0 + k}, {c0}:{c0 + k}] has maximum "
                     f"{_n(self.output[r, c])} at X[{wr}, {wc}] (the first one, row by row, on "
                     f"ties): all of δ[{r}, {c}] = <b>{d}</b> goes there, the other "
                     f"{k * k - 1} inputs get 0.")
        else:
            first = (f"window X[{r0}:{r0 + k}, {c0}:{c0 + k}]: each of its {k * k} inputs gets "
                     f"δ[{r}, {c}]/{k * k} = <b>{_n(self.cell_grad_input[r0, c0])}</b>.")
        overlap = (" Windows overlap (stride < kernel size), so an input can collect gradient "
                   "from several windows: the shares add up." if s < k else "")
        self.summary.value = first + overlap


def pool_gradient_explorer(x=None, kind="max", kernel_size=2, stride=2):
    """Explore the backward pass of max and average pooling (δ = 1, 2, 3, ... for tracing).

    Controls: ``kind``, ``kernel_size``, ``stride``, ``row``/``col`` (a δ position),
    ``show``.  ``grad_input`` comes from ``F.max_pool2d_backward`` / ``F.avg_pool2d_backward``.
    """
    return PoolGradientApp(x, kind, kernel_size, stride)


# ----------------------------------------------------------------------------------------
# Lesson 7: LeNet-5's feature maps for a chosen digit
# ----------------------------------------------------------------------------------------
class FeatureMapApp(_App):
    """Pick a digit, see conv1's and conv2's feature maps and the model's prediction."""

    def __init__(self, model, images, labels=None, index=0):
        self.model = model
        self.images = np.asarray(images)
        if self.images.ndim == 3:
            self.images = self.images[:, None]
        self.labels = None if labels is None else np.asarray(labels)
        c1, c2 = self._conv_maps(self.images[:1])
        super().__init__(V.FeatureMapFigure(((1,) + self.images.shape[2:], c1.shape[1:],
                                             c2.shape[1:])))
        n = len(self.images)
        # the slider has no readout of its own: the number box next to it shows the value
        # (and takes a typed one)
        self.index = W.IntSlider(value=index, min=0, max=n - 1, description="digit #",
                                 continuous_update=False, readout=False,
                                 style={"description_width": "initial"},
                                 layout=W.Layout(width="400px"))
        self.index_box = W.BoundedIntText(value=index, min=0, max=n - 1,
                                          layout=W.Layout(width="90px"))
        self.controls = (self.index,)
        self.widget = W.VBox([W.HBox([self.index, self.index_box]), self.image, self.summary])
        self._watch()
        # slider and number box move together (a kernel-side link, so it also works headless)
        W.link((self.index, "value"), (self.index_box, "value"))
        self.update()

    def _conv_maps(self, x):
        """conv1 and conv2 outputs (before ReLU) from the model's own ``features``."""
        feats = self.model.features(x)
        return np.asarray(feats["conv1"]), np.asarray(feats["conv2"])

    def _compute(self):
        i = self.index.value
        x = self.images[i:i + 1]
        self.conv1, self.conv2 = (m[0] for m in self._conv_maps(x))
        logits = np.asarray(self.model(x))
        self.probabilities = F.softmax(logits.astype(np.float64), dim=-1)[0]
        self.prediction = int(np.argmax(self.probabilities))

    def _draw(self):
        i = self.index.value
        label = None if self.labels is None else int(self.labels[i])
        title = f"#{i}" + (f", label {label}" if label is not None else "")
        self._fig.show(self.images[i, 0], self.conv1, self.conv2, title)
        p = self.probabilities
        top = np.argsort(p)[::-1][:3]
        verdict = ""
        if label is not None:
            verdict = (' <span style="color:green">correct</span>' if self.prediction == label
                       else ' <span style="color:#b00020">wrong</span>')
        self.summary.value = (
            f"digit #{i}" + (f", label <b>{label}</b>" if label is not None else "")
            + f"; the model predicts <b>{self.prediction}</b>{verdict}. Top 3: "
            + ", ".join(f"{int(j)}: {100 * p[j]:.1f}%" for j in top))


def feature_map_explorer(model, images, labels=None, index=0):
    """Pick a digit (``index``) and see LeNet-5's conv1 / conv2 feature maps for it.

    ``images`` (N, 28, 28) or (N, 1, 28, 28), already normalised the way the model was
    trained; maps come from ``model.features``, probabilities from ``F.softmax`` of the
    logits.
    """
    return FeatureMapApp(model, images, labels, index)
