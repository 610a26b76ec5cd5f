"""The batch grader (cnnlab.grade) with real kernels, the real registry and a real solution.

Kernels are slow to start on a loaded machine, so submissions are graded together: one grading
run (module fixture) covers the well-behaved and the hostile notebooks, one short run covers a
notebook that ignores interrupts (killed at the total timeout), one CLI run grades a real
solution notebook. The rest are fast unit tests of the pieces.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cnnlab import checks, grade
from cnnlab.grade import cases as grade_cases, sandbox, scoring, wire

ROOT = Path(__file__).resolve().parent.parent
ALL = list(checks.EXERCISES)
SANDBOX = sandbox.choose("auto").label   # these tests grade with the default, --sandbox auto
POINTS = {n: checks.EXERCISES[n].points for n in ALL}
MAX_TOTAL = sum(POINTS.values())


def write_nb(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


CORR2D_OWN = """
import numpy as np

def corr2d(x, k):
    H, W = x.shape
    kH, kW = k.shape
    out = np.zeros((H - kH + 1, W - kW + 1), dtype=x.dtype)
    for i in range(H - kH + 1):
        for j in range(W - kW + 1):
            out[i, j] = np.sum(x[i:i + kH, j:j + kW] * k)
    return out
"""

# ------------------------------------------------------------------ the submissions
MIXED = [  # correct own code, a reference call (flagged), an allowed F use, a hanging function
    """
import numpy as np
import cnnlab
from cnnlab import functional as F

def corr2d(x, k):
    return F.correlate2d(x, k, mode="valid")      # full marks, but flagged

def output_size(n, f, s=1, p=0, d=1):
    return (n + 2 * p - d * (f - 1) - 1) // s + 1  # own formula: clean

def max_pool2d(x, kernel_size, stride=None):
    while True:                                    # hangs on the grader's cases
        pass

def relu_forward(x):                               # right values, written into the caller's x
    x[x < 0] = 0
    return x

def relu_backward(dout, x):                        # right, and leaves its inputs alone
    return dout * (x > 0)
""",
    """
def lenet5_forward(x, params):                     # lesson 9 is MEANT to use cnnlab.functional
    h = F.conv2d(x, params["conv1.weight"], params["conv1.bias"], padding=2)
    h = F.max_pool2d(F.relu(h), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, params["conv2.weight"], params["conv2.bias"])), 2)
    h = h.reshape(len(h), -1)
    h = F.relu(F.linear(h, params["fc1.weight"], params["fc1.bias"]))
    h = F.relu(F.linear(h, params["fc2.weight"], params["fc2.bias"]))
    return F.linear(h, params["fc3.weight"], params["fc3.bias"])
""",
    # names the grader's own cell must not trip over
    "exec = compile = open = json = globals = None\nprint('shadowed')",
]

CHEAT_PATCH = [
    """
import numpy as np
import cnnlab
import cnnlab.checks as checks

def corr2d(x, k):
    return np.zeros((x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1))

class Fake:
    name, passed, n_passed, n_cases, messages = "corr2d", True, 7, 7, []
    def points_earned(self, points):
        return points
    def __bool__(self):
        return True

checks.check = lambda *a, **k: print("All 7 cases passed. Well done!") or Fake()
cnnlab.check = checks.check
checks.evaluate_outputs = lambda *a, **k: Fake()
checks.CheckResult.points_earned = lambda self, points: points
for ex in checks.EXERCISES.values():
    ex.diagnose = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.savez = lambda *a, **k: None                   # tampering with what the grader uses
import builtins
builtins.open = None
""",
    "cnnlab.check('corr2d', corr2d)\nprint('All 7 cases passed. Well done!')",
]

HARDCODED = [  # answers precomputed for the registry's own cases, zeros elsewhere
    """
import numpy as np
from cnnlab import checks

_answers = {}
for _c in checks.EXERCISES["corr2d"].cases():
    _key = _c.args[0].tobytes() + _c.args[1].tobytes()
    _answers[_key] = checks.EXERCISES["corr2d"].reference(*_c.args)

