"""Shared by the authoring tests: a throwaway copy of the course, notebooks written the way
JupyterLab saves them, and the one check (``cnnlab exercises --check``) run on a folder.

What JupyterLab 4.6 writes when an author saves a lesson was read off real saves (Chromium through
Playwright, tests/test_authoring_browser.py does it again): the server writes the front-end's
model with ``nbformat.write`` (indent 1, sorted keys, sources as lists of lines); a running
kernel fills ``metadata.language_info`` (:func:`kernel_language_info`) and the kernelspec's
``display_name`` ("Python 3 (ipykernel)"); a new cell gets a UUID id and empty metadata; choosing
a Slide Type in the Property Inspector writes :data:`INSPECTOR_METADATA` (``""`` for "-").
No test lives here.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COURSE_DIRS = ("notebooks", "solutions", "exercises")

#: A cell's metadata after the author picked Slide Type "-" in JupyterLab's Property Inspector.
INSPECTOR_METADATA = {"deletable": True, "editable": True, "slideshow": {"slide_type": ""}, "tags": []}


def kernel_language_info() -> dict:
    """``metadata.language_info`` as the ipykernel kernel fills it in when JupyterLab saves."""
    return {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
            "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3", "version": platform.python_version()}


def copy_course(dest: Path) -> Path:
    """``dest/notebooks``, ``dest/solutions``, ``dest/exercises``: copies of the committed notebooks."""
    for name in COURSE_DIRS:
        (dest / name).mkdir(parents=True, exist_ok=True)
        for path in sorted((REPO / name).glob("*.ipynb")):
            shutil.copy2(path, dest / name / path.name)
    return dest


def read_raw(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_raw(path: Path, raw: dict) -> None:
    """Exactly this JSON (also invalid notebooks), formatted as nbformat formats it."""
    Path(path).write_text(json.dumps(raw, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                          encoding="utf-8")


def write_like_jupyter(path: Path, raw: dict) -> None:
    """What jupyter_server's contents manager does with a saved model: ``nbformat.write``."""
    import nbformat
    nbformat.write(nbformat.from_dict(raw), str(path))


def as_lab_saves(raw: dict, edit_cell: int | None = None, text: str = "") -> dict:
    """``raw`` as JupyterLab saves it from a kernel session: language_info and the kernelspec's
    display name filled in; with ``edit_cell``, ``text`` appended to that cell's source."""
    raw = json.loads(json.dumps(raw))
    raw["metadata"]["language_info"] = kernel_language_info()
    raw["metadata"]["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                     "name": "python3"}
    if edit_cell is not None:
        cell = raw["cells"][edit_cell]
        cell["source"] = "".join(cell["source"]) + text
    return raw


def new_markdown_cell(text: str) -> dict:
    """A paragraph added in JupyterLab (B, M, type) whose Slide Type was then set to "-"."""
    return {"cell_type": "markdown", "id": str(uuid.uuid4()), "metadata": dict(INSPECTOR_METADATA),
            "source": text}


def run_check(root: Path, *extra: str) -> subprocess.CompletedProcess:
    """``python -m cnnlab exercises --check --root ROOT`` with this checkout's cnnlab."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "cnnlab", "exercises", "--check", "--root",
                           str(root), *extra], capture_output=True, text=True, env=env, timeout=300)


def regenerate(root: Path) -> subprocess.CompletedProcess:
    """``python -m cnnlab exercises --root ROOT``: the one command that writes exercises/."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "cnnlab", "exercises", "--root", str(root)],
                          capture_output=True, text=True, env=env, timeout=300)
