"""Exercise checks with diagnostic feedback: ``cnnlab.check("corr2d", corr2d)``.

Every exercise of the course (``EXERCISES``, one entry per graded function in ``solutions/``)
knows

* its **cases**: a few fixed, hand-checkable ones and a few seeded random ones (always the same);
* its **reference**: the answer, computed by cnnlab's own functions (``cnnlab.functional``,
  ``cnnlab.models``), never by math re-written here;
* its **planted mistakes**: what the answer would be after a common slip (stride ignored,
  kernel flipped, padding on one side only, channels not summed, ...), again computed with
  cnnlab's functions on modified arguments. When a student's result is wrong, it is compared
  with each of them, so the feedback can say *why* it is wrong, not only *that* it is.

``check(name, student_fn)`` runs the student's function in the student's kernel on copies of the
case inputs, collects the results into a dict ``{case name: result or ErrorResult}`` and hands
that to ``evaluate_outputs(name, outputs)``, which decides the verdict. The batch grader
(``cnnlab.grade``) calls ``evaluate_outputs`` in its own process with results read back from
the submission's kernel, so a notebook cannot change its own score by patching ``check``.

The printed text is deterministic (same function, same text), one line per case::

    Checking corr2d(x, k) -- lesson 1, single-channel valid cross-correlation: 6 cases
      ✓ fixed: 3x3 worked example (answer [[19, 25], [37, 43]])
      ✗ fixed: 4x6 input, asymmetric 2x3 kernel: kernel flipped: ...
    4 of 6 cases passed.

Partial credit (``CheckResult.points_earned(points)``): all cases pass -> full points;
otherwise ``points * passed / cases``, rounded DOWN to a multiple of 0.5 (so a function
that is right on 5 of 6 cases of a 3-point exercise earns 2.5, one that only gets the
worked example right earns 0.5, and nothing earns full marks without passing everything).
"""
from __future__ import annotations

import copy
import math
import traceback
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cnnlab import functional as F
from cnnlab._windows import col2im, window_view
from cnnlab.kernels import IMAGE_KERNELS

__all__ = [
    "Case", "ErrorResult", "CheckResult", "Exercise", "Variant", "EXERCISES",
    "check", "evaluate_outputs", "collect_outputs", "NOT_IMPLEMENTED",
]

NOT_IMPLEMENTED = ("not implemented yet: replace `raise NotImplementedError()` with your code, "
                   "run that cell, then run this check again")


# =========================================================================== data types

@dataclass(frozen=True)
class Case:
    """One call of the student's function: ``fn(*args, **kwargs)``."""
    name: str        # "fixed: 3x3 worked example", "random #2: stride 2, padding 1" ...
    args: tuple      # numpy arrays and Python scalars/tuples only
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorResult:
    """What a case produced when the student's function raised instead of returning."""
    type_name: str   # "IndexError", "NotImplementedError", ...
    message: str     # str(exception), plus " [line N: `code`]" when check() could find it


@dataclass
class CheckResult:
    """The verdict of one exercise. Truthy exactly when every case passed."""
    name: str
    passed: bool
    n_passed: int
    n_cases: int
    messages: list = field(default_factory=list)

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

    def _repr_pretty_(self, p, cycle):  # what a notebook shows under the printed report
        p.text(self.summary)