def corr2d(x, k):
    hit = _answers.get(x.tobytes() + k.tobytes())
    if hit is not None:
        return hit
    return np.zeros((x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1), dtype=x.dtype)
""",
]

EVASIVE = [
    """
import importlib
import sys

def corr2d(x, k):
    sys.setprofile(None)                           # switch the tracer off, hide the name
    mod = importlib.import_module("cnnlab." + "functional")
    return getattr(mod, "correlate" + "2d")(x, k)
""",
]

HANG = ["while True:\n    pass", CORR2D_OWN]
DIES = [CORR2D_OWN, "import os\nos._exit(1)"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("subs")
    write_nb(d / "a_mixed.ipynb", *MIXED)
    write_nb(d / "b_hang.ipynb", *HANG)
    write_nb(d / "c_dies.ipynb", *DIES)
    write_nb(d / "d_cheat_patch.ipynb", *CHEAT_PATCH)
    write_nb(d / "e_hardcoded.ipynb", *HARDCODED)
    write_nb(d / "f_evasive.ipynb", *EVASIVE)
    nbformat.write(nbformat.v4.new_notebook(), str(d / "g_blank.ipynb"))
    md = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# my answers")])
    nbformat.write(md, str(d / "h_markdown_only.ipynb"))
    (d / "i_random_bytes.ipynb").write_bytes(bytes(range(256)) * 4)
    (d / "j_not_nbformat.ipynb").write_text('{"hello": "world"}')
    (d / "k_broken_json.ipynb").write_text('{"cells": [')
    (d / ".ipynb_checkpoints").mkdir()
    write_nb(d / ".ipynb_checkpoints" / "a_mixed-checkpoint.ipynb", CORR2D_OWN)
    out_dir = tmp_path_factory.mktemp("out")
    out = out_dir / "grades.csv"
    work = tmp_path_factory.mktemp("work")           # the grader's scratch folders go here
    lines = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(work))
        book = grade.grade([d, d / "zz_missing.ipynb"], out, timeout=60, cell_timeout=8,
                           jobs=2, seed=1, details=out_dir / "details.json", echo=lines.append)
    return {"book": book, "out": out, "out_dir": out_dir, "lines": lines, "work": work,
            "rows": {r.submission: r for r in book.rows}}


def test_columns_and_rows_are_deterministic(run):
    with open(run["out"], newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["submission", *ALL, "total", "max_total", "status", "sandbox"]
    names = [r[0] for r in table[1:]]
    assert names == ["a_mixed.ipynb", "b_hang.ipynb", "c_dies.ipynb", "d_cheat_patch.ipynb",
                     "e_hardcoded.ipynb", "f_evasive.ipynb", "g_blank.ipynb",
                     "h_markdown_only.ipynb", "i_random_bytes.ipynb", "j_not_nbformat.ipynb",
                     "k_broken_json.ipynb", "zz_missing.ipynb"]  # sorted; checkpoints skipped
    ran = {"a_mixed.ipynb", "b_hang.ipynb", "c_dies.ipynb", "d_cheat_patch.ipynb",
           "e_hardcoded.ipynb", "f_evasive.ipynb"}
    for r in table[1:]:
        assert len(r) == len(table[0])
        scores = [float(v) for v in r[1:1 + len(ALL)]]
        assert float(r[-4]) == pytest.approx(sum(scores))
        assert float(r[-3]) == MAX_TOTAL
        assert r[-2]
        # how its code ran: sandboxed here when the sandbox can start; nothing ran for the rest
        assert r[-1] == (SANDBOX if r[0] in ran else ""), r
    # atomic write: nothing but the gradebook and the details file in the folder
    assert sorted(p.name for p in run["out_dir"].iterdir()) == ["details.json", "grades.csv"]
    assert len(run["lines"]) == len(names)          # one progress line per submission


def test_mixed_submission_scores_and_flags(run):
    row = run["rows"]["a_mixed.ipynb"]
    assert row.scores["corr2d"] == 3                 # correct, computed by cnnlab ...
    assert "uses-reference: corr2d calls cnnlab.functional.correlate2d" in row.status  # flagged
    assert row.scores["output_size"] == 2            # own formula, not flagged
    assert "output_size" not in row.status.replace("uses-reference: corr2d", "")
    assert row.scores["lenet5_forward"] == 3         # F is allowed in lesson 9: no flag
    assert "lenet5_forward" not in row.status
    assert row.scores["max_pool2d"] == 0             # hung: stopped by the per-call limit
    assert row.details["max_pool2d"]["n_passed"] == 0
    assert any("longer than" in m for m in row.details["max_pool2d"]["messages"])
    assert row.scores["relu_forward"] == 0           # in place: the kernel saw x change
    assert all("changed its input x in place" in m
               for m in row.details["relu_forward"]["messages"][1:-1])
    assert row.scores["relu_backward"] == 2
    assert row.status.startswith("ok")
    assert row.total == 10


def test_hanging_cell_is_interrupted_and_grading_goes_on(run):
    row = run["rows"]["b_hang.ipynb"]
    assert row.status.startswith("timeout: cell 1 interrupted after 8 s")
    assert row.scores["corr2d"] == 3                 # the cell after the hang still ran
    assert run["rows"]["c_dies.ipynb"].status        # and the next submissions were graded


def test_dead_kernel(run):
    row = run["rows"]["c_dies.ipynb"]
    assert row.status.startswith("kernel died (cell 2)")
    assert row.total == 0


def test_patching_the_checks_earns_nothing(run):
    row = run["rows"]["d_cheat_patch.ipynb"]
    assert row.total == 0
    assert row.status.startswith("error: grading failed in the kernel for corr2d")


def test_hardcoded_answers_fail_the_fresh_cases(run):
    row = run["rows"]["e_hardcoded.ipynb"]
    det = row.details["corr2d"]
    assert det["n_passed"] == det["n_cases"]         # the course's own cases all "pass" ...
    assert det["fresh_passed"] == 0 < det["fresh_cases"]  # ... the fresh ones do not
    assert row.scores["corr2d"] < 3
    assert "suspicious: corr2d passes the course cases but fails" in row.status


def test_switching_the_tracer_off_is_reported(run):
    row = run["rows"]["f_evasive.ipynb"]
    assert row.scores["corr2d"] == 3
    assert "tampering: corr2d replaced the grader's call tracer" in row.status


def test_not_notebooks_and_blank_ones_get_rows(run):
    rows = run["rows"]
    assert rows["g_blank.ipynb"].status == "blank (no cells)"
    assert rows["h_markdown_only.ipynb"].status == "blank (no code)"
    assert rows["i_random_bytes.ipynb"].status == "not a notebook: not a text file"
    assert rows["j_not_nbformat.ipynb"].status == "not a notebook: JSON, but not a Jupyter notebook"
    assert rows["k_broken_json.ipynb"].status == "not a notebook: not valid JSON"
    assert rows["zz_missing.ipynb"].status == "not a notebook: file not found"
    for name in ("g_blank.ipynb", "h_markdown_only.ipynb", "i_random_bytes.ipynb",
                 "j_not_nbformat.ipynb", "k_broken_json.ipynb", "zz_missing.ipynb"):
        assert rows[name].total == 0


def test_details_file(run):
    details = json.loads((run["out_dir"] / "details.json").read_text())
    corr = details["a_mixed.ipynb"]["exercises"]["corr2d"]
    assert corr["points"] == 3 and corr["fresh_cases"] == 2
    assert "cnnlab.functional.correlate2d" in corr["calls"]
    assert corr["messages"][-1].startswith("All ")


def test_no_grader_leftovers(run):
    assert list(run["work"].iterdir()) == []         # every scratch folder was removed


# ------------------------------------------------------------------ patching the grader's own code
PATCH_GRADER = [CORR2D_OWN, """
import sys
import types
import cnnlab._files
import cnnlab.grade.kernel_side as kernel_side
import cnnlab.grade.wire as wire
from cnnlab import checks

