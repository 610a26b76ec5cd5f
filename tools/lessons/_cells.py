"""Cell builders shared by the lesson generators (lessons_1_4.py, lessons_5_7.py).

Every cell gets slide metadata; code cells are written cleared; ids are stable, so
regenerating a lesson that did not change gives no diff.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def md(text, slide="-"):
    cell = new_markdown_cell(textwrap.dedent(text).strip("\n"))
    cell.metadata["slideshow"] = {"slide_type": slide}
    return cell


def code(src, slide="-"):
    cell = new_code_cell(textwrap.dedent(src).strip("\n"))
    cell.metadata["slideshow"] = {"slide_type": slide}
    cell.outputs = []
    cell.execution_count = None
    return cell


def notebook(cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    assert cells[0].metadata["slideshow"]["slide_type"] == "slide"
    return nb


def answers(*pairs):
    """Check-yourself questions with the answers hidden in <details>."""
    out = []
    for i, (q, a) in enumerate(pairs, 1):
        out.append(f"**{i}.** {q}\n\n<details><summary>Answer</summary>\n\n{a}\n\n</details>\n")
    return "\n".join(out)


def write(nb, folder: Path, name: str) -> Path:
    """Validate and write ``folder/name.ipynb`` with stable cell ids; returns the path."""
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name[:2]}-{i:03d}"
    nbformat.validate(nb)
    path = Path(folder) / f"{name}.ipynb"
    nbformat.write(nb, path)
    print(f"wrote {path.name} ({len(nb.cells)} cells)")
    return path
