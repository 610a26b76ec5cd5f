"""Lecture mode (jupyterlab-deck) seen through the browser, for tests/test_browser.py.

A lecture is the lesson's own notebook in JupyterLab, presented by jupyterlab-deck on its live
kernel: ``deck:start`` hides everything but the cells of the current view, and the keys the
course ships (``lecture/cnnlab-lecture.json``, docs/lecturing.md) step through the views.
Here: start and stop the deck, read which cells are on screen, measure text sizes and whether
the view fits the window, operate a widget's controls with the keyboard and with the mouse
and wait for its figure to change. No test lives here.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import browser_helpers as bh

#: A projector's window; the slides must fit it.
VIEWPORT = (1280, 720)
#: Smallest computed text sizes (px) a lecture may show: body text, code, widget text.
MIN_BODY_PX, MIN_CODE_PX, MIN_WIDGET_PX = 20.0, 16.0, 16.0

#: Which cells the deck shows now: ``onScreen`` (laid out, space reserved) and ``visible``.
JS_DECK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const nb = panel.content;
  const onScreen = [], visible = [];
  nb.widgets.forEach((c, i) => {
    const on = c.node.classList.contains('jp-deck-mod-onscreen');
    if (on) onScreen.push(i);
    if (on && c.node.classList.contains('jp-deck-mod-visible')) visible.push(i);
  });
  const types = nb.widgets.map(c => { const s = c.model.getMetadata('slideshow');
                                      return s && typeof s.slide_type === 'string' ? s.slide_type : null; });
  return {presenting: document.body.dataset.jpDeckMode === 'presenting',
          deck: panel.node.classList.contains('jp-Deck'),
          active: nb.activeCellIndex, onScreen, visible, types};
}"""

#: Text sizes and fit of the cells on screen (``vis``): every cell inside the window, the
#: notebook's scroll area not scrollable and not scrolled, no output wider than its box;
#: ``covered``: text, pictures or controls of those cells under a button of the deck's remote;
#: ``height`` and ``figures``: the summed height of the slide's cells (all laid out, the ones
#: still to come too) and the pictures in their outputs.
JS_MEASURE = """(vis) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const nb = panel.content;
  const W = window.innerWidth, H = window.innerHeight;
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const ownText = el => Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
  const pick = (sel, own) => {
    const out = [];
    for (const i of vis) nb.widgets[i].node.querySelectorAll(sel).forEach(el => {
      if (shown(el) && !el.closest('sub, sup') && (own ? ownText(el) : (el.innerText || '').trim())) out.push(el);
    });
    return out;
  };
  const stats = els => {
    if (!els.length) return null;
    const px = els.map(el => parseFloat(getComputedStyle(el).fontSize));
    const k = px.indexOf(Math.min(...px));
    return {min: Math.min(...px), max: Math.max(...px), n: px.length,
            smallest: (els[k].innerText || els[k].textContent || '').trim().slice(0, 50)};
  };
  const outer = nb.node.querySelector('.jp-WindowedPanel-outer');
  const scroll = {scrollTop: outer.scrollTop, scrollHeight: outer.scrollHeight, clientHeight: outer.clientHeight};
  const clipped = [];
  let bottom = 0;
  for (const i of vis) {
    const r = nb.widgets[i].node.getBoundingClientRect();
    bottom = Math.max(bottom, r.bottom);
    if (r.top < -1 || r.bottom > H + 1 || r.left < -1 || r.right > W + 1)
      clipped.push({cell: i, top: Math.round(r.top), bottom: Math.round(r.bottom)});
    nb.widgets[i].node.querySelectorAll('.jp-OutputArea-output').forEach(o => {
      if (o.scrollWidth > o.clientWidth + 2) clipped.push({cell: i, wide: o.scrollWidth + ' > ' + o.clientWidth});
    });
  }
  let height = 0, figures = 0;
  nb.widgets.forEach(c => {
    if (!c.node.classList.contains('jp-deck-mod-onscreen')) return;
    height += c.node.getBoundingClientRect().height;
    figures += c.node.querySelectorAll('.jp-OutputArea-output img, .jp-OutputArea-output canvas').length;
  });
  // The deck's remote (its buttons, bottom right) must not cover the slide's text or pictures.
  const buttons = Array.from(document.querySelectorAll('.jp-Deck-Remote button')).map(b => b.getBoundingClientRect())
    .filter(r => r.width > 0 && r.height > 0);
  const hit = r => buttons.some(b => r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom);
  const covered = [];
  for (const i of vis) {
    const node = nb.widgets[i].node;
    const walk = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let t = walk.nextNode(); t; t = walk.nextNode()) {
      if (!t.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(t);
      if (Array.from(range.getClientRects()).some(hit)) covered.push({cell: i, text: t.textContent.trim().slice(0, 40)});
    }
    node.querySelectorAll('img, canvas, svg, input, select, button').forEach(el => {
      if (hit(el.getBoundingClientRect())) covered.push({cell: i, element: el.tagName.toLowerCase()});
    });
  }
  return {
    viewport: [W, H], height: Math.round(height), bottom: Math.round(bottom), scroll, clipped, covered, figures,
    fits: !clipped.length && scroll.scrollTop === 0 && scroll.scrollHeight <= scroll.clientHeight + 1,
    body: stats(pick('.jp-RenderedMarkdown p, .jp-RenderedMarkdown li, .jp-RenderedMarkdown td, .jp-RenderedMarkdown th, .jp-RenderedMarkdown summary', false)),
    code: stats(pick('.jp-InputArea-editor .cm-line', false)),
    output: stats(pick('.jp-OutputArea-output pre', false)),
    widgets: stats(pick('.jp-OutputArea-output .jupyter-widgets, .jp-OutputArea-output .jupyter-widgets *', true)),
  };
}"""

