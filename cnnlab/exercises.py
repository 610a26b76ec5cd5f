"""``cnnlab exercises``: the student notebooks ``exercises/`` from the single source ``solutions/``,
the way nbgrader's ``generate_assignment`` makes a release; ``--check`` is the course's one check.

``solutions/*.ipynb`` hold the answers between nbgrader's markers::

    def corr2d(x, k):
        H, W = x.shape              # kept: code outside the markers is given to the student
        ### BEGIN SOLUTION
        out = ...                   # the answer
        ### END SOLUTION

and instructor-only checks between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, in cells
carrying nbgrader's metadata ``nbgrader: {grade, solution, locked, grade_id, points,
schema_version: 3}``. Each cell goes through nbgrader's preprocessors, in nbgrader's order:

* LockCells: a solution cell gets ``deletable: false``; a grade or locked cell also
  ``editable: false``;
* ClearSolutions: the lines from one holding ``BEGIN SOLUTION`` to one holding ``END SOLUTION``
  become the stub (:data:`STUB` in code, :data:`MARKDOWN_STUB` in text), indented like the BEGIN
  line; a solution cell without markers becomes the stub as a whole; ``metadata.celltoolbar``
  goes;
* ClearOutput: no outputs, no execution count, no ``collapsed``/``scrolled`` metadata;
* ClearHiddenTests, ClearMarkScheme: the ``HIDDEN TESTS`` and ``MARK SCHEME`` regions are removed;
* ComputeChecksums: ``nbgrader.checksum`` (nbgrader's MD5 of the student's cell) and
  ``nbgrader.cell_type`` on every grade, solution and locked cell.

Cell ids and all other metadata are kept; ``metadata.cnnlab`` records the source. The text is
``nbformat.writes`` plus a newline (what nbgrader's NotebookExporter writes), written atomically.
docs/authoring.md lists what still differs from nbgrader and the ``nbgrader_config.py`` that
matches this module's stub.

Command line: ``cnnlab exercises [--root DIR] [--notebooks DIR] [--solutions DIR]
[--exercises DIR] [--check]``. ``--check`` writes nothing: it applies the notebook rules
(:mod:`cnnlab.notebook_rules`) to the lessons, the solutions and the exercises, checks the
solutions' markers, and says which exercise cells differ from what the solutions generate; exit 1
with every problem named (notebook, cell, fix) when anything is off.
"""
from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path

from cnnlab._files import write_text_atomic
from cnnlab.notebook_rules import Notebook, Problem, cell_source, check_folder, display_path

__all__ = [
    "BEGIN_SOLUTION", "END_SOLUTION", "BEGIN_HIDDEN_TESTS", "END_HIDDEN_TESTS", "STUB",
    "MARKDOWN_STUB", "MarkerError", "Drift", "strip_source", "make_exercise", "render",
    "generate", "check", "check_course", "add_cli",
]

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
#: nbgrader's ``ClearSolutions.code_stub["python"]`` for this course (nbgrader's default adds a
#: "# YOUR CODE HERE" line above it) and its ``text_stub`` (nbgrader's default).
STUB = "raise NotImplementedError()"
MARKDOWN_STUB = "YOUR ANSWER HERE"

#: region -> (nbgrader's begin delimiter, end delimiter); a line holding one of them is a marker.
_REGIONS = {
    "solution": ("BEGIN SOLUTION", "END SOLUTION"),
    "hidden tests": ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
    "mark scheme": ("BEGIN MARK SCHEME", "END MARK SCHEME"),
}
#: the nbgrader flag a cell needs to hold each region (nbgrader refuses the release otherwise)
_REGION_CELL = {"solution": "solution", "hidden tests": "grade", "mark scheme": "task"}
_FLAG_NAMES = {"solution": "a solution", "grade": "a grade (autograder tests)", "task": "a task"}

_REPO = Path(__file__).resolve().parents[1]


class MarkerError(ValueError):
    """Unbalanced or nested BEGIN/END markers in a solution notebook (``cell``: its index)."""

    def __init__(self, message: str, cell: int | None = None):
        super().__init__(message)
        self.cell = cell


#: The problems :func:`check` returns (the older name of :class:`cnnlab.notebook_rules.Problem`).
Drift = Problem


def _marker(line: str) -> tuple[str, str] | None:
    """("begin"|"end", region) when ``line`` holds a delimiter, as nbgrader matches them."""
    for region, (begin, end) in _REGIONS.items():
        if begin in line:
            return "begin", region
        if end in line:
            return "end", region
    return None


