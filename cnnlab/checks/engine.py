"""The diagnosis engine: cases, verdicts, and the explanation of a wrong answer.

An ``Exercise`` knows its cases, its reference (computed by cnnlab's own functions) and its
planted mistakes (``Variant``: what the answer would be after a common slip). ``diagnose``
compares a student's result with the reference and, when it is wrong, with each planted
mistake, then with generic explanations (H and W swapped, a wrong shape, a constant factor, a
shift, NaN, a wrong dtype), so the feedback says *why* a result is wrong. The comparison of
one result per result kind is in ``kinds.py``, the generic explanations of an array in
``compare.py`` (``close``, ``shape_str``, ``type_desc`` and ``shifted`` are re-exported here).

``collect(exercise, fn)`` runs a function on copies of every case; ``evaluate(exercise,
outputs)`` turns ``{case name: result or ErrorResult}`` into a ``CheckResult``. The lessons'
exercises live in ``lesson1.py`` ... ``lesson9.py``; ``registry.py`` looks them up by name.
"""
from __future__ import annotations

import contextlib
import copy
import math
import sys
import traceback
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cnnlab.checks import kinds
from cnnlab.checks.compare import (MODIFIED_INPUT, _Diagnosis, changed_arguments, close,
                                   shape_str, shifted, type_desc)

__all__ = [
    "NOT_IMPLEMENTED", "MODIFIED_INPUT", "KINDS", "Case", "ErrorResult", "CheckResult",
    "Variant", "Exercise",
    "close", "shape_str", "type_desc", "call", "call_on", "describe_error", "shifted",
    "error_result", "collect", "evaluate",
]

KINDS = ("array", "tuple", "int", "ints", "choice")   # the result kinds ``kinds`` can diagnose

NOT_IMPLEMENTED = ("not implemented yet: replace `raise NotImplementedError()` with your code, "
                   "run that cell, then run this check again")


# =========================================================================== data types

@dataclass(frozen=True)
class Case:
    """One call of the student's function: ``fn(*args, **kwargs)``.

    name   : "fixed: 3x3 worked example", "random #2: stride 2, padding 1" ...
    args   : NumPy arrays and Python scalars/tuples (dicts of arrays for LeNet) only
    kwargs : the same kinds of values, by parameter name
    """
    name: str
    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorResult:
    """What a case produced when the student's function raised instead of returning.

    type_name : "IndexError", "NotImplementedError", ...
    message   : str(exception), plus " [line N: `code`]" when ``check`` could find it
    """
    type_name: str
    message: str


@dataclass
class CheckResult:
    """The verdict of one exercise. Truthy exactly when every case passed.

    max_points : set by ``check`` (None from ``evaluate_outputs``). Then the plain-text value is
                 the points earned (``2.5``), nbgrader's partial credit; JupyterLab shows the
                 Markdown form: the summary and the points.
    """
    name: str
    passed: bool
    n_passed: int
    n_cases: int
    messages: list = field(default_factory=list)
    max_points: float | None = None

    def points_earned(self, points) -> float:
        """Full ``points`` when every case passes; otherwise the passed fraction of ``points``,
        rounded down to a multiple of 0.5 (never more than points - 0.5 while a case fails)."""
        points = float(points)
        if self.n_cases <= 0 or points <= 0:
            return 0.0
        if self.passed:
            return points
        earned = math.floor(points * self.n_passed / self.n_cases * 2) / 2
        return max(0.0, min(earned, points - 0.5))

    @property
    def points(self) -> float | None:
        """The points earned out of ``max_points`` (None when there is no maximum)."""
        return None if self.max_points is None else self.points_earned(self.max_points)

    def __bool__(self) -> bool:
        return bool(self.passed)

    def __str__(self) -> str:
        return "\n".join(self.messages)

    @property
    def summary(self) -> str:
        mark = "✓" if self.passed else "✗"
        return f"{mark} {self.name}: {self.n_passed}/{self.n_cases} cases passed"

    def __repr__(self) -> str:
        return (f"CheckResult(name={self.name!r}, passed={self.passed}, "
                f"n_passed={self.n_passed}, n_cases={self.n_cases})")

    def _repr_pretty_(self, p, cycle):  # text/plain of the value shown under the report
        p.text(self.summary if self.max_points is None else f"{self.points:g}")

    def _repr_markdown_(self):          # what JupyterLab shows (it prefers Markdown)
        if self.max_points is None:
            return None
        return f"{self.summary} -- **{self.points:g} of {self.max_points:g} points**"