#: Per code cell on screen: widget outputs, their DOM, widget text (a failure), controls, figures.
JS_WIDGETS = """([vis, badSource]) => {
  const bad = new RegExp(badSource);
  const nb = window.jupyterapp.shell.currentWidget.content;
  const out = [];
  for (const i of vis) {
    const c = nb.widgets[i];
    if (c.model.type !== 'code') continue;
    const area = c.node.querySelector('.jp-OutputArea');
    if (!area) continue;
    const views = c.model.outputs.toJSON().filter(o => o.data && o.data['application/vnd.jupyter.widget-view+json']).length;
    if (!views) continue;
    const text = area.innerText || '';
    const m = text.match(bad);
    const visible = sel => Array.from(area.querySelectorAll(sel)).filter(e => e.getBoundingClientRect().width > 0).length;
    out.push({cell: i, views, widgets: area.querySelectorAll('.jupyter-widgets').length,
              bad: m ? text.slice(Math.max(0, m.index - 30), m.index + 100) : null,
              handles: visible('.noUi-handle'), boxes: visible('.widget-text input, .widget-inline-hbox input[type=number]'),
              toggles: visible('.widget-toggle-buttons button'), selects: visible('.widget-dropdown select'),
              images: area.querySelectorAll('img').length,
              // drawn width / the width the widget asks for (below 1: shrunk to fit, its text too)
              scales: Array.from(area.querySelectorAll('img')).map(e => {
                const asked = parseFloat(e.style.width) || e.naturalWidth;
                return asked ? Math.round(100 * e.getBoundingClientRect().width / asked) / 100 : null; })});
  }
  return out;
}"""

JS_SELECT_FIRST_CELL = """() => { const nb = window.jupyterapp.shell.currentWidget.content;
  nb.mode = 'command'; nb.activeCellIndex = 0; nb.activeCell.node.focus(); return nb.activeCellIndex; }"""


def deck_state(page) -> dict:
    return page.evaluate(JS_DECK_STATE)


def measure(page, visible: list[int]) -> dict:
    return page.evaluate(JS_MEASURE, visible)


def widget_cells(page, visible: list[int]) -> list[dict]:
    return page.evaluate(JS_WIDGETS, [visible, bh.WIDGET_AS_TEXT.pattern])


