"""docs/deck-coverage.md names lesson cells by id (``04-017``, a cell of ``notebooks/04_*.ipynb``)
and notebooks by file name (``04_channels``, ``solutions/09_capstone``). Every one it names
must exist, so that a cell moved, renamed or deleted without updating the table fails here
(docs/authoring.md: update the rows in the same commit)."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deck-coverage.md"
CELL_ID = re.compile(r"(?<![\w.:-])(0[1-9])-(\d{3}[a-z]?)(?![\w-])")
NOTEBOOK = re.compile(r"`(?:(notebooks|solutions)/)?(\d\d_[a-z0-9_]+)`")


def _ids(folder: str) -> dict[str, tuple[str, set[str]]]:
    out = {}
    for path in sorted((ROOT / folder).glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        out[path.stem] = (path.name[:2], {c["id"] for c in cells})
    return out


def test_every_cell_the_coverage_table_names_exists_in_its_lesson():
    lessons = _ids("notebooks")
    by_number = {number: ids for number, ids in lessons.values()}
    text = DOC.read_text(encoding="utf-8")
    named = [(m.group(0), m.group(1)) for m in CELL_ID.finditer(text)]
    assert len(named) > 100, "the table should name many cells; has the id format changed?"
    missing = sorted({cid for cid, number in named if cid not in by_number.get(number, set())})
    assert not missing, f"docs/deck-coverage.md names cells no lesson has: {missing}"


def test_every_notebook_the_coverage_table_names_exists():
    text = DOC.read_text(encoding="utf-8")
    names = {(folder or "", stem) for folder, stem in NOTEBOOK.findall(text)}
    assert names, "the table should name notebooks"
    missing = sorted(f"{folder or 'notebooks|solutions'}/{stem}" for folder, stem in names
                     if not any((ROOT / f / f"{stem}.ipynb").exists()
                                for f in ([folder] if folder else ["notebooks", "solutions"])))
    assert not missing, f"docs/deck-coverage.md names notebooks that do not exist: {missing}"