@dataclass(frozen=True)
class Variant:
    """A planted mistake: ``fn(*case.args, **case.kwargs)`` gives what that mistake computes
    (or None when the mistake makes no difference / does not apply to this case).

    ``cause`` is the short name ("stride ignored"), ``explain`` says how to fix it, ``part``
    names the component of a tuple answer it concerns ("dx", "dw", "db") or is None.
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


def _matched(matches: list, prefix: str = "") -> "_Diagnosis":
    """The diagnosis for the planted mistakes that reproduce the result exactly: the first one,
    plus the other causes that give the very same numbers (they cannot be told apart)."""
    first = matches[0]
    others = []
    for v in matches[1:]:
        if v.cause != first.cause and v.cause not in others:
            others.append(v.cause)
    text = first.text() + (f" (or: {'; '.join(others)})" if others else "")
    return _Diagnosis(prefix + text, prefix + first.cause)

def _is_lowp(dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype.kind == "f" and dtype.itemsize <= 4


def _close(expected, got) -> bool:
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
    lowp = _is_lowp(expected.dtype) or _is_lowp(got.dtype)
    rtol, atol = (1e-4, 1e-5) if lowp else (1e-6, 1e-9)
    e = expected.astype(np.float64)
    g = got.astype(np.float64)
    if not np.all(np.isfinite(g)):
        return False
    scale = max(1.0, float(np.max(np.abs(e))))
    return bool(np.allclose(g, e, rtol=rtol, atol=atol * scale))


def _fmt(v) -> str:
    return f"{float(v):.6g}"


def _shape(s) -> str:
    return "(" + ", ".join(str(int(d)) for d in s) + ("," if len(s) == 1 else "") + ")"


def _type_desc(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {_shape(x.shape)}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"{type(x).__name__} {x!r}"[:80]


def _copy(obj):
    """Deep copy of case inputs, so a function that writes into its input cannot change the
    case for the reference, the planted mistakes or later cases."""
    return copy.deepcopy(obj)


def _call(fn, case: Case):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*_copy(case.args), **_copy(case.kwargs))


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


def _describe_error(err: ErrorResult) -> str:
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


def _shifted(expected: np.ndarray, got: np.ndarray):
    """(dy, dx) such that got[..., i+dy, j+dx] == expected[..., i, j] on the overlap, or None."""
    if expected.ndim < 2 or expected.shape != got.shape:
        return None
    h, w = expected.shape[-2:]
    for dy, dx in _SHIFTS:
        if abs(dy) * 2 >= h or abs(dx) * 2 >= w:
            continue
        e = expected[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
        g = got[..., max(dy, 0):h - max(-dy, 0), max(dx, 0):w - max(-dx, 0)]
        if e.size >= 4 and np.any(e != 0) and _close(e, g):
            return dy, dx
    return None


# =========================================================================== exercises

class Exercise:
    """One graded function: its cases, its reference answer and its planted mistakes.

    name           registry key == the nbgrader grade_id of the check cell, e.g. "corr2d"
    lesson         1..7
    function_name  what the student defines in the notebook
    points         default points (the notebook's nbgrader metadata carries the same number)
    title          one line for the report header
    signature      how the function is called, for messages: "corr2d(x, k)"
    kind           "array" (one ndarray), "tuple" (several ndarrays, named by ``parts``) or
                   "int" (a Python/NumPy integer)
    allowed_modules  modules the student is TOLD to use in this exercise (lesson 7 composes
                   ``cnnlab.functional``), so a grader should not flag calls into them
    """

    def __init__(self, name: str, lesson: int, function_name: str, points: int, title: str,
                 signature: str, make_cases: Callable, reference: Callable,
                 variants: tuple = (), kind: str = "array", parts: tuple = (),
                 shape_variants: tuple = (), allowed_modules: tuple = ()):
        self.name = name
        self.lesson = lesson
        self.function_name = function_name
        self.points = points
        self.title = title
        self.signature = signature
        self.kind = kind
        self.parts = tuple(parts)
        self._make_cases = make_cases
        self._reference = reference
        self.variants = tuple(variants)
        self.shape_variants = tuple(shape_variants)   # only used to explain a wrong shape
        self.allowed_modules = tuple(allowed_modules)

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

    def reference(self, *args, **kwargs):
        """The expected result, from cnnlab's own implementation."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._reference(*_copy(args), **_copy(kwargs))

    def diagnose(self, case: Case, got) -> str | None:
        """None when ``got`` is the right answer for ``case``, else a deterministic explanation."""
        if isinstance(got, ErrorResult):
            return _describe_error(got)
        expected = self.reference(*case.args, **case.kwargs)
        if self.kind == "int":
            return self._diagnose_int(case, expected, got)
        if self.kind == "tuple":
            return self._diagnose_tuple(case, expected, got)
        return self._diagnose_array(case, expected, got, None)

    # ------------------------------------------------------------------ helpers
    def _variant_values(self, case: Case, part):
        for v in self.variants:
            if v.part != part:
                continue
            try:
                val = _call(v.fn, case)
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
            exact = F.output_size_exact(*case.args) if self.name == "output_size" else None
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
            return f"expected an int, got {_type_desc(got)}"
        matches = [v for v, val in self._variant_values(case, None) if val == value]
        if matches:
            return _matched(matches)
        return f"expected {expected}, got {_fmt(value) if isinstance(value, float) else value}"

    def _diagnose_tuple(self, case, expected, got):
        names = ", ".join(self.parts)
        if isinstance(got, np.ndarray):
            return (f"expected a tuple ({names}) of {len(self.parts)} arrays, got a single "
                    f"array of shape {_shape(got.shape)}")
        if not isinstance(got, (tuple, list)):
            return f"expected a tuple ({names}), got {_type_desc(got)}"
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
        if got is None:
            return f"{what} is None: did you forget the `return` statement?"
        if not isinstance(got, np.ndarray):
            if isinstance(got, (list, tuple, int, float, np.generic)):
                try:
                    arr = np.asarray(got, dtype=np.float64)
                except Exception:
                    arr = None
                if arr is not None and _close(expected, arr):
                    return (f"right values, but {what} is {_type_desc(got)}; return a NumPy "
                            f"array (np.array(...)) of dtype {expected.dtype}")
            return (f"expected a NumPy array of shape {_shape(expected.shape)}, "
                    f"got {_type_desc(got)}")
        if got.dtype.kind not in "biuf":
            return (f"{what} has dtype {got.dtype}; expected numbers "
                    f"(dtype {expected.dtype})")
        if got.dtype.kind == "f" and np.isnan(got).any() and not np.isnan(expected).any():
            return (f"{what} contains NaN (first at index {_first_index(np.isnan(got))}): "
                    f"an np.empty array never filled in, or a 0/0?")
        if got.shape == expected.shape and _close(expected, got):
            if got.dtype != expected.dtype:
                return (f"wrong dtype: expected {expected.dtype} (the dtype of the input), got "
                        f"{got.dtype}; create the output with the input's dtype, e.g. "
                        f"np.zeros(shape, dtype=x.dtype)")
            return None
        # a planted mistake that explains the values exactly
        shape_matches, matches = [], []
        for v, val in self._variant_values(case, part):
            val = np.asarray(val)
            if _close(val, got):
                matches.append(v)
            elif val.shape == got.shape and val.shape != expected.shape:
                shape_matches.append(f"that is the shape you get with: {v.cause}")
        if matches:
            return _matched(matches)
        for v in self.shape_variants:
            if v.part != part:
                continue
            try:
                s = _call(v.fn, case)
            except Exception:
                continue
            if s is not None and tuple(s) == got.shape and tuple(s) != expected.shape:
                shape_matches.append(v.cause)
        # generic explanations
        if expected.ndim >= 2:
            t = np.swapaxes(expected, -1, -2)
            if _close(t, got) and (t.shape != expected.shape or not _close(expected, t)):
                shapes = ("" if got.shape == expected.shape else
                          f" (expected shape {_shape(expected.shape)}, got {_shape(got.shape)})")
                return _Diagnosis(
                    f"H and W swapped: {what} is the expected one transposed{shapes}; the first "
                    f"spatial index is the row (height), the second the column (width)",
                    "H and W swapped")
        if got.shape != expected.shape:
            text = f"wrong shape: expected {_shape(expected.shape)}, got {_shape(got.shape)}"
            if shape_matches:
                text += f" ({shape_matches[0]})"
            elif got.ndim == expected.ndim >= 2 and got.shape[:-2] == expected.shape[:-2]:
                extra = []
                for n, what_ in zip(np.subtract(got.shape[-2:], expected.shape[-2:]), ("row", "column")):
                    if n:
                        extra.append(f"{abs(n)} {what_}{'s' if abs(n) > 1 else ''} too "
                                     f"{'many' if n > 0 else 'few'}")
                text += f" ({' and '.join(extra)}: check the output-size formula)"
            return text
        if expected.size and not np.any(got) and np.any(expected):
            return f"{what} is all zeros: is the output ever written to?"
        e64 = expected.astype(np.float64)
        g64 = got.astype(np.float64)
        denom = float(np.sum(e64 * e64))
        if denom > 0:
            c = float(np.sum(e64 * g64)) / denom
            if abs(c - 1) > 1e-3 and abs(c) > 1e-6 and _close(c * e64, g64):
                return (f"{what} is exactly {c:.4g} times the expected values: a missing or "
                        f"extra factor (a wrong normalisation?)")
        shift = _shifted(e64, g64)
        if shift is not None:
            dy, dx = shift
            return (f"{what} is the expected one shifted by {dy:+d} row(s) and {dx:+d} column(s): "
                    f"the windows are misplaced (padding on one side only? an index off by one?)")
        lowp = _is_lowp(expected.dtype) or _is_lowp(got.dtype)
        rtol, atol = (1e-4, 1e-5) if lowp else (1e-6, 1e-9)
        scale = max(1.0, float(np.max(np.abs(e64))))
        bad = ~np.isclose(g64, e64, rtol=rtol, atol=atol * scale)
        idx = _first_index(bad)
        worst = float(np.max(np.abs(g64 - e64)))
        return (f"wrong values in {int(bad.sum())} of {bad.size} entries; first at index {idx}: "
                f"expected {_fmt(e64[idx])}, got {_fmt(g64[idx])} "
                f"(largest difference {worst:.3g})")


# =========================================================================== helpers for cases

def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def _pad_hw(x, top, bottom, left, right, value=0.0):
    """Pad the last two axes (to build a planted mistake's input)."""
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(x, widths, constant_values=value)


def _rand(rng, shape, dtype=np.float64, low=-3, high=4):
    """Small integers as floats: results are exact and easy to read."""
    return rng.integers(low, high, size=shape).astype(dtype)


def _randn(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def _hw(a) -> str:
    return "x".join(str(d) for d in a.shape[-2:])


def _unless_equal(a, b):
    """A planted mistake's value, or None when it coincides with the right answer."""
    return None if _close(a, b) and np.shape(a) == np.shape(b) else a


# =========================================================================== lesson 1

def _corr2d_cases(rng):
    x = np.arange(9.0).reshape(3, 3)
    k = np.array([[0.0, 1.0], [2.0, 3.0]])
    cases = [Case("fixed: 3x3 worked example (answer [[19, 25], [37, 43]])", (x, k), {})]
    x = np.arange(24.0).reshape(4, 6)
    k = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    cases.append(Case("fixed: 4x6 input, asymmetric 2x3 kernel", (x, k), {}))
    x = _rand(rng, (3, 4))
    cases.append(Case("fixed: kernel as large as the input (one output value)", (x, x[::-1].copy()), {}))
    for i, (xs, ks, dtype) in enumerate([((5, 7), (3, 3), np.float64), ((6, 5), (2, 4), np.float64),
                                         ((7, 6), (3, 2), np.float32), ((4, 8), (1, 3), np.float64)], 1):
        x, k = _randn(rng, xs, dtype), _randn(rng, ks, dtype)
        name = f"random #{i}: {_hw(x)} input, {_hw(k)} kernel" + (", float32" if dtype == np.float32 else "")
        cases.append(Case(name, (x, k), {}))
    return cases


def _corr2d_reference(x, k):
    return F.correlate2d(x, k, mode="valid")


_CORR2D_VARIANTS = (
    Variant("kernel flipped", "your result is the CONVOLUTION (kernel rotated by 180°); "
            "cross-correlation uses the kernel as it is: out[i, j] = sum(x[i:i+kH, j:j+kW] * k)",
            lambda x, k: _unless_equal(F.convolve2d(x, k, "valid"), F.correlate2d(x, k, "valid"))),
    Variant("kernel transposed", "you used k.T; keep the kernel's rows as rows",
            lambda x, k: F.correlate2d(x, k.T, "valid") if k.T.shape <= x.shape else None),
    Variant("output too small (missing +1)", "the output size is H - kH + 1 by W - kW + 1: the "
            "window fits H - kH + 1 times, including the first and the last position",
            lambda x, k: F.correlate2d(x, k, "valid")[:-1, :-1]),
    Variant("output too small (missing +1)", "the output size is H - kH + 1 (rows): the window "
            "fits H - kH + 1 times, including the first and the last position",
            lambda x, k: F.correlate2d(x, k, "valid")[:-1, :]),
    Variant("output too small (missing +1)", "the output size is W - kW + 1 (columns): the "
            "window fits W - kW + 1 times, including the first and the last position",
            lambda x, k: F.correlate2d(x, k, "valid")[:, :-1]),
    Variant("output has the input's shape", "a valid cross-correlation is (H - kH + 1, W - kW + 1); "
            "your extra rows/columns are zeros",
            lambda x, k: _pad_hw(F.correlate2d(x, k, "valid"), 0, k.shape[0] - 1, 0, k.shape[1] - 1)),
    Variant("zero padding used ('full' mode)", "valid cross-correlation only uses windows that fit "
            "entirely inside the input, no padding", lambda x, k: F.correlate2d(x, k, "full")),
    Variant("zero padding used ('same' mode)", "valid cross-correlation only uses windows that fit "
            "entirely inside the input, no padding", lambda x, k: F.correlate2d(x, k, "same")),
)


# =========================================================================== lesson 2

def _image_kernels():
    return IMAGE_KERNELS


def _same_cases(rng):
    ker = _image_kernels()
    cases = [Case("fixed: box blur of a 5x5 image of ones (corners 4/9, edges 6/9, inside 1)",
                  (np.ones((5, 5)), ker["box blur"].copy()), {})]
    img = np.arange(20.0).reshape(4, 5)
    cases.append(Case("fixed: 4x5 ramp, Sobel x", (img, ker["Sobel x (vertical edges)"].copy()), {}))
    asym = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, -1.0], [3.0, 0.0, 0.0]])
    cases.append(Case("fixed: 4x5 ramp, asymmetric kernel", (img, asym), {}))
    for i, (shape, dtype) in enumerate([((6, 8), np.float64), ((7, 5), np.float64),
                                        ((5, 9), np.float32)], 1):
        x, k = _randn(rng, shape, dtype), _randn(rng, (3, 3), dtype)
        cases.append(Case(f"random #{i}: {_hw(x)} image, random 3x3 kernel"
                          + (", float32" if dtype == np.float32 else ""), (x, k), {}))
    return cases