def start_deck(page) -> dict:
    """Present the open notebook from its first cell, as a lecturer does: click the title, then
    the deck button (a deck started on a skipped cell, e.g. the last one after Run All, shows
    an empty page)."""
    page.evaluate(JS_SELECT_FIRST_CELL)
    page.evaluate("() => window.jupyterapp.commands.execute('deck:start')")
    page.wait_for_function("() => document.body.dataset.jpDeckMode === 'presenting'", timeout=30_000)
    page.wait_for_function("() => document.querySelector('.jp-Deck .jp-deck-mod-visible')", timeout=30_000)
    page.wait_for_timeout(1200)      # the deck folds the side panels away again after 1 s
    bh.wait_for_layout_stable(page)
    return deck_state(page)


def stop_deck(page) -> None:
    """Stop presenting (the deck stores ``active`` in the user's settings: a page reloaded while
    presenting comes back presenting)."""
    page.evaluate("() => window.jupyterapp.commands.execute('deck:stop')")
    page.wait_for_function("() => document.body.dataset.jpDeckMode !== 'presenting'", timeout=30_000)


def press_and_wait(page, key: str, before: dict, timeout_s: float = 8.0) -> dict:
    """Press ``key`` wherever the focus is and wait until the deck's active cell moves; the
    state after (unchanged after ``timeout_s``: the end of the deck; generous, as a loaded
    machine may take seconds to run the step, and it is waited for once per lesson)."""
    page.keyboard.press(key)
    try:
        page.wait_for_function(
            "(a) => window.jupyterapp.shell.currentWidget.content.activeCellIndex !== a",
            arg=before["active"], timeout=timeout_s * 1000)
    except Exception:            # playwright's TimeoutError: the deck did not move
        pass
    page.wait_for_timeout(150)
    return deck_state(page)


def figure(page, cell: int) -> dict:
    return bh.figure_signature(page, cell)


def _visible_nth(locator):
    for i in range(locator.count()):
        item = locator.nth(i)
        box = item.bounding_box()
        if box and box["width"] > 0:
            return item, box
    return None, None


def slider_by_keyboard(page, cell: int, timeout_s: float = 15.0) -> dict:
    """Focus the first visible slider knob (a click on it, or Tab) and press ArrowRight
    (ArrowLeft at the maximum): the figure must change and the slide stay."""
    handle, _ = _visible_nth(bh.cell_locator(page, cell).locator(".noUi-handle"))
    if handle is None:
        return {"cell": cell, "how": "keyboard", "changed": None, "why": "no visible slider"}
    before, slide = figure(page, cell), deck_state(page)["visible"]
    for key in ("ArrowRight", "ArrowLeft", "ArrowLeft"):
        t0 = time.perf_counter()
        handle.focus()
        page.keyboard.press(key)
        after = bh.wait_for_figure_change(page, cell, before, timeout_s)
        if after:
            return {"cell": cell, "how": "keyboard", "control": "slider", "key": key, "changed": True,
                    "s": round(time.perf_counter() - t0, 2), "slide_moved": deck_state(page)["visible"] != slide}
        timeout_s = min(timeout_s, 6.0)
    return {"cell": cell, "how": "keyboard", "control": "slider", "changed": False,
            "slide_moved": deck_state(page)["visible"] != slide}


def slider_by_mouse(page, cell: int, timeout_s: float = 15.0) -> dict:
    """Drag the first visible slider knob along its track, to its farther end first."""
    handle, box = _visible_nth(bh.cell_locator(page, cell).locator(".noUi-handle"))
    if handle is None:
        return {"cell": cell, "how": "mouse", "changed": None, "why": "no visible slider"}
    left, right = handle.evaluate("h => { const r = h.closest('.noUi-target').getBoundingClientRect(); return [r.left, r.right]; }")
    before, slide = figure(page, cell), deck_state(page)["visible"]
    first = +1 if box["x"] + box["width"] / 2 < (left + right) / 2 else -1
    for direction in (first, -first):
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        target = right - 2 if direction > 0 else left + 2
        t0 = time.perf_counter()
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move((x + target) / 2, y, steps=4)
        page.mouse.move(target, y, steps=4)
        page.mouse.up()
        after = bh.wait_for_figure_change(page, cell, before, timeout_s)
        if after:
            return {"cell": cell, "how": "mouse", "control": "slider", "dx": round(target - x), "changed": True,
                    "s": round(time.perf_counter() - t0, 2), "slide_moved": deck_state(page)["visible"] != slide}
        handle, box = _visible_nth(bh.cell_locator(page, cell).locator(".noUi-handle"))
        timeout_s = min(timeout_s, 6.0)
    return {"cell": cell, "how": "mouse", "control": "slider", "changed": False,
            "slide_moved": deck_state(page)["visible"] != slide}


