"""The exercise registry (one entry per graded function, in the course's order) and the
name-based entry points: ``check``, ``collect_outputs``, ``evaluate_outputs``."""
from __future__ import annotations

from cnnlab.checks import lesson1, lesson2, lesson3, lesson4, lesson5, lesson6, lesson7
from cnnlab.checks.engine import CheckResult, Exercise, collect, evaluate

__all__ = ["EXERCISES", "get", "check", "collect_outputs", "evaluate_outputs"]

EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for lesson in (lesson1, lesson2, lesson3, lesson4, lesson5, lesson6, lesson7)
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


def check(name: str, student_fn) -> CheckResult:
    """Run ``student_fn`` on every case of exercise ``name``, print which cases pass and, for
    each failure, the likely cause; return the CheckResult (falsy when a case fails).

    >>> cnnlab.check("corr2d", corr2d)            # doctest: +SKIP
    An unknown ``name`` raises ValueError listing the exercises; the student's own errors never
    raise here, they are reported.
    """
    exercise = get(name)
    result = evaluate(exercise, collect(exercise, student_fn))
    print(str(result), flush=True)
    return result