def _same_reference(image, kernel):
    return F.correlate2d(image, kernel, mode="same")


def _valid_of_padded(image, kernel, top, bottom, left, right, mode="constant"):
    if mode == "constant":
        xp = _pad_hw(image, top, bottom, left, right)
    else:
        xp = np.pad(image, ((top, bottom), (left, right)), mode=mode)
    return F.correlate2d(xp, kernel, "valid")


_SAME_VARIANTS = (
    Variant("kernel flipped", "your result is a CONVOLUTION (kernel rotated by 180°); apply the "
            "kernel as it is (cross-correlation), as CNN layers do",
            lambda x, k: _unless_equal(F.convolve2d(x, k, "same"), F.correlate2d(x, k, "same"))),
    Variant("no padding", "your output is (H-2, W-2), the 'valid' part; pad the image with one "
            "row/column of zeros on EVERY side first, so the output keeps the image's shape",
            lambda x, k: F.correlate2d(x, k, "valid")),
    Variant("padding on one side only", "you put two rows/columns of zeros at the top/left; "
            "'same' padding puts one on each side",
            lambda x, k: _valid_of_padded(x, k, 2, 0, 2, 0)),
    Variant("padding on one side only", "you put two rows/columns of zeros at the bottom/right; "
            "'same' padding puts one on each side",
            lambda x, k: _valid_of_padded(x, k, 0, 2, 0, 2)),
    Variant("padding on one side only", "you padded one row/column at the top/left only; 'same' "
            "padding puts one on each side", lambda x, k: _valid_of_padded(x, k, 1, 0, 1, 0)),
    Variant("padding on one side only", "you padded one row/column at the bottom/right only; "
            "'same' padding puts one on each side", lambda x, k: _valid_of_padded(x, k, 0, 1, 0, 1)),
    Variant("edge values used as padding", "you padded with copies of the border pixels "
            "(np.pad mode 'edge'); this exercise pads with zeros",
            lambda x, k: _valid_of_padded(x, k, 1, 1, 1, 1, mode="edge")),
    Variant("reflected padding", "you padded by reflection; this exercise pads with zeros",
            lambda x, k: _valid_of_padded(x, k, 1, 1, 1, 1, mode="reflect")),
    Variant("padded but not cropped ('full' mode)", "with one zero row/column on each side a 3x3 "
            "kernel gives an output of the image's shape; you padded by 2",
            lambda x, k: F.correlate2d(x, k, "full")),
)


def _sobel_parts(image):
    ker = _image_kernels()
    gx = F.correlate2d(image, ker["Sobel x (vertical edges)"].astype(image.dtype), mode="same")
    gy = F.correlate2d(image, ker["Sobel y (horizontal edges)"].astype(image.dtype), mode="same")
    return gx, gy


def _sobel_cases(rng):
    step = np.zeros((5, 6))
    step[:, 3:] = 1.0
    cases = [Case("fixed: 5x6 vertical step edge", (step,), {})]
    sq = np.zeros((6, 6))
    sq[2:4, 2:4] = 1.0
    cases.append(Case("fixed: 6x6 image with a bright 2x2 square", (sq,), {}))
    cases.append(Case("fixed: 4x5 diagonal ramp", (np.add.outer(np.arange(4.0), 2 * np.arange(5.0)),), {}))
    for i, (shape, dtype) in enumerate([((7, 9), np.float64), ((8, 6), np.float32)], 1):
        x = rng.random(shape).astype(dtype)
        cases.append(Case(f"random #{i}: {_hw(x)} image" + (", float32" if dtype == np.float32 else ""),
                          (x,), {}))
    return cases


def _sobel_reference(image):
    gx, gy = _sobel_parts(image)
    return np.sqrt(gx * gx + gy * gy)


def _sobel_edge_padded(image):
    ker = _image_kernels()
    xp = np.pad(image, 1, mode="edge")
    gx = F.correlate2d(xp, ker["Sobel x (vertical edges)"].astype(image.dtype), "valid")
    gy = F.correlate2d(xp, ker["Sobel y (horizontal edges)"].astype(image.dtype), "valid")
    return np.sqrt(gx * gx + gy * gy)


def _sobel_valid(image):
    ker = _image_kernels()
    gx = F.correlate2d(image, ker["Sobel x (vertical edges)"].astype(image.dtype), "valid")
    gy = F.correlate2d(image, ker["Sobel y (horizontal edges)"].astype(image.dtype), "valid")
    return np.sqrt(gx * gx + gy * gy)


_SOBEL_VARIANTS = (
    Variant("only the x gradient", "you returned |Gx|; the magnitude combines both directions: "
            "sqrt(Gx**2 + Gy**2)", lambda x: _unless_equal(np.abs(_sobel_parts(x)[0]), _sobel_reference(x))),
    Variant("only the y gradient", "you returned |Gy|; the magnitude combines both directions: "
            "sqrt(Gx**2 + Gy**2)", lambda x: _unless_equal(np.abs(_sobel_parts(x)[1]), _sobel_reference(x))),
    Variant("square root missing", "you returned Gx**2 + Gy**2; the magnitude is its square root",
            lambda x: sum(g * g for g in _sobel_parts(x))),
    Variant("|Gx| + |Gy| instead of the Euclidean magnitude", "use sqrt(Gx**2 + Gy**2)",
            lambda x: sum(np.abs(g) for g in _sobel_parts(x))),
    Variant("Gx + Gy added without squaring", "use sqrt(Gx**2 + Gy**2)",
            lambda x: sum(_sobel_parts(x))),
    Variant("edge values used as padding", "you padded with copies of the border pixels; this "
            "exercise pads with zeros (as correlate_same)", _sobel_edge_padded),
    Variant("no padding", "your output is (H-2, W-2); pad with one row/column of zeros on every "
            "side (use your correlate_same), so the output keeps the image's shape", _sobel_valid),
)


# =========================================================================== lesson 3

def _output_size_cases(rng):
    fixed = [
        ((5, 3, 1, 0, 1), "no stride, padding or dilation"),
        ((7, 3, 2, 0, 1), "stride 2"),
        ((7, 3, 3, 0, 1), "stride 3 does not fit: (7-3)/3 + 1 = 2.33"),
        ((28, 5, 1, 2, 1), "LeNet's conv1: 'same' padding 2"),
        ((10, 3, 1, 0, 2), "dilation 2"),
        ((32, 3, 2, 1, 1), "stride 2, padding 1, does not fit"),
        ((11, 3, 2, 1, 2), "stride, padding and dilation"),
        ((6, 2, 2, 0, 1), "stride 2 fits exactly"),
    ]
    cases = [Case(f"fixed: n={a[0]}, f={a[1]}, s={a[2]}, p={a[3]}, d={a[4]} ({why})", a, {})
             for a, why in fixed]
    made = 0
    while made < 4:
        n, f = int(rng.integers(5, 40)), int(rng.integers(1, 8))
        s, p, d = int(rng.integers(1, 5)), int(rng.integers(0, 4)), int(rng.integers(1, 4))
        if d * (f - 1) + 1 > n + 2 * p:
            continue
        made += 1
        cases.append(Case(f"random #{made}: n={n}, f={f}, s={s}, p={p}, d={d}", (n, f, s, p, d), {}))
    return cases


def _output_size_reference(n, f, s=1, p=0, d=1):
    return F.output_size(n, f, s, p, d)


def _exact(n, f, s, p, d):
    return F.output_size_exact(n, f, s, p, d)