def number_box_by_keyboard(page, cell: int, timeout_s: float = 15.0) -> dict:
    """Type a new number into the first visible number box, then Enter (a widget without a
    slider, e.g. lesson 2's kernel weights)."""
    box, _ = _visible_nth(bh.cell_locator(page, cell).locator(".widget-text input, .widget-inline-hbox input[type=number]"))
    if box is None:
        return {"cell": cell, "how": "keyboard", "changed": None, "why": "no visible number box"}
    before, slide = figure(page, cell), deck_state(page)["visible"]
    t0 = time.perf_counter()
    box.click()
    old = box.input_value()
    page.keyboard.press("Control+A")
    page.keyboard.type("3" if old.strip() not in ("3", "3.0") else "2")
    page.keyboard.press("Enter")
    after = bh.wait_for_figure_change(page, cell, before, timeout_s)
    return {"cell": cell, "how": "keyboard", "control": "number box", "changed": bool(after),
            "s": round(time.perf_counter() - t0, 2), "slide_moved": deck_state(page)["visible"] != slide}


def toggle_by_mouse(page, cell: int, timeout_s: float = 10.0) -> dict:
    """Click the toggle buttons not selected, one after the other, until the figure changes
    (one of them may draw what the selected one draws)."""
    buttons = bh.cell_locator(page, cell).locator(".widget-toggle-buttons button:not(.mod-active)")
    slide, tried = deck_state(page)["visible"], []
    for k in range(buttons.count()):
        button = buttons.nth(k)
        if not (button.bounding_box() or {}).get("width"):
            continue
        before, t0 = figure(page, cell), time.perf_counter()
        tried.append(button.inner_text())
        button.click()
        if bh.wait_for_figure_change(page, cell, before, timeout_s):
            return {"cell": cell, "how": "mouse", "control": "toggle", "clicked": tried, "changed": True,
                    "s": round(time.perf_counter() - t0, 2), "slide_moved": deck_state(page)["visible"] != slide}
    return {"cell": cell, "how": "mouse", "control": "toggle", "clicked": tried, "changed": False,
            "slide_moved": deck_state(page)["visible"] != slide}


def operate(page, widget: dict, after=None) -> list[dict]:
    """One keyboard and one mouse change of this widget's controls (slider knobs if it has
    any, else a number box and toggle buttons); ``after(move)`` is called after each (a
    screenshot). A widget with neither gets no move: the caller fails it."""
    if widget["handles"]:
        ways = [slider_by_keyboard, slider_by_mouse]
    else:
        ways = ([number_box_by_keyboard] if widget["boxes"] else []) + ([toggle_by_mouse] if widget["toggles"] else [])
    moves = []
    for way in ways:
        moves.append(way(page, widget["cell"]))
        if after:
            after(moves[-1])
    return moves


#: The speaker-notes cell the tests add to their copy of each lesson (the lessons carry none
#: yet): the deck must never show it, a second window on the same lesson shows it.
NOTES_CELL = {
    "cell_type": "markdown", "id": "speaker-notes-test",
    "metadata": {"slideshow": {"slide_type": "notes"}},
    "source": ["**Speaker notes** (added by the test): start with the worked example, "
               "then let the class predict what the widget will show."],
}


def add_speaker_notes(path) -> None:
    """Insert :data:`NOTES_CELL` after the title cell of the notebook at ``path`` (a copy)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    raw["cells"].insert(1, json.loads(json.dumps(NOTES_CELL)))
    Path(path).write_text(json.dumps(raw, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
