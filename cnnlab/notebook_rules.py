"""The rules every committed notebook follows, and the problems they report.

Authors edit ``notebooks/*.ipynb`` (lessons) and ``solutions/*.ipynb`` in JupyterLab;
``exercises/`` is generated from ``solutions/`` by ``cnnlab exercises``. ``cnnlab exercises
--check`` (run by the tests) applies these rules to the lessons and the solutions, and checks that
``exercises/`` is exactly what the solutions generate, so they hold there too (see
:mod:`cnnlab.exercises`). Each :class:`Problem` names the notebook, the cell (index, id and the
first words of its source) and the fix; the fix texts are written once, in :data:`FIXES`.

The rules (``RULES``; ``kind`` is "lesson", "solution" or "exercise"):

- ``json``, ``nbformat``: the file is a valid nbformat 4 notebook;
- ``cell-id``: nbformat 4.5 or later, and every cell has an id, valid (1-64 letters, digits,
  ``-``, ``_``) and unique in its notebook. JupyterLab gives a new cell a UUID: fine. Ids are
  never rewritten by a tool (``cnnlab exercises`` keeps them), so they are stable;
- ``outputs``: code cells committed cleared (no outputs, no execution count);
- ``slide-type``: ``metadata.slideshow.slide_type`` on every cell, one of slide, subslide,
  fragment, skip, notes, or ``""`` for "continue the current slide" (what JupyterLab's Property
  Inspector writes when the author picks "-"); the first cell is a "slide". A ``"-"`` typed into
  the metadata means "continue" to nbconvert but hides the cell in the live lecture
  (jupyterlab-deck), so it is refused;
- ``deck``: the live lecture (jupyterlab-deck) shows the same sequence of views as
  ``jupyter nbconvert --to slides`` (the deck never shows a sub-slide of one cell that another
  sub-slide follows, and shows a second cell continuing a fragment one step late), and no cell
  is one of the deck's layers (shown over other slides, which nbconvert does not know);
- ``kernelspec``: the kernel is ``python3``;
- ``markdown-code-block``: no markdown paragraph indented 4+ spaces (it would render as code);
- ``nbgrader``: nbgrader cell metadata complete and consistent (schema version 3, as nbgrader's
  own validator requires);
- folder rules: ``checkpoints`` (no ``.ipynb_checkpoints/`` committed, or about to be: checked
  with git, so the folders JupyterLab keeps next to an open notebook are fine) and, for
  ``solutions/``, the exercise registry (``cnnlab.checks.EXERCISES``): grade ids unique and equal
  to the registry's names, points and lesson equal to the registry's, every exercise graded once.

Tolerated, because JupyterLab writes them when it saves: ``language_info`` and the kernelspec's
``display_name`` filled in by the kernel, sources stored as lists of lines, ``"tags": []``,
``editable``/``deletable``, UUID ids on new cells.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cnnlab.slide_views import deck_views, nbconvert_views

__all__ = [
    "KINDS", "RULES", "FOLDER_RULES", "FIXES", "SLIDE_TYPES", "Problem", "Notebook",
    "check_notebook", "check_folder", "display_path", "cell_label", "cell_source",
    "nbconvert_views", "deck_views",
]

KINDS = ("lesson", "solution", "exercise")
#: slide types nbconvert and jupyterlab-deck read alike; "" continues the current slide
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "")
_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]*$")      # nbgrader's schema (v3.json)
_NBGRADER_KEYS = {"schema_version", "grade", "locked", "solution", "task", "grade_id", "points",
                  "checksum", "cell_type"}
_METADATA_EDITOR = "Property Inspector (gear, right sidebar) > Advanced Tools > Cell Metadata"

#: How to fix what each rule finds; ``{path}`` and the rule's own fields are filled in.
FIXES = {
    "json": "the file is no notebook JSON any more (a merge conflict?): restore it with git, or "
            "repair it",
    "nbformat": "repair the field named above (open the notebook in JupyterLab and save it, or "
                "edit the JSON)",
    "cell-id": "open the notebook in JupyterLab and save it (nbformat gives every cell without "
               "an id, or with a duplicate one, a fresh id), or type a unique id of letters, "
               "digits, - and _ in the cell's \"id\"",
    "outputs": "in JupyterLab: Edit > Clear Outputs of All Cells, then save "
               "(or `jupyter nbconvert --clear-output --inplace {path}`)",
    "slide-type": "select the cell, open the Property Inspector (gear, right sidebar) > Common "
                  "Tools and choose its Slide Type: Slide starts a slide, - continues the "
                  "current one (JupyterLab saves it as \"\"), Skip hides setup code; if the "
                  "cell shows - already, choose another type, then - again",
    "first-slide": "set the first cell's Slide Type to Slide (Property Inspector > Common Tools)",
    "deck": "jupyterlab-deck never shows a sub-slide of one cell right before another "
            "sub-slide, and shows the second cell continuing a fragment one step late: make the "
            "one-cell sub-slide a Slide (or give it a second cell), make the second cell after "
            "a Fragment a Fragment too (Property Inspector > Common Tools > Slide Type); a "
            "Layer shows a cell over other slides in the live lecture only: set Property "
            "Inspector > Common Tools > Layer back to -",
    "kernelspec": "in JupyterLab: Kernel > Change Kernel... > Python 3 (ipykernel), then save",
    "markdown-code-block": "remove the leading spaces (4 or more make Markdown show the paragraph "
                           "as code); fence real code with ```",
    "nbgrader": f"edit the cell's metadata ({_METADATA_EDITOR}): \"nbgrader\" needs "
                "schema_version 3, grade, solution and locked (true/false), a grade_id of "
                "letters, digits, - and _, and points on a grade cell",
    "checkpoints": "`git rm -r --cached {path}` if git tracks it, and keep "
                   "`.ipynb_checkpoints/` in .gitignore (JupyterLab writes these folders)",
    "grade-id": f"give each graded cell the registry's name as grade_id ({_METADATA_EDITOR}); "
                "a solution cell is called '<exercise>-impl'",
    "registry": "use one of the registry's names, or add an Exercise to cnnlab.checks.EXERCISES "
                "(see docs/authoring.md, \"Add an exercise\")",
    "points": f"set \"points\" to {{points}} ({_METADATA_EDITOR}), or change the registry's "
              "points in cnnlab.checks",
    "lesson": "move the exercise to solutions/{lesson:02d}_*.ipynb, or change its lesson in "
              "cnnlab.checks",
    "grade-cell": "make the grade cell `import cnnlab` and then {call} as its last line, nothing "
                  "else: nbgrader gives the check's value as the cell's points, and the cell "
                  "needs no other cell. Add more checks as cases of the exercise in cnnlab.checks, "
                  "not as hidden tests",
    "graded-once": "add a grade cell for it to solutions/{lesson:02d}_*.ipynb (see "
                   "docs/authoring.md), or remove it from cnnlab.checks.EXERCISES",
    "markers": "balance the markers: each `### BEGIN SOLUTION` / `### BEGIN HIDDEN TESTS` needs "
               "its own END line, not nested",
    "marker-cell": f"mark the cell as nbgrader {{kind}} cell ({_METADATA_EDITOR}), or move the "
                   "region into one",
    "stray": "delete it, or put its solution notebook in solutions/",
    "drift": "run `cnnlab exercises` (python -m cnnlab exercises) to regenerate exercises/ from "
             "solutions/, then commit both; never edit exercises/ by hand",
}
#: Added to a problem found in exercises/: the file is generated.
_GENERATED = ("exercises/ is generated: fix the solution notebook of the same name, then run "
              "`cnnlab exercises`")


def display_path(path) -> str:
    """``path`` relative to the current folder when it is below it (shorter messages)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cell_source(cell: dict) -> str:
    """A cell's source as one string (on disk it may be a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def cell_label(cell: dict, words: int = 10, width: int = 60) -> str:
    """The first words of a cell's source, on one line: ``"## 1. One dimension: a sliding…"``."""
    text = " ".join(cell_source(cell).split()[:words])
    if len(text) > width:
        text = text[:width - 1].rstrip()
    if text != " ".join(cell_source(cell).split()):
        text += "…"
    return f'"{text}"'


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (notebook, cell), what, and how to fix it."""
    path: str                 # the notebook (or folder), as shown
    rule: str                 # a key of FIXES
    message: str              # what is wrong
    fix: str
    cell: int | None = None   # index in the notebook
    cell_id: str | None = None
    words: str = ""           # the first words of the cell's source

    def __str__(self) -> str:
        lines = [f"{self.path}: {self.message}"]
        if self.cell is not None:
            ident = f"id {self.cell_id!r}" if self.cell_id else "no id"
            lines.append(f"    cell {self.cell} ({ident}): {self.words}")
        lines.append(f"    fix: {self.fix}")
        return "\n".join(lines)


class Notebook:
    """A notebook file read as plain JSON (what is on disk, nothing repaired); ``raw`` gives the
    JSON instead (a notebook about to be written), ``path`` still names it in problems."""

    def __init__(self, path, kind: str, raw: dict | None = None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.path, self.kind, self.shown = Path(path), kind, display_path(path)
        self.raw, self.error = raw, None
        try:
            if raw is None:
                self.raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if self.raw is not None and not isinstance(self.raw, dict):
            self.raw, self.error = None, "the JSON is not an object"
        cells = (self.raw or {}).get("cells")
        cells = cells if isinstance(cells, list) else []
        self.cells = [c if isinstance(c, dict) else {} for c in cells]   # the nbformat rule names
                                                                         # a cell that is no object

    def problem(self, rule: str, message: str, cell: int | None = None, **fields) -> Problem:
        fix = FIXES[rule].format(path=self.shown, **fields)
        if self.kind == "exercise" and rule in RULES:
            fix = f"{_GENERATED} ({fix})"
        if cell is None:
            return Problem(self.shown, rule, message, fix)
        c = self.cells[cell]
        cid = c.get("id") if isinstance(c.get("id"), str) else None
        return Problem(self.shown, rule, message, fix, cell, cid, cell_label(c))

    def nbgrader(self, i: int) -> dict | None:
        meta = self.cells[i].get("metadata")
        meta = meta.get("nbgrader") if isinstance(meta, dict) else None
        return meta if isinstance(meta, dict) else None


# --------------------------------------------------------------------------- per-notebook rules

def _rule_nbformat(nb: Notebook):
    import nbformat

    minor = nb.raw.get("nbformat_minor", 0)
    raw = copy.deepcopy(nb.raw)
    for i, cell in enumerate(raw.get("cells") or []):
        if isinstance(cell, dict) and isinstance(minor, int) and minor >= 5:
            cell["id"] = f"cell-{i}"          # ids are the cell-id rule's; don't report twice
    try:
        nbformat.validate(raw)
    except nbformat.ValidationError as exc:
        where = list(getattr(exc, "absolute_path", []) or [])
        cell = where[1] if len(where) > 1 and where[0] == "cells" else None
        cell = cell if isinstance(cell, int) and cell < len(nb.cells) else None
        field = ".".join(str(p) for p in where) or "the notebook"
        yield nb.problem("nbformat", f"not a valid notebook: {field}: {exc.message}", cell)


def _rule_cell_id(nb: Notebook):
    if nb.raw.get("nbformat") == 4 and nb.raw.get("nbformat_minor", 0) < 5:
        yield nb.problem("cell-id", f"nbformat 4.{nb.raw.get('nbformat_minor')} has no cell ids "
                                    "(4.5 or later has)")
        return
    first: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        cid = cell.get("id")
        if cid is None:
            yield nb.problem("cell-id", "a cell without an id", i)
        elif not isinstance(cid, str) or not _ID.match(cid):
            yield nb.problem("cell-id", f"invalid cell id {cid!r} (1-64 letters, digits, - _)", i)
        elif cid in first:
            yield nb.problem("cell-id", f"duplicate cell id {cid!r} (cell {first[cid]} has it too)",
                             i)
        else:
            first[cid] = i


def _rule_outputs(nb: Notebook):
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        outputs, count = cell.get("outputs") or [], cell.get("execution_count")
        if outputs or count is not None:
            what = [f"{len(outputs)} saved output" + "s" * (len(outputs) != 1)] if outputs else []
            what += [f"execution count {count}"] if count is not None else []
            yield nb.problem("outputs", f"{' and '.join(what)}: notebooks are committed cleared", i)


def _slide_type(cell: dict):
    meta = cell.get("metadata")
    show = meta.get("slideshow") if isinstance(meta, dict) else None
    return show.get("slide_type") if isinstance(show, dict) else None


def _rule_slide_type(nb: Notebook):
    choices = ", ".join(repr(t) for t in SLIDE_TYPES)
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata")
        show = meta.get("slideshow") if isinstance(meta, dict) else None
        kind = _slide_type(cell)
        if not (isinstance(show, dict) and "slide_type" in show):
            yield nb.problem("slide-type", "no slide type (metadata.slideshow.slide_type)", i)
        elif kind is None:          # null: what jupyterlab-deck's own slide-type picker writes
            yield nb.problem("slide-type", "slide type null is not one of " + choices, i)
        elif kind == "-":
            yield nb.problem("slide-type", "slide type '-' typed into the metadata: nbconvert "
                                           "continues the slide, the live lecture "
                                           "(jupyterlab-deck) hides the cell", i)
        elif kind not in SLIDE_TYPES:
            yield nb.problem("slide-type", f"slide type {kind!r} is not one of {choices}", i)
    if nb.cells and _slide_type(nb.cells[0]) in SLIDE_TYPES and _slide_type(nb.cells[0]) != "slide":
        yield nb.problem("first-slide", f"the first cell's slide type is "
                                        f"{_slide_type(nb.cells[0])!r}, not 'slide'", 0)


def _rule_deck(nb: Notebook):
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata")
        deck = meta.get("jupyterlab-deck") if isinstance(meta, dict) else None
        if isinstance(deck, dict) and deck.get("layer"):
            yield nb.problem("deck", f"a jupyterlab-deck layer ({deck['layer']!r}): the live "
                                     "lecture shows this cell over other slides, nbconvert on "
                                     "its own slide", i)
    types = [_slide_type(cell) for cell in nb.cells]
    if not types or any(t not in SLIDE_TYPES for t in types) or types[0] != "slide":
        return                                  # the slide-type rules report these first
    want, got = nbconvert_views(types), deck_views(types)
    if want == got:
        return
    shown = {i for view in got for i in view}
    missing = sorted({i for view in want for i in view} - shown)
    for i in missing:
        yield nb.problem("deck", "the live lecture (jupyterlab-deck) never shows this cell; "
                                 "nbconvert's slides do", i)
    if not missing:
        k = next(k for k, (a, b) in enumerate(zip(want + [[]], got + [[]])) if a != b)
        i = min(set(want[k] if k < len(want) else []) ^ set(got[k] if k < len(got) else [])
                or {0})
        yield nb.problem("deck", f"from here the live lecture (jupyterlab-deck) shows other "
                                 f"views than nbconvert's slides (view {k + 1}: nbconvert "
                                 f"{want[k] if k < len(want) else '-'}, deck "
                                 f"{got[k] if k < len(got) else '-'})", i)


def _rule_kernelspec(nb: Notebook):
    meta = nb.raw.get("metadata")
    spec = meta.get("kernelspec") if isinstance(meta, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    if name != "python3":
        yield nb.problem("kernelspec", f"kernelspec name is {name!r}, not 'python3'")


_INDENTED = re.compile(r"^( {4,}|\t)\S")
_BLOCK_START = re.compile(r"^\s*([-*+|>]|\d+\.)")   # list item, table row, quote
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _rule_markdown_code_block(nb: Notebook):
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "markdown":
            continue
        lines, fenced = cell_source(cell).splitlines(), False
        for j, line in enumerate(lines):
            if _FENCE.match(line):
                fenced = not fenced
                continue
            after_blank = j == 0 or not lines[j - 1].strip()
            indented = _INDENTED.match(line) and not _BLOCK_START.match(line)
            if not fenced and after_blank and indented:
                yield nb.problem("markdown-code-block", f"line {j + 1} would render as a code "
                                                        f"block: {line.strip()[:40]!r}", i)
                break


def _rule_nbgrader(nb: Notebook):
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata")
        if not isinstance(meta, dict) or "nbgrader" not in meta:
            continue
        for message in _nbgrader_errors(meta["nbgrader"], cell.get("cell_type")):
            yield nb.problem("nbgrader", f"nbgrader metadata: {message}", i)


def _nbgrader_errors(meta, cell_type) -> list[str]:
    """What nbgrader's MetadataValidatorV3 (and its v3.json schema) would refuse."""
    if not isinstance(meta, dict):
        return ["is not an object"]
    errors = [f"unknown key {k!r}" for k in sorted(set(meta) - _NBGRADER_KEYS)]
    if meta.get("schema_version") != 3:
        errors.append(f"schema_version is {meta.get('schema_version')!r}, not 3")
    for key in ("grade", "solution", "locked"):
        if not isinstance(meta.get(key), bool):
            errors.append(f"{key!r} must be true or false, is {meta.get(key)!r}")
    if "task" in meta and not isinstance(meta["task"], bool):
        errors.append(f"'task' must be true or false, is {meta['task']!r}")
    grade, solution = meta.get("grade") is True, meta.get("solution") is True
    task = meta.get("task") is True
    gid = meta.get("grade_id")
    if (grade or solution or meta.get("locked") is True) and not (
            isinstance(gid, str) and gid and _GRADE_ID.match(gid)):
        errors.append(f"grade_id {gid!r} must be a non-empty name of letters, digits, - and _")
    points = meta.get("points")
    if grade and (isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0):
        errors.append(f"a grade cell needs points (a number >= 0), has {points!r}")
    if task and cell_type != "markdown":
        errors.append("a task cell must be markdown")
    if not task and cell_type == "markdown" and grade != solution:
        errors.append("a markdown cell that is graded must be a solution cell too, and vice versa")
    return errors


