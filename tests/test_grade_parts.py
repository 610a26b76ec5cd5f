"""The grader's parts, each on its own and without a kernel: the wire codec, the kernel-side
extractor (run in this process, loaded fresh from its file as the kernel loads it), scoring,
the status text, the gradebook and the runner's pieces.

The round trip test goes through both sides' code paths: the grader encodes the inputs with
``cnnlab.grade.wire``; the extraction cell loads ``kernel_side`` and its own ``wire`` fresh
from their files, decodes them, calls the function and encodes the results; the grader
decodes and scores them with ``cnnlab.grade.scoring``.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cnnlab
from cnnlab import _files, checks
from cnnlab import functional as F
from cnnlab.checks import lesson9, training_run
from cnnlab.grade import cases, gradebook, kernel_side, runner, scoring, wire

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"kernel_side": kernel_side.__file__, "wire": wire.__file__, "files": _files.__file__,
           "compare": checks.compare.__file__}


def roundtrip(value, strict=True):
    enc = wire.Encoder(strict=strict)
    spec = enc.encode(value, "v")
    spec = json.loads(json.dumps(spec))                         # what the JSON file holds
    with np.load(io.BytesIO(enc.npz_bytes()), allow_pickle=False) as npz:
        return wire.decode(spec, npz, error=checks.ErrorResult)


# =========================================================================== wire
@pytest.mark.parametrize("value", [
    np.arange(6.0).reshape(2, 3), np.arange(4, dtype=np.float32), np.array([[1, 2]], np.int64),
    np.array([True, False]), np.array(2.5), np.array([1 + 2j]), np.zeros((0, 3)),
    np.float32(1.5), np.int64(7), np.bool_(True),
    None, True, 0, -12, 10**99, 0.1, -0.0, math.inf, 1e-300, 2 - 3j, "same", "",
    (1, (2.0, None)), [np.ones(2), [3]], {"conv1.weight": np.ones((2, 1, 3, 3)), "b": (1, 2)},
])
def test_wire_round_trip_keeps_value_and_type(value):
    back = roundtrip(value)
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        assert np.array_equal(back, value)
    elif isinstance(value, np.generic):
        assert back.dtype == value.dtype and back == value
    elif isinstance(value, float):
        assert repr(back) == repr(value)                      # exact, -0.0 and inf included
    elif isinstance(value, (tuple, list, dict)):
        assert json.dumps(value, default=lambda a: a.tolist()) == \
            json.dumps(back, default=lambda a: a.tolist())
    else:
        assert back == value


def test_wire_nan_and_copies():
    assert math.isnan(roundtrip(math.nan))
    arr = {"a": np.arange(3.0)}
    spec = wire.Encoder(strict=True).encode(arr["a"], "a")
    first = wire.decode(spec, arr, error=checks.ErrorResult)
    first[0] = 99                                                # a function writing its input
    assert wire.decode(spec, arr, error=checks.ErrorResult)[0] == 0


@pytest.mark.parametrize("value", [
    np.array([{"x": 1}], dtype=object), np.zeros(2, dtype=[("a", "f8")]), {1: 2}, {3},
    object(), 10**100, "x" * (wire.MAX_STR + 1), tuple(range(wire.MAX_ITEMS + 1)),
    ((((((1,),),),),),),
])
def test_wire_refuses_what_it_cannot_carry(value):
    with pytest.raises(TypeError, match="without pickle"):
        wire.Encoder(strict=True).encode(value, "v")            # the grader's own inputs
    back = roundtrip(value, strict=False)                       # a student's result
    if not isinstance(back, checks.ErrorResult):                # nested: the inner part is
        while isinstance(back, tuple):                          # refused
            back = back[0]
    assert isinstance(back, checks.ErrorResult) and back.type_name == "TypeError"
    assert "cannot read back" in back.message


def test_wire_size_limits():
    enc = wire.Encoder(strict=False, max_array_bytes=80, max_bytes=120)
    assert enc.encode(np.zeros(10), "a") == {"t": "arr", "k": "a"}        # 80 bytes: fits
    assert enc.encode(np.zeros(11), "b")["t"] == "unsupported"             # one array too big
    assert enc.encode(np.zeros(8), "c")["t"] == "unsupported"              # message budget spent
    assert list(enc.arrays) == ["a"]


@pytest.mark.parametrize("spec", [
    None, [], {"t": "pickle", "v": "..."}, {"t": "arr", "k": "missing"}, {"t": "arr", "k": 3},
    {"t": "int", "v": "9" * 200}, {"t": "int", "v": "1e5"}, {"t": "float", "v": "x"},
    {"t": "str", "v": 5}, {"t": "tuple", "v": "abc"}, {"t": "dict", "v": [1]},
    {"t": "list", "v": [{"t": "none"}] * (wire.MAX_ITEMS + 1)},
    {"t": "tuple", "v": [{"t": "tuple", "v": [{"t": "tuple", "v": [{"t": "tuple", "v": [
        {"t": "tuple", "v": [{"t": "tuple", "v": []}]}]}]}]}]},
])
def test_wire_decode_is_strict(spec):
    with pytest.raises(ValueError):
        wire.decode(spec, {}, error=checks.ErrorResult)


def test_wire_errors():
    spec = wire.error_spec("IndexError" * 20, "m" * 1000)
    err = wire.decode(json.loads(json.dumps(spec)), {}, error=checks.ErrorResult)
    assert err == checks.ErrorResult(("IndexError" * 20)[:100], "m" * 500)


def test_wire_files_are_read_without_pickle(tmp_path):
    np.save(tmp_path / "evil.npy", np.array([1]))
    np.savez(tmp_path / "out.npz", c0=np.array([{"evil": 1}], dtype=object))
    with wire.load_npz(tmp_path / "out.npz") as npz, pytest.raises(ValueError):
        wire.decode({"t": "arr", "k": "c0"}, npz, error=checks.ErrorResult)


def test_wire_and_kernel_side_import_nothing_from_cnnlab():
    for module in (wire, kernel_side):
        source = open(module.__file__, encoding="utf-8").read()
        assert not re.search(r"^\s*(import|from) cnnlab", source, re.M), module.__name__


# =========================================================================== both sides
def _plan(name, n_fresh=2, seed=0):
    ex = checks.EXERCISES[name]
    base = ex.cases()
    fresh = cases.fresh_cases(ex, base, np.random.default_rng(seed), n_fresh, checks)
    arrays: dict = {}
    plan = cases.plan_exercise(0, name, ex, base, fresh, arrays)
    return plan, arrays


def _extract_in_process(tmp_path, plan, arrays, user_ns, call_timeout=5.0):
    """What the runner does for one exercise, with this process standing in for the kernel:
    write the inputs, execute the generated extraction cell in the notebook's namespace."""
    _files.write_bytes_atomic(tmp_path / "inputs.npz", wire.npz_bytes(arrays))
    job = {"name": plan.name, "function_name": plan.function_name, "cases": plan.specs,
           "allowed": plan.allowed, "allowed_modules": plan.allowed_modules,
           "xdir": str(tmp_path), "index": 0, "call_timeout": call_timeout,
           "max_bytes": wire.MAX_ARRAY_BYTES, "flagged": list(cases.FLAGGED_MODULES),
           "modules": MODULES, "driver": plan.driver, "keep_inputs": plan.keep_inputs}
    user_ns.setdefault("__builtins__", __builtins__)
    before = set(user_ns)
    old_profile = sys.getprofile()
    exec(compile(kernel_side.extraction_cell(job), "<cell>", "exec"), user_ns)
    assert sys.getprofile() is old_profile
    assert set(user_ns) == before                  # the cell leaves no names behind
    return scoring.score_exercise(checks, plan, 0, tmp_path,
                                  points=float(checks.EXERCISES[plan.name].points))