def strip_source(source: str, cell_type: str = "code", where: str = "cell") -> str:
    """The student version of one cell's source: solution regions -> stub, hidden tests and
    mark schemes removed.

    ``where`` names the cell in error messages. Lines outside the markers are kept verbatim,
    and each solution region becomes the stub at the indentation of its BEGIN line.
    """
    out: list[str] = []
    state, begin_at = None, 0          # the open region and its line
    for n, line in enumerate(source.split("\n"), 1):
        marker = _marker(line)
        if marker and marker[0] == "begin":
            if state is not None:
                raise MarkerError(f"{where}, line {n}: {line.strip()!r} inside an open "
                                  f"{state} block (opened at line {begin_at})")
            state, begin_at = marker[1], n
            if state == "solution":
                indent = line[:len(line) - len(line.lstrip())]
                stub = STUB if cell_type == "code" else MARKDOWN_STUB
                out += [indent + stub_line for stub_line in stub.split("\n")]
        elif marker:
            if state != marker[1]:
                raise MarkerError(f"{where}, line {n}: {line.strip()!r} without a matching BEGIN")
            state = None
        elif state is None:
            out.append(line)
    if state is not None:
        raise MarkerError(f"{where}: the {state} block opened at line {begin_at} is never closed")
    text = "\n".join(out)
    if any(_REGIONS[r][0] in source for r in ("hidden tests", "mark scheme")):
        text = text.rstrip()   # removing a trailing hidden block leaves no dangling blank lines
    return text


def _regions(source: str) -> set:
    return {m[1] for m in map(_marker, source.split("\n")) if m and m[0] == "begin"}


def _flag(cell, name: str) -> bool:
    """nbgrader's ``utils.is_grade``/``is_solution``/``is_task`` (``name``) of a cell."""
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return isinstance(meta, dict) and bool(meta.get(name, False))


def _is_locked(cell) -> bool:
    """nbgrader's ``utils.is_locked``: grade cells are locked, solution cells never are."""
    return not _flag(cell, "solution") and (_flag(cell, "grade") or _flag(cell, "locked"))


def _checksum(cell) -> str:
    """nbgrader's ``utils.compute_checksum`` of a cell (of its student version in a release)."""
    meta = cell.metadata.nbgrader
    m = hashlib.md5()
    for part in (cell.source, cell.cell_type, str(meta.get("grade", False)),
                 str(meta.get("solution", False)), str(_is_locked(cell)), meta["grade_id"]):
        m.update(part.encode("utf-8"))
    if meta.get("grade", False):
        m.update(str(float(meta["points"])).encode("utf-8"))
    return m.hexdigest()


