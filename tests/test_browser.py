"""Seen through a real browser: every lesson in JupyterLab, and presented in lecture mode.

One JupyterLab server (127.0.0.1, free port, random token, isolated Jupyter home, kernels with
CNNLAB_QUICK=1 / CNNLAB_OFFLINE=1 / MPLBACKEND=Agg) serves *copies* of the lessons, and one headless
Debian Chromium (through Playwright) visits them. For each lesson present:

- Run All Cells (the lab's ``notebook:run-all-cells`` command through ``window.jupyterapp``),
  wait for every code cell to get an execution count and the kernel to go idle;
- no error output, no page error, no console error (minus the noise listed in
  ``browser_helpers.HARMLESS_CONSOLE``), no request leaving 127.0.0.1 from the lab page;
- every widget output renders as widget DOM (``.jupyter-widgets``), never as its text repr
  (``IntSlider(…``, ``interactive(children=…``) nor "Error displaying widget";
- no markdown cell renders as an accidental code block (indented source);
- in every widget cell with a figure, operating one control changes the figure: ArrowRight on
  the focused handle of its first visible slider (ArrowLeft at the maximum), or, for a widget
  without sliders, the next option of a dropdown / another toggle button.

All problems of a lesson are collected and reported together, after its screenshots are taken.

Screenshots go to ``$CNNLAB_ARTIFACTS`` or ``artifacts/screenshots/<lesson>/``, with a
``report.json`` per lesson (timings, stderr warnings, slider response times, layout jumps).

Lecture mode (jupyterlab-deck, with the settings the course installs: docs/lecturing.md), in a
1280x720 window, the lecturer's flow for each lesson: Run All, click the title, start the deck,
press Space through the whole lesson (``lecture_helpers``). Checked:

- the views follow the slide metadata as nbconvert reads it: the deck's sequence of views is
  ``notebook_rules.nbconvert_views`` (tests/test_slides.py holds that to nbconvert's HTML) and
  ``notebook_rules.deck_views`` (the model the notebook check uses); every cell that is not
  skip or notes is shown, none that is; no empty page;
- on every view, text is projector-sized (body >= 20 px, code and widget text >= 16 px);
- on every view holding a widget: it renders as a widget, not as text; the view fits the window
  without scrolling, before and after its controls move; a keyboard change (ArrowRight on a
  focused slider knob, or a number typed into a box) and a mouse change (a knob dragged, a toggle
  clicked) each redraw its figure and neither moves the slide; a widget with controls but no
  figure to watch, or with controls the test cannot operate, fails;
- on every view, the deck's remote (its buttons, bottom right) covers no text, picture or
  control of the slide;
- every text slide (no widget, no picture in its outputs: markdown and code with printed
  output) fits the window, so the class never has to scroll; the slides that do not yet fit
  are listed in ``TALL_TEXT_SLIDES`` with the reason (a listed slide that fits fails too, so
  the list only shrinks);
- no page error, no console error, no request leaving 127.0.0.1.

Lecture screenshots (1280x720, the whole window), per lesson in the folder above:
``lecture_first.png`` (the deck started); per view holding a widget ``lecture_cellNN[-MM…].png``
(named by the cells on screen), then ``…_keyboard.png`` and ``…_mouse.png`` after each change of
its controls; ``lecture_report.json`` (per view: cells, height, fit, smallest text sizes,
moves, timings); ``lecture_two_windows_{projector,presenter}.png`` for the speaker-notes
workflow. ``artifacts/`` is ignored by git (.gitignore).

The lessons carry no speaker notes yet: the served copies get one ``notes`` cell after the title
(``lecture_helpers.NOTES_CELL``). The deck must never show it; a second window on the same
lesson (the presenter's screen, docs/lecturing.md) shows it and drives the projector's widgets.

Skips (with the reason) when Playwright or /usr/bin/chromium is missing; a lesson not written yet
skips, a lesson present that misbehaves fails.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import browser_helpers as bh
import lecture_helpers as lh
from cnnlab import notebook_rules

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_SKIP = bh.browser_skip_reason()
if _SKIP:
    pytestmark.append(pytest.mark.skip(reason=_SKIP))

LESSON_TIMEOUT_S = 300  # one lesson's Run All (lesson 9 trains, in quick mode)

#: Text slides (no widget, no figure) taller than the 1280x720 window, by lesson and the id of the
#: slide's first cell, with the reason each is still allowed to scroll. Split a slide (Slide /
#: Sub-Slide, docs/authoring.md), move its extra checks to a Skip cell, or tighten it, then
#: remove its entry: the test fails on a listed slide that fits.
TALL_TEXT_SLIDES: dict[tuple[str, str], str] = {  # measured height in px (2026-12-01), what is on it
}
TIMINGS: dict[str, dict] = {}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """A folder of lesson copies (the lab marks run notebooks dirty; the real ones stay clean),
    each with a speaker-notes cell after its title (``lecture_helpers.NOTES_CELL``)."""
    folder = bh.make_served_copy(tmp_path_factory.mktemp("cnnlab-served"))
    for path in folder.glob(bh.LESSON_GLOB):
        lh.add_speaker_notes(path)
    return folder


@pytest.fixture(scope="module")
def lab(served):
    t0 = time.perf_counter()
    server = bh.LabServer(root_dir=served, lab_settings=bh.TEST_LAB_SETTINGS)
    server.start()
    TIMINGS["_server_start_s"] = round(time.perf_counter() - t0, 1)
    print(f"\n[browser] JupyterLab up at {server.base_url} in {server.started_in:.1f}s (log {server.log_path})")
    yield server
    rc = server.stop()
    print(f"[browser] JupyterLab stopped (rc={rc})")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    with sync_playwright() as pw:
        b = bh.launch_chromium(pw)
        TIMINGS["_browser_start_s"] = round(time.perf_counter() - t0, 1)
        print(f"\n[browser] Chromium {b.version} up in {time.perf_counter() - t0:.1f}s")
        yield b
        b.close()
    _write_timings()


def _write_timings():
    if TIMINGS:
        path = bh.artifacts_dir() / "timings.json"
        path.write_text(json.dumps(TIMINGS, indent=2))
        print(f"[browser] timings: {json.dumps(TIMINGS)}")


@pytest.fixture
def page_and_problems(browser):
    problems = bh.PageProblems()
    ctx = bh.offline_context(browser, problems)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    bh.watch_page(page, problems)
    yield page, problems
    ctx.close()


def _open_lesson(page, lab, name: str, workspace: str) -> None:
    """Open lesson ``name`` in a JupyterLab workspace of its own and wait for its kernel."""
    page.goto(lab.url(f"/lab/workspaces/{workspace}/tree/{name}.ipynb", reset=None))
    bh.wait_for_notebook(page, f"{name}.ipynb")
    bh.wait_for_kernel_idle(page, timeout_s=90)


def _lesson_or_skip(served: Path, name: str) -> Path:
    path = served / f"{name}.ipynb"
    if not path.exists():
        pytest.skip(f"lesson {name}.ipynb is not in notebooks/ (yet)")
    return path


# --------------------------------------------------------------------------- the lessons in JupyterLab


@pytest.mark.parametrize("name", bh.lesson_params())
def test_lesson_runs_and_its_widgets_work(name, served, lab, page_and_problems):
    _lesson_or_skip(served, name)
    page, problems = page_and_problems
    shots = bh.artifacts_dir(name)
    for pattern in ("cell*.png", "lesson_after_run_*.png", "failed.png", "report.json"):
        for old in shots.glob(pattern):
            old.unlink()
    report: dict = {"lesson": name}
    failures: list[str] = []  # everything a student would see go wrong; asserted at the end
    t_start = time.perf_counter()

    _open_lesson(page, lab, name, name)
    report["open_s"] = round(time.perf_counter() - t_start, 1)

    try:
        # Run All Cells, wait for every cell and the kernel. Nothing below is meaningful without it.
        run = bh.run_all_cells(page, timeout_s=LESSON_TIMEOUT_S)
        report["run_all_s"] = round(run.seconds, 1)
        report["code_cells"] = len(run.code_cells)
        report["stderr"] = run.stderr_noise
        if run.errors or run.timed_out or run.unexecuted:
            page.screenshot(path=str(shots / "failed.png"))
        assert not run.errors, f"{name}: error output after Run All:\n" + "\n\n".join(run.errors)
        assert not run.timed_out, (
            f"{name}: Run All did not finish in {LESSON_TIMEOUT_S}s; cells without an execution "
            f"count: {run.unexecuted}; kernel {run.state['kernel']}"
        )
        assert not run.unexecuted, f"{name}: code cells left without an execution count: {run.unexecuted}"

        # Widgets render as widgets, not as text.
        bh.wait_for_widgets_rendered(page)
        bh.wait_for_layout_stable(page)
        views = bh.widget_views(page)
        widget_cells = [v for v in views if v["widgetViews"] or v["widgets"]]
        report["widget_cells"] = [
            {k: v[k] for k in ("index", "widgetViews", "widgets", "sliders", "controls", "images", "svgs")}
            for v in widget_cells
        ]
        failures += [f"widget shown as text / widget error in cell {v['index']}: …{v['badText']}…"
                     for v in views if v["badText"]]
        failures += [f"widget output with no widget DOM in cell {v['index']}"
                     for v in views if v["widgetViews"] and not v["widgets"]]
        failures += [f"traceback on stderr in cell {v['index']}: {e}"
                     for v in views for e in v["stderrErrors"] if "Traceback" in e]
        if not widget_cells:
            failures.append("no ipywidgets output at all (every lesson has an interactive widget)")

        # Markdown renders as text, not as an accidental code block.
        code_blocks = page.evaluate(bh.JS_ACCIDENTAL_CODE_BLOCKS)
        report["markdown_as_code"] = code_blocks
        failures += [f"markdown cell {c['index']} renders as a monospace code block (its source is "
                     f"indented by 4+ spaces; dedent it): {c['shows']!r}" for c in code_blocks]

        # What the student sees after Run All: the whole lesson, and each widget cell.
        bh.lesson_screenshots(page, shots)
        for v in widget_cells:
            try:
                bh.cell_locator(page, v["index"]).screenshot(path=str(shots / f"cell{v['index']:02d}_widget.png"))
            except Exception as exc:  # a screenshot is evidence, not the assertion
                report.setdefault("screenshot_errors", []).append(str(exc)[:200])

        # Operate each widget the way a student would: its figure must change. A slider if the
        # widget has one (ArrowRight on the focused handle), else a dropdown or a toggle button.
        moves = []
        candidates = [v for v in widget_cells if (v["images"] or v["svgs"]) and v["controls"]]
        for v in candidates:
            move = bh.operate_control_and_watch(page, v["index"])
            moves.append(move)
            try:
                bh.cell_locator(page, v["index"]).screenshot(
                    path=str(shots / f"cell{v['index']:02d}_after_{move.kind or 'control'}.png"))
            except Exception as exc:
                report.setdefault("screenshot_errors", []).append(str(exc)[:200])
        report["control_moves"] = [m.as_dict() for m in moves]
        if widget_cells and not candidates:
            failures.append("no widget cell has both a control (slider, dropdown, toggle) and a figure")
        elif candidates and not any(m.changed for m in moves):
            failures.append(f"operating a control changed no figure: {report['control_moves']}")
        sliders = [m for m in moves if m.kind == "slider"]
        if sliders and not any(m.changed for m in sliders):
            failures.append(f"moving a slider (ArrowRight/ArrowLeft on its handle) changed no figure: "
                            f"{report['control_moves']}")

        # Nothing went wrong in the page, and nothing tried to leave the machine.
        page.wait_for_timeout(300)
        failures += problems.real()
        failures += [f"the lab page tried to reach the network: {u}" for u in problems.blocked_requests]
    finally:
        report["console_ignored"] = problems.ignored
        report["blocked_requests"] = problems.blocked_requests
        report["failures"] = failures
        report["total_s"] = round(time.perf_counter() - t_start, 1)
        TIMINGS[name] = {k: report.get(k) for k in ("open_s", "run_all_s", "total_s")}
        (shots / "report.json").write_text(json.dumps(report, indent=2))
        print(f"\n[browser] {name}: open {report['open_s']}s, run all {report.get('run_all_s')}s, "
              f"total {report['total_s']}s; controls {report.get('control_moves')}")
        bh.shutdown_current_kernel(page, lab)
    assert not failures, f"{name} (screenshots in {shots}):\n- " + "\n- ".join(failures)


# --------------------------------------------------------------------------- lecture mode (jupyterlab-deck)


@pytest.fixture
def lecture_page(browser):
    """A page the size of a projector's window (1280x720)."""
    problems = bh.PageProblems()
    ctx = bh.offline_context(browser, problems, viewport=lh.VIEWPORT)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    bh.watch_page(page, problems)
    yield page, problems
    ctx.close()


