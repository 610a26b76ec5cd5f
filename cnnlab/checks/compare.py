"""Comparing a result with the expected one, and saying in words how an array is wrong.

``close`` decides whether two values agree (same shape, values within the rounding error of
their dtypes); the helpers below explain a wrong array without knowing the exercise: not an
array at all, NaN, H and W swapped, a wrong shape, all zeros, a constant factor, a shift, or
where the values differ. ``kinds`` uses them per result kind; ``engine`` runs the exercises.

``changed_arguments`` tells whether a call wrote into its inputs. NumPy and the standard
library only: the batch grader loads this file fresh into the student's kernel to ask the same
question there (``cnnlab.grade.kernel_side``).
"""
from __future__ import annotations

import inspect

import numpy as np

__all__ = ["close", "shape_str", "type_desc", "shifted", "same_values", "changed_arguments",
           "MODIFIED_INPUT"]

# The ErrorResult type of a call that wrote into its arguments; its message names them ("x").
MODIFIED_INPUT = "ModifiedInput"


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


# =========================================================================== inputs written into

def same_values(before, after) -> bool:
    """Whether ``after`` still holds what ``before`` held: the same structure (tuples, lists,
    dicts), arrays of the same shape and dtype with the same values up to rounding (1e-9
    relative: a gradient check that adds and subtracts eps leaves such traces). Other values
    cannot be changed in place and count as the same."""
    if isinstance(before, np.ndarray) or isinstance(after, np.ndarray):
        if not (isinstance(before, np.ndarray) and isinstance(after, np.ndarray)) \
                or before.shape != after.shape or before.dtype != after.dtype:
            return False
        if before.dtype.kind not in "iuf" or before.size == 0:
            return bool(np.array_equal(before, after))
        scale = max(1.0, float(np.nanmax(np.abs(before))) if np.isfinite(before).any() else 1.0)
        return bool(np.allclose(after, before, rtol=1e-9, atol=1e-12 * scale, equal_nan=True))
    if isinstance(before, dict):
        return (isinstance(after, dict) and set(before) == set(after)
                and all(same_values(before[k], after[k]) for k in before))
    if isinstance(before, (tuple, list)):
        return (isinstance(after, (tuple, list)) and len(before) == len(after)
                and all(same_values(b, a) for b, a in zip(before, after)))
    return True


def changed_arguments(fn, args_before, kwargs_before, args_after, kwargs_after) -> list:
    """The names of the arguments of ``fn(*args, **kwargs)`` whose values the call changed
    (``args_before``: untouched copies of what was passed); [] when it changed none."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        names = []
    changed = [names[i] if i < len(names) else f"argument {i + 1}"
               for i, (b, a) in enumerate(zip(args_before, args_after)) if not same_values(b, a)]
    changed += [k for k in kwargs_before if not same_values(kwargs_before[k], kwargs_after.get(k))]
    return changed