def _student_cell(cell, where: str) -> None:
    """nbgrader's generate_assignment preprocessors on one cell, in nbgrader's order (in place)."""
    if _flag(cell, "solution"):                                          # LockCells
        cell.metadata["deletable"] = False
    elif _is_locked(cell):
        cell.metadata["deletable"] = cell.metadata["editable"] = False
    if _flag(cell, "solution") and "solution" not in _regions(cell.source):   # ClearSolutions
        cell.source = STUB if cell.cell_type == "code" else MARKDOWN_STUB
    else:                                          # + ClearHiddenTests, ClearMarkScheme
        cell.source = strip_source(cell.source, cell.cell_type, where)
    if cell.cell_type == "code":                                         # ClearOutput
        cell.outputs, cell.execution_count = [], None
        for key in ("collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    if _flag(cell, "grade") or _flag(cell, "solution") or _is_locked(cell):   # ComputeChecksums
        try:
            checksum = _checksum(cell)
        except (KeyError, TypeError, ValueError):   # incomplete metadata: the check names it
            return
        cell.metadata.nbgrader.update(checksum=checksum, cell_type=cell.cell_type)


def make_exercise(nb, source_name: str = ""):
    """The exercise version of a solution notebook (an nbformat NotebookNode; not modified)."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        try:
            _student_cell(cell, f"{source_name or 'notebook'} cell {i}")
        except MarkerError as exc:
            raise MarkerError(str(exc), cell=i) from None
    nb.metadata.pop("celltoolbar", None)
    nb.metadata["cnnlab"] = {
        "generated_from": f"solutions/{source_name}" if source_name else "solutions/",
        "note": "generated by `cnnlab exercises`: edit the solution notebook, not this file",
    }
    return nb


def _writes(nb) -> str:
    import nbformat
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def _render_one(path: Path) -> str:
    import nbformat
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:   # nbformat raises many types on malformed input
        raise ValueError(f"{display_path(path)}: not a notebook ({exc})") from None
    return _writes(make_exercise(nb, path.name))


def render(solutions_dir) -> dict:
    """{file name: exercise notebook text} for every ``*.ipynb`` directly in ``solutions_dir``."""
    return {path.name: _render_one(path) for path in sorted(Path(solutions_dir).glob("*.ipynb"))}


def _is_generated(path: Path) -> bool:
    """True for a notebook this module wrote (it records its source in metadata.cnnlab)."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        return bool(meta.get("cnnlab", {}).get("generated_from"))
    except (OSError, ValueError, AttributeError):
        return False


def _default_dir(name: str, root=None) -> Path:
    if root is not None:
        return Path(root) / name
    return Path(name) if Path("solutions").is_dir() else _REPO / name


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
        if not (target.exists() and target.read_bytes() == text.encode("utf-8")):
            written.append(write_text_atomic(target, text))
    for stale in sorted(exercises_dir.glob("*.ipynb")):
        if stale.name not in wanted and _is_generated(stale):
            stale.unlink()
    return written


# --------------------------------------------------------------------------- the check

def _drift(target: Path, text: str, solution: Path) -> Problem | None:
    """None when ``target`` holds exactly ``text``, else the problem, naming the first cell that
    differs (as the solution generates it)."""
    if not target.exists():
        return Notebook(target, "exercise", {}).problem(
            "drift", f"missing (nothing generated yet from {display_path(solution)})")
    if target.read_bytes() == text.encode("utf-8"):
        return None
    want = Notebook(target, "exercise", json.loads(text))
    have = Notebook(target, "exercise").raw or {}
    if not isinstance(have.get("cells"), list):
        return want.problem("drift", "out of date (not a notebook any more)")
    cells, wanted = have["cells"], want.raw["cells"]
    whence = f"what {display_path(solution)} generates"
    differ = [i for i in range(max(len(cells), len(wanted)))
              if i >= len(cells) or i >= len(wanted) or cells[i] != wanted[i]]
    if not differ:
        what = ("the notebook metadata differs from" if have.get("metadata") != want.raw["metadata"]
                else "written differently from")
        return want.problem("drift", f"out of date ({what} {whence})")
    listed = ", ".join(map(str, differ[:8])) + (", ..." if len(differ) > 8 else "")
    listed = f"cell {listed} differs" if len(differ) == 1 else f"cells {listed} differ"
    count = f"; {len(wanted)} cells wanted, {len(cells)} found" if len(cells) != len(wanted) else ""
    first = min(differ[0], len(wanted) - 1)
    return want.problem("drift", f"out of date ({listed} from {whence}{count})",
                        first if first >= 0 else None)


def check(solutions_dir=None, exercises_dir=None) -> list:
    """What ``exercises_dir`` lacks to be what ``solutions_dir`` generates: a list of
    :class:`~cnnlab.notebook_rules.Problem` (empty when everything is up to date). A solution
    whose markers are unbalanced is reported instead of its exercise."""
    solutions_dir = Path(solutions_dir) if solutions_dir else _default_dir("solutions")
    exercises_dir = Path(exercises_dir) if exercises_dir else _default_dir("exercises")
    problems, names = [], set()
    for path in sorted(solutions_dir.glob("*.ipynb")):
        names.add(path.name)
        try:
            text = _render_one(path)
        except MarkerError as exc:
            problems.append(Notebook(path, "solution").problem("markers", str(exc), exc.cell))
            continue
        except ValueError as exc:    # not a notebook
            problems.append(Notebook(path, "solution").problem("json", str(exc).split(": ", 1)[1]))
            continue
        drift = _drift(exercises_dir / path.name, text, path)
        problems += [drift] if drift else []
    for path in sorted(exercises_dir.glob("*.ipynb")) if exercises_dir.is_dir() else []:
        if path.name not in names:
            mine = _is_generated(path)
            why = "" if mine else "; not generated by cnnlab: remove it by hand"
            problems.append(Notebook(path, "exercise", {}).problem(
                "drift" if mine else "stray", f"extra (no solution notebook of that name{why})"))
    return problems


def _marker_cell_problems(solutions_dir: Path) -> list:
    """Regions in cells nbgrader would refuse them in (its ``enforce_metadata``)."""
    problems = []
    for path in sorted(solutions_dir.glob("*.ipynb")):
        nb = Notebook(path, "solution")
        for i, cell in enumerate(nb.cells):
            for region in sorted(_regions(cell_source(cell))):
                flag = _REGION_CELL[region]
                if not _flag(cell, flag):
                    message = f"a {region} region in a cell that is not nbgrader's {flag} cell"
                    problems.append(nb.problem("marker-cell", message, i, kind=_FLAG_NAMES[flag]))
    return problems


def check_course(root=None, *, notebooks=None, solutions=None, exercises=None,
                 registry=None) -> list:
    """The one check: the notebook rules on ``notebooks/`` (lessons) and ``solutions/`` (with the
    exercise registry and nbgrader's markers), then whether ``exercises/`` is exactly what the
    solutions generate (so the rules hold there too) and holds no checkpoint folder.

    Folders default to ``root/<name>`` (``root``: this folder when it has ``solutions/``, else
    the repository). Returns every problem (empty: all is well)."""
    notebooks = Path(notebooks) if notebooks else _default_dir("notebooks", root)
    solutions = Path(solutions) if solutions else _default_dir("solutions", root)
    exercises = Path(exercises) if exercises else _default_dir("exercises", root)
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions}")
    problems = check_folder(notebooks, "lesson") if notebooks.is_dir() else []
    problems += check_folder(solutions, "solution", registry=registry)
    problems += _marker_cell_problems(solutions)
    if exercises.is_dir():     # generated: the rules hold if the solutions pass and they are
        problems += check_folder(exercises, "exercise", rules=("checkpoints",))  # up to date
    broken = {p.path for p in problems if p.rule == "json"}      # named once, by the rules
    return problems + [p for p in check(solutions, exercises)
                       if not (p.rule == "json" and p.path in broken)]


