"""nbgrader (the real one: generate_assignment, autograde, export, validate) and ``cnnlab grade``
give the same points, on the same planted submissions.

The course folder is built as docs/grading.md tells staff ("Grading with nbgrader"): its
``nbgrader_config.py`` is the documented one, ``source/exercises/`` holds copies of
``solutions/``. nbgrader releases the assignment (which must equal ``exercises/``, cell for
cell); the planted submissions are made from that release, as students make theirs:

* ``s_full``: every solution cell answered (the solutions' code);
* ``s_blank``: the release as handed out;
* ``s_wrong``: a typical wrong answer in every exercise (kernel flipped, bias forgotten,
  stride ignored, sum instead of mean, a ReLU written into its input, ...), most of them
  partly right;
* ``s_cleared``: full answers, but editable cells cleared: lesson 3's setup cell (its imports)
  and lesson 9's try-it cell (which defines ``params``, once used by a hidden test).

``cnnlab grade`` grades the same files with ``--fresh 0``: no extra random cases, so it judges
exactly the cases ``cnnlab.check`` runs under nbgrader (with fresh cases, a partly wrong answer
may get a different partial credit; docs/grading.md says why). Skips cleanly without nbgrader
(``pip install nbgrader``; CI installs it).
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from cnnlab import grade
from cnnlab.checks import EXERCISES
from cnnlab.exercises import STUB

pytest.importorskip("nbgrader", reason="nbgrader is not installed (pip install nbgrader)")

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
ASSIGNMENT = "exercises"
STUDENTS = ("s_blank", "s_cleared", "s_full", "s_wrong")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

# one typical mistake per exercise, written into the solution's own code: (old, new)
WRONG = {
    "corr2d": ("np.sum(x[i:i + kH, j:j + kW] * k)",
               "np.sum(x[i:i + kH, j:j + kW] * k[::-1, ::-1])"),          # a convolution
    "conv2d_true": ("k_rot = k[::-1, ::-1]", "k_rot = k[::-1, :]"),          # one axis flipped
    "correlate_same": ("out = np.zeros((H, W), dtype=image.dtype)",
                       "out = np.zeros((H, W))"),                          # float32 lost
    "sobel_magnitude": ("np.sqrt(gx ** 2 + gy ** 2)", "np.abs(gx) + np.abs(gy)"),
    "output_size": ("d * (f - 1)", "(f - 1)"),                             # dilation forgotten
    "corr2d_strided": ("xp[padding:padding + H, padding:padding + W] = x",
                       "xp[:H, :W] = x"),                                  # padding on one side
    "conv2d_forward": (", axes=([1, 2, 3], [1, 2, 3])) + b", ", axes=([1, 2, 3], [1, 2, 3]))"),
    "count_conv": ("parameters = (k * k * c_in + 1) * c_out",
                   "parameters = k * k * c_in * c_out"),                 # bias forgotten
    "max_pool2d": ("sH, sW = pair(stride) if stride is not None else (kH, kW)",
                   "sH, sW = kH, kW"),                                     # stride ignored
    "avg_pool2d": (".mean(axis=(2, 3))", ".sum(axis=(2, 3))"),             # sum pooling
    "relu_forward": ("return np.maximum(x, 0)", "x[x < 0] = 0\n    return x"),  # in place
    "relu_backward": ("return dout * (x > 0)", "return dout * (x >= 0)"),  # gradient at x = 0
    "softmax": ("np.exp(z - z.max(axis=1, keepdims=True))", "np.exp(z)"),  # overflows
    "conv2d_backward": ("db = dout.sum(axis=(0, 2, 3))",
                        "db = dout[0].sum(axis=(1, 2))"),                  # first image only
    "max_pool2d_backward": ("+= dout[:, :, i, j]", "= dout[:, :, i, j]"),  # overlaps overwritten
    "avg_pool2d_backward": ("/ (kH * kW)", "/ kH"),                        # wrong count
    "numerical_gradients": ("grad[idx] = (plus - minus) / (2 * eps)",
                            "grad[idx] = (plus - minus) / eps"),           # eps, not 2*eps
    "which_is_wrong": ("np.maximum(1e-8, np.abs(a) + np.abs(n))", "1.0"),  # absolute error
    "lenet5_forward": ('h = F.relu(F.linear(h, params["fc2.weight"], params["fc2.bias"]))',
                       'h = F.linear(h, params["fc2.weight"], params["fc2.bias"])'),   # no ReLU
    # the capstone's one solution cell holds train_step, graded twice (capstone_step, and
    # capstone_train, whose check trains it): the loss summed, not averaged, fails both
    "capstone_step": ("return -np.sum(y * log_p) / n, (np.exp(log_p) - y) / n",
                      "return -np.sum(y * log_p), np.exp(log_p) - y"),
}
CLEARED = {"03_stride_padding_dilation.ipynb": "setup", "09_lenet5_forward.ipynb": "lenet5_forward-try"}


def _documented_config() -> str:
    text = (ROOT / "docs" / "grading.md").read_text(encoding="utf-8")
    m = re.search(r"<!--\s*nbgrader-course-config\s*-->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/grading.md has no ```python fence after <!-- nbgrader-course-config -->"
    return textwrap.dedent(m.group(1))


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in the course folder, with this environment's bin first on PATH
    (nbgrader runs ``alembic`` from there), as an activated environment would have it."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=str(course), env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _solution_sources() -> dict:
    """exercise name -> the solution cell's source (markers included: comments)."""
    found = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                found[meta["grade_id"].removesuffix("-impl")] = cell.source
    return found


