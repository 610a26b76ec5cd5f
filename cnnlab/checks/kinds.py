"""The diagnosis of a student's result, one function per result kind of an ``Exercise``.

kind "array" : one ndarray (``diagnose_array``)
kind "tuple" : several ndarrays, named by ``exercise.parts`` (``diagnose_tuple``)
kind "int"   : a Python/NumPy integer (``diagnose_int``)
kind "ints"  : a record of named whole numbers (``exercise.parts``), a tuple in that order or a
               dict with those keys, compared EXACTLY (``diagnose_ints``)
kind "choice": one of a fixed set of names, a str (``exercise.choices``; ``diagnose_choice``)

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

__all__ = ["diagnose_int", "diagnose_ints", "diagnose_choice", "diagnose_tuple", "diagnose_array",
           "planted"]


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


def _whole_number(part, expected, got):
    """(the value of one part of an "ints" answer, or None; the problem with it, or None)."""
    if isinstance(got, np.ndarray) and got.ndim == 0:
        got = got[()]
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer, float,
                                                                 np.floating)):
        return None, f"{part}: expected an int, got {type_desc(got)}"
    if isinstance(got, (int, np.integer)):
        return int(got), None
    g = float(got)
    if g == expected:
        return None, (f"{part}: right value, but a float ({g!r}): a count is a whole number; "
                      f"compute it with ints (// for the output size) or convert with int()")
    if not g.is_integer():
        return g, (f"{part}: expected {expected}, got {g!r}, not a whole number: use // "
                   f"(floor division), not /")
    return g, None


def diagnose_ints(exercise, case, expected, got):
    """A record of whole numbers named by ``exercise.parts``: each wrong part is named, with
    the planted mistake that gives that very number on this case when one does."""
    parts = exercise.parts
    names = ", ".join(parts)
    if got is None:
        return "returned None: did you forget the `return` statement?"
    if isinstance(got, dict):
        if set(got) != set(parts):
            return f"a dict answer needs exactly the keys {names}; got {', '.join(map(repr, got))}"
        got = tuple(got[p] for p in parts)
    problem = _not_a_record(got, parts, "ints")
    if problem is not None:
        if isinstance(got, np.ndarray):
            problem += f": return the numbers themselves, `return {names}`"
        return problem
    return _wrong_parts(exercise, case, tuple(int(e) for e in expected), tuple(got))


def _wrong_parts(exercise, case, expected: tuple, got: tuple):
    """None when every part is right, else one line per wrong part or group of parts that one
    planted mistake explains ("out_h: expected 28, got 24; out_w: ...: padding ignored: ...")."""
    planted_vals = [(v, tuple(val)) for v, val in
                    exercise.planted_values(exercise.variants, case, None)]
    # the mistakes that reproduce more of the answer first (the listed order breaks ties)
    planted_vals.sort(key=lambda vv: -sum(_same_number(a, b) for a, b in zip(vv[1], got)))
    groups: dict = {}               # first cause -> (matching variants, "part: expected e, got g")
    problems = []
    for i, (part, e, g) in enumerate(zip(exercise.parts, expected, got)):
        value, problem = _whole_number(part, e, g)
        if problem is None and value == e:
            continue
        matches = [v for v, val in planted_vals if value is not None and val[i] == value]
        if matches:
            found, wrong = groups.setdefault(matches[0].cause, ([], []))
            found.extend(m for m in matches if m not in found)
            wrong.append(f"{part}: expected {e}, got {_fmt_count(value)}")
        else:
            problems.append(problem or f"{part}: expected {e}, got {_fmt_count(value)}")
    diagnoses = [(_matched(found), wrong) for found, wrong in groups.values()]
    lines = [f"{'; '.join(wrong)}: {d}" for d, wrong in diagnoses] + problems
    if not lines:
        return None
    shorts = [f"{', '.join(w.split(':')[0] for w in wrong)}: {d.short}"
              for d, wrong in diagnoses] + problems
    return _Diagnosis("\n      ".join(lines), "; ".join(shorts))


def _same_number(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def _fmt_count(v) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def diagnose_choice(exercise, case, expected, got):
    """A name out of ``exercise.choices``: the wrong one is explained by the planted mistake
    that picks it on this case, when one does."""
    names = ", ".join(repr(n) for n in exercise.choices)
    if got is None:
        return "returned None: did you forget the `return` statement?"
    if not isinstance(got, str):
        return f"expected one of the names {names} (a str), got {type_desc(got)}"
    if got == expected:
        return None
    if got not in exercise.choices:
        return f"returned {got!r}; the answer is one of {names}"
    for v, val in exercise.planted_values(exercise.variants, case, None):
        if val == got:
            return _Diagnosis(f"expected {expected!r}, got {got!r}: {v.text()}", v.cause)
    return f"expected {expected!r}, got {got!r}"


def _not_a_record(got, parts, of: str) -> str | None:
    """Why ``got`` is not a tuple of ``len(parts)`` values (the names ``parts``), or None."""
    record = f"a tuple ({', '.join(parts)}) of {len(parts)} {of}"
    if isinstance(got, np.ndarray):
        return f"expected {record}, got a single array of shape {shape_str(got.shape)}"
    if not isinstance(got, (tuple, list)):
        return f"expected {record}, got {type_desc(got)}"
    if len(got) != len(parts):
        return f"expected {record}, got {len(got)} values"
    return None


def diagnose_tuple(exercise, case, expected, got):
    parts = exercise.parts
    problem = _not_a_record(got, parts, "arrays")
    if problem is not None:
        return problem
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