def _font_failures(where: str, m: dict) -> list[str]:
    out = []
    for kind, least in (("body", lh.MIN_BODY_PX), ("code", lh.MIN_CODE_PX), ("output", lh.MIN_CODE_PX),
                        ("widgets", lh.MIN_WIDGET_PX)):
        if m[kind] and m[kind]["min"] < least:
            out.append(f"{where}: {kind} text {m[kind]['min']} px < {least} px ({m[kind]['smallest']!r})")
    return out


def _present_view(page, st: dict, shots: Path, operated: set, report: dict) -> list[str]:
    """Check the view on screen now: text sizes always; on a text view (no widget, no figure),
    that its slide fits the window or is listed in ``TALL_TEXT_SLIDES``; on a view holding
    widgets, that they render as widgets, that it fits the window, and (once per widget) that a
    keyboard and a mouse change of its controls redraw its figure without moving the slide."""
    visible = st["visible"]
    where = f"view {visible}"
    m = lh.measure(page, visible)
    failures = _font_failures(where, m)
    failures += [f"{where}: the deck's remote (bottom right) covers the slide: {m['covered'][:5]}"] if m["covered"] else []
    entry = {"visible": visible, "height": m["height"], "fits": m["fits"], "figures": m["figures"],
             "fonts": {k: m[k] and m[k]["min"] for k in ("body", "code", "output", "widgets")}}
    report["views"].append(entry)
    widgets = lh.widget_cells(page, visible)
    if not widgets:
        if not m["figures"]:
            entry["text_slide"] = report["ids"][visible[0]]
        return failures
    entry["widgets"] = widgets
    failures += [f"{where}: cell {w['cell']} shows a widget as text: …{w['bad']}…" for w in widgets if w["bad"]]
    failures += [f"{where}: cell {w['cell']} has a widget output but no widget DOM" for w in widgets if not w["widgets"]]
    if not m["fits"]:
        failures.append(f"{where}: a slide with a widget does not fit {lh.VIEWPORT}: {m['height']} px of cells, "
                        f"scroll {m['scroll']}, outside the window {m['clipped']}")
    stem = "lecture_cell" + "-".join(f"{i:02d}" for i in visible)
    page.screenshot(path=str(shots / f"{stem}.png"))
    controlled = [w for w in widgets if w["handles"] or w["boxes"] or w["toggles"] or w["selects"]]
    failures += [f"{where}: cell {w['cell']} has controls but no figure to watch change" for w in controlled
                 if not w["images"]]
    todo = [w for w in controlled if w["images"] and w["cell"] not in operated]
    if not todo:
        return failures
    for w in todo:
        operated.add(w["cell"])
        moves = lh.operate(page, w, after=lambda mv: page.screenshot(path=str(shots / f"{stem}_{mv['how']}.png")))
        entry.setdefault("moves", []).extend(moves)
        hows = {mv["how"] for mv in moves if mv["changed"]}
        failures += [f"{where}: {mv['how']} on cell {mv['cell']}'s {mv.get('control', 'controls')} did not "
                     f"change its figure ({mv})" for mv in moves if not mv["changed"]]
        failures += [f"{where}: {mv['how']} on cell {mv['cell']}'s {mv['control']} also changed the slide"
                     for mv in moves if mv.get("slide_moved")]
        if hows != {"keyboard", "mouse"}:
            failures.append(f"{where}: cell {w['cell']}: not changed both from the keyboard and with the mouse: {moves}")
    # Leave the controls as the lecturer does before the next Space: a click on the picture
    # (Space typed in a number box stays there).
    bh.cell_locator(page, todo[-1]["cell"]).locator("img").first.click()
    page.wait_for_timeout(200)
    after = lh.measure(page, visible)
    entry["fits_after_moves"] = after["fits"]
    if not after["fits"]:
        failures.append(f"{where}: no longer fits {lh.VIEWPORT} after its controls moved: {after['height']} px, "
                        f"scroll {after['scroll']}, outside the window {after['clipped']}")
    if after["covered"]:
        failures.append(f"{where}: after its controls moved, the deck's remote covers the slide: {after['covered'][:5]}")
    return failures


