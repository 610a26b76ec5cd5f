"""Scoring, in the grader's own process: read back what the kernel wrote (strictly, through
``wire``; after the sandbox is gone, never following a link: ``sandbox.read_regular``), judge it
with the registry, turn it into points, flags and the status text."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from cnnlab.grade import sandbox, wire
from cnnlab.grade.cases import ExercisePlan

__all__ = ["STATUS_OK", "ExerciseScore", "points_for", "read_outputs", "score_exercise",
           "score_submission", "status_text"]

STATUS_OK = "ok"


@dataclasses.dataclass
class ExerciseScore:
    """The outcome of one exercise: points, the details kept for ``--details``, and the flags
    and problems it adds to the submission's status."""
    points: float = 0.0
    detail: dict = dataclasses.field(default_factory=lambda: {"defined": False, "points": 0.0})
    flags: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)


def points_for(result, points: float, fresh_passed: int, fresh_total: int) -> float:
    """Points from the registry's policy over the course cases, then the fresh cases.

    The fresh cases count as extra cases of the same check: when the CheckResult is a
    dataclass with n_passed/n_cases/passed, they are added to those counts and the registry's
    own ``points_earned`` decides; otherwise the points scale with the fresh pass rate.
    """
    if fresh_total and dataclasses.is_dataclass(result):
        fields = {f.name for f in dataclasses.fields(result)}
        if {"n_passed", "n_cases", "passed"} <= fields:
            try:
                combined = dataclasses.replace(
                    result, n_passed=result.n_passed + fresh_passed,
                    n_cases=result.n_cases + fresh_total,
                    passed=bool(result.passed) and fresh_passed == fresh_total)
                return float(combined.points_earned(points))
            except Exception:
                pass
    earned = float(result.points_earned(points))
    if fresh_total:
        earned *= fresh_passed / fresh_total
    return earned


def read_outputs(registry, report: dict, xdir: Path, index: int, n_cases: int) -> list:
    """One value (or ErrorResult) per case sent, from the kernel's report and its arrays.
    Raises on anything malformed; never unpickles, never follows a link."""
    results = report.get("results")
    if not isinstance(results, list):
        raise ValueError("malformed report")
    arrays = sandbox.read_regular(xdir, f"out_{index}.npz", wire.MAX_FILE_BYTES)
    if arrays is None:
        raise ValueError("the arrays are missing")
    with wire.load_npz(arrays) as npz:
        outputs = [wire.decode(results[j], npz, error=registry.ErrorResult)
                   for j in range(min(n_cases, len(results)))]
    not_run = registry.ErrorResult("TimeoutError", "not run (the grading stopped before this case)")
    return outputs + [not_run] * (n_cases - len(outputs))


def score_exercise(registry, plan: ExercisePlan, index: int, xdir: Path | None,
                   points: float) -> ExerciseScore:
    """Judge one exercise from the results in ``xdir`` (None: the extraction never started)."""
    score = ExerciseScore()
    name, detail = plan.name, score.detail
    if plan.unsent:
        score.problems.append(f"error: the grader could not send {len(plan.unsent)} case(s) of "
                              f"{name} to the kernel (they count as failed)")
    try:
        text = None if xdir is None else \
            sandbox.read_regular(xdir, f"out_{index}.json", wire.MAX_FILE_BYTES)
        if text is None:
            detail["note"] = "not reached"
            return score
        report = json.loads(text.decode("utf-8"))
        if not isinstance(report, dict):
            raise ValueError("malformed report")
        detail["defined"] = bool(report.get("defined"))
        if not detail["defined"]:
            return score
        outputs = read_outputs(registry, report, xdir, index, len(plan.cases))
    except Exception as exc:
        score.problems.append(f"error: unreadable results for {name} ({type(exc).__name__}; "
                              "did the notebook tamper with numpy or the files?)")
        detail["note"] = f"unreadable results: {type(exc).__name__}: {exc}"[:200]
        return score
    _judge(registry, plan, outputs, report, points, score)
    return score


def _judge(registry, plan: ExercisePlan, outputs: list, report: dict, points: float,
           score: ExerciseScore) -> None:
    name, n_base = plan.name, plan.n_base
    base_outputs = {case.name: out for case, out in zip(plan.cases[:n_base], outputs[:n_base])}
    try:
        result = registry.evaluate_outputs(name, base_outputs)
    except Exception as exc:
        score.problems.append(f"error: checking {name} failed ({type(exc).__name__}: {exc})"[:200])
        return
    exercise = registry.EXERCISES[name]
    fresh_passed, fresh_msgs = 0, []
    fresh = plan.cases[n_base:]
    for case, got in zip(fresh, outputs[n_base:]):
        try:
            message = exercise.diagnose(case, got)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
        if message is None:
            fresh_passed += 1
        else:
            fresh_msgs.append(f"{case.name}: {message}"[:300])
    score.points = points_for(result, points, fresh_passed, len(fresh))
    score.detail.update({
        "points": score.points, "max_points": points,
        "passed": bool(result.passed), "n_passed": int(result.n_passed),
        "n_cases": int(result.n_cases), "messages": list(result.messages)[:20],
        "fresh_passed": fresh_passed, "fresh_cases": len(fresh),
        "fresh_messages": fresh_msgs[:5],
        "seconds": report.get("seconds"),
    })
    if bool(result.passed) and fresh and fresh_passed < len(fresh):
        score.flags.append(f"suspicious: {name} passes the course cases but fails "
                           f"{len(fresh) - fresh_passed} fresh random case(s)")
    _reference_flags(plan.function_name, report, score)