_OUTPUT_SIZE_VARIANTS = (
    Variant("ceil instead of floor", "a window that would run past the (padded) input does not "
            "count; floor the division: (n + 2p - d(f-1) - 1) // s + 1",
            lambda n, f, s, p, d: math.ceil(_exact(n, f, s, p, d) - 1) + 1),
    Variant("missing +1", "the window also sits at the first position: "
            "floor((n + 2p - d(f-1) - 1)/s) + 1", lambda n, f, s, p, d: F.output_size(n, f, s, p, d) - 1),
    Variant("stride ignored", "divide by the stride s: floor((n + 2p - d(f-1) - 1)/s) + 1",
            lambda n, f, s, p, d: F.output_size(n, f, 1, p, d)),
    Variant("dilation ignored", "a dilated kernel spans d(f-1) + 1 pixels: "
            "floor((n + 2p - d(f-1) - 1)/s) + 1", lambda n, f, s, p, d: F.output_size(n, f, s, p, 1)),
    Variant("padding counted once", "padding p is added on BOTH sides: n + 2p",
            lambda n, f, s, p, d: F.output_size(n + p, f, s, 0, d)),
    Variant("dilated kernel size d*f", "a dilated kernel spans d(f-1) + 1 pixels, not d*f",
            lambda n, f, s, p, d: F.output_size(n - (d - 1), f, s, p, d)),
    Variant("+1 missing inside (n + 2p - f)/s", "the formula is floor((n + 2p - d(f-1) - 1)/s) + 1",
            lambda n, f, s, p, d: (n + 2 * p - d * (f - 1)) // s + 1),
    Variant("rounded instead of floored", "use floor division //",
            lambda n, f, s, p, d: math.floor(_exact(n, f, s, p, d) - 1 + 0.5) + 1),
)


def _single(x, k, stride=1, padding=0, dilation=1):
    return F.conv2d(x[None, None], k[None, None], stride=stride, padding=padding,
                    dilation=dilation)[0, 0]


def _strided_cases(rng):
    x5 = np.arange(25.0).reshape(5, 5)
    ones = np.ones((3, 3))
    cases = [
        Case("fixed: 5x5 ramp, 3x3 ones, stride 2 (answer [[54, 72], [144, 162]])",
             (x5, ones), dict(stride=2, padding=0, dilation=1)),
        Case("fixed: 5x5 ramp, 3x3 ones, padding 1", (x5, ones), dict(stride=1, padding=1, dilation=1)),
        Case("fixed: 7x7 ramp, 3x3 ones, dilation 2", (np.arange(49.0).reshape(7, 7), ones),
             dict(stride=1, padding=0, dilation=2)),
        Case("fixed: 7x7 ramp, 3x3 ones, stride 3 does not fit (floor: 2x2)",
             (np.arange(49.0).reshape(7, 7), ones), dict(stride=3, padding=0, dilation=1)),
    ]
    specs = [((6, 8), (3, 2), 2, 1, 1, np.float64), ((9, 7), (3, 3), 1, 2, 2, np.float64),
             ((8, 9), (2, 3), 3, 1, 1, np.float64), ((10, 8), (3, 3), 2, 1, 2, np.float32)]
    for i, (xs, ks, s, p, d, dtype) in enumerate(specs, 1):
        x, k = _randn(rng, xs, dtype), _randn(rng, ks, dtype)
        cases.append(Case(f"random #{i}: {_hw(x)} input, {_hw(k)} kernel, stride {s}, padding {p}, "
                          f"dilation {d}" + (", float32" if dtype == np.float32 else ""),
                          (x, k), dict(stride=s, padding=p, dilation=d)))
    return cases


def _strided_reference(x, k, stride=1, padding=0, dilation=1):
    return _single(x, k, stride, padding, dilation)


def _one_side(pad_fn):
    def fn(x, k, stride=1, padding=0, dilation=1):
        if padding == 0:
            return None
        return _single(pad_fn(x, padding), k, stride, 0, dilation)
    return fn


def _strided_size(fn):
    """Shape the output would have under a different size formula (to explain a wrong shape)."""
    def shape(x, k, stride=1, padding=0, dilation=1):
        return tuple(fn(n, kk, stride, padding, dilation) for n, kk in zip(x.shape, k.shape))
    return shape


def _ceil_size(n, k, s, p, d):
    return math.ceil(F.output_size_exact(n, k, s, p, d) - 1) + 1


_STRIDED_VARIANTS = (
    Variant("stride ignored", "move the window s pixels at a time: out[i, j] reads the window "
            "that starts at row i*s, column j*s (of the padded input)",
            lambda x, k, stride=1, padding=0, dilation=1:
                None if stride == 1 else _single(x, k, 1, padding, dilation)),
    Variant("padding ignored", "pad the input with p rows/columns of zeros on every side first",
            lambda x, k, stride=1, padding=0, dilation=1:
                None if padding == 0 else _single(x, k, stride, 0, dilation)),
    Variant("dilation ignored", "with dilation d the kernel taps are d pixels apart: tap (a, b) "
            "reads x[i*s + a*d, j*s + b*d]",
            lambda x, k, stride=1, padding=0, dilation=1:
                None if dilation == 1 else _single(x, k, stride, padding, 1)),
    Variant("dilation off by one", "dilation d puts d-1 gaps between the taps (d = 1 is an "
            "ordinary kernel): tap (a, b) reads x[i*s + a*d, j*s + b*d]",
            lambda x, k, stride=1, padding=0, dilation=1: _single(x, k, stride, padding, dilation + 1)),
    Variant("stride and dilation swapped", "the stride moves the window; the dilation spreads "
            "the kernel taps",
            lambda x, k, stride=1, padding=0, dilation=1:
                None if stride == dilation else _single(x, k, dilation, padding, stride)),
    Variant("padding on one side only", "you padded only the top/left; pad p on every side",
            _one_side(lambda x, p: _pad_hw(x, p, 0, p, 0))),
    Variant("padding on one side only", "you padded only the bottom/right; pad p on every side",
            _one_side(lambda x, p: _pad_hw(x, 0, p, 0, p))),
    Variant("padding on one side only", "you put all 2p rows/columns of zeros at the top/left; "
            "pad p on every side", _one_side(lambda x, p: _pad_hw(x, 2 * p, 0, 2 * p, 0))),
    Variant("padding on one side only", "you put all 2p rows/columns of zeros at the "
            "bottom/right; pad p on every side", _one_side(lambda x, p: _pad_hw(x, 0, 2 * p, 0, 2 * p))),
    Variant("kernel flipped", "your result is a convolution (kernel rotated by 180°); CNN "
            "layers cross-correlate: use the kernel as it is",
            lambda x, k, stride=1, padding=0, dilation=1:
                _unless_equal(_single(x, k[::-1, ::-1].copy(), stride, padding, dilation),
                              _single(x, k, stride, padding, dilation))),
    Variant("output too small (missing +1)", "the size is floor((n + 2p - d(f-1) - 1)/s) + 1",
            lambda x, k, **kw: _single(x, k, **kw)[:-1, :-1]),
)

_STRIDED_SHAPES = (
    Variant("that is the size with ceil instead of floor: a window that runs past the padded "
            "input does not count", "", _strided_size(_ceil_size)),
    Variant("that is the size without the +1 of floor((n + 2p - d(f-1) - 1)/s) + 1", "",
            _strided_size(lambda n, k, s, p, d: F.output_size(n, k, s, p, d) - 1)),
)


# =========================================================================== lesson 4

def _conv_cases(rng):
    x = np.arange(18.0).reshape(1, 2, 3, 3)
    w = np.array([[[[0.0, 1.0], [2.0, 3.0]], [[1.0, 0.0], [0.0, -1.0]]]])
    cases = [Case("fixed: 1 image, 2 channels of 3x3, one 2x2 filter, bias 1 "
                  "(answer [[16, 22], [34, 40]])", (x, w, np.array([1.0])),
                  dict(stride=1, padding=0))]
    specs = [(2, 3, 4, (6, 7), (3, 3), 1, 1, np.float64), (2, 2, 3, (7, 7), (3, 3), 2, 0, np.float64),
             (1, 3, 2, (8, 6), (2, 3), 2, 1, np.float64), (3, 1, 2, (5, 5), (1, 1), 1, 0, np.float64),
             (2, 4, 3, (9, 8), (3, 3), 2, 1, np.float32), (1, 3, 3, (5, 6), (3, 2), 1, 2, np.float64)]
    for i, (n, ci, co, hw, ks, s, p, dtype) in enumerate(specs, 1):
        x = _randn(rng, (n, ci) + hw, dtype)
        w = _randn(rng, (co, ci) + ks, dtype)
        b = _randn(rng, (co,), dtype)
        cases.append(Case(f"random #{i}: x {_shape(x.shape)}, w {_shape(w.shape)}, stride {s}, "
                          f"padding {p}" + (", float32" if dtype == np.float32 else ""),
                          (x, w, b), dict(stride=s, padding=p)))
    return cases


def _conv_reference(x, w, b, stride=1, padding=0):
    return F.conv2d(x, w, b, stride=stride, padding=padding)


def _conv_one_side(pad_fn):
    def fn(x, w, b, stride=1, padding=0):
        if padding == 0:
            return None
        return F.conv2d(pad_fn(x, padding), w, b, stride=stride)
    return fn


_CONV_VARIANTS = (
    Variant("bias missing", "add b[c_out] to every output value of channel c_out",
            lambda x, w, b, stride=1, padding=0:
                None if not np.any(b) else F.conv2d(x, w, None, stride=stride, padding=padding)),
    Variant("bias added twice", "add b[c_out] once per output value",
            lambda x, w, b, stride=1, padding=0:
                F.conv2d(x, w, b, stride=stride, padding=padding) + b[:, None, None]),
    Variant("bias added once per input channel", "add the bias once, after summing over the "
            "input channels, not inside that loop",
            lambda x, w, b, stride=1, padding=0:
                None if x.shape[1] == 1 else F.conv2d(x, w, b * x.shape[1], stride=stride, padding=padding)),
    Variant("channels not summed", "only the LAST input channel reached the output (did you "
            "write out = ... instead of out += ... in the loop over input channels?); a filter "
            "sums its correlations over ALL input channels",
            lambda x, w, b, stride=1, padding=0:
                None if x.shape[1] == 1 else
                F.conv2d(x[:, -1:], w[:, -1:], b, stride=stride, padding=padding)),
    Variant("channels not summed", "only the FIRST input channel reached the output; a filter "
            "sums its correlations over ALL input channels",
            lambda x, w, b, stride=1, padding=0:
                None if x.shape[1] == 1 else F.conv2d(x[:, :1], w[:, :1], b, stride=stride, padding=padding)),
    Variant("channels averaged instead of summed", "a filter SUMS its correlations over the "
            "input channels",
            lambda x, w, b, stride=1, padding=0:
                None if x.shape[1] == 1 else
                F.conv2d(x, w, None, stride=stride, padding=padding) / x.shape[1] + b[:, None, None]),
    Variant("stride ignored", "move the window `stride` pixels at a time: out[n, co, i, j] "
            "uses the window starting at row i*stride, column j*stride",
            lambda x, w, b, stride=1, padding=0:
                None if stride == 1 else F.conv2d(x, w, b, stride=1, padding=padding)),
    Variant("padding ignored", "pad every input channel with `padding` zeros on every side first",
            lambda x, w, b, stride=1, padding=0:
                None if padding == 0 else F.conv2d(x, w, b, stride=stride, padding=0)),
    Variant("padding on one side only", "you padded only the top/left; pad on every side",
            _conv_one_side(lambda x, p: _pad_hw(x, p, 0, p, 0))),
    Variant("padding on one side only", "you padded only the bottom/right; pad on every side",
            _conv_one_side(lambda x, p: _pad_hw(x, 0, p, 0, p))),
    Variant("padding on one side only", "you put all 2*padding zeros at the top/left; pad on "
            "every side", _conv_one_side(lambda x, p: _pad_hw(x, 2 * p, 0, 2 * p, 0))),
    Variant("padding on one side only", "you put all 2*padding zeros at the bottom/right; pad "
            "on every side", _conv_one_side(lambda x, p: _pad_hw(x, 0, 2 * p, 0, 2 * p))),
    Variant("kernel flipped", "your result is a convolution (each kernel rotated by 180°); "
            "conv2d in CNNs is a cross-correlation: use w as it is",
            lambda x, w, b, stride=1, padding=0:
                _unless_equal(F.conv2d(x, w[..., ::-1, ::-1].copy(), b, stride=stride, padding=padding),
                              F.conv2d(x, w, b, stride=stride, padding=padding))),
    Variant("weight axes swapped", "w has shape (C_out, C_in, kH, kW): w[co, ci] is the kernel "
            "that connects input channel ci to output channel co",
            lambda x, w, b, stride=1, padding=0:
                None if w.shape[0] != w.shape[1] else
                _unless_equal(F.conv2d(x, w.transpose(1, 0, 2, 3).copy(), b, stride=stride, padding=padding),
                              F.conv2d(x, w, b, stride=stride, padding=padding))),
    Variant("output too small (missing +1)", "the size is floor((H + 2p - kH)/stride) + 1",
            lambda x, w, b, **kw: F.conv2d(x, w, b, **kw)[..., :-1, :-1]),
)


def _conv_size(fn):
    def shape(x, w, b, stride=1, padding=0):
        return (x.shape[0], w.shape[0]) + tuple(
            fn(n, k, stride, padding, 1) for n, k in zip(x.shape[2:], w.shape[2:]))
    return shape


_CONV_SHAPES = (
    Variant("that is the size with ceil instead of floor: a window that runs past the padded "
            "input does not count", "", _conv_size(_ceil_size)),
    Variant("H and W swapped: that is the output size with height and width exchanged", "",
            lambda x, w, b, stride=1, padding=0: (x.shape[0], w.shape[0]) + tuple(
                F.output_size(n, k, stride, padding) for n, k in
                zip(x.shape[2:], w.shape[2:]))[::-1]),
    Variant("channels not summed: one output per input channel; a filter sums over all input "
            "channels", "",
            lambda x, w, b, stride=1, padding=0:
                F.conv2d(x, w, b, stride=stride, padding=padding).shape[:2] + (x.shape[1],)
                + F.conv2d(x, w, b, stride=stride, padding=padding).shape[2:]),
)


# =========================================================================== lesson 5

def _pool_cases(rng, answer):
    cases = [Case(f"fixed: 4x4 ramp 0..15, 2x2 windows (answer {answer})",
                  (np.arange(16.0).reshape(1, 1, 4, 4), 2), {})]
    specs = [((2, 3, 6, 6), 2, None, np.float64), ((2, 2, 7, 7), 3, 2, np.float64),
             ((1, 2, 5, 7), 2, None, np.float64), ((1, 2, 6, 9), (2, 3), None, np.float64),
             ((2, 1, 5, 5), 3, 1, np.float64), ((2, 3, 8, 6), 2, None, np.float32),
             ((1, 1, 9, 8), (3, 2), (2, 2), np.float64)]
    for i, (shape, k, s, dtype) in enumerate(specs, 1):
        x = _randn(rng, shape, dtype)
        kw = {} if s is None else {"stride": s}
        desc = f"random #{i}: x {_shape(shape)}, kernel_size {k}, " + (
            "stride = kernel_size (default)" if s is None else f"stride {s}")
        cases.append(Case(desc + (", float32" if dtype == np.float32 else ""), (x, k), kw))
    return cases


def _neg_inf_pad_max(x, k, s):
    kh, kw = _pair(k)
    sh, sw = _pair(s if s is not None else k)
    xp = _pad_hw(x, 0, sh - 1, 0, sw - 1, value=-np.inf)
    out = F.max_pool2d(xp, (kh, kw), (sh, sw))
    return None if out.shape == F.max_pool2d(x, (kh, kw), (sh, sw)).shape else out


def _partial_avg(x, k, s):
    """Average over the partial windows a ceil-mode loop would see (mean of what is there)."""
    kh, kw = _pair(k)
    sh, sw = _pair(s if s is not None else k)
    sums = F.avg_pool2d(_pad_hw(x, 0, sh - 1, 0, sw - 1), (kh, kw), (sh, sw)) * (kh * kw)
    counts = F.avg_pool2d(_pad_hw(np.ones_like(x), 0, sh - 1, 0, sw - 1), (kh, kw), (sh, sw)) * (kh * kw)
    out = (sums / counts).astype(x.dtype)
    return None if out.shape == F.avg_pool2d(x, (kh, kw), (sh, sw)).shape else out


def _swapped_kernel(pool):
    def fn(x, kernel_size, stride=None):
        kh, kw = _pair(kernel_size)
        sh, sw = _pair(stride if stride is not None else kernel_size)
        if (kh, sh) == (kw, sw):
            return None
        return pool(x, (kw, kh), (sw, sh))
    return fn


def _pool_common(pool):
    return (
        Variant("stride defaulted to 1", "stride=None means stride = kernel_size (as in PyTorch): "
                "the windows tile the image without overlapping",
                lambda x, kernel_size, stride=None:
                    pool(x, kernel_size, 1) if stride is None and kernel_size != 1 else None),
        Variant("stride ignored", "the windows start every `stride` pixels: window (i, j) starts "
                "at row i*sH, column j*sW",
                lambda x, kernel_size, stride=None:
                    None if stride is None or _pair(stride) == _pair(kernel_size)
                    else pool(x, kernel_size, kernel_size)),
        Variant("stride ignored", "the windows start every `stride` pixels, not every pixel",
                lambda x, kernel_size, stride=None:
                    None if stride is None or _pair(stride) == (1, 1) else pool(x, kernel_size, 1)),
        Variant("H and W swapped", "kernel_size/stride pairs are (height, width): kH goes with "
                "the rows (axis 2), kW with the columns (axis 3)", _swapped_kernel(pool)),
        Variant("output too small (missing +1)", "the size is floor((H - kH)/sH) + 1",
                lambda x, kernel_size, stride=None: pool(x, kernel_size, stride)[..., :-1, :-1]),
    )


_MAX_POOL_VARIANTS = _pool_common(F.max_pool2d) + (
    Variant("average instead of maximum", "max pooling keeps the LARGEST value of each window "
            "(np.max), not the mean",
            lambda x, kernel_size, stride=None: F.avg_pool2d(x, kernel_size, stride)),
    Variant("minimum instead of maximum", "max pooling keeps the LARGEST value of each window",
            lambda x, kernel_size, stride=None: -F.max_pool2d(-x, kernel_size, stride)),
    Variant("partial windows kept (ceil instead of floor)", "a window that runs past the edge is "
            "dropped: the size is floor((H - kH)/sH) + 1",
            lambda x, kernel_size, stride=None: _neg_inf_pad_max(x, kernel_size, stride)),
)


def _avg_divided_by(count_fn, why):
    def fn(x, kernel_size, stride=None):
        kh, kw = _pair(kernel_size)
        sh, sw = _pair(stride if stride is not None else kernel_size)
        count = count_fn(kh, kw, sh, sw)
        if count == kh * kw:
            return None
        return F.avg_pool2d(x, kernel_size, stride) * (kh * kw) / count
    return fn


_AVG_POOL_VARIANTS = _pool_common(F.avg_pool2d) + (
    Variant("sum instead of average", "divide each window's sum by the number of values in it, "
            "kH*kW", _avg_divided_by(lambda kh, kw, sh, sw: 1, "")),
    Variant("divided by the wrong count", "you divided by kH (the window's height); divide by "
            "the number of values in the window, kH*kW", _avg_divided_by(lambda kh, kw, sh, sw: kh, "")),
    Variant("divided by the wrong count", "you divided by kW (the window's width); divide by "
            "the number of values in the window, kH*kW", _avg_divided_by(lambda kh, kw, sh, sw: kw, "")),
    Variant("divided by the wrong count", "you divided by the stride's area sH*sW; divide by "
            "the number of values in the window, kH*kW",
            _avg_divided_by(lambda kh, kw, sh, sw: sh * sw, "")),
    Variant("divided by the wrong count", "you divided twice by kH*kW; the average divides the "
            "window's sum once", _avg_divided_by(lambda kh, kw, sh, sw: (kh * kw) ** 2, "")),
    Variant("maximum instead of average", "average pooling keeps the MEAN of each window",
            lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, stride)),
    Variant("partial windows kept (ceil instead of floor)", "a window that runs past the edge is "
            "dropped: the size is floor((H - kH)/sH) + 1",
            lambda x, kernel_size, stride=None: _partial_avg(x, kernel_size, stride)),
)


