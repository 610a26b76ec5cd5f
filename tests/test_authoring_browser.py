"""An author edits a lesson in real JupyterLab and saves it with the keyboard; the check passes.

Issue 10's acceptance test, through the browser: one JupyterLab server (browser_helpers.LabServer:
127.0.0.1, free port, token, isolated Jupyter home, autosave off) serves copies of the lessons
(the solutions and exercises beside them are the committed ones), and headless Debian Chromium
(Playwright) drives it the way an author does:

- open a lesson with its python3 kernel; select a markdown cell, Enter, Ctrl+End, type a
  sentence, Shift+Enter, Ctrl+S; the saved file holds the sentence and the kernel's
  ``language_info``, every cell keeps its id, and ``cnnlab exercises --check`` on the copy passes;
- add a paragraph (B, M, type) and save: the check fails naming the new cell (its UUID id) and
  the fix; set its Slide Type to "-" in the Property Inspector, save: the check passes.

Skips (with the reason) when Playwright or /usr/bin/chromium is missing.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

import authoring_helpers as ah
import browser_helpers as bh

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_SKIP = bh.browser_skip_reason()
if _SKIP:
    pytestmark.append(pytest.mark.skip(reason=_SKIP))

SAVE_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """``<copy>/notebooks``: lesson copies; ``<copy>/solutions``, ``<copy>/exercises``: the repo's."""
    return bh.make_served_copy(tmp_path_factory.mktemp("cnnlab-authoring"))


@pytest.fixture(scope="module")
def lab(served):
    server = bh.LabServer(root_dir=served, lab_settings=bh.TEST_LAB_SETTINGS)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = bh.launch_chromium(pw)
        yield b
        b.close()


@pytest.fixture
def page(browser, lab):
    problems = bh.PageProblems()
    ctx = bh.offline_context(browser, problems)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    bh.watch_page(page, problems)
    yield page
    bh.shutdown_current_kernel(page, lab)
    ctx.close()
    assert not problems.blocked_requests, f"the lab tried to reach the network: {problems.blocked_requests}"


def _open_with_kernel(page, lab, name: str) -> None:
    page.goto(lab.url(f"/lab/workspaces/authoring-{name}/tree/{name}.ipynb", reset=None))
    bh.wait_for_notebook(page, f"{name}.ipynb")
    bh.wait_for_kernel_idle(page, timeout_s=90)


def _command_mode_on(page, index: int) -> None:
    cell = bh.cell_locator(page, index)
    cell.scroll_into_view_if_needed()
    cell.click()
    page.keyboard.press("Escape")


def _save_with_keyboard(page, path: Path, before: float, shots: Path, label: str) -> dict:
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + SAVE_TIMEOUT_S
    while time.monotonic() < deadline:
        dirty = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")
        if not dirty and path.stat().st_mtime > before:
            return ah.read_raw(path)
        page.wait_for_timeout(250)
    page.screenshot(path=str(shots / f"{label}_not_saved.png"))
    raise AssertionError(f"Ctrl+S did not save {path.name} within {SAVE_TIMEOUT_S}s")


def test_a_lesson_edited_in_jupyterlab_and_saved_passes_the_check(page, lab, served):
    name = "01_discrete_convolution"
    path, shots = served / f"{name}.ipynb", bh.artifacts_dir("authoring")
    before_nb, before = ah.read_raw(path), path.stat().st_mtime
    index = next(i for i, c in enumerate(before_nb["cells"]) if i and c["cell_type"] == "markdown")
    _open_with_kernel(page, lab, name)

    _command_mode_on(page, index)
    page.keyboard.press("Enter")                        # edit mode: the markdown source
    page.keyboard.press("Control+End")
    page.keyboard.type(" Edited in JupyterLab.")
    page.keyboard.press("Shift+Enter")                  # render it
    saved = _save_with_keyboard(page, path, before, shots, "lesson")
    page.screenshot(path=str(shots / "lesson_edited.png"))

    text = "".join(saved["cells"][index]["source"])
    assert text == "".join(before_nb["cells"][index]["source"]) + " Edited in JupyterLab.", text[-200:]
    assert [c["id"] for c in saved["cells"]] == [c["id"] for c in before_nb["cells"]]
    assert saved["metadata"]["language_info"].get("version"), "the kernel's language_info was not saved"
    proc = ah.run_check(served.parent)
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout


def test_a_new_paragraph_needs_its_slide_type_from_the_property_inspector(page, lab, served):
    name = "04_channels"
    path, shots = served / f"{name}.ipynb", bh.artifacts_dir("authoring")
    before = path.stat().st_mtime
    _open_with_kernel(page, lab, name)

    _command_mode_on(page, 2)
    for key in ("b", "m", "Enter"):                     # a cell below, markdown, edit mode
        page.keyboard.press(key)
    page.keyboard.type("A paragraph written in JupyterLab.")
    page.keyboard.press("Shift+Enter")
    saved = _save_with_keyboard(page, path, before, shots, "paragraph")
    new = saved["cells"][3]
    assert "".join(new["source"]) == "A paragraph written in JupyterLab." and len(new["id"]) == 36, new
    proc = ah.run_check(served.parent)
    assert proc.returncode == 1
    assert (f"{name}.ipynb: no slide type (metadata.slideshow.slide_type)\n"
            f"    cell 3 (id '{new['id']}'): \"A paragraph written in JupyterLab.\"\n"
            "    fix: select the cell, open the Property Inspector") in proc.stderr, proc.stderr

    _command_mode_on(page, 3)
    page.evaluate("() => window.jupyterapp.commands.execute('property-inspector:show-panel')")
    page.get_by_text("Common Tools").click()
    page.locator("select[id$='/slideshow/slide_type']").select_option(index=0)    # "-"
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "paragraph_slide_type.png"))
    _command_mode_on(page, 3)
    saved = _save_with_keyboard(page, path, path.stat().st_mtime, shots, "slide_type")
    assert saved["cells"][3]["metadata"]["slideshow"] == {"slide_type": ""}, saved["cells"][3]["metadata"]
    proc = ah.run_check(served.parent)
    assert proc.returncode == 0, proc.stderr
