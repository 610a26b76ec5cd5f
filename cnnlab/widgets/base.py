"""The one base of every lesson app: controls → ``view.show(**params)`` → facts.

An app is thin wiring. Its controls (sliders, dropdowns, toggles) are read into the keyword
arguments of a ``cnnlab.viz`` view's ``show(**params)``, which computes the facts (numbers
from ``cnnlab.functional``) and moves its artists; the app then shows the frame the view's
renderer draws (an ``ipywidgets.Image``) and the facts' text below it. Adding a widget means
subclassing one thing, the view; the app is configured, not subclassed::

    def my_explorer():
        return App(MyView(), controls=dict(row=slider("row", 0, 0, 5)),
                   dynamic_controls=("row",))

(``row`` is both the control's attribute name, ``app.row``, and the parameter of
``MyView.show``.) Apps with more behaviour (a Play button, controls that follow the facts)
subclass :class:`App` and override a hook.

It renders the same in JupyterLab, classic Notebook, VS Code and voila with the default
inline backend (no ``%matplotlib widget`` needed), and the layout never jumps: the picture
keeps its pixel size.
"""
from __future__ import annotations

import html
import re
import time
from contextlib import contextmanager

import ipywidgets as W

from cnnlab.viz.style import ALERT

__all__ = ["App", "slider", "choice", "set_range", "follow_cell", "prose_html", "inline_html",
           "plain_text", "widget_em", "PROSE_STYLE", "MONO_STYLE"]


# Explanations below a figure: proportional font, wrapped between words only (JupyterLab's
# output CSS sets word-break: break-all on <pre>, which splits "RdBu_r" into "RdBu" / "_r").
# Text sizes and control widths are relative to the widgets' font size, JupyterLab's
# --jp-widgets-font-size (13 px in a notebook, larger on lecture slides: docs/lecturing.md), so
# captions and controls grow with the labels; pictures keep their pixel size.
_LINE_EM = 1.04 * 1.5           # font size x line height of the prose, in widget font sizes
PROSE_STYLE = ("font-size:1.04em; line-height:1.5; margin:6px 0 2px 0; max-width:63em; "
               "white-space:normal; word-break:normal; overflow-wrap:break-word")
MONO_STYLE = ("font-family:var(--jp-code-font-family, 'DejaVu Sans Mono', monospace); "
              "font-size:1em; white-space:pre; word-break:normal; overflow-x:auto")

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def widget_em(n: float) -> str:
    """A CSS length of ``n`` widget font sizes (``--jp-widgets-font-size``, 13 px by default):
    a control's width that grows with its label's text. (A plain ``em`` would not: a control's
    box keeps the output area's font size, only its label and text take the widgets' one.)"""
    return f"calc({n:g} * var(--jp-widgets-font-size, 13px))"


def plain_text(text: str) -> str:
    """A facts text without its emphasis marks (``**19**`` → ``19``)."""
    return _BOLD.sub(r"\1", text)


def inline_html(line: str) -> str:
    """One line of a facts text as HTML: escaped, ``**x**`` bold, and never broken after a
    "/" (browsers may break "∂L/∂W" there)."""
    escaped = re.sub(r"(\S*/\S*)", r'<span style="white-space:nowrap">\1</span>', html.escape(line))
    return _BOLD.sub(r"<b>\1</b>", escaped)


def prose_html(text: str) -> str:
    """A facts text as HTML: one paragraph per line, words never split."""
    lines = [f"<div>{inline_html(line.strip())}</div>" for line in text.split("\n") if line.strip()]
    return f"<div style=\"{PROSE_STYLE}\">{''.join(lines)}</div>"


def slider(description: str, value: int, lo: int, hi: int, width: float = 20, **kw) -> W.IntSlider:
    """An integer slider (its range stretched to hold ``value``) that updates while dragged."""
    lo, hi = min(lo, value), max(hi, value)
    return W.IntSlider(value=value, min=lo, max=hi, description=description,
                       style={"description_width": "initial"}, continuous_update=True,
                       layout=W.Layout(width=widget_em(width)), **kw)


# The selected button of a choice must be obvious at a glance: the stock style only darkens
# it a little. The rule is scoped to the apps' own toggles (class "cnnlab-choice").
_CHOICE_CLASS = "cnnlab-choice"
_CHOICE_CSS = ("<style>.cnnlab-choice button.mod-active{background-color:#1976d2;color:#fff;"
               "font-weight:bold}.cnnlab-choice button:not(.mod-active){color:#333;"
               "background-color:#eee}</style>")


def choice(description: str, options, value, button_width: float = 11.5) -> W.ToggleButtons:
    """Labelled toggle buttons whose selected button is filled blue.

    options: list of (label, value). An :class:`App` watching one puts the style in its box.
    """
    t = W.ToggleButtons(options=options, value=value, description=description,
                        tooltips=[label for label, _ in options],
                        style={"button_width": widget_em(button_width), "description_width": "initial"},
                        layout=W.Layout(width="auto"))      # label and buttons on one line
    t.add_class(_CHOICE_CLASS)
    return t


