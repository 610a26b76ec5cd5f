"""Repository policy for notebooks, enforced in CI.

Policy (docs/notebooks.md): lessons, solutions and exercises are committed with outputs
CLEARED. nbval then runs every cell under --nbval-lax (cleared cells are never compared, so
the lessons guard their text with asserts instead). A notebook committed with outputs, an
execution count, or missing slide metadata fails here, naming the file and cell.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIRS = ("notebooks", "solutions", "exercises")
ALL_NOTEBOOKS = sorted(
    p for d in NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb")
)
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}

EXPECTED_LESSONS = [
    "01_discrete_convolution.ipynb",
    "02_image_kernels.ipynb",
    "03_stride_padding_dilation.ipynb",
    "04_channels.ipynb",
    "05_pooling.ipynb",
    "06_backpropagation.ipynb",
    "07_lenet5_mnist.ipynb",
]


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_the_seven_lessons_exist_in_order():
    assert [p.name for p in LESSONS] == EXPECTED_LESSONS


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_notebook_is_valid_and_cleared(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            dirty.append(i)
    assert not dirty, (
        f"{path.relative_to(ROOT)}: code cells {dirty} have outputs or execution counts; "
        "notebooks are committed cleared (see docs/notebooks.md). Clear them with "
        "`jupyter nbconvert --clear-output --inplace FILE`."
    )
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path.relative_to(ROOT)}: kernelspec must be python3")


@pytest.mark.parametrize("path", LESSONS + sorted((ROOT / "solutions").glob("*.ipynb")),
                         ids=_ids(LESSONS + sorted((ROOT / "solutions").glob("*.ipynb"))))
def test_every_cell_has_slide_metadata(path):
    nb = nbformat.read(path, as_version=4)
    missing = [i for i, c in enumerate(nb.cells)
               if c.metadata.get("slideshow", {}).get("slide_type") not in SLIDE_TYPES]
    assert not missing, f"{path.name}: cells {missing} lack metadata.slideshow.slide_type"
    assert nb.cells[0].metadata["slideshow"]["slide_type"] == "slide"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_lesson_follows_the_arc(path):
    """Each lesson has a widget, a static fallback, asserts and hidden-answer questions."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "widgets." in code, f"{path.name}: no cnnlab.widgets app is shown"
    assert re.search(r"viz\.static_\w+\(", code), f"{path.name}: no static figure fallback"
    assert code.count("assert ") >= 3, f"{path.name}: numbers in the text must be asserted"
    assert "<details" in text, f"{path.name}: 'check yourself' answers must be hidden in <details>"
    assert re.search(r"check yourself", text, re.I), f"{path.name}: no 'Check yourself' section"
    for forbidden in ("pip install", "%matplotlib widget", "urlopen(", "requests."):
        assert forbidden not in code, f"{path.name}: {forbidden!r} would need network or a GUI"


def test_no_notebook_checkpoints_committed():
    assert not list(ROOT.glob("**/.ipynb_checkpoints/*.ipynb"))


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_no_markdown_renders_as_an_accidental_code_block(path):
    """A paragraph indented 4+ spaces (e.g. from an un-dedented template) shows as code."""
    nb = nbformat.read(path, as_version=4)
    bad = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for j, line in enumerate(lines):
            prev_blank = j == 0 or not lines[j - 1].strip()
            if prev_blank and re.match(r"^( {4,}|\t)\S", line) and not re.match(r"^\s*([-*+|>]|\d+\.)", line):
                bad.append((i, line.strip()[:40]))
                break
    assert not bad, f"{path.name}: markdown cells render as code blocks: {bad}"


@pytest.mark.parametrize("script", ["lessons_1_4.py", "lessons_5_7.py"])
def test_committed_lessons_match_their_generator(script, tmp_path, capsys):
    """notebooks/*.ipynb are written by tools/lessons/*.py: edit the script, then rerun it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(script[:-3], ROOT / "tools" / "lessons" / script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.HERE = tmp_path                      # write the fresh copies elsewhere
    mod.main()
    written = sorted(tmp_path.glob("*.ipynb"))
    assert written, f"{script} wrote no notebook"
    drift = [p.name for p in written
             if p.read_bytes() != (ROOT / "notebooks" / p.name).read_bytes()]
    assert not drift, (f"{drift} differ from what tools/lessons/{script} generates; run "
                       f"`.venv/bin/python tools/lessons/{script}` and commit the result")