#: rule name -> function(Notebook) -> problems; every rule runs on every kind of notebook.
RULES = {
    "nbformat": _rule_nbformat,
    "cell-id": _rule_cell_id,
    "outputs": _rule_outputs,
    "slide-type": _rule_slide_type,
    "deck": _rule_deck,
    "kernelspec": _rule_kernelspec,
    "markdown-code-block": _rule_markdown_code_block,
    "nbgrader": _rule_nbgrader,
}


#: rules about a whole folder (check_folder): checkpoint folders; solutions against the registry
FOLDER_RULES = ("checkpoints", "registry")


def check_notebook(path, kind: str = "lesson", rules=None) -> list[Problem]:
    """The problems of one notebook (empty when it follows every rule in ``rules``, default all)."""
    unknown = set(rules or ()) - set(RULES) - set(FOLDER_RULES)
    if unknown:
        raise ValueError(f"rules: unknown {sorted(unknown)}; choose from "
                         f"{', '.join([*RULES, *FOLDER_RULES])}")
    selected = [rule for name, rule in RULES.items() if rules is None or name in rules]
    if not selected:
        return []
    nb = Notebook(path, kind)
    if nb.raw is None:
        return [nb.problem("json", f"not a notebook: {nb.error}")]
    return [p for rule in selected for p in rule(nb)]