class App:
    """A lesson app: controls + the view's frame in an Image + the facts' text in words.

    App(view, controls, rows=None, watch=None, fixed=None, dynamic_controls=None)

    view     : a ``cnnlab.viz.render.View``
    controls : {parameter name: control}: each becomes an attribute (``app.row``) and its value
               the keyword argument of ``view.show`` of that name
    rows     : the widgets shown above the picture (default: the controls side by side)
    watch    : the controls whose change redraws (default: all of ``controls``)
    fixed    : more keyword arguments of ``view.show`` that no control changes (data)
    dynamic_controls : the controls whose change only moves the view's frame artists (no full
               redraw); the tests hold the view to it

    What it offers: ``.widget`` (the box to display; ``app`` alone in a cell shows it too),
    the controls as attributes (set ``.value`` to drive the app from code or a test, exactly as
    a student's mouse does), ``.figure`` (the view's matplotlib Figure, the same object on
    every update), ``.update()`` (recompute and redraw; returns the facts), ``.facts`` (the
    record of numbers the view displayed; its fields also read as attributes of the app:
    ``app.output`` is ``app.facts.output``), ``.summary`` (an HTML widget) and ``.text`` (the
    same as plain text), ``.hold()`` (change several controls, redraw once), ``.error`` (the
    message when a setting is impossible: it is explained and the last picture kept).

    Hooks a subclass may override: ``params()`` (when the controls do not map one to one onto
    ``view.show``), ``_sync(facts)`` (controls that follow the facts, e.g. a slider's range),
    ``_summary_html(facts)``; class attributes ``image_format = "jpeg"`` for photographs and
    ``summary_lines`` (the room the summary reserves: its longest text, so that moving a
    control never pushes the notebook below up or down).
    """

    image_format = "png"
    dynamic_controls: tuple = ()
    summary_lines = 2          # lines of text the summary always reserves (no jump below)

    def __init__(self, view, controls: dict, rows=None, watch=None, fixed=None,
                 dynamic_controls=None):
        self._view = view
        self._controls = dict(controls)
        self._fixed = dict(fixed or {})
        for name, control in self._controls.items():
            setattr(self, name, control)
        if dynamic_controls is not None:
            self.dynamic_controls = tuple(dynamic_controls)
        watch = list(self._controls.values()) if watch is None else list(watch)
        rows = [W.HBox(list(self._controls.values()))] if rows is None else list(rows)
        self._holding = 0
        self.facts = None
        self.error = None
        self.last_update_ms = float("nan")
        fig = view.figure
        width = int(round(fig.get_size_inches()[0] * fig.dpi))
        self.image = W.Image(format=self.image_format,
                             layout=W.Layout(width=f"{width}px", max_width="100%", height="auto"))
        reserved = widget_em(round(self.summary_lines * _LINE_EM, 2))[:-1] + " + 8px)"  # margins
        self.summary = W.HTML(layout=W.Layout(min_height=reserved))
        for control in watch:
            control.observe(self._on_change, names="value")
        uses_choice = any(_CHOICE_CLASS in getattr(c, "_dom_classes", ()) for c in watch)
        head = [W.HTML(_CHOICE_CSS, layout=W.Layout(height="0px", margin="0px"))] if uses_choice else []
        self.widget = W.VBox([*head, *rows, self.image, self.summary],
                             layout=W.Layout(align_items="flex-start"))
        self.update()

    # -- hooks ---------------------------------------------------------------------------------
    def params(self) -> dict:
        """The keyword arguments of ``view.show``: the fixed ones and the controls' values."""
        return {**self._fixed, **{name: c.value for name, c in self._controls.items()}}

    def _sync(self, facts) -> None:
        """Make controls follow the facts (ranges, clamped positions); no redraw is triggered."""

    def _summary_html(self, facts) -> str:
        return prose_html(facts.text)

    # -- common machinery --------------------------------------------------------------------
    @property
    def figure(self):
        """The current matplotlib Figure (the same object between updates)."""
        return self._view.figure

    @property
    def text(self) -> str:
        """The summary as plain text (what the tests read)."""
        if self.error is not None:
            return f"Not possible: {self.error}"
        return plain_text(self.facts.text) if self.facts is not None else ""

    def __getattr__(self, name):
        # Only reached when normal lookup fails: the current facts' fields (app.output ...).
        facts = self.__dict__.get("facts")
        if not name.startswith("_") and facts is not None and hasattr(facts, name):
            return getattr(facts, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        if not self._holding:
            self.update()

    def update(self):
        """Recompute from the controls, move the artists, re-render; returns the facts."""
        t0 = time.perf_counter()
        self._holding += 1          # controls adjusted below do not re-trigger
        try:
            try:
                facts = self._view.show(**self.params())
            except ValueError as exc:     # an impossible setting: explain, keep the old picture
                self.error = str(exc)
                self.summary.value = (f'<span style="color:{ALERT}"><b>Not possible:</b> '
                                      f"{html.escape(self.error)}</span>")
                return self.facts
            self.error = None
            self.facts = facts
            self._sync(facts)
            self.summary.value = self._summary_html(facts)
            self.image.value = self._view.renderer.encode(self.image_format)
        finally:
            self._holding -= 1
            self.last_update_ms = (time.perf_counter() - t0) * 1e3
        return facts

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def set_range(control, hi: int, value: int, disabled: bool = False) -> None:
    """Set a slider's (or Play's) maximum, then its value, and whether it can be moved."""
    control.max = hi
    control.value = value
    control.disabled = disabled


def follow_cell(row, col, shape, cell) -> None:
    """Row and column sliders span a grid of ``shape`` and stand on ``cell`` (row, col)."""
    set_range(row, shape[0] - 1, cell[0])
    set_range(col, shape[1] - 1, cell[1])
