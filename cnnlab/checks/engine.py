"""The diagnosis engine: cases, verdicts, and the explanation of a wrong answer.

An ``Exercise`` knows its cases, its reference (computed by cnnlab's own functions) and its
planted mistakes (``Variant``: what the answer would be after a common slip). ``diagnose``
compares a student's result with the reference and, when it is wrong, with each planted
mistake, then with generic explanations (H and W swapped, a wrong shape, a constant factor, a
shift, NaN, a wrong dtype), so the feedback says *why* a result is wrong.

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

__all__ = [
    "NOT_IMPLEMENTED", "Case", "ErrorResult", "CheckResult", "Variant", "Exercise",
    "close", "shape_str", "type_desc", "call", "describe_error", "shifted",
    "error_result", "collect", "evaluate",
]

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


# =========================================================================== comparisons

class _Diagnosis(str):
    """A diagnosis text that also knows its short form (the cause), used to abbreviate a
    diagnosis repeated on later cases: "✗ random #2: kernel flipped (as above)"."""
    short: str

    def __new__(cls, text: str, short: str | None = None):
        obj = super().__new__(cls, text)
        obj.short = short or text
        return obj


def _matched(matches: list) -> _Diagnosis:
    """The diagnosis for the planted mistakes that reproduce the result exactly: the first one,
    plus the other causes that give the very same numbers (they cannot be told apart)."""
    first = matches[0]
    others = []
    for v in matches[1:]:
        if v.cause != first.cause and v.cause not in others:
            others.append(v.cause)
    text = first.text() + (f" (or: {'; '.join(others)})" if others else "")
    return _Diagnosis(text, first.cause)


def _tolerances(*dtypes) -> tuple[float, float]:
    """(rtol, atol) for comparing values of these dtypes: looser when float32 is involved."""
    lowp = any(np.dtype(d).kind == "f" and np.dtype(d).itemsize <= 4 for d in dtypes)
    return (1e-4, 1e-5) if lowp else (1e-6, 1e-9)


def close(expected, got) -> bool:
    """Same shape and the same values up to the rounding error of the dtypes involved."""
    try:
        expected = np.asarray(expected)
        got = np.asarray(got)
    except Exception:
        return False
    if expected.shape != got.shape or got.dtype.kind not in "biuf":
        return False
    if expected.size == 0:
        return True
    rtol, atol = _tolerances(expected.dtype, got.dtype)
    e = expected.astype(np.float64)
    g = got.astype(np.float64)
    if not np.all(np.isfinite(g)):
        return False
    scale = max(1.0, float(np.max(np.abs(e))))
    return bool(np.allclose(g, e, rtol=rtol, atol=atol * scale))


def _fmt(v) -> str:
    return f"{float(v):.6g}"


def shape_str(s) -> str:
    """A shape as Python writes it: (3,), (2, 1, 4, 4)."""
    return "(" + ", ".join(str(int(d)) for d in s) + ("," if len(s) == 1 else "") + ")"


def type_desc(x) -> str:
    """What a value is, for messages: "an array of shape (2, 2)", "a list of length 3"."""
    if isinstance(x, np.ndarray):
        return f"an array of shape {shape_str(x.shape)}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"{type(x).__name__} {x!r}"[:80]


def call(fn, case: Case):
    """``fn(*case.args, **case.kwargs)`` on deep copies of the inputs (a function that writes
    into its input cannot change later cases), warnings silenced, its ``sys.stderr`` sent to
    ``sys.stdout`` (nbgrader gives a test cell that wrote to stderr no points)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("ignore")
        return fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))


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
    msg = err.message if len(err.message) <= 400 else err.message[:397] + "..."
    text = f"raised {err.type_name}: {msg}"
    for type_name, needle, hint in _ERROR_HINTS:
        if err.type_name == type_name and needle in err.message:
            return f"{text} (hint: {hint})"
    return text


def _first_index(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])


_SHIFTS = [(0, 1), (1, 0), (1, 1), (0, -1), (-1, 0), (-1, -1), (1, -1), (-1, 1),
           (0, 2), (2, 0), (2, 2), (0, -2), (-2, 0), (-2, -2)]