def output_size(n, f, s=1, p=0, d=1):
    return 0                                       # wrong

def answer(self, fn, args, kwargs, profile, key):  # the reference's answer, untraced
    ex = checks.EXERCISES[self.job["name"]]
    return self.encoder.encode(ex.reference(*args, **kwargs), key), None

kernel_side.Extraction.call = answer               # would score full marks if it were used
wire.decode = lambda *a, **k: None
cnnlab._files.write_text_atomic = lambda *a, **k: None
sys.modules["cnnlab.grade.kernel_side"] = types.ModuleType("cnnlab.grade.kernel_side")
sys.modules["cnnlab.grade.wire"] = types.ModuleType("cnnlab.grade.wire")
"""]


def test_patching_the_graders_kernel_side_changes_nothing(tmp_path):
    """The extraction cell loads its code fresh from the package's files: a notebook that
    patched cnnlab.grade.kernel_side, wire or cnnlab._files before it runs gains nothing and
    loses nothing."""
    write_nb(tmp_path / "patcher.ipynb", *PATCH_GRADER)
    book = grade.grade([tmp_path / "patcher.ipynb"], tmp_path / "g.csv", timeout=120,
                       cell_timeout=30, exercises=["corr2d", "output_size"], echo=None)
    row, = book.rows
    assert row.status == "ok"
    assert row.scores == {"corr2d": 3, "output_size": 0}
    assert row.details["output_size"]["n_passed"] == 0


# ------------------------------------------------------------------ killed at the total timeout
@pytest.mark.skipif(os.name != "posix", reason="process groups")
def test_total_timeout_kills_kernel_and_its_children(tmp_path):
    token = f"cnnlab-grade-test-{uuid.uuid4().hex}"
    pid_file = tmp_path / "kernel_pid"
    write_nb(tmp_path / "a_stubborn.ipynb", f"""
