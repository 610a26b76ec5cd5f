"""The exercise registry (one entry per graded function, in the course's order) and the
name-based entry points: ``check``, ``collect_outputs``, ``evaluate_outputs``."""
from __future__ import annotations

import dataclasses

from cnnlab.checks import (lesson1, lesson2, lesson3, lesson4, lesson5, lesson6, lesson7,
                           lesson8, lesson9)
from cnnlab.checks.engine import CheckResult, Exercise, collect, evaluate

__all__ = ["EXERCISES", "CheckFailed", "get", "check", "collect_outputs", "evaluate_outputs"]

EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for lesson in (lesson1, lesson2, lesson3, lesson4, lesson5, lesson6, lesson7, lesson8,
                   lesson9)
    for ex in lesson.EXERCISES
}


def get(name) -> Exercise:
    """The exercise called ``name``; ValueError listing the exercises when there is none."""
    try:
        return EXERCISES[name]
    except (KeyError, TypeError):
        valid = ", ".join(EXERCISES)
        raise ValueError(f"unknown exercise {name!r}; the exercises are: {valid}") from None


def collect_outputs(name: str, student_fn) -> dict:
    """Run ``student_fn`` on every case of exercise ``name`` (each on fresh copies of the
    inputs) and return ``{case name: result or ErrorResult}``. Never raises for the student's
    errors. This is what ``check`` feeds to ``evaluate_outputs``; the grader may use it too."""
    return collect(get(name), student_fn)


def evaluate_outputs(name: str, outputs: dict) -> CheckResult:
    """The verdict of exercise ``name`` from the student's results handed back as data:
    ``outputs`` maps case name -> result, or an ``ErrorResult`` for a case that raised. A case
    missing from ``outputs`` fails. Does not print."""
    return evaluate(get(name), outputs)


class CheckFailed(AssertionError):
    """What ``check`` raises, after printing its report, when a case fails: an AssertionError,
    like a failing test of nbgrader's. ``result`` is the CheckResult."""

    def __init__(self, result: CheckResult):
        self.result = result
        super().__init__(f"{result.name}: {result.n_passed} of {result.n_cases} cases passed, "
                         f"{result.points:g} of {result.max_points:g} points; the report above "
                         f"says which case failed and why")


def _show_value(result: CheckResult) -> None:
    """Publish ``result`` as the running cell's value (an ``execute_result``), as the cell's
    last expression would: in a Jupyter kernel only (nothing elsewhere)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        shell.displayhook(result)


def check(name: str, student_fn) -> CheckResult:
    """Run ``student_fn`` on every case of exercise ``name``, print which cases pass and, for
    each failure, the likely cause. Returns the CheckResult when every case passes; otherwise
    raises :class:`CheckFailed` (an AssertionError) after the report.

    >>> cnnlab.check("corr2d", corr2d)            # doctest: +SKIP

    As a notebook's test cell (its last line), it is what nbgrader grades: the cell's value is
    the points earned (``3``; ``2.5`` when some cases fail, shown *before* the error, which is
    where nbgrader reads partial credit), the cell fails when a case fails (``nbgrader validate``
    reports it), and the student's function may not write to stderr (sent to stdout here).
    An unknown ``name`` raises ValueError listing the exercises; the student's own errors are
    reported, not raised.
    """
    exercise = get(name)
    result = evaluate(exercise, collect(exercise, student_fn))
    result = dataclasses.replace(result, max_points=float(exercise.points))
    print(str(result), flush=True)
    if not result.passed:
        _show_value(result)
        raise CheckFailed(result)
    return result
