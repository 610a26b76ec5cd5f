"""Generate the student notebooks ``exercises/`` from the single source ``solutions/``.

``solutions/*.ipynb`` hold the answers between nbgrader's markers::

    def corr2d(x, k):
        H, W = x.shape              # kept: code outside the markers is given to the student
        ### BEGIN SOLUTION
        out = ...                   # the answer
        ### END SOLUTION

and may hold instructor-only checks between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``.
The generated exercise notebook

* replaces every solution block by ``raise NotImplementedError()`` at the indentation of its
  ``### BEGIN SOLUTION`` line (the signature, docstring and given code stay; a markdown cell's
  block becomes "YOUR ANSWER HERE"; a ``solution: true`` code cell without markers is replaced
  whole, as nbgrader does);
* drops the hidden-test blocks;
* clears outputs and execution counts, keeps cell ids and metadata (nbgrader's included), and
  records its source in ``metadata.cnnlab``;
* is written byte-for-byte deterministically (``nbformat.writes`` + a trailing newline).

Command line: ``cnnlab exercises [--solutions DIR] [--exercises DIR] [--check]``. ``--check``
writes nothing and exits 1, naming each file, when the committed ``exercises/`` differ from
what the solutions generate (CI runs it through tests/test_exercises.py).
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BEGIN_SOLUTION", "END_SOLUTION", "BEGIN_HIDDEN_TESTS", "END_HIDDEN_TESTS", "STUB",
    "MarkerError", "Drift", "strip_source", "make_exercise", "render", "generate", "check",
    "add_cli",
]

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
STUB = "raise NotImplementedError()"
MARKDOWN_STUB = "YOUR ANSWER HERE"

_REPO = Path(__file__).resolve().parents[1]


class MarkerError(ValueError):
    """Unbalanced or nested BEGIN/END markers in a solution notebook."""


@dataclass(frozen=True)
class Drift:
    """One file of exercises/ that does not match what the solutions generate."""
    path: Path
    problem: str   # "out of date", "missing", "extra"

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def _is_marker(line: str, marker: str) -> bool:
    return line.strip().startswith(marker)


def strip_source(source: str, cell_type: str = "code", where: str = "cell") -> str:
    """The student version of one cell's source: solution blocks -> stub, hidden tests removed.

    ``where`` names the cell in error messages. Lines outside the markers are kept verbatim,
    and each solution block becomes ONE stub line at the indentation of its BEGIN marker.
    """
    lines = source.split("\n")
    out: list[str] = []
    state = None          # None, "solution" or "hidden"
    begin_at = 0
    for n, line in enumerate(lines, 1):
        if _is_marker(line, BEGIN_SOLUTION) or _is_marker(line, BEGIN_HIDDEN_TESTS):
            if state is not None:
                raise MarkerError(f"{where}, line {n}: {line.strip()!r} inside an open "
                                  f"{state} block (opened at line {begin_at})")
            state = "solution" if _is_marker(line, BEGIN_SOLUTION) else "hidden"
            begin_at = n
            if state == "solution":
                indent = line[:len(line) - len(line.lstrip())]
                out.append(indent + (STUB if cell_type == "code" else MARKDOWN_STUB))
            continue
        if _is_marker(line, END_SOLUTION) or _is_marker(line, END_HIDDEN_TESTS):
            expected = "solution" if _is_marker(line, END_SOLUTION) else "hidden"
            if state != expected:
                raise MarkerError(f"{where}, line {n}: {line.strip()!r} without a matching BEGIN")
            state = None
            continue
        if state is None:
            out.append(line)
    if state is not None:
        raise MarkerError(f"{where}: the {state} block opened at line {begin_at} is never closed")
    text = "\n".join(out)
    if BEGIN_HIDDEN_TESTS in source:
        text = text.rstrip()   # removing a trailing hidden block leaves no dangling blank lines
    return text


def _has_solution_marker(source: str) -> bool:
    return any(_is_marker(line, BEGIN_SOLUTION) for line in source.split("\n"))


def make_exercise(nb, source_name: str = ""):
    """The exercise version of a solution notebook (an nbformat NotebookNode; not modified)."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        where = f"{source_name or 'notebook'} cell {i}"
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not _has_solution_marker(cell.source):
            cell.source = STUB          # nbgrader: an unmarked solution cell is replaced whole
        elif cell.cell_type in ("code", "markdown"):
            cell.source = strip_source(cell.source, cell.cell_type, where)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata["cnnlab"] = {
        "generated_from": f"solutions/{source_name}" if source_name else "solutions/",
        "note": "generated by `cnnlab exercises`: edit the solution notebook, not this file",
    }
    return nb