def own_corr2d(x, k):
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1), dtype=x.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)
    return out


def test_round_trip_through_both_sides(tmp_path):
    plan, arrays = _plan("corr2d")
    score = _extract_in_process(tmp_path, plan, arrays, {"corr2d": own_corr2d})
    assert score.points == 3 and not score.flags and not score.problems
    d = score.detail
    assert (d["n_passed"], d["n_cases"], d["fresh_passed"], d["fresh_cases"]) == (7, 7, 2, 2)
    assert d["calls"] == {} and d["static"] == [] and d["tampered"] == []


def test_the_kernel_reports_a_function_that_wrote_into_its_input(tmp_path):
    """An in-place ReLU returns the right values; the kernel side compares x before and after
    each call and sends back ModifiedInput, which the grader scores as cnnlab.check does."""
    def relu_forward(x):
        x[x < 0] = 0
        return x
    plan, arrays = _plan("relu_forward")
    assert plan.keep_inputs
    score = _extract_in_process(tmp_path, plan, arrays, {"relu_forward": relu_forward})
    text = "\n".join(score.detail["messages"])
    assert score.points == 0 and score.detail["n_passed"] == 0, text
    assert "your function changed its input x in place" in text
    (tmp_path / "ok").mkdir()
    score = _extract_in_process(tmp_path / "ok", *_plan("relu_forward"),
                                {"relu_forward": lambda x: np.maximum(x, 0)})
    assert score.points == 1


