"""Finding submissions and reading them: which files, under which names, and whether each is a
notebook worth starting a kernel for."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

__all__ = ["MAX_NOTEBOOK_BYTES", "NotGradable", "find_submissions", "read_notebook"]

MAX_NOTEBOOK_BYTES = 100 * 2**20


class NotGradable(Exception):
    """A file that gets a row but no kernel; ``status`` is the row's status."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


def _notebooks_in(folder: Path) -> list[tuple[str, Path]]:
    """Every ``*.ipynb`` below ``folder``, sorted, hidden folders (checkpoints) skipped."""
    items = []
    for f in sorted(folder.rglob("*.ipynb")):
        rel = f.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts[:-1]):
            continue
        if f.is_file():
            items.append((rel.as_posix(), f))
    return items


def find_submissions(paths: Iterable[str | os.PathLike]) -> list[tuple[str, Path]]:
    """Expand files and folders into ``(display name, path)`` pairs, in a deterministic order.

    A folder contributes every ``*.ipynb`` below it (sorted, hidden folders and
    ``.ipynb_checkpoints`` skipped), named by its path relative to the folder. A file is named
    by its file name (by the path as given when two names would collide). A path that does
    not exist is kept: it gets a "not a notebook: file not found" row.
    """
    found: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        for name, f in (_notebooks_in(p) if p.is_dir() else [(p.name, p)]):
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                found.append((name, f))
    names = [n for n, _ in found]
    dupes = {n for n in names if names.count(n) > 1}
    return [(str(p) if n in dupes else n, p) for n, p in found]


def _read_text(path: Path) -> tuple[str, bytes]:
    if not path.exists():
        raise NotGradable("not a notebook: file not found")
    if not path.is_file():
        raise NotGradable("not a notebook: not a regular file")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise NotGradable(f"not a notebook: file too large ({size // 2**20} MB)")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), raw
    except UnicodeDecodeError:
        raise NotGradable("not a notebook: not a text file") from None


def _clean_cells(cells) -> None:
    """Sources as text, metadata as dicts, outputs and execution counts dropped; ValueError
    for a cell nbformat would choke on."""
    if not isinstance(cells, list):
        raise ValueError("cells is not a list")
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise ValueError("a cell without a cell_type")
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(str(s) for s in src)
        if not isinstance(src, str):
            raise ValueError("a cell whose source is not text")
        cell["source"] = src
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None


def read_notebook(path: Path):
    """``(notebook as nbformat v4, the file's bytes)``, or raise NotGradable with the status."""
    import nbformat

    text, raw = _read_text(path)
    try:
        data = json.loads(text)
    except ValueError:
        raise NotGradable("not a notebook: not valid JSON") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise NotGradable("not a notebook: JSON, but not a Jupyter notebook") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        cells = nb.get("cells")
        _clean_cells(cells)
        nb = nbformat.from_dict(nb)
    except Exception as exc:  # nbformat raises many types on malformed input
        msg = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise NotGradable(f"not a notebook: invalid notebook ({msg})") from None
    if not cells:
        raise NotGradable("blank (no cells)")
    if not any(c["cell_type"] == "code" and c["source"].strip() for c in cells):
        raise NotGradable("blank (no code)")
    return nb, raw
