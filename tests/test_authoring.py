"""Editing the course as JupyterLab does, then the one check: issue 10's acceptance test.

An author opens a lesson in JupyterLab, fixes a sentence, saves; the test suite must stay green.
Here a real Jupyter server (``jupyter server`` on 127.0.0.1, free port, random token, isolated
Jupyter home: ``browser_helpers.LabServer``) serves a copy of the course, and each test does what
JupyterLab's front-end does over the server's contents API:

- open: ``GET /api/contents/<path>?content=1&type=notebook`` (the model: sources as strings);
- edit: change the model as the front-end would (a markdown cell's text; a new cell with the
  metadata the Property Inspector writes; the kernelspec and ``language_info`` a running kernel
  fills in, as real saves showed);
- save (Ctrl+S): ``PUT /api/contents/<path>`` with ``{"type": "notebook", "format": "json",
  "content": model}``, which the server writes with nbformat;

then runs ``cnnlab exercises --check`` on the copy. A lesson edited this way passes; a solution
edited this way fails, naming the exercise cell and the fix, until ``cnnlab exercises`` runs.
tests/test_authoring_browser.py does the same through real JupyterLab in Chromium.
"""
from __future__ import annotations

import json
import urllib.request

import pytest

import authoring_helpers as ah
import browser_helpers as bh
from cnnlab import exercises
from cnnlab.__main__ import main

LESSON = "notebooks/01_discrete_convolution.ipynb"
SOLUTION = "solutions/03_stride_padding_dilation.ipynb"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A copy of the course (notebooks/, solutions/, exercises/) and a Jupyter server on it."""
    root = ah.copy_course(tmp_path_factory.mktemp("course"))
    server = bh.LabServer(root_dir=root, argv=[str(bh.venv_bin() / "jupyter"), "server", str(root)])
    server.start()
    yield root, server
    server.stop()


def _open(server, path: str) -> dict:
    model = server.http_json(f"/api/contents/{path}?content=1&type=notebook")
    assert model["type"] == "notebook" and model["format"] == "json", model.get("type")
    return model["content"]


def _save(server, path: str, nb: dict) -> dict:
    body = json.dumps({"type": "notebook", "format": "json", "content": nb}).encode("utf-8")
    req = urllib.request.Request(f"{server.base_url}/api/contents/{path}", data=body, method="PUT",
                                 headers={"Authorization": f"token {server.token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def _as_kernel_session(server, nb: dict) -> None:
    """What a running python3 kernel makes the front-end write into the notebook metadata."""
    spec = server.http_json("/api/kernelspecs")["kernelspecs"]["python3"]["spec"]
    nb["metadata"]["kernelspec"] = {"display_name": spec["display_name"], "language": spec["language"],
                                    "name": "python3"}
    nb["metadata"]["language_info"] = ah.kernel_language_info()


def test_a_lesson_edited_and_saved_through_jupyter_passes_the_check(served):
    root, server = served
    nb = _open(server, LESSON)
    assert isinstance(nb["cells"][0]["source"], str)           # the front-end's model
    ids = [c["id"] for c in nb["cells"]]
    i = ids.index("01-002")                                     # "## 1. One dimension ..."
    assert nb["cells"][i]["cell_type"] == "markdown"
    nb["cells"][i]["source"] = nb["cells"][i]["source"].replace(
        "Lay the kernel", "Lay, for example, the kernel", 1)
    _as_kernel_session(server, nb)
    _save(server, LESSON, nb)

    saved = ah.read_raw(root / LESSON)
    assert "Lay, for example, the kernel" in "".join(saved["cells"][i]["source"])
    assert [c["id"] for c in saved["cells"]] == ids             # ids are stable across saves
    assert isinstance(saved["cells"][i]["source"], list)        # written as lists of lines
    assert saved["metadata"]["language_info"]["version"]
    proc = ah.run_check(root)
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout


def test_a_new_paragraph_with_its_slide_type_passes_and_without_it_fails(served):
    root, server = served
    path = "notebooks/04_channels.ipynb"
    nb = _open(server, path)
    cell = ah.new_markdown_cell("A paragraph written in JupyterLab.")
    cell["metadata"] = {}                                       # a new cell: no slide type yet
    nb["cells"].insert(3, cell)
    _save(server, path, nb)
    problems = exercises.check_course(root)
    assert [(p.rule, p.cell, p.cell_id) for p in problems] == [("slide-type", 3, cell["id"])], problems
    assert '"A paragraph written in JupyterLab."' in str(problems[0]) and "Slide Type" in problems[0].fix

    nb = _open(server, path)
    nb["cells"][3]["metadata"] = dict(ah.INSPECTOR_METADATA)   # Slide Type "-" in the inspector
    _save(server, path, nb)
    assert ah.read_raw(root / path)["cells"][3]["metadata"]["slideshow"] == {"slide_type": ""}
    assert exercises.check_course(root) == []


def test_a_solution_edited_through_jupyter_asks_for_cnnlab_exercises(served, capsys):
    root, server = served
    nb = _open(server, SOLUTION)
    i = next(j for j, c in enumerate(nb["cells"]) if c["id"] == "output_size-task")
    nb["cells"][i]["source"] += "\n\nEdited by the instructor."
    _as_kernel_session(server, nb)
    _save(server, SOLUTION, nb)

    assert main(["exercises", "--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    name = SOLUTION.split("/")[1]
    assert f"exercises/{name}: out of date (" in err, err
    assert f"    cell {i} (id 'output_size-task'): \"## Exercise 3.1" in err, err
    assert "fix: run `cnnlab exercises`" in err
    assert main(["exercises", "--root", str(root)]) == 0
    assert exercises.check_course(root) == []
    exercise = ah.read_raw(root / "exercises" / name)
    assert "Edited by the instructor." in "".join(exercise["cells"][i]["source"])
