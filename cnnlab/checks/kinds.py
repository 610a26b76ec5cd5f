"""The diagnosis of a student's result, one function per result kind of an ``Exercise``.

kind "array" : one ndarray (``diagnose_array``)
kind "tuple" : several ndarrays, named by ``exercise.parts`` (``diagnose_tuple``)
kind "int"   : a Python/NumPy integer (``diagnose_int``)

Each returns None when ``got`` is the right answer, else a deterministic explanation: the
planted mistake (``Variant``) that reproduces ``got``, or a generic one from ``compare``.
``exercise`` is the ``engine.Exercise`` being checked: its ``variants``, ``shape_variants``,
``exact`` and ``planted_values(variants, case, part)`` are used.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab.checks.compare import (_Diagnosis, _fmt, _matched, _not_an_array, _transposed,
                                   _wrong_shape, _wrong_values, close, shape_str, type_desc)

__all__ = ["diagnose_int", "diagnose_tuple", "diagnose_array", "planted"]


def diagnose_int(exercise, case, expected, got):
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
        exact = exercise.exact(*case.args) if exercise.exact is not None else None
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
    matches = [v for v, val in exercise.planted_values(exercise.variants, case, None)
               if val == value]
    if matches:
        return _matched(matches)
    return f"expected {expected}, got {_fmt(value) if isinstance(value, float) else value}"


def diagnose_tuple(exercise, case, expected, got):
    parts = exercise.parts
    names = ", ".join(parts)
    if isinstance(got, np.ndarray):
        return (f"expected a tuple ({names}) of {len(parts)} arrays, got a single "
                f"array of shape {shape_str(got.shape)}")
    if not isinstance(got, (tuple, list)):
        return f"expected a tuple ({names}), got {type_desc(got)}"
    if len(got) != len(parts):
        return f"expected a tuple ({names}) of {len(parts)} arrays, got {len(got)} values"
    problems, shorts = [], []
    for part, e, g in zip(parts, expected, got):
        d = diagnose_array(exercise, case, e, g, part)
        if d:
            problems.append(f"{part}: {d}")
            shorts.append(f"{part}: {getattr(d, 'short', d)}")
    if not problems:
        return None
    return _Diagnosis("\n      ".join(problems), "; ".join(shorts))


def diagnose_array(exercise, case, expected, got, part):
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
    matches, shape_hints = planted(exercise, case, part, expected, got)
    if matches:
        return _matched(matches)
    explained = _transposed(expected, got, what)
    if explained is not None:
        return explained
    if got.shape != expected.shape:
        return _wrong_shape(expected, got, shape_hints)
    return _wrong_values(expected, got, what)


def planted(exercise, case, part, expected, got) -> tuple[list, list]:
    """The planted mistakes that give exactly ``got``, and hints for its (wrong) shape."""
    shape_hints, matches = [], []
    for v, val in exercise.planted_values(exercise.variants, case, part):
        val = np.asarray(val)
        if close(val, got):
            matches.append(v)
        elif val.shape == got.shape and val.shape != expected.shape:
            shape_hints.append(f"that is the shape you get with: {v.cause}")
    for v, s in exercise.planted_values(exercise.shape_variants, case, part):
        if tuple(s) == got.shape and tuple(s) != expected.shape:
            shape_hints.append(v.cause)
    return matches, shape_hints