def _pool_size(fn):
    def shape(x, kernel_size, stride=None):
        k = _pair(kernel_size)
        s = _pair(stride if stride is not None else kernel_size)
        return tuple(x.shape[:2]) + tuple(fn(n, kk, ss, 0, 1) for n, kk, ss in zip(x.shape[2:], k, s))
    return shape


_POOL_SHAPES = (
    Variant("that is the size with ceil instead of floor: a window that runs past the edge is "
            "dropped", "", _pool_size(_ceil_size)),
    Variant("that is the size with stride 1; stride=None means stride = kernel_size", "",
            _pool_size(lambda n, k, s, p, d: F.output_size(n, k, 1))),
)


# =========================================================================== lesson 6

def _conv_bwd_cases(rng):
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])
    dout = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])
    cases = [Case("fixed: 3x3 input, 2x2 kernel, dout = 1 at the top-left output only",
                  (dout, x, w), dict(stride=1, padding=0))]
    specs = [(2, 2, 3, (5, 5), (3, 3), 1, 0, np.float64), (2, 2, 3, (5, 6), (3, 3), 1, 1, np.float64),
             (2, 3, 2, (7, 7), (3, 3), 2, 1, np.float64), (3, 2, 2, (6, 6), (3, 3), 2, 0, np.float64),
             (2, 3, 4, (6, 5), (2, 3), 1, 1, np.float32)]
    for i, (n, ci, co, hw, ks, s, p, dtype) in enumerate(specs, 1):
        x = _randn(rng, (n, ci) + hw, dtype)
        w = _randn(rng, (co, ci) + ks, dtype)
        oh, ow = (F.output_size(a, k, s, p) for a, k in zip(hw, ks))
        dout = _randn(rng, (n, co, oh, ow), dtype)
        cases.append(Case(f"random #{i}: x {_shape(x.shape)}, w {_shape(w.shape)}, stride {s}, "
                          f"padding {p}" + (", float32" if dtype == np.float32 else ""),
                          (dout, x, w), dict(stride=s, padding=p)))
    return cases