def _tall_text_slide_failures(name: str, report: dict) -> list[str]:
    """Text slides (``text_slide``: the id of the view's first cell) that do not fit, unless
    listed in ``TALL_TEXT_SLIDES``; and listed slides of this lesson that fit now or are gone."""
    tall, fitting = {}, set()
    for v in report["views"]:
        if "text_slide" in v:
            (fitting.add(v["text_slide"]) if v["fits"] else tall.setdefault(v["text_slide"], v["height"]))
    report["tall_text_slides"] = tall
    out = [f"a text slide does not fit {lh.VIEWPORT}: the one starting at cell {cid!r}, {px} px of cells "
           f"(split it, docs/authoring.md)" for cid, px in tall.items() if (name, cid) not in TALL_TEXT_SLIDES]
    out += [f"TALL_TEXT_SLIDES lists ({name!r}, {cid!r}), which " + ("fits now: remove it" if cid in fitting
            else "is no tall text slide of the lesson: remove it or correct it")
            for lesson, cid in TALL_TEXT_SLIDES if lesson == name and cid not in tall]
    return out


@pytest.mark.parametrize("name", bh.lesson_params())
def test_lesson_presents_as_a_lecture(name, served, lab, lecture_page):
    """The lecturer's flow at 1280x720: Run All, click the title, start the deck, then Space
    through every view. Each view follows the slide metadata as nbconvert reads it (the same
    sequence of views as ``jupyter nbconvert --to slides``), no skip or notes cell shows, text is
    projector-sized; each view holding a widget renders it as a widget, fits the window, and
    its figure changes when a control is moved from the keyboard and with the mouse."""
    path = _lesson_or_skip(served, name)
    page, problems = lecture_page
    shots = bh.artifacts_dir(name)
    for old in shots.glob("lecture_*"):
        old.unlink()
    report: dict = {"lesson": name, "views": [],
                    "ids": [c["id"] for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]}
    failures: list[str] = []
    t_start = time.perf_counter()
    _open_lesson(page, lab, name, f"lecture-{name}")
    presenting = False
    try:
        run = bh.run_all_cells(page, timeout_s=LESSON_TIMEOUT_S)
        report["run_all_s"] = round(run.seconds, 1)
        assert not run.errors and not run.timed_out and not run.unexecuted, (
            f"{name}: Run All failed: {run.errors[:2]}, timed out {run.timed_out}, unexecuted {run.unexecuted}")
        bh.wait_for_widgets_rendered(page)
        bh.wait_for_layout_stable(page)

        t_deck = time.perf_counter()
        st = lh.start_deck(page)
        presenting = True
        types = st["types"]
        operated: set = set()
        views, shown, steps = [], set(), 0
        page.screenshot(path=str(shots / "lecture_first.png"))
        while True:
            if not st["visible"]:
                failures.append(f"step {steps}: an empty page (active cell {st['active']})")
            elif not views or views[-1] != st["visible"]:
                views.append(st["visible"])
                failures += _present_view(page, st, shots, operated, report)
            shown |= set(st["visible"])
            nxt = lh.press_and_wait(page, "Space", st)
            steps += 1
            if nxt["active"] == st["active"] or steps > 300:
                break
            st = nxt
        report.update(steps=steps, deck_s=round(time.perf_counter() - t_deck, 1))

        want = notebook_rules.nbconvert_views(types)
        if views != want:
            failures.append(f"the deck's views differ from nbconvert's slides:\n  deck      {views}\n  nbconvert {want}")
        if views != notebook_rules.deck_views(types):
            failures.append(f"cnnlab.notebook_rules.deck_views no longer predicts the deck: {notebook_rules.deck_views(types)}")
        hidden = {i for i, t in enumerate(types) if t in ("skip", "notes")}
        failures += [f"a {types[i]} cell is on a slide: cell {i}" for i in sorted(shown & hidden)]
        missing = sorted(set(range(len(types))) - hidden - shown)
        if missing:
            failures.append(f"cells never shown by the deck: {missing}")
        failures += _tall_text_slide_failures(name, report)
        if not any("widgets" in v for v in report["views"]):
            failures.append("no view shows a widget")
        if not operated:
            failures.append("no widget's controls were operated")
        if types.count("notes") != 1:
            failures.append(f"the served copy should carry one speaker-notes cell, has {types.count('notes')}")
    finally:
        if presenting:
            lh.stop_deck(page)
        report["total_s"] = round(time.perf_counter() - t_start, 1)
        report["failures"] = failures
        report["blocked_requests"] = problems.blocked_requests
        TIMINGS.setdefault(name, {})["lecture_s"] = report["total_s"]
        (shots / "lecture_report.json").write_text(json.dumps(report, indent=2))
        print(f"\n[browser] {name} as a lecture: {len(report['views'])} views in {report.get('steps')} steps, "
              f"run all {report.get('run_all_s')}s, deck {report.get('deck_s')}s, total {report['total_s']}s")
        bh.shutdown_current_kernel(page, lab)
    failures += problems.real()
    failures += [f"the lecture tried to reach the network: {u}" for u in problems.blocked_requests]
    assert not failures, f"{name} as a lecture (screenshots in {shots}):\n- " + "\n- ".join(failures)