# --------------------------------------------------------------------------- command line

def _run(args) -> int:
    root = args.root
    notebooks = Path(args.notebooks) if args.notebooks else _default_dir("notebooks", root)
    solutions = Path(args.solutions) if args.solutions else _default_dir("solutions", root)
    exercises = Path(args.exercises) if args.exercises else _default_dir("exercises", root)
    try:
        if args.check:
            problems = check_course(notebooks=notebooks, solutions=solutions, exercises=exercises)
            if not problems:
                print(f"{exercises} is up to date with {solutions}, and the notebooks in "
                      f"{notebooks}, {solutions} and {exercises} follow the rules.")
                return 0
            for p in problems:
                print(p, file=sys.stderr)
            print(f"{len(problems)} problem(s), each with its fix (the rules: docs/authoring.md).",
                  file=sys.stderr)
            return 1
        written = generate(solutions, exercises)
    except (ValueError, FileNotFoundError) as exc:     # MarkerError, or not a notebook
        print(f"cnnlab exercises: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} file(s) changed; {exercises} is up to date with {solutions}.")
    return 0


def add_cli(subparsers) -> None:
    """Register ``cnnlab exercises [--root DIR] [--notebooks DIR] [--solutions DIR]
    [--exercises DIR] [--check]``."""
    p = subparsers.add_parser(
        "exercises", help="generate exercises/ from solutions/; --check: the course's one check",
        description="Write the student notebooks exercises/*.ipynb from solutions/*.ipynb as "
                    "nbgrader's generate_assignment does: solution regions become `raise "
                    "NotImplementedError()`, hidden tests are removed, outputs cleared, graded "
                    "cells locked. With --check, write nothing: check every notebook of "
                    "notebooks/, solutions/ and exercises/ against the rules in "
                    "docs/authoring.md and say which exercises are out of date.")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="course folder holding notebooks/, solutions/, exercises/ (default: this "
                        "folder if it has solutions/, else the repository)")
    p.add_argument("--notebooks", metavar="DIR", default=None,
                   help="folder of lesson notebooks to check (default: ROOT/notebooks)")
    p.add_argument("--solutions", metavar="DIR", default=None,
                   help="folder of solution notebooks (default: ROOT/solutions)")
    p.add_argument("--exercises", metavar="DIR", default=None,
                   help="folder of exercise notebooks to write (default: ROOT/exercises)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 naming every problem (notebook, cell, fix)")
    p.set_defaults(func=_run)