def _conv_bwd_reference(dout, x, w, stride=1, padding=0):
    return F.conv2d_backward(dout, x, w, stride=stride, padding=padding)


def _conv_bwd_variants():
    def ref(dout, x, w, s, p):
        return F.conv2d_backward(dout, x, w, stride=s, padding=p)

    def v(part, cause, explain, fn):
        return Variant(cause, explain,
                       lambda dout, x, w, stride=1, padding=0: fn(dout, x, w, stride, padding), part)

    def last_sample(i):
        return lambda dout, x, w, s, p: None if x.shape[0] == 1 else ref(dout[-1:], x[-1:], w, s, p)[i]

    def first_sample(i):
        return lambda dout, x, w, s, p: None if x.shape[0] == 1 else ref(dout[:1], x[:1], w, s, p)[i]

    return (
        v("dx", "kernel rotated by 180°", "each dout[n, co, i, j] flows back into its window "
          "through w[co] AS IT IS (dxp[n, :, window] += dout[n, co, i, j] * w[co]), which is a "
          "full CONVOLUTION of dout with w; you computed a full cross-correlation (w rotated)",
          lambda dout, x, w, s, p: _unless_equal(ref(dout, x, w[..., ::-1, ::-1].copy(), s, p)[0],
                                                 ref(dout, x, w, s, p)[0])),
        v("dx", "padding not cropped", "dx must have the shape of x: compute the gradient of the "
          "padded input, then cut the padding off (dx_padded[:, :, p:-p, p:-p])",
          lambda dout, x, w, s, p: None if p == 0 else ref(dout, _pad_hw(x, p, p, p, p), w, s, 0)[0]),
        v("dx", "dx summed over the batch", "each image gets its own gradient dx[n]",
          lambda dout, x, w, s, p: None if x.shape[0] == 1 else
          np.broadcast_to(ref(dout, x, w, s, p)[0].sum(0, keepdims=True), x.shape)),
        v("dx", "channels mixed up", "dx[n, ci] sums dout[n, co] spread through w[co, ci] over "
          "the OUTPUT channels co",
          lambda dout, x, w, s, p: None if w.shape[0] != w.shape[1] else
          _unless_equal(ref(dout, x, w.transpose(1, 0, 2, 3).copy(), s, p)[0], ref(dout, x, w, s, p)[0])),
        v("dw", "dw not summed over the batch", "dw gets the contribution of EVERY image: "
          "sum over n (you kept only the last image's)", last_sample(1)),
        v("dw", "dw not summed over the batch", "dw gets the contribution of EVERY image: "
          "sum over n (you kept only the first image's)", first_sample(1)),
        v("dw", "dw averaged over the batch", "the gradient of a sum is the SUM of the per-image "
          "gradients; do not divide by N",
          lambda dout, x, w, s, p: None if x.shape[0] == 1 else ref(dout, x, w, s, p)[1] / x.shape[0]),
        v("dw", "dw rotated by 180°", "dw[co, ci, a, b] = sum over n, i, j of dout[n, co, i, j] * "
          "x_padded[n, ci, i*s + a, j*s + b]: the window of x times dout, with no flipping",
          lambda dout, x, w, s, p: _unless_equal(ref(dout, x, w, s, p)[1][..., ::-1, ::-1],
                                                 ref(dout, x, w, s, p)[1])),
        v("dw", "padding ignored", "dw uses the PADDED input, the one the forward pass saw",
          lambda dout, x, w, s, p: None if p == 0 else _dw_unpadded(dout, x, w, s, p)),
        v("db", "db not summed over the batch", "db[co] sums dout[:, co] over the batch AND "
          "space: dout.sum(axis=(0, 2, 3))",
          lambda dout, x, w, s, p: None if x.shape[0] == 1 else dout.sum(axis=(2, 3))),
        v("db", "db not summed over the batch", "db[co] sums dout[:, co] over the batch AND "
          "space (you kept only the last image's sum)",
          lambda dout, x, w, s, p: None if x.shape[0] == 1 else dout[-1].sum(axis=(1, 2))),
        v("db", "db averaged instead of summed", "db[co] is the SUM of dout[:, co] over the batch "
          "and space, not the mean", lambda dout, x, w, s, p: dout.mean(axis=(0, 2, 3))),
        v("db", "db summed over the wrong axes", "db has one value per output channel: "
          "dout.sum(axis=(0, 2, 3)), shape (C_out,)", lambda dout, x, w, s, p: dout.sum(axis=(0, 1))),
        v("db", "db summed over the wrong axes", "db has one value per output channel: "
          "dout.sum(axis=(0, 2, 3)), shape (C_out,)", lambda dout, x, w, s, p: np.asarray(dout.sum())),
    )