def test_a_second_window_shows_the_speaker_notes_and_drives_the_slides(served, lab, lecture_page):
    """The deck has no presenter view; the workaround docs/lecturing.md gives: after Run All and
    a save, open the same lesson in a second window (the lecturer's screen) *before* starting the
    deck. That window is the notebook on the same kernel: it shows the speaker notes, and a
    slider moved there redraws the figure on the projector's slide."""
    present = [n for n in bh.lesson_params() if (served / f"{n}.ipynb").exists()]
    if not present:
        pytest.skip("no lesson in notebooks/ yet")
    name = present[0]
    projector, problems = lecture_page
    _open_lesson(projector, lab, name, f"projector-{name}")
    presenting = False
    try:
        run = bh.run_all_cells(projector, timeout_s=LESSON_TIMEOUT_S)
        assert not run.errors and not run.timed_out, run.errors or "Run All timed out"
        bh.wait_for_widgets_rendered(projector)
        projector.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        projector.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)

        screen = projector.context.new_page()
        screen.set_default_timeout(60_000)
        bh.watch_page(screen, problems)
        _open_lesson(screen, lab, name, f"presenter-{name}")
        bh.wait_for_widgets_rendered(screen)
        kernels = [p.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.id")
                   for p in (projector, screen)]
        assert kernels[0] == kernels[1], f"the second window runs another kernel: {kernels}"
        notes = screen.locator(".jp-MarkdownCell", has_text="Speaker notes").first
        notes.scroll_into_view_if_needed()
        assert notes.is_visible() and "added by the test" in notes.inner_text()

        st = lh.start_deck(projector)
        presenting = True
        while not lh.widget_cells(projector, st["visible"]):
            nxt = lh.press_and_wait(projector, "Space", st)
            assert nxt["active"] != st["active"], "the deck ended before a slide with a widget"
            st = nxt
        cell = next(w["cell"] for w in lh.widget_cells(projector, st["visible"]) if w["handles"])
        assert screen.evaluate("() => document.body.dataset.jpDeckMode") != "presenting"
        before = lh.figure(projector, cell)
        handle = bh.cell_locator(screen, cell).locator(".noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        screen.keyboard.press("ArrowRight")
        changed = bh.wait_for_figure_change(projector, cell, before, 20)
        shots = bh.artifacts_dir(name)
        projector.screenshot(path=str(shots / "lecture_two_windows_projector.png"))
        screen.screenshot(path=str(shots / "lecture_two_windows_presenter.png"))
        assert changed, f"a slider moved in the second window did not redraw cell {cell} on the slide"
    finally:
        if presenting:
            lh.stop_deck(projector)
        bh.shutdown_current_kernel(projector, lab)
    assert not problems.real() and not problems.blocked_requests, (problems.real(), problems.blocked_requests)