def shifted(expected: np.ndarray, got: np.ndarray):
    """(dy, dx) such that got[..., i+dy, j+dx] == expected[..., i, j] on the overlap, or None."""
    if expected.ndim < 2 or expected.shape != got.shape:
        return None
    h, w = expected.shape[-2:]
    for dy, dx in _SHIFTS:
        if abs(dy) * 2 >= h or abs(dx) * 2 >= w:
            continue
        e = expected[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
        g = got[..., max(dy, 0):h - max(-dy, 0), max(dx, 0):w - max(-dx, 0)]
        if e.size >= 4 and np.any(e != 0) and close(e, g):
            return dy, dx
    return None


# =========================================================================== explaining arrays

def _not_an_array(expected: np.ndarray, got, what: str) -> str | None:
    """The problem when ``got`` is not a usable array of numbers (None, a list, NaN), else None."""
    if got is None:
        return f"{what} is None: did you forget the `return` statement?"
    if not isinstance(got, np.ndarray):
        if isinstance(got, (list, tuple, int, float, np.generic)):
            try:
                arr = np.asarray(got, dtype=np.float64)
            except Exception:
                arr = None
            if arr is not None and close(expected, arr):
                return (f"right values, but {what} is {type_desc(got)}; return a NumPy "
                        f"array (np.array(...)) of dtype {expected.dtype}")
        return (f"expected a NumPy array of shape {shape_str(expected.shape)}, "
                f"got {type_desc(got)}")
    if got.dtype.kind not in "biuf":
        return (f"{what} has dtype {got.dtype}; expected numbers "
                f"(dtype {expected.dtype})")
    if got.dtype.kind == "f" and np.isnan(got).any() and not np.isnan(expected).any():
        return (f"{what} contains NaN (first at index {_first_index(np.isnan(got))}): an "
                f"np.empty array never filled in, a 0/0, or an exp that overflowed (inf/inf)?")
    return None


def _transposed(expected: np.ndarray, got: np.ndarray, what: str) -> str | None:
    if expected.ndim < 2:
        return None
    t = np.swapaxes(expected, -1, -2)
    if close(t, got) and (t.shape != expected.shape or not close(expected, t)):
        shapes = ("" if got.shape == expected.shape else
                  f" (expected shape {shape_str(expected.shape)}, got {shape_str(got.shape)})")
        return _Diagnosis(
            f"H and W swapped: {what} is the expected one transposed{shapes}; the first "
            f"spatial index is the row (height), the second the column (width)",
            "H and W swapped")
    return None


def _wrong_shape(expected: np.ndarray, got: np.ndarray, shape_hints: list) -> str:
    text = f"wrong shape: expected {shape_str(expected.shape)}, got {shape_str(got.shape)}"
    if shape_hints:
        return text + f" ({shape_hints[0]})"
    if got.ndim == expected.ndim >= 2 and got.shape[:-2] == expected.shape[:-2]:
        extra = []
        for n, axis in zip(np.subtract(got.shape[-2:], expected.shape[-2:]), ("row", "column")):
            if n:
                extra.append(f"{abs(n)} {axis}{'s' if abs(n) > 1 else ''} too "
                             f"{'many' if n > 0 else 'few'}")
        text += f" ({' and '.join(extra)}: check the output-size formula)"
    return text


def _wrong_values(expected: np.ndarray, got: np.ndarray, what: str) -> str:
    """Same shape, other numbers: all zeros, a constant factor, a shift, or where they differ."""
    if expected.size and not np.any(got) and np.any(expected):
        return f"{what} is all zeros: is the output ever written to?"
    e64 = expected.astype(np.float64)
    g64 = got.astype(np.float64)
    denom = float(np.sum(e64 * e64))
    if denom > 0:
        c = float(np.sum(e64 * g64)) / denom
        if abs(c - 1) > 1e-3 and abs(c) > 1e-6 and close(c * e64, g64):
            return (f"{what} is exactly {c:.4g} times the expected values: a missing or "
                    f"extra factor (a wrong normalisation?)")
    shift = shifted(e64, g64)
    if shift is not None:
        dy, dx = shift
        return (f"{what} is the expected one shifted by {dy:+d} row(s) and {dx:+d} column(s): "
                f"the windows are misplaced (padding on one side only? an index off by one?)")
    rtol, atol = _tolerances(expected.dtype, got.dtype)
    scale = max(1.0, float(np.max(np.abs(e64))))
    bad = ~np.isclose(g64, e64, rtol=rtol, atol=atol * scale)
    idx = _first_index(bad)
    worst = float(np.max(np.abs(g64 - e64)))
    return (f"wrong values in {int(bad.sum())} of {bad.size} entries; first at index {idx}: "
            f"expected {_fmt(e64[idx])}, got {_fmt(g64[idx])} "
            f"(largest difference {worst:.3g})")


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
    kind            : "array" (one ndarray), "tuple" (several ndarrays, named by ``parts``) or
                      "int" (a Python/NumPy integer)
    shape_variants  : Variants whose fn gives a mistaken *shape*, to explain a wrong shape
    allowed_modules : modules the student is TOLD to use in this exercise (lesson 9 composes
                      ``cnnlab.functional``), so a grader should not flag calls into them
    exact           : for kind "int", the unfloored value of the case (explains a float answer)
    """

    def __init__(self, name: str, lesson: int, function_name: str, points: int, title: str,
                 signature: str, make_cases: Callable, reference: Callable,
                 variants: tuple = (), kind: str = "array", parts: tuple = (),
                 shape_variants: tuple = (), allowed_modules: tuple = (),
                 exact: Callable | None = None):
        self.name, self.lesson, self.function_name = name, lesson, function_name
        self.points, self.title, self.signature, self.kind = points, title, signature, kind
        self.parts = tuple(parts)
        self._make_cases = make_cases
        self._reference = reference
        self.variants = tuple(variants)
        self.shape_variants = tuple(shape_variants)
        self.allowed_modules = tuple(allowed_modules)
        self.exact = exact

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
        """One call of the student's ``fn`` on ``case`` (an exercise that drives it overrides this)."""
        return call(fn, case)

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
            return self._diagnose_int(case, expected, got)
        if self.kind == "tuple":
            return self._diagnose_tuple(case, expected, got)
        return self._diagnose_array(case, expected, got, None)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _values(variants, case: Case, part):
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

    def _diagnose_int(self, case, expected, got):
        if got is None:
            return "returned None: did you forget the `return` statement?"
        if isinstance(got, (bool, np.bool_)):
            return f"returned a bool ({got!r}); expected the integer {expected}"
        if isinstance(got, np.ndarray) and got.ndim == 0:
            got = got[()]
        if isinstance(got, (float, np.floating)):
            g = float(got)
            if not math.isfinite(g):
                return f"returned {g!r}; expected the integer {expected}"
            if g == expected:
                return (f"right value, but a float ({g!r}): a number of window positions is a "
                        f"whole number; return an int (use // for the floor division, or int())")
            exact = self.exact(*case.args) if self.exact is not None else None
            if exact is not None and abs(g - exact) < 1e-9:
                return (f"returned the unfloored value {g:.4g}: the window fits only "
                        f"{expected} whole times, so the size is floored: "
                        f"floor((n + 2p - d(f-1) - 1)/s) + 1 (use //)")
            value = g
        elif isinstance(got, (int, np.integer)):
            if int(got) == expected:
                return None
            value = int(got)
        else:
            return f"expected an int, got {type_desc(got)}"
        matches = [v for v, val in self._values(self.variants, case, None) if val == value]
        if matches:
            return _matched(matches)
        return f"expected {expected}, got {_fmt(value) if isinstance(value, float) else value}"

    def _diagnose_tuple(self, case, expected, got):
        names = ", ".join(self.parts)
        if isinstance(got, np.ndarray):
            return (f"expected a tuple ({names}) of {len(self.parts)} arrays, got a single "
                    f"array of shape {shape_str(got.shape)}")
        if not isinstance(got, (tuple, list)):
            return f"expected a tuple ({names}), got {type_desc(got)}"
        if len(got) != len(self.parts):
            return f"expected a tuple ({names}) of {len(self.parts)} arrays, got {len(got)} values"
        problems, shorts = [], []
        for part, e, g in zip(self.parts, expected, got):
            d = self._diagnose_array(case, e, g, part)
            if d:
                problems.append(f"{part}: {d}")
                shorts.append(f"{part}: {getattr(d, 'short', d)}")
        if not problems:
            return None
        return _Diagnosis("\n      ".join(problems), "; ".join(shorts))

    def _diagnose_array(self, case, expected, got, part):
        what = part or "your result"
        expected = np.asarray(expected)
        problem = _not_an_array(expected, got, what)
        if problem is not None:
            return problem
        if got.shape == expected.shape and close(expected, got):
            if got.dtype != expected.dtype:
                return (f"wrong dtype: expected {expected.dtype} (the dtype of the input), got "
                        f"{got.dtype}; create the output with the input's dtype, e.g. "
                        f"np.zeros(shape, dtype=x.dtype)")
            return None
        matches, shape_hints = self._planted(case, part, expected, got)
        if matches:
            return _matched(matches)
        explained = _transposed(expected, got, what)
        if explained is not None:
            return explained
        if got.shape != expected.shape:
            return _wrong_shape(expected, got, shape_hints)
        return _wrong_values(expected, got, what)

    def _planted(self, case, part, expected, got) -> tuple[list, list]:
        """The planted mistakes that give exactly ``got``, and hints for its (wrong) shape."""
        shape_hints, matches = [], []
        for v, val in self._values(self.variants, case, part):
            val = np.asarray(val)
            if close(val, got):
                matches.append(v)
            elif val.shape == got.shape and val.shape != expected.shape:
                shape_hints.append(f"that is the shape you get with: {v.cause}")
        for v, s in self._values(self.shape_variants, case, part):
            if tuple(s) == got.shape and tuple(s) != expected.shape:
                shape_hints.append(v.cause)
        return matches, shape_hints


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
        elif diag in seen and isinstance(got, ErrorResult):
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