def _dw_unpadded(dout, x, w, s, p):
    """dw computed from the unpadded input: the windows of x are shifted by p."""
    xs = _pad_hw(x, 0, 2 * p, 0, 2 * p)
    return F.conv2d_backward(dout, xs, w, stride=s, padding=0)[1]


def _pool_bwd_cases(rng):
    x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 6.0],
                    [0.0, 2.0, 1.0, 1.0], [7.0, 1.0, 1.0, 3.0]]]])
    cases = [Case("fixed: 4x4 input, 2x2 windows, distinct maxima",
                  (np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), x, 2), {})]
    ties = np.array([[[[2.0, 2.0, 0.0, 1.0], [2.0, 1.0, 1.0, 1.0],
                       [5.0, 5.0, 3.0, 0.0], [5.0, 5.0, 0.0, 3.0]]]])
    cases.append(Case("fixed: 4x4 input, 2x2 windows, TIED maxima (the first one wins)",
                      (np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), ties, 2), {}))
    specs = [((2, 2, 6, 6), 2, None, np.float64, True), ((1, 2, 7, 7), 3, 2, np.float64, False),
             ((2, 1, 5, 5), 2, 1, np.float64, True), ((1, 2, 7, 9), (3, 3), (2, 2), np.float64, True),
             ((2, 2, 6, 8), 2, None, np.float32, False), ((1, 1, 6, 7), (2, 3), None, np.float64, False)]
    for i, (shape, k, s, dtype, tied) in enumerate(specs, 1):
        x = _rand(rng, shape, dtype, 0, 3) if tied else _randn(rng, shape, dtype)
        oh, ow = (F.output_size(n, kk, ss) for n, kk, ss in
                  zip(shape[2:], _pair(k), _pair(s if s is not None else k)))
        dout = _rand(rng, shape[:2] + (oh, ow), dtype, 1, 10)
        kw = {} if s is None else {"stride": s}
        desc = (f"random #{i}: x {_shape(shape)}{' with ties' if tied else ''}, kernel_size {k}, "
                + ("stride = kernel_size (default)" if s is None else f"stride {s}")
                + (", float32" if dtype == np.float32 else ""))
        cases.append(Case(desc, (dout, x, k), kw))
    return cases


def _pool_bwd_reference(dout, x, kernel_size, stride=None):
    return F.max_pool2d_backward(dout, x, kernel_size, stride)


def _scatter_taps(dout, x, kernel_size, stride, weights_fn):
    """Route dout through per-tap weights (N, C, kH, kW, OH, OW) back to x (accumulating)."""
    k = _pair(kernel_size)
    s = _pair(stride if stride is not None else kernel_size)
    win = window_view(x, k, s)                       # (N, C, kH, kW, OH, OW)
    weights = weights_fn(win).astype(x.dtype)
    cols = weights * dout[:, :, None, None, :, :]
    return col2im(cols, x.shape, k, s)


def _one_hot_tap(win, tap):
    n, c, kh, kw, oh, ow = win.shape
    onehot = np.zeros((n, c, kh * kw, oh, ow))
    np.put_along_axis(onehot, tap[:, :, None], 1.0, axis=2)
    return onehot.reshape(win.shape)


def _last_max_tap(win):
    n, c, kh, kw, oh, ow = win.shape
    flat = win.reshape(n, c, kh * kw, oh, ow)
    tap = kh * kw - 1 - np.argmax(flat[:, :, ::-1], axis=2)
    return _one_hot_tap(win, tap)


def _overwrite(dout, x, kernel_size, stride=None):
    """dx[argmax] = dout (assignment, windows in row-major order: the last window wins)."""
    k = _pair(kernel_size)
    s = _pair(stride if stride is not None else kernel_size)
    if s[0] >= k[0] and s[1] >= k[1]:
        return None  # windows never overlap: the same as accumulating
    _, idx = F.max_pool2d(x, k, s, return_indices=True)
    n, c, h, w = x.shape
    dx = np.zeros((n, c, h * w), dtype=x.dtype)
    nn_, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i in range(idx.shape[2]):
        for j in range(idx.shape[3]):
            dx[nn_, cc, idx[:, :, i, j]] = dout[:, :, i, j]
    return dx.reshape(x.shape)


_POOL_BWD_VARIANTS = (
    Variant("gradient sent to every tied maximum", "when several values of a window equal its "
            "maximum, only the FIRST one (row-major order, as np.argmax and PyTorch) won the "
            "forward pass and gets the gradient",
            lambda dout, x, kernel_size, stride=None: _scatter_taps(
                dout, x, kernel_size, stride, lambda win: win == win.max(axis=(2, 3), keepdims=True))),
    Variant("gradient sent to the LAST tied maximum", "on ties the FIRST maximum in row-major "
            "order wins (as np.argmax and PyTorch)",
            lambda dout, x, kernel_size, stride=None:
                _scatter_taps(dout, x, kernel_size, stride, _last_max_tap)),
    Variant("overlapping windows overwrite instead of add", "where windows overlap, one input "
            "pixel can win several windows: ADD their gradients (dx[...] += dout[...])", _overwrite),
    Variant("gradient spread evenly over the window", "that is average pooling's backward; in "
            "max pooling only the maximum of each window affected the output, so only it gets "
            "the gradient", lambda dout, x, kernel_size, stride=None:
                F.avg_pool2d_backward(dout, x, kernel_size, stride)),
    Variant("gradient copied to every pixel of the window", "only the maximum of each window "
            "affected the output, so only it gets the gradient",
            lambda dout, x, kernel_size, stride=None: _scatter_taps(
                dout, x, kernel_size, stride, lambda win: np.ones(win.shape))),
    Variant("gradient sent to the window's top-left pixel", "send it to the position of the "
            "window's maximum (np.argmax of the flattened window, then np.unravel_index)",
            lambda dout, x, kernel_size, stride=None: _scatter_taps(
                dout, x, kernel_size, stride,
                lambda win: _one_hot_tap(win, np.zeros(win.shape[:2] + win.shape[4:], dtype=np.int64)))),
    Variant("H and W swapped", "kernel_size/stride pairs are (height, width)",
            lambda dout, x, kernel_size, stride=None:
                None if _pair(kernel_size)[0] == _pair(kernel_size)[1] else
                _swapped_pool_bwd(dout, x, kernel_size, stride)),
)


_POOL_BWD_SHAPES = (
    Variant("that is the shape of dout; dx has the shape of the INPUT x: one gradient per "
            "input pixel", "", lambda dout, x, kernel_size, stride=None: dout.shape),
)


def _swapped_pool_bwd(dout, x, kernel_size, stride):
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    return F.max_pool2d_backward(dout, x, (kw, kh), (sw, sh))


# =========================================================================== lesson 7

LENET_KEYS = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
              "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias")


def _lenet_model(dtype):
    """A modern LeNet5 of the given dtype, built without touching the student's random stream."""
    from cnnlab import models, nn
    rng = nn.get_rng()
    state = copy.deepcopy(rng.bit_generator.state)
    try:
        return models.LeNet5("modern", dtype=dtype)
    finally:
        rng.bit_generator.state = state


_LENET_SHAPES: dict = {}


def _lenet_shapes():
    if not _LENET_SHAPES:
        _LENET_SHAPES.update({k: v.shape for k, v in _lenet_model(np.float64).state_dict().items()})
    return _LENET_SHAPES


def _lenet_params(rng, dtype):
    params = {}
    for key, shape in _lenet_shapes().items():
        fan_in = int(np.prod(_lenet_shapes()[key.split(".")[0] + ".weight"][1:]))
        bound = 1.0 / math.sqrt(fan_in)
        params[key] = rng.uniform(-bound, bound, size=shape).astype(dtype)
    return params


def _lenet_cases(rng):
    cases = []
    specs = [(1, np.float32, "one image"), (3, np.float32, "a batch of 3"),
             (2, np.float64, "a batch of 2, float64")]
    for i, (n, dtype, what) in enumerate(specs, 1):
        params = _lenet_params(rng, dtype)
        x = rng.random((n, 1, 28, 28)).astype(dtype)
        cases.append(Case(f"random #{i}: {what}, x {_shape(x.shape)}, random weights", (x, params), {}))
    params = _lenet_params(rng, np.float32)
    x = np.zeros((2, 1, 28, 28), dtype=np.float32)
    x[:, :, 8:20, 12:16] = 1.0
    cases.insert(0, Case("fixed: two images of a bar, x (2, 1, 28, 28)", (x, params), {}))
    return cases


def _lenet_reference(x, params):
    model = _lenet_model(x.dtype)
    model.load_state_dict(params)
    model.eval()
    return model(x)