@dataclass(frozen=True)
class Variant:
    """A planted mistake: ``fn(*case.args, **case.kwargs)`` gives what that mistake computes
    (or None when the mistake makes no difference / does not apply to this case).

    cause   : the short name ("stride ignored")
    explain : how to fix it
    fn      : computes the mistaken answer with cnnlab's functions on modified arguments
    part    : the component of a tuple answer it concerns ("dx", "dw", "db"), or None
    """
    cause: str
    explain: str
    fn: Callable
    part: str | None = None

    def text(self) -> str:
        return f"{self.cause}: {self.explain}"


# =========================================================================== calling

def call(fn, case: Case):
    """``fn(*case.args, **case.kwargs)`` on deep copies of the inputs (a function that writes
    into its input cannot change later cases), as ``call_on``."""
    return call_on(fn, copy.deepcopy(case.args), copy.deepcopy(case.kwargs))


def call_on(fn, args: tuple, kwargs: dict):
    """``fn(*args, **kwargs)`` with warnings silenced and its ``sys.stderr`` sent to
    ``sys.stdout`` (nbgrader gives a test cell that wrote to stderr no points)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def modified_input_text(names: str) -> _Diagnosis:
    """The feedback for a function that wrote into its arguments ``names`` ("x", "dout, x")."""
    first = names.split(",")[0].strip() or "x"
    return _Diagnosis(
        f"your function changed its input {names} in place (after the call it no longer holds "
        f"the values passed in). The caller's array is destroyed: in a network the backward "
        f"pass still needs the layer's input, and PyTorch's F.relu, F.softmax, ... return a NEW "
        f"tensor. Compute the result as a new array (np.maximum(x, 0) rather than "
        f"x[x < 0] = 0; z = z - m rather than z -= m), or work on a copy: "
        f"{first} = {first}.copy()", f"changed its input {names} in place")


# Hints for exceptions: (exception type, substring of the message or "", hint)
_ERROR_HINTS = [
    ("IndexError", "", "an index ran past the end of an array: compare your loop ranges with "
                       "the output size and the window with the (padded) input size"),
    ("ValueError", "broadcast", "two arrays of different shapes met; often a window slice that "
                                "ran past the edge of the input is smaller than the kernel: check "
                                "the output size and your slice bounds"),
    ("ValueError", "matmul", "the matrix shapes do not line up: a Linear layer computes "
                             "x @ W.T + b with x of shape (N, in_features)"),
    ("ValueError", "aligned", "the matrix shapes do not line up: check which axes you "
                              "multiply"),
    ("ValueError", "reshape", "the number of elements does not match the shape you asked for: "
                              "check the output size"),
    ("NameError", "", "a name is not defined: a typo, or a cell above was not run"),
    ("UnboundLocalError", "", "a variable is used before it is assigned"),
    ("TypeError", "NoneType", "something is None: does a helper of yours forget to `return`?"),
    ("TypeError", "argument", "the function is called as in the exercise's signature; keep "
                              "the given parameter names and defaults"),
    ("TypeError", "integer", "array sizes and indices must be ints: use // (floor division), "
                             "not /"),
    ("ZeroDivisionError", "", "a division by zero"),
    ("RecursionError", "", "the function calls itself without end"),
]


def describe_error(err: ErrorResult) -> str:
    """The feedback for a case that raised: the error, plus a hint for the usual causes."""
    if err.type_name == "NotImplementedError":
        return NOT_IMPLEMENTED
    if err.type_name == MODIFIED_INPUT:
        return modified_input_text(err.message)
    msg = err.message if len(err.message) <= 400 else err.message[:397] + "..."
    text = f"raised {err.type_name}: {msg}"
    for type_name, needle, hint in _ERROR_HINTS:
        if err.type_name == type_name and needle in err.message:
            return f"{text} (hint: {hint})"
    return text


# =========================================================================== exercises

class Exercise:
    """One graded function: its cases, its reference answer and its planted mistakes.

    name            : registry key == the nbgrader grade_id of the check cell, e.g. "corr2d"
    lesson          : 1..9
    function_name   : what the student defines in the notebook
    points          : default points (the notebook's nbgrader metadata carries the same number)
    title           : one line for the report header
    signature       : how the function is called, for messages: "corr2d(x, k)"
    make_cases      : rng -> list of Case (fixed ones, then random ones drawn from rng)
    reference       : the expected result, computed by cnnlab's own functions
    variants        : planted mistakes (Variant) that explain a wrong value
    kind            : "array" (one ndarray), "tuple" (several ndarrays, named by ``parts``),
                      "int" (a Python/NumPy integer), "ints" (whole numbers named by
                      ``parts``: a tuple or a dict, compared exactly) or "choice" (one of the
                      names ``choices``, a str); ``kinds`` diagnoses each
    shape_variants  : Variants whose fn gives a mistaken *shape*, to explain a wrong shape
    allowed_modules : modules the student is TOLD to use in this exercise (lesson 9 composes
                      ``cnnlab.functional``), so a grader should not flag calls into them
    exact           : for kind "int", the unfloored value of the case (explains a float answer)
    choices         : for kind "choice", the names the answer is one of
    modifies_inputs : True when the function may write into its arguments (the capstone's
                      train_step updates the weights in place, as an optimiser's step does);
                      by default a call that changes an argument fails the case
    """

    def __init__(self, name: str, lesson: int, function_name: str, points: int, title: str,
                 signature: str, make_cases: Callable, reference: Callable,
                 variants: tuple = (), kind: str = "array", parts: tuple = (),
                 shape_variants: tuple = (), allowed_modules: tuple = (),
                 exact: Callable | None = None, choices: tuple = (),
                 modifies_inputs: bool = False):
        self.name, self.lesson, self.function_name = name, lesson, function_name
        self.points, self.title, self.signature, self.kind = points, title, signature, kind
        self.parts = tuple(parts)
        self._make_cases = make_cases
        self._reference = reference
        self.variants = tuple(variants)
        self.shape_variants = tuple(shape_variants)
        self.allowed_modules = tuple(allowed_modules)
        self.exact = exact
        self.choices = tuple(choices)
        self.modifies_inputs = bool(modifies_inputs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if kind in ("tuple", "ints") and not self.parts:
            raise ValueError(f"kind {kind!r} needs parts= (the names of the values returned)")
        if (kind == "choice") != bool(self.choices):
            raise ValueError("choices= goes with kind='choice' (the names the answer is one of)")

    def __repr__(self) -> str:
        return f"<Exercise {self.name!r}: {self.signature}, lesson {self.lesson}, {self.points} pt>"

    # ------------------------------------------------------------------ the seam
    def cases(self, seed: int | None = None) -> list:
        """Fixed cases then seeded random ones; the same list (equal arrays) on every call.

        ``seed`` (optional) draws the random cases from another stream, with the same shapes
        and names: the grader uses it for fresh cases nobody could have precomputed.
        """
        key = zlib.crc32(self.name.encode())
        rng = np.random.default_rng(key if seed is None else [key, int(seed)])
        return list(self._make_cases(rng))

    def run(self, fn, case: Case):
        """One call of the student's ``fn`` on copies of ``case``'s inputs; an ErrorResult
        ``MODIFIED_INPUT`` naming the arguments the call changed, unless ``modifies_inputs``
        (an exercise that drives ``fn`` overrides this)."""
        if self.modifies_inputs:
            return call(fn, case)
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        result = call_on(fn, args, kwargs)
        changed = changed_arguments(fn, case.args, case.kwargs, args, kwargs)
        if changed:
            return ErrorResult(MODIFIED_INPUT, ", ".join(changed))
        return result

    def reference(self, *args, **kwargs):
        """The expected result, from cnnlab's own implementation."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))

    def diagnose(self, case: Case, got) -> str | None:
        """None when ``got`` is the right answer for ``case``, else a deterministic explanation."""
        if isinstance(got, ErrorResult):
            return describe_error(got)
        expected = self.reference(*case.args, **case.kwargs)
        if self.kind == "int":
            return kinds.diagnose_int(self, case, expected, got)
        if self.kind == "ints":
            return kinds.diagnose_ints(self, case, expected, got)
        if self.kind == "choice":
            return kinds.diagnose_choice(self, case, expected, got)
        if self.kind == "tuple":
            return kinds.diagnose_tuple(self, case, expected, got)
        return kinds.diagnose_array(self, case, expected, got, None)

    @staticmethod
    def planted_values(variants, case: Case, part):
        """(variant, value) of every planted mistake about ``part`` that applies to ``case``."""
        for v in variants:
            if v.part != part:
                continue
            try:
                val = call(v.fn, case)
            except Exception:
                continue
            if val is not None:
                yield v, val

    def _diagnose_array(self, case, expected, got, part):
        """``kinds.diagnose_array`` (an exercise with a kind of its own uses it per part)."""
        return kinds.diagnose_array(self, case, expected, got, part)


# =========================================================================== running and judging

def error_result(exc: BaseException, fn) -> ErrorResult:
    """The ErrorResult of ``exc`` raised by ``fn``, with the student's line when it is found."""
    message = str(exc)
    code = getattr(fn, "__code__", None)
    if code is not None and not isinstance(exc, NotImplementedError):
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == code.co_filename]
        if frames and frames[-1].line:
            message += f" [line {frames[-1].lineno}: `{frames[-1].line.strip()}`]"
    return ErrorResult(type(exc).__name__, message)


def collect(exercise: Exercise, student_fn) -> dict:
    """``{case name: result or ErrorResult}`` of ``student_fn`` on every case of ``exercise``,
    each on fresh copies of the inputs. Never raises for the student's errors."""
    outputs = {}
    for case in exercise.cases():
        if not callable(student_fn):
            outputs[case.name] = ErrorResult(
                "TypeError",
                f"{exercise.function_name} should be a function, got {type_desc(student_fn)}")
            continue
        try:
            outputs[case.name] = exercise.run(student_fn, case)
        except Exception as exc:  # the student's bug is data here, not a crash
            outputs[case.name] = error_result(exc, student_fn)
    return outputs


def evaluate(exercise: Exercise, outputs: dict) -> CheckResult:
    """The verdict on ``outputs`` (case name -> result, or an ErrorResult for a case that
    raised); a case missing from ``outputs`` fails. Does not print."""
    cases = exercise.cases()
    header = (f"Checking {exercise.signature} -- lesson {exercise.lesson}, {exercise.title}: "
              f"{len(cases)} cases")
    got_all = [outputs.get(c.name) for c in cases]
    if cases and all(isinstance(g, ErrorResult) and g.type_name == "NotImplementedError"
                     for g in got_all):
        messages = [header, f"  ✗ {NOT_IMPLEMENTED}", f"0 of {len(cases)} cases passed."]
        return CheckResult(exercise.name, False, 0, len(cases), messages)
    messages = [header]
    n_passed = 0
    seen: dict = {}
    for case in cases:
        if case.name not in outputs:
            messages.append(f"  ✗ {case.name}: no result for this case")
            continue
        got = outputs[case.name]
        try:
            diag = exercise.diagnose(case, got)
        except Exception as exc:  # a result too strange to compare
            diag = f"could not compare your result ({type_desc(got)}): {type(exc).__name__}: {exc}"
        if diag is None:
            n_passed += 1
            messages.append(f"  ✓ {case.name}")
        elif diag in seen and isinstance(got, ErrorResult) and got.type_name != MODIFIED_INPUT:
            messages.append(f"  ✗ {case.name}: the same {got.type_name} as in \"{seen[diag]}\"")
        elif diag in seen and getattr(diag, "short", diag) != diag:
            messages.append(f"  ✗ {case.name}: {diag.short} (as above)")
        else:
            seen.setdefault(diag, case.name)
            messages.append(f"  ✗ {case.name}: {diag}")
    passed = n_passed == len(cases) and len(cases) > 0
    if passed:
        messages.append(f"All {len(cases)} cases passed. Well done!")
    else:
        messages.append(f"{n_passed} of {len(cases)} cases passed. Fix the first ✗ above, "
                        f"re-run your function's cell, then this one.")
    return CheckResult(exercise.name, passed, n_passed, len(cases), messages)