def _reference_flags(fname: str, report: dict, score: ExerciseScore) -> None:
    """The call trace (run time) and the code's names (static) as flags."""
    calls = report.get("calls") if isinstance(report.get("calls"), dict) else {}
    static = report.get("static") if isinstance(report.get("static"), list) else []
    tampered = report.get("tampered") if isinstance(report.get("tampered"), list) else []
    called = sorted(str(k)[:120] for k in calls)[:5]
    referenced = sorted(str(s)[:120] for s in static if str(s) not in calls)[:5]
    if called or referenced:
        what = ([f"calls {', '.join(called)}"] if called else []) + \
               ([f"refers to {', '.join(referenced)}"] if referenced else [])
        score.flags.append(f"uses-reference: {fname} {' and '.join(what)}")
    if tampered:
        score.flags.append(f"tampering: {fname} replaced the grader's call tracer")
    score.detail.update({"calls": {str(k)[:120]: v for k, v in list(calls.items())[:20]},
                         "static": static[:20], "tampered": tampered[:5]})


def score_submission(registry, plans: list, state: dict, workdir: Path, points: dict):
    """Score every exercise of one submission from the child's ``state`` (its run.json).

    returns : (scores {name: points}, details {name: dict}, flags, problems)
    """
    xdir = state.get("xdir")
    xdir = Path(xdir) if isinstance(xdir, str) else None
    if xdir is not None and xdir.parent != workdir / "box":
        xdir = None  # never read results from anywhere but our own scratch folder
    extraction = state.get("extraction") if isinstance(state.get("extraction"), dict) else {}
    x_errors = extraction.get("errors") if isinstance(extraction.get("errors"), dict) else {}
    x_timeouts = extraction.get("timeouts") or []
    scores, details, flags, problems, failed_in_kernel = {}, {}, [], [], []
    for i, plan in enumerate(plans):
        score = score_exercise(registry, plan, i, xdir, points[plan.name])
        scores[plan.name], details[plan.name] = score.points, score.detail
        flags += score.flags
        problems += score.problems
        if i in x_timeouts:
            problems.append(f"timeout: grading {plan.name} was interrupted")
        elif str(i) in x_errors and score.detail.get("note") == "not reached":
            # the grader's own cell failed in the kernel (a notebook that broke builtins?)
            failed_in_kernel.append((plan.name, str(x_errors[str(i)])[:100]))
    if failed_in_kernel:
        names = [n for n, _ in failed_in_kernel]
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        problems.append(f"error: grading failed in the kernel for {', '.join(names[:3])}"
                        f"{more} ({failed_in_kernel[0][1]})")
    return scores, details, flags, problems


def status_text(state: dict[str, Any], *, timed_out: bool, timeout: float, cell_timeout: float,
                problems: list, flags: list, log_tail) -> str:
    """The status column: what happened to the run, then cell errors, problems and flags.

    log_tail : () -> the last line of the child's log (read only when the run failed)
    """
    parts = []
    run_state = state.get("state")
    cell_timeouts = state.get("cell_timeouts") or []
    if timed_out:
        parts.append(f"timeout: exceeded {timeout:g} s in total, killed")
    elif run_state == "kernel died":
        where = state.get("died_at")
        parts.append(f"kernel died ({where})" if where else "kernel died")
    elif run_state in ("error", "running", "not started"):
        detail = state.get("detail") or log_tail()
        parts.append(f"error: grading run failed: {detail}"[:300])
    if cell_timeouts and not timed_out:
        cells = ", ".join(str(int(c) + 1) for c in cell_timeouts[:5])
        parts.append(f"timeout: cell {cells} interrupted after {cell_timeout:g} s")
    if not parts:  # the run itself went fine: a grading problem, or "ok", leads
        parts, problems = (problems or [STATUS_OK]), []
    errors = state.get("cell_errors") or []
    if errors:
        parts.append(f"errors in {len(errors)} cell{'s' if len(errors) > 1 else ''}")
    parts.extend(problems)
    parts.extend(flags)
    return "; ".join(parts)