def _lenet_forward_variant(x, params, act=F.relu, pool="max", flatten="nchw", relu_fc=True,
                           relu_conv=True, relu_last=False, bias=True, softmax=False):
    """LeNet-5 forward with one thing changed (a planted mistake), composed from cnnlab.functional."""
    b = (lambda key: params[key]) if bias else (lambda key: None)
    pool_fn = F.max_pool2d if pool == "max" else F.avg_pool2d
    h = F.conv2d(x, params["conv1.weight"], b("conv1.bias"), padding=2)
    h = pool_fn(act(h) if relu_conv else h, 2)
    h = F.conv2d(h, params["conv2.weight"], b("conv2.bias"))
    h = pool_fn(act(h) if relu_conv else h, 2)
    h = h.transpose(0, 2, 3, 1).reshape(len(h), -1) if flatten == "nhwc" else F.flatten(h)
    h = F.linear(h, params["fc1.weight"], b("fc1.bias"))
    h = act(h) if relu_fc else h
    h = F.linear(h, params["fc2.weight"], b("fc2.bias"))
    h = act(h) if relu_fc else h
    h = F.linear(h, params["fc3.weight"], b("fc3.bias"))
    if relu_last:
        h = act(h)
    if softmax:
        h = F.softmax(h, dim=1)
    return h


def _lv(**changes):
    return lambda x, params: _lenet_forward_variant(x, params, **changes)


_LENET_VARIANTS = (
    Variant("softmax applied", "return the LOGITS (the output of fc3); the softmax belongs to "
            "the loss (cross_entropy), not to the forward pass", _lv(softmax=True)),
    Variant("ReLU after the last layer", "fc3 gives the logits directly, with no activation",
            _lv(relu_last=True)),
    Variant("ReLU missing after the fully connected layers", "fc1 and fc2 are each followed by a "
            "ReLU", _lv(relu_fc=False)),
    Variant("ReLU missing after the convolutions", "conv1 and conv2 are each followed by a ReLU, "
            "then the max pooling", _lv(relu_conv=False)),
    Variant("average pooling instead of max pooling", "the modern LeNet-5 uses max pooling 2x2 "
            "(the 1998 original averaged)", _lv(pool="avg")),
    Variant("tanh instead of ReLU", "the modern LeNet-5 uses ReLU (the 1998 original used tanh)",
            _lv(act=F.tanh)),
    Variant("flattened in the wrong order", "flatten (N, 16, 5, 5) as it is, channel first "
            "(x.reshape(N, -1)); you moved the channels last before flattening", _lv(flatten="nhwc")),
    Variant("biases missing", "every conv and linear layer adds its bias", _lv(bias=False)),
)


# =========================================================================== the registry

def _registry():
    exercises = [
        Exercise("corr2d", 1, "corr2d", 3, "single-channel valid cross-correlation",
                 "corr2d(x, k)", _corr2d_cases, _corr2d_reference, _CORR2D_VARIANTS),
        Exercise("correlate_same", 2, "correlate_same", 2, "a 3x3 kernel with 'same' zero padding",
                 "correlate_same(image, kernel)", _same_cases, _same_reference, _SAME_VARIANTS),
        Exercise("sobel_magnitude", 2, "sobel_magnitude", 2, "Sobel gradient magnitude",
                 "sobel_magnitude(image)", _sobel_cases, _sobel_reference, _SOBEL_VARIANTS),
        Exercise("output_size", 3, "output_size", 2, "the output-size formula",
                 "output_size(n, f, s, p, d)", _output_size_cases, _output_size_reference,
                 _OUTPUT_SIZE_VARIANTS, kind="int"),
        Exercise("corr2d_strided", 3, "corr2d_strided", 3,
                 "cross-correlation with stride, padding and dilation",
                 "corr2d_strided(x, k, stride, padding, dilation)", _strided_cases,
                 _strided_reference, _STRIDED_VARIANTS, shape_variants=_STRIDED_SHAPES),
        Exercise("conv2d_forward", 4, "conv2d_forward", 4,
                 "multi-channel NCHW convolution with stride, padding and bias",
                 "conv2d_forward(x, w, b, stride, padding)", _conv_cases, _conv_reference,
                 _CONV_VARIANTS, shape_variants=_CONV_SHAPES),
        Exercise("max_pool2d", 5, "max_pool2d", 2, "max pooling forward",
                 "max_pool2d(x, kernel_size, stride=None)",
                 lambda rng: _pool_cases(rng, "[[5, 7], [13, 15]]"),
                 lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, stride),
                 _MAX_POOL_VARIANTS, shape_variants=_POOL_SHAPES),
        Exercise("avg_pool2d", 5, "avg_pool2d", 2, "average pooling forward",
                 "avg_pool2d(x, kernel_size, stride=None)",
                 lambda rng: _pool_cases(rng, "[[2.5, 4.5], [10.5, 12.5]]"),
                 lambda x, kernel_size, stride=None: F.avg_pool2d(x, kernel_size, stride),
                 _AVG_POOL_VARIANTS, shape_variants=_POOL_SHAPES),
        Exercise("conv2d_backward", 6, "conv2d_backward", 4, "convolution backward (dx, dw, db)",
                 "conv2d_backward(dout, x, w, stride, padding)", _conv_bwd_cases,
                 _conv_bwd_reference, _conv_bwd_variants(), kind="tuple", parts=("dx", "dw", "db")),
        Exercise("max_pool2d_backward", 6, "max_pool2d_backward", 3, "max pooling backward",
                 "max_pool2d_backward(dout, x, kernel_size, stride=None)", _pool_bwd_cases,
                 _pool_bwd_reference, _POOL_BWD_VARIANTS, shape_variants=_POOL_BWD_SHAPES),
        Exercise("lenet5_forward", 7, "lenet5_forward", 3, "a LeNet-5 forward pass from a dict of weights",
                 "lenet5_forward(x, params)", _lenet_cases, _lenet_reference, _LENET_VARIANTS,
                 allowed_modules=("cnnlab.functional",)),
    ]
    return {ex.name: ex for ex in exercises}


EXERCISES: dict = _registry()


def _get(name) -> Exercise:
    try:
        return EXERCISES[name]
    except (KeyError, TypeError):
        valid = ", ".join(EXERCISES)
        raise ValueError(f"unknown exercise {name!r}; the exercises are: {valid}") from None


# =========================================================================== running and judging

def _error_result(exc: BaseException, fn) -> ErrorResult:
    message = str(exc)
    code = getattr(fn, "__code__", None)
    if code is not None and not isinstance(exc, NotImplementedError):
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == code.co_filename]
        if frames and frames[-1].line:
            message += f" [line {frames[-1].lineno}: `{frames[-1].line.strip()}`]"
    return ErrorResult(type(exc).__name__, message)


def collect_outputs(name: str, student_fn) -> dict:
    """Run ``student_fn`` on every case of exercise ``name`` (each on fresh copies of the
    inputs) and return ``{case name: result or ErrorResult}``. Never raises for the student's
    errors. This is what ``check`` feeds to ``evaluate_outputs``; the grader may use it too."""
    ex = _get(name)
    outputs = {}
    for case in ex.cases():
        if not callable(student_fn):
            outputs[case.name] = ErrorResult(
                "TypeError", f"{ex.function_name} should be a function, got {_type_desc(student_fn)}")
            continue
        try:
            outputs[case.name] = _call(student_fn, case)
        except Exception as exc:  # the student's bug is data here, not a crash
            outputs[case.name] = _error_result(exc, student_fn)
    return outputs


def evaluate_outputs(name: str, outputs: dict) -> CheckResult:
    """The verdict of exercise ``name`` from the student's results handed back as data:
    ``outputs`` maps case name -> result, or an ``ErrorResult`` for a case that raised. A case
    missing from ``outputs`` fails. Does not print."""
    ex = _get(name)
    cases = ex.cases()
    header = (f"Checking {ex.signature} -- lesson {ex.lesson}, {ex.title}: "
              f"{len(cases)} cases")
    got_all = [outputs.get(c.name) for c in cases]
    if cases and all(isinstance(g, ErrorResult) and g.type_name == "NotImplementedError"
                     for g in got_all):
        messages = [header, f"  ✗ {NOT_IMPLEMENTED}", f"0 of {len(cases)} cases passed."]
        return CheckResult(ex.name, False, 0, len(cases), messages)
    messages = [header]
    n_passed = 0
    seen: dict = {}
    for case in cases:
        if case.name not in outputs:
            messages.append(f"  ✗ {case.name}: no result for this case")
            continue
        got = outputs[case.name]
        try:
            diag = ex.diagnose(case, got)
        except Exception as exc:  # a result too strange to compare
            diag = f"could not compare your result ({_type_desc(got)}): {type(exc).__name__}: {exc}"
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
    return CheckResult(ex.name, passed, n_passed, len(cases), messages)


def check(name: str, student_fn) -> CheckResult:
    """Run ``student_fn`` on every case of exercise ``name``, print which cases pass and, for
    each failure, the likely cause; return the CheckResult (falsy when a case fails).

    >>> cnnlab.check("corr2d", corr2d)            # doctest: +SKIP
    An unknown ``name`` raises ValueError listing the exercises; the student's own errors never
    raise here, they are reported.
    """
    _get(name)
    result = evaluate_outputs(name, collect_outputs(name, student_fn))
    print(str(result), flush=True)
    return result