# --------------------------------------------------------------------------- folder rules

def _git_files(folder: Path) -> tuple[list[str], list[str]] | None:
    """(tracked, untracked-but-not-ignored) files below ``folder``; None outside a git work tree."""
    lists = []
    for which in ("--cached", "--others"):
        try:
            proc = subprocess.run(["git", "-C", str(folder), "ls-files", which,
                                   "--exclude-standard", "-z", "--", "."],
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        if proc.returncode != 0:
            return None
        lists.append([p for p in proc.stdout.split("\0") if p])
    return lists[0], lists[1]


def _checkpoint_problems(folder: Path) -> list[Problem]:
    files = _git_files(folder)
    if files is None:
        return []
    problems = []
    states = ("committed", "not ignored by git, so `git add` would commit it")
    for state, listed in zip(states, files):
        for d in sorted({p.split(".ipynb_checkpoints/")[0] + ".ipynb_checkpoints"
                         for p in listed if "/.ipynb_checkpoints/" in f"/{p}"}):
            shown = display_path(folder / d)
            problems.append(Problem(shown, "checkpoints", f"a JupyterLab checkpoint folder, "
                                    f"{state}", FIXES["checkpoints"].format(path=shown)))
    return problems


def _lesson_number(path: Path) -> int | None:
    m = re.match(r"(\d+)_", path.name)
    return int(m.group(1)) if m else None


def _registry_problems(notebooks: list[Notebook], registry, folder: Path,
                       complete: bool) -> list[Problem]:
    """Grade ids, points and lessons of ``solutions/`` against the exercise registry; with
    ``complete`` (every notebook of the folder could be read), every exercise graded once."""
    problems, seen, graded = [], {}, set()
    names = ", ".join(registry)
    for nb in notebooks:
        for i in range(len(nb.cells)):
            meta = nb.nbgrader(i)
            gid = meta.get("grade_id") if meta else None
            graded_or_solution = meta and (meta.get("grade") or meta.get("solution"))
            if not (isinstance(gid, str) and gid and graded_or_solution):
                continue
            if gid in seen:
                problems.append(nb.problem("grade-id", f"grade id {gid!r} is used twice (also "
                                                       f"{seen[gid]})", i))
                continue
            seen[gid] = f"{nb.shown} cell {i}"
            if meta.get("grade"):
                graded.add(gid)
                problems += _graded_cell_problems(nb, i, meta, registry.get(gid), names)
            elif not (gid.endswith("-impl") and gid[:-len("-impl")] in registry):
                problems.append(nb.problem("grade-id", f"solution cell grade id {gid!r} is not "
                                                       f"'<exercise>-impl' for an exercise of the "
                                                       f"registry ({names})", i))
    for name, ex in registry.items() if complete else ():
        if name not in graded:
            message = f"exercise {name!r} of the registry (lesson {ex.lesson}) has no grade cell"
            problems.append(Problem(display_path(folder), "graded-once", message,
                                    FIXES["graded-once"].format(lesson=ex.lesson)))
    return problems


def _graded_cell_problems(nb: Notebook, i: int, meta: dict, ex, names: str) -> list[Problem]:
    gid = meta["grade_id"]
    if ex is None:
        return [nb.problem("registry", f"grade id {gid!r} is not an exercise of the registry "
                                       f"(cnnlab.checks.EXERCISES: {names})", i)]
    out = []
    points = meta.get("points")
    if isinstance(points, (int, float)) and float(points) != float(ex.points):
        out.append(nb.problem("points", f"{gid!r} is worth {points} points here, "
                                        f"{ex.points} in the registry", i, points=ex.points))
    lesson = _lesson_number(nb.path)
    if lesson is not None and lesson != ex.lesson:
        out.append(nb.problem("lesson", f"{gid!r} belongs to lesson {ex.lesson} in the registry, "
                                        f"this is lesson {lesson}", i, lesson=ex.lesson))
    call = f'cnnlab.check("{gid}", {ex.function_name})'
    pattern = (rf"""cnnlab\.check\(\s*["']{re.escape(gid)}["']\s*,\s*"""
               rf"{re.escape(ex.function_name)}\s*\)")
    lines = [ln.strip() for ln in cell_source(nb.cells[i]).splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    if not re.search(pattern, "\n".join(lines)):
        out.append(nb.problem("grade-cell", f"the grade cell of {gid!r} does not call {call}",
                              i, call=call))
    elif not re.fullmatch(pattern, lines[-1]) or any(ln != "import cnnlab" for ln in lines[:-1]):
        out.append(nb.problem("grade-cell", f"the grade cell of {gid!r} holds more than "
                                            f"`import cnnlab` and {call} as its last line", i,
                              call=call))
    return out


def check_folder(folder, kind: str, rules=None, registry=None) -> list[Problem]:
    """The problems of every ``*.ipynb`` directly in ``folder`` (sorted), of its checkpoint
    folders (when it is in a git work tree), and, for ``kind="solution"``, of the grade ids
    against ``registry`` (default ``cnnlab.checks.EXERCISES``)."""
    folder = Path(folder)
    paths = sorted(folder.glob("*.ipynb"))
    problems = [p for path in paths for p in check_notebook(path, kind, rules)]
    if rules is None or "checkpoints" in rules:
        problems += _checkpoint_problems(folder)
    if kind == "solution" and (rules is None or "registry" in rules):
        if registry is None:
            from cnnlab.checks import EXERCISES as registry
        notebooks = [Notebook(p, kind) for p in paths]
        readable = [nb for nb in notebooks if nb.raw is not None]
        problems += _registry_problems(readable, registry, folder, len(readable) == len(notebooks))
    return problems