import os, subprocess, sys, time
try:
    open({str(pid_file)!r}, "w").write(str(os.getpid()))
except OSError:                                    # the sandbox hides the test's folder
    pass
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {token!r}])
while True:
    try:
        time.sleep(100)
    except KeyboardInterrupt:                      # ignores the cell interrupt
        pass
""")
    (tmp_path / "b_next.ipynb").write_text("not json")
    book = grade.grade([tmp_path / "a_stubborn.ipynb", tmp_path / "b_next.ipynb"],
                       tmp_path / "g.csv", timeout=15, cell_timeout=3, exercises=["corr2d"],
                       echo=None)
    stubborn, nxt = book.rows
    assert stubborn.status == "timeout: exceeded 15 s in total, killed"
    assert stubborn.total == 0
    assert nxt.status == "not a notebook: not valid JSON"     # the run went on
    time.sleep(0.5)
    if pid_file.exists():                          # written without the sandbox: a host pid
        pid = int(pid_file.read_text())
        assert not _alive(pid), "the kernel survived the timeout"
    assert not _pids_with(token), "a process the kernel started survived the timeout"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _pids_with(token: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if token.encode() in (p / "cmdline").read_bytes() and _alive(int(p.name)):
                    found.append(int(p.name))
            except OSError:
                pass
    return found


# ------------------------------------------------------------------ the command line
def test_cli_grades_a_real_solution_notebook(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(ROOT / "solutions" / "01_cross_correlation.ipynb", subs / "alice.ipynb")
    (subs / "bob.ipynb").write_bytes(b"\x00\xff not a notebook")
    out = tmp_path / "grades.csv"
    env = dict(os.environ, CNNLAB_QUICK="1", CNNLAB_OFFLINE="1", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "cnnlab", "grade", str(subs), "--out", str(out),
         "--timeout", "240", "--cell-timeout", "120", "--lesson", "1"],
        capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["submission", "corr2d", "conv2d_true", "total", "max_total", "status",
                             "sandbox"]
    alice, bob = rows
    assert alice == {"submission": "alice.ipynb", "corr2d": "3", "conv2d_true": "2", "total": "5",
                     "max_total": "5", "status": "ok", "sandbox": SANDBOX}
    assert bob["total"] == "0" and bob["status"].startswith("not a notebook")
    assert "alice.ipynb" in proc.stdout and "5/5" in proc.stdout     # the table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv", "subs"]


@pytest.mark.parametrize("args, message", [
    (["--exercise", "no_such_exercise"], "unknown exercise"),
    (["--timeout", "0"], "must be positive"),
])
def test_cli_usage_errors_exit_nonzero(tmp_path, args, message):
    write_nb(tmp_path / "a.ipynb", "x = 1")
    proc = subprocess.run(
        [sys.executable, "-m", "cnnlab", "grade", str(tmp_path / "a.ipynb"),
         "--out", str(tmp_path / "g.csv"), *args],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "g.csv").exists()


def test_cli_without_submissions_is_a_usage_error(tmp_path, capsys):
    from cnnlab.__main__ import main
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "--out", str(tmp_path / "g.csv")]) == 2
    assert "no submissions" in capsys.readouterr().err


# ------------------------------------------------------------------ pieces, no kernel
def _book(rows):
    return grade.Gradebook(exercises=["corr2d"], points={"corr2d": 3.0}, rows=rows)


def _row(name, pts, status="ok"):
    return grade.SubmissionGrade(submission=name, path=name, scores={"corr2d": pts},
                                 max_total=3.0, status=status)


def test_gradebook_write_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "g.csv"
    grade.write_gradebook(_book([_row("a.ipynb", 2.5), _row("=cmd|x.ipynb", 3, "ok, fine")]), out)
    text = out.read_text()
    assert list(csv.reader(io.StringIO(text))) == [
        ["submission", "corr2d", "total", "max_total", "status", "sandbox"],
        ["a.ipynb", "2.5", "2.5", "3", "ok", ""],
        ["'=cmd|x.ipynb", "3", "3", "3", "ok, fine", ""],   # no spreadsheet formula injection
    ]

    def crash(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(grade.os, "replace", crash)
    with pytest.raises(OSError):
        grade.write_gradebook(_book([_row("b.ipynb", 0)]), out)
    assert out.read_text() == text                   # the old gradebook is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.csv"]   # no temp file left


def test_find_submissions_order_and_names(tmp_path):
    (tmp_path / "d" / "bob").mkdir(parents=True)
    (tmp_path / "d" / ".hidden").mkdir()
    for p in ["d/b.ipynb", "d/a.ipynb", "d/bob/a.ipynb", "d/.hidden/x.ipynb", "d/notes.txt",
              "e/a.ipynb"]:
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_text("{}")
    found = grade.find_submissions([tmp_path / "d", tmp_path / "d" / "a.ipynb",
                                    tmp_path / "e" / "a.ipynb"])
    # folder order first (sorted, hidden folders skipped, d/a.ipynb listed once); the two
    # "a.ipynb" would clash, so they keep their paths
    assert [n for n, _ in found] == [str(tmp_path / "d" / "a.ipynb"), "b.ipynb", "bob/a.ipynb",
                                     str(tmp_path / "e" / "a.ipynb")]


def test_fresh_cases_are_new_and_keep_shapes():
    rng = np.random.default_rng(0)
    for name in ALL:
        ex = checks.EXERCISES[name]
        base = ex.cases()
        fresh = grade_cases.fresh_cases(ex, base, rng, 2, checks)
        n_random = sum(c.name.startswith("random") for c in base)   # capstone_train: one run
        assert len(fresh) == min(2, n_random) >= 1, name
        by_name = {c.name: c for c in base}
        for case in fresh:
            assert case.name.startswith("fresh #") and case.name not in by_name
            expected = ex.reference(*case.args, **case.kwargs)
            assert ex.diagnose(case, expected) is None
            drawn_from = case.name.split("(", 1)[1].split(":")[0]      # "random #2"
            source = next(c for c in base if c.name.split(":")[0] == drawn_from)
            for a, b in zip(case.args, source.args):
                if isinstance(a, np.ndarray):
                    assert a.shape == b.shape and a.dtype == b.dtype
    # a different submission (seed) draws different numbers
    ex = checks.EXERCISES["corr2d"]
    one = grade_cases.fresh_cases(ex, ex.cases(), np.random.default_rng(1), 2, checks)
    two = grade_cases.fresh_cases(ex, ex.cases(), np.random.default_rng(2), 2, checks)
    assert not all(np.array_equal(a.args[0], b.args[0]) for a, b in zip(one, two))


def test_perturbation_fallback_without_seeded_cases():
    class NoSeed:                                    # an Exercise whose cases() takes no seed
        def __init__(self, ex):
            self.ex = ex

        def cases(self):
            return self.ex.cases()

        def reference(self, *a, **k):
            return self.ex.reference(*a, **k)
    ex = checks.EXERCISES["conv2d_forward"]
    fresh = grade_cases.fresh_cases(NoSeed(ex), ex.cases(), np.random.default_rng(0), 2, checks)
    assert len(fresh) == 2
    for case in fresh:
        src = next(c for c in ex.cases() if c.name in case.name)
        assert case.args[0].shape == src.args[0].shape
        assert not np.array_equal(case.args[0], src.args[0])


def test_results_are_read_without_pickle(tmp_path):
    """A results file holding a pickled object is refused, never unpickled."""
    cases = checks.EXERCISES["corr2d"].cases()
    np.savez(tmp_path / "out_0.npz", c0=np.array([{"evil": 1}], dtype=object))
    (tmp_path / "out_0.json").write_text(json.dumps(
        {"defined": True, "results": [{"t": "arr", "k": "c0"}], "calls": {}, "static": []}))
    row = _row("x.ipynb", 0)
    plan = grade_cases.ExercisePlan(name="corr2d", function_name="corr2d", cases=cases,
                                    n_base=len(cases))
    score = scoring.score_exercise(checks, plan, 0, tmp_path, points=3.0)
    row.scores["corr2d"], detail, problems = score.points, score.detail, score.problems
    assert row.scores["corr2d"] == 0
    assert "unreadable results" in detail["note"]
    assert problems[0].startswith("error: unreadable results for corr2d (ValueError")


def test_decoding_results():
    z = io.BytesIO()
    np.savez(z, c0=np.arange(3.0), c1=np.array(5, dtype=np.int64))
    z.seek(0)
    with np.load(z, allow_pickle=False) as npz:
        dec = lambda s: wire.decode(s, npz, error=checks.ErrorResult)   # noqa: E731
        assert dec({"t": "arr", "k": "c0"}).tolist() == [0.0, 1.0, 2.0]
        assert dec({"t": "npscalar", "k": "c1"}) == 5
        assert dec({"t": "tuple", "v": [{"t": "int", "v": "3"}, {"t": "none"}]}) == (3, None)
        err = dec({"t": "error", "type": "IndexError", "msg": "boom"})
        assert err == checks.ErrorResult("IndexError", "boom")
        assert dec({"t": "unsupported", "type": "dict"}).type_name == "TypeError"
        with pytest.raises(ValueError):
            dec({"t": "arr", "k": "nope"})
        with pytest.raises(ValueError):
            dec({"t": "pickle", "v": "..."})


def test_points_follow_the_registry_policy():
    res = checks.CheckResult("corr2d", True, 7, 7, [])
    assert scoring.points_for(res, 3, 2, 2) == 3
    assert scoring.points_for(res, 3, 0, 2) == 2.0            # 7/9 of 3, rounded down to 0.5
    assert scoring.points_for(checks.CheckResult("x", False, 0, 7, []), 3, 2, 2) == 0.5


def test_the_kernel_is_asked_to_watch_the_inputs_except_for_the_capstone():
    """keep_inputs goes to the kernel for every exercise whose function must leave its
    arguments alone; the capstone's train_step may update its weights in place."""
    arrays: dict = {}
    plans = {name: grade_cases.plan_exercise(i, name, ex, ex.cases()[:1], [], arrays)
             for i, (name, ex) in enumerate(checks.EXERCISES.items())}
    assert {n for n, p in plans.items() if not p.keep_inputs} == {"capstone_step", "capstone_train"}