def _writes(nb) -> str:
    import nbformat
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def _default_dir(name: str) -> Path:
    return Path(name) if Path("solutions").is_dir() else _REPO / name


def render(solutions_dir) -> dict:
    """{file name: exercise notebook text} for every ``*.ipynb`` directly in ``solutions_dir``."""
    import nbformat
    solutions_dir = Path(solutions_dir)
    out = {}
    for path in sorted(solutions_dir.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        out[path.name] = _writes(make_exercise(nb, path.name))
    return out


def _is_generated(path: Path) -> bool:
    """True for a notebook this module wrote (it records its source in metadata.cnnlab)."""
    import json
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        return bool(meta.get("cnnlab", {}).get("generated_from"))
    except (OSError, ValueError, AttributeError):
        return False


def generate(solutions_dir=None, exercises_dir=None) -> list:
    """Write ``exercises_dir/NAME.ipynb`` for every ``solutions_dir/NAME.ipynb`` and remove the
    generated exercise notebooks whose solution is gone (a notebook this module did not write is
    never deleted). Returns the paths written (changed files only)."""
    solutions_dir = Path(solutions_dir) if solutions_dir else _default_dir("solutions")
    exercises_dir = Path(exercises_dir) if exercises_dir else _default_dir("exercises")
    if not solutions_dir.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions_dir}")
    exercises_dir.mkdir(parents=True, exist_ok=True)
    written = []
    wanted = render(solutions_dir)
    for name, text in wanted.items():
        target = exercises_dir / name
        if target.exists() and target.read_bytes() == text.encode("utf-8"):
            continue
        tmp = target.with_suffix(".ipynb.tmp")
        tmp.write_bytes(text.encode("utf-8"))
        tmp.replace(target)
        written.append(target)
    for stale in sorted(exercises_dir.glob("*.ipynb")):
        if stale.name not in wanted and _is_generated(stale):
            stale.unlink()
    return written


def check(solutions_dir=None, exercises_dir=None) -> list:
    """The files of ``exercises_dir`` that differ from what ``solutions_dir`` generates:
    a list of :class:`Drift` (empty when everything is up to date)."""
    solutions_dir = Path(solutions_dir) if solutions_dir else _default_dir("solutions")
    exercises_dir = Path(exercises_dir) if exercises_dir else _default_dir("exercises")
    wanted = render(solutions_dir)
    problems = []
    for name, text in wanted.items():
        target = exercises_dir / name
        if not target.exists():
            problems.append(Drift(target, "missing"))
        elif target.read_bytes() != text.encode("utf-8"):
            problems.append(Drift(target, f"out of date (differs from what "
                                          f"{solutions_dir / name} generates)"))
    if exercises_dir.is_dir():
        for path in sorted(exercises_dir.glob("*.ipynb")):
            if path.name not in wanted:
                how = "" if _is_generated(path) else "; not generated by cnnlab: remove it by hand"
                problems.append(Drift(path, f"extra (no solution notebook of that name{how})"))
    return problems


# --------------------------------------------------------------------------- command line

def _run(args) -> int:
    solutions = Path(args.solutions) if args.solutions else _default_dir("solutions")
    exercises = Path(args.exercises) if args.exercises else _default_dir("exercises")
    try:
        if args.check:
            problems = check(solutions, exercises)
            if not problems:
                print(f"{exercises} is up to date with {solutions}.")
                return 0
            print(f"{exercises} does not match what {solutions} generates:", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            print("Fix: run `cnnlab exercises` (python -m cnnlab exercises) to regenerate "
                  "them from the solutions, then commit exercises/. Never edit exercises/ "
                  "by hand.", file=sys.stderr)
            return 1
        written = generate(solutions, exercises)
    except (MarkerError, FileNotFoundError) as exc:
        print(f"cnnlab exercises: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} file(s) changed; {exercises} is up to date with {solutions}.")
    return 0


def add_cli(subparsers) -> None:
    """Register ``cnnlab exercises [--solutions DIR] [--exercises DIR] [--check]``."""
    p = subparsers.add_parser(
        "exercises", help="generate exercises/ from solutions/ (or --check for drift)",
        description="Write the student notebooks exercises/*.ipynb from solutions/*.ipynb: "
                    "solution blocks become `raise NotImplementedError()`, hidden tests are "
                    "removed, outputs cleared.")
    p.add_argument("--solutions", metavar="DIR", default=None,
                   help="folder of solution notebooks (default: ./solutions)")
    p.add_argument("--exercises", metavar="DIR", default=None,
                   help="folder of exercise notebooks to write (default: ./exercises)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 and name the files if exercises/ is out of date")
    p.set_defaults(func=_run)