def test_the_capstone_step_may_write_into_its_weights(tmp_path):
    """train_step may update params in place (an optimiser's step does): not watched."""
    def train_step(params, x, y, lr):
        loss, new = lesson9.capstone_step(params, x, y, lr)
        for k in params:
            params[k][...] = new[k]
        return loss, params
    plan, arrays = _plan("capstone_step")
    assert not plan.keep_inputs
    score = _extract_in_process(tmp_path, plan, arrays, {"train_step": train_step})
    assert score.points == 3, score.detail["messages"]


def test_round_trip_of_tuples_dicts_and_ints(tmp_path):
    def conv2d_backward(dout, x, w, stride=1, padding=0):
        return F.conv2d_backward(dout, x, w, stride=stride, padding=padding)

    def lenet5_forward(x, params):
        return checks.EXERCISES["lenet5_forward"].reference(x, params)

    for name, fn in [("conv2d_backward", conv2d_backward), ("lenet5_forward", lenet5_forward),
                     ("output_size", lambda n, f, s=1, p=0, d=1: (n + 2 * p - d * (f - 1) - 1) // s + 1),
                     ("output_size", lambda n, f, s=1, p=0, d=1:    # a NumPy integer is an int too
                      np.int64(F.output_size_exact(n, f, s, p, d) // 1))]:
        plan, arrays = _plan(name)
        score = _extract_in_process(tmp_path, plan, arrays, {plan.function_name: fn})
        assert score.points == checks.EXERCISES[name].points, (name, score)
    assert "uses-reference: conv2d_backward calls cnnlab.functional.conv2d_backward" in \
        " ".join(_extract_in_process(tmp_path, *_plan("conv2d_backward"),
                                     {"conv2d_backward": conv2d_backward}).flags)


def _capstone_solution() -> dict:
    """The namespace of the capstone's solution cell (the student's layers and train_step)."""
    import nbformat
    nb = nbformat.read(str(ROOT / "solutions" / "09_capstone.ipynb"), as_version=4)
    ns = {"np": np}
    exec(next(c.source for c in nb.cells if c.id == "capstone_step-impl"), ns)
    return ns


@pytest.mark.slow
def test_a_driven_exercise_through_both_sides(tmp_path):
    """capstone_train: the extraction loads the driver (checks/training_run.py) fresh and lets
    it call the student's train_step 400 times; the grader checks the first step and measures
    the accuracy on digits the kernel never got. Calls into cnnlab under it are flagged."""
    plan, arrays = _plan("capstone_train", n_fresh=0)
    assert plan.driver == training_run.__file__
    assert not any(np.array_equal(a, lesson9.capstone_data()[2]) for a in arrays.values()
                   if a.shape == lesson9.capstone_data()[2].shape)   # the test digits stay here
    step = _capstone_solution()["train_step"]
    score = _extract_in_process(tmp_path, plan, arrays, {"train_step": step}, call_timeout=300)
    assert score.points == 3 and not score.flags and not score.problems, score
    assert score.detail["calls"] == {} and score.detail["static"] == []

    def train_step(params, x, y, lr):           # the library's step, not the student's own
        return lesson9.capstone_step(params, x, y, lr)
    score = _extract_in_process(tmp_path, plan, arrays, {"train_step": train_step},
                                call_timeout=300)
    assert score.points == 3, score
    assert "uses-reference: train_step calls cnnlab.checks.lesson9.capstone_step" in score.flags


def test_wrong_answers_and_errors_come_back_as_diagnoses(tmp_path):
    def corr2d(x, k):
        if x.shape == (3, 3):
            raise IndexError("index 3 is out of bounds")
        return own_corr2d(x, k[::-1, ::-1])                      # a convolution
    plan, arrays = _plan("corr2d")
    score = _extract_in_process(tmp_path, plan, arrays, {"corr2d": corr2d})
    assert score.points == 0
    text = "\n".join(score.detail["messages"])
    assert "raised IndexError: index 3 is out of bounds (hint:" in text
    assert "kernel flipped" in text


def test_undefined_function_and_unreadable_results(tmp_path):
    plan, arrays = _plan("corr2d")
    score = _extract_in_process(tmp_path, plan, arrays, {})
    assert score.points == 0 and score.detail == {"defined": False, "points": 0.0}
    (tmp_path / "out_0.json").write_text("[1, 2]")
    score = scoring.score_exercise(checks, plan, 0, tmp_path, points=3.0)
    assert score.problems[0].startswith("error: unreadable results for corr2d (ValueError")
    assert scoring.score_exercise(checks, plan, 1, tmp_path, 3.0).detail["note"] == "not reached"


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="per-call alarm")
def test_a_hanging_call_is_stopped_and_the_rest_skipped(tmp_path):
    def corr2d(x, k):
        while True:
            pass
    plan, arrays = _plan("corr2d", n_fresh=0)
    handler = signal.getsignal(signal.SIGALRM)
    t0 = time.monotonic()
    score = _extract_in_process(tmp_path, plan, arrays, {"corr2d": corr2d}, call_timeout=0.3)
    assert time.monotonic() - t0 < 10
    msgs = score.detail["messages"]
    assert "took longer than 0.3 s" in msgs[1]
    assert "not run: an earlier case took longer than 0.3 s" in msgs[2]
    assert all("the same TimeoutError" in m for m in msgs[3:-1])       # not run either
    assert score.detail["n_passed"] == 0 and score.detail["seconds"] < 5
    assert signal.getsignal(signal.SIGALRM) is handler          # restored


def test_patched_grader_modules_change_nothing(tmp_path, monkeypatch):
    """A notebook that replaced the grader's kernel-side code before the extraction cell runs:
    the cell loads its code fresh from the package's files, so the patches are never reached,
    and a wrong function still scores 0."""
    plan, arrays = _plan("corr2d")                 # the grader's side, before the notebook ran
    honest = wire.Encoder(strict=False)
    perfect = {"defined": True, "calls": {}, "static": [], "tampered": [], "results": [
        honest.encode(checks.EXERCISES["corr2d"].reference(*c.args), f"c{j}")
        for j, c in enumerate(plan.cases)]}
    fake_npz = honest.npz_bytes()

    def fake_run(self):                            # the reference's answers as the student's
        base = os.path.join(self.job["xdir"], f"out_{self.job['index']}")
        open(base + ".npz", "wb").write(fake_npz)
        open(base + ".json", "w").write(json.dumps(perfect))

    def corr2d(x, k):
        return np.zeros((x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1))

    # the control: the patched extractor, if it ran, would earn full marks
    monkeypatch.setattr(kernel_side.Extraction, "run", fake_run)
    job = {"xdir": str(tmp_path), "index": 0, "max_bytes": 1, "call_timeout": 1}
    kernel_side.Extraction(job, {"corr2d": corr2d}, wire=wire, files=_files).run()
    assert scoring.score_exercise(checks, plan, 0, tmp_path, points=3.0).points == 3

    # the notebook's patches: the grader's modules replaced, in place and in sys.modules
    monkeypatch.setattr(kernel_side, "main", lambda *a, **k: fake_run(None))
    monkeypatch.setattr(wire.Encoder, "encode", lambda self, v, k, depth=0: {"t": "none"})
    monkeypatch.setattr(_files, "write_text_atomic", lambda *a, **k: None)
    for name in ("cnnlab.grade.kernel_side", "cnnlab.grade.wire", "cnnlab._files",
                 "cnnlab.grade", "cnnlab"):
        monkeypatch.setitem(sys.modules, name, None)
    score = _extract_in_process(tmp_path, plan, arrays, {"corr2d": corr2d})
    assert score.points == 0 and score.detail["n_passed"] == 0
    assert "is all zeros" in "\n".join(score.detail["messages"])


# =========================================================================== flags, in the kernel
def test_static_refs_and_the_tracer():
    import cnnlab.functional
    rules = kernel_side.Rules(cases.FLAGGED_MODULES, cases.ALLOWED_HELPERS, ())

    def uses_f(x, k):
        return F.correlate2d(x, k) + cnnlab.functional.output_size(3, 2)

    def uses_closure():
        fn = F.conv2d
        return lambda x: fn(x)
    assert kernel_side.static_refs(uses_f, rules) == {"cnnlab.functional.correlate2d"}
    assert kernel_side.static_refs(uses_closure(), rules) == {"cnnlab.functional.conv2d"}
    assert kernel_side.static_refs(own_corr2d, rules) == set()
    allowed = kernel_side.Rules(cases.FLAGGED_MODULES, (), ("cnnlab.functional",))
    assert kernel_side.static_refs(uses_f, allowed) == set()

    calls: dict = {}
    hook = kernel_side.make_profile(rules, calls)
    sys.setprofile(hook)
    try:
        uses_f(np.ones((3, 3)), np.ones((2, 2)))
    finally:
        sys.setprofile(None)
    assert calls == {"cnnlab.functional.correlate2d": 1}    # not its helpers, not output_size


def test_allowed_helpers_exclude_the_exercise_they_answer():
    assert "output_size" not in cases.allowed_helpers(checks.EXERCISES["output_size"], "output_size")
    assert "output_size_exact" not in cases.allowed_helpers(checks.EXERCISES["output_size"],
                                                            "output_size")
    assert "output_size" in cases.allowed_helpers(checks.EXERCISES["corr2d"], "corr2d")


# =========================================================================== scoring, status
def test_status_text():
    def status(state, **kw):
        args = dict(timed_out=False, timeout=600, cell_timeout=120, problems=[], flags=[],
                    log_tail=lambda: "boom")
        return scoring.status_text(state, **{**args, **kw})
    assert status({"state": "ok"}) == "ok"
    assert status({"state": "ok", "cell_errors": [1, 4]}, flags=["f"]) == "ok; errors in 2 cells; f"
    assert status({"state": "ok"}, problems=["error: x"], flags=["f"]) == "error: x; f"
    assert status({"state": "ok", "cell_timeouts": [2]}, problems=["p"]) == \
        "timeout: cell 3 interrupted after 120 s; p"
    assert status({"state": "running", "cell_timeouts": [2]}, timed_out=True) == \
        "timeout: exceeded 600 s in total, killed"
    assert status({"state": "kernel died", "died_at": "cell 4"}) == "kernel died (cell 4)"
    assert status({"state": "not started"}) == "error: grading run failed: boom"


def test_score_submission_reads_only_its_own_scratch_folder(tmp_path):
    plan, arrays = _plan("corr2d")
    xdir = tmp_path / "box" / "x0123"
    xdir.mkdir(parents=True)
    _extract_in_process(xdir, plan, arrays, {"corr2d": own_corr2d})
    state = {"state": "ok", "xdir": str(xdir)}
    scores, details, _, _ = scoring.score_submission(checks, [plan], state, tmp_path / "work",
                                                     {"corr2d": 3.0})
    assert scores == {"corr2d": 0.0} and details["corr2d"]["note"] == "not reached"
    scores, *_ = scoring.score_submission(checks, [plan], state, tmp_path / "box",
                                          {"corr2d": 3.0})   # box/box: not ours either
    assert scores == {"corr2d": 0.0}
    scores, *_ = scoring.score_submission(checks, [plan], state, tmp_path, {"corr2d": 3.0})
    assert scores == {"corr2d": 3.0}


def test_results_are_read_without_following_links(tmp_path):
    """What the kernel left in its folder is attacker-controlled: a results file (or the
    results folder) replaced by a link to someone else's file is refused, never read."""
    plan, arrays = _plan("corr2d")
    xdir = tmp_path / "box" / "x1"
    xdir.mkdir(parents=True)
    _extract_in_process(xdir, plan, arrays, {"corr2d": own_corr2d})
    secret = tmp_path / "secret.json"
    secret.write_text((xdir / "out_0.json").read_text())    # a "report" outside the box
    (xdir / "out_0.json").unlink()
    (xdir / "out_0.json").symlink_to(secret)
    state = {"state": "ok", "xdir": str(xdir)}
    scores, details, _, problems = scoring.score_submission(checks, [plan], state, tmp_path,
                                                            {"corr2d": 3.0})
    assert scores == {"corr2d": 0.0}
    assert problems[0].startswith("error: unreadable results for corr2d (OSError")
    assert "Too many levels of symbolic links" in details["corr2d"]["note"]
    os.rename(xdir, tmp_path / "real")                        # the folder itself a link
    (tmp_path / "real" / "out_0.json").unlink()
    (tmp_path / "real" / "out_0.json").write_text(secret.read_text())
    xdir.symlink_to(tmp_path / "real")
    scores, details, _, problems = scoring.score_submission(checks, [plan], state, tmp_path,
                                                            {"corr2d": 3.0})
    assert scores == {"corr2d": 0.0} and "NotADirectoryError" in problems[0]   # O_NOFOLLOW


def test_a_failed_extraction_cell_is_reported(tmp_path):
    plan, _ = _plan("corr2d")
    state = {"state": "ok", "xdir": str(tmp_path / "x"),
             "extraction": {"errors": {"0": "TypeError: 'NoneType' object is not callable"}}}
    *_, problems = scoring.score_submission(checks, [plan], state, tmp_path, {"corr2d": 3.0})
    assert problems == ["error: grading failed in the kernel for corr2d "
                        "(TypeError: 'NoneType' object is not callable)"]


# =========================================================================== gradebook, runner
def test_details_file_is_written_atomically(tmp_path):
    row = gradebook.SubmissionGrade("a.ipynb", "a.ipynb", {"corr2d": 2.5}, 3.0, "ok",
                                    details={"corr2d": {"points": 2.5}})
    book = gradebook.Gradebook(["corr2d"], {"corr2d": 3.0}, [row])
    gradebook.write_details(book, tmp_path / "d.json")
    assert json.loads((tmp_path / "d.json").read_text()) == {
        "a.ipynb": {"status": "ok", "total": 2.5, "max_total": 3.0, "sandbox": "",
                    "exercises": {"corr2d": {"points": 2.5}}}}
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]
    assert gradebook.fmt_points(2.0) == "2" and gradebook.fmt_points(1.25) == "1.25"


def test_kernel_command_and_environment(tmp_path):
    argv = runner.kernel_command(tmp_path)
    assert argv[0] == sys.executable and "{connection_file}" in argv
    env = runner.child_env(tmp_path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cnnlab.__file__)))
    assert env["PYTHONPATH"].split(os.pathsep)[0] == root
    assert env["TMPDIR"] == str(tmp_path / "tmp") and (tmp_path / "tmp").is_dir()
    assert env["MPLBACKEND"] == "Agg" and env["IPYTHONDIR"] == str(tmp_path / "ipython")


@pytest.mark.skipif(os.name != "posix", reason="process groups")
def test_kill_tree_kills_both_process_groups(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             start_new_session=True)
    kernel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              start_new_session=True)
    (tmp_path / "kernel.pid").write_text(str(kernel.pid))
    runner.kill_tree(child, tmp_path)
    assert child.poll() is not None
    assert kernel.wait(timeout=10) == -signal.SIGKILL
    assert runner.read_state(tmp_path) == {"state": "not started"}