def _graded_in() -> dict:
    """notebook name -> the exercises its grade cells check (lesson 9 has two notebooks)."""
    graded: dict = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        graded[path.name] = [c.metadata["nbgrader"]["grade_id"]
                             for c in nbformat.read(path, as_version=4).cells
                             if c.metadata.get("nbgrader", {}).get("grade")]
    return graded


def _submit(course: Path, student: str, answer) -> None:
    """Fill in the released notebooks like a student: ``answer(exercise, source, cell)``
    returns the new source of a solution cell (or of any other cell: None keeps it)."""
    release = course / "release" / ASSIGNMENT
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    for path in sorted(release.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            name = meta["grade_id"].removesuffix("-impl") if meta.get("solution") else None
            new = answer(path.name, name, cell)
            if new is not None:
                cell.source = new
        nbformat.write(nb, str(folder / path.name))
    (folder / "timestamp.txt").write_text("2026-01-15 12:00:00.000000 UTC")


def _plant(course: Path) -> None:
    solutions = _solution_sources()

    def full(nb_name, name, cell):
        return solutions[name] if name else None

    def wrong(nb_name, name, cell):
        if not name:
            return None
        old, new = WRONG[name]
        assert solutions[name].count(old) == 1, (name, old)
        return solutions[name].replace(old, new)

    def cleared(nb_name, name, cell):
        return "" if CLEARED.get(nb_name) == cell.id else full(nb_name, name, cell)

    _submit(course, "s_full", full)
    _submit(course, "s_blank", lambda *a: None)
    _submit(course, "s_wrong", wrong)
    _submit(course, "s_cleared", cleared)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    (course / "nbgrader_config.py").write_text(_documented_config(), encoding="utf-8")
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        shutil.copy(path, source / path.name)
    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    _plant(course)
    _nbgrader(course, "autograde", ASSIGNMENT, "--force")
    _nbgrader(course, "export")
    return course


@pytest.fixture(scope="module")
def nbgrader_scores(course):
    """(student, notebook, exercise) -> points, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in STUDENTS:
            for path in sorted((course / "release" / ASSIGNMENT).glob("*.ipynb")):
                notebook = gb.find_submission_notebook(path.stem, ASSIGNMENT, student)
                for g in notebook.grades:
                    scores[(student, path.name, g.name)] = float(g.score)
    return scores


@pytest.fixture(scope="module")
def cnnlab_scores(course):
    """The same keys, from ``cnnlab grade --fresh 0`` on the submitted files (each notebook
    scored on the exercises it holds)."""
    book = grade.grade([course / "submitted"], course / "cnnlab-grades.csv", fresh=0, jobs=2,
                       timeout=600, cell_timeout=300, echo=None)
    scores, graded = {}, _graded_in()
    for row in book.rows:
        student, _, notebook = row.submission.split("/")
        for name in graded[notebook]:
            scores[(student, notebook, name)] = row.scores[name]
    return scores, book


def test_the_documented_config_has_the_stub():
    from traitlets.config import Config

    config = Config()
    exec(_documented_config(), {"get_config": lambda: config})
    assert config.ClearSolutions.code_stub == {"python": STUB}
    assert config.Execute.timeout >= 120


def test_the_release_is_exercises_cell_for_cell(course):
    released = sorted(p.name for p in (course / "release" / ASSIGNMENT).glob("*.ipynb"))
    assert released == sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    for name in released:
        ours = nbformat.read(ROOT / "exercises" / name, as_version=4)
        theirs = nbformat.read(course / "release" / ASSIGNMENT / name, as_version=4)
        assert theirs.cells == ours.cells, name
        del ours.metadata["cnnlab"]              # where cnnlab records the solution it came from
        assert theirs.metadata == ours.metadata, name


def test_nbgrader_and_cnnlab_grade_agree_on_every_exercise(nbgrader_scores, cnnlab_scores):
    ours, _ = cnnlab_scores
    assert len(nbgrader_scores) == len(STUDENTS) * len(EXERCISES)
    assert set(ours) == set(nbgrader_scores)
    differ = {k: (nbgrader_scores[k], ours[k]) for k in ours if ours[k] != nbgrader_scores[k]}
    assert differ == {}, "(nbgrader, cnnlab grade) differ:\n" + "\n".join(
        f"{k}: {v}" for k, v in sorted(differ.items()))


def test_the_planted_submissions_get_what_they_deserve(nbgrader_scores):
    total = {s: sum(v for (st, _, _), v in nbgrader_scores.items() if st == s) for s in STUDENTS}
    max_total = sum(ex.points for ex in EXERCISES.values())
    assert total["s_full"] == max_total and total["s_blank"] == 0

    def score(student, name):
        return next(v for (s, _, n), v in nbgrader_scores.items() if (s, n) == (student, name))
    # a wrong answer never gets full marks; most get partial credit
    assert all(score("s_wrong", n) < ex.points for n, ex in EXERCISES.items())
    partial = [n for n, ex in EXERCISES.items() if 0 < score("s_wrong", n) < ex.points]
    assert len(partial) >= 6, partial
    assert score("s_wrong", "corr2d") == 0           # once full marks under nbgrader
    # a cleared setup cell costs what needs its imports; the test cells need no other cell
    assert score("s_cleared", "output_size") == EXERCISES["output_size"].points
    assert score("s_cleared", "corr2d_strided") == 0
    assert score("s_cleared", "lenet5_forward") == EXERCISES["lenet5_forward"].points


def test_export_totals_agree_with_cnnlab_grade(course, cnnlab_scores):
    ours, book = cnnlab_scores
    with open(course / "grades.csv", newline="") as fh:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(fh)
                    if r["assignment"] == ASSIGNMENT}
    assert sorted(exported) == sorted(STUDENTS)
    for student in STUDENTS:
        assert exported[student] == sum(v for (s, _, _), v in ours.items() if s == student)
    assert {r.sandbox for r in book.rows} <= {"bwrap", "none"}


def test_nbgrader_validate_fails_every_unfinished_release_notebook(course):
    """A student who runs `nbgrader validate` on a notebook as handed out (nothing answered)
    is told that every test cell of it fails, for every notebook (one call)."""
    release = sorted((course / "release" / ASSIGNMENT).glob("*.ipynb"))
    out = _nbgrader(course, "validate", *map(str, release)).stdout
    assert "Success!" not in out, out[-3000:]
    failed = [int(n) for n in re.findall(r"VALIDATION FAILED ON (\d+) CELL\(S\)!", out)]
    per_notebook = [len(_graded_in()[path.name]) for path in release]
    assert failed == per_notebook, out[-3000:]
    for ex in EXERCISES.values():
        assert f'cnnlab.check("{ex.name}", {ex.function_name})' in out, ex.name


@pytest.mark.parametrize("student, passes", [("s_wrong", False), ("s_full", True)])
def test_nbgrader_validate(course, student, passes):
    """What a student sees from `nbgrader validate` on lesson 1 (its exit status is always 0)."""
    path = course / "submitted" / student / ASSIGNMENT / "01_cross_correlation.ipynb"
    out = _nbgrader(course, "validate", str(path)).stdout
    if passes:
        assert "Success! Your notebook passes all the tests." in out, out[-2000:]
    else:
        wrong = [ex for ex in EXERCISES.values() if ex.lesson == 1 and ex.name in WRONG]
        assert f"VALIDATION FAILED ON {len(wrong)} CELL(S)!" in out, out[-2000:]
        for ex in wrong:                # corr2d, conv2d_true: each one planted mistake
            assert f'cnnlab.check("{ex.name}", {ex.function_name})' in out
