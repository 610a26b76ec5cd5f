"""Batch grader: run a folder of submitted notebooks and write a CSV gradebook.

``cnnlab grade SUBMISSION.ipynb|FOLDER... --out grades.csv [--timeout S] [--cell-timeout S]
[--jobs N] [--seed N] [--lesson N] [--exercise NAME] [--details grades.json]``

How one submission is graded (the instructor's guide is ``docs/grading.md``):

1. The grader (this process) reads the file. Not a notebook, or no code → a row with a status,
   no kernel is started.
2. It prepares the inputs: every case of every selected exercise (``Exercise.cases()``) plus a
   few *fresh* cases drawn for this submission (seeded by ``--seed`` and the file's hash), whose
   expected results the grader computes itself with ``Exercise.reference``. Inputs are written
   with ``np.savez`` (arrays) and JSON (scalars, tuples): nothing is pickled.
3. A child process (``python -m cnnlab.grade --_one WORKDIR``, its own process group) starts a
   fresh kernel (nbclient, ``allow_errors=True``) in an empty working directory, runs the
   student's code cells (a cell over ``--cell-timeout`` is interrupted and the run goes on),
   then runs one generated *extraction cell* per exercise. It calls the student's function on
   the grader's inputs under a call tracer (``sys.setprofile``) and writes each result back
   with ``np.savez`` + JSON. The whole child (and the kernel's process group) is killed when
   the submission exceeds ``--timeout``.
4. The grader reads the results with ``allow_pickle=False`` and scores them in its own process
   with ``cnnlab.checks.evaluate_outputs`` (and ``Exercise.diagnose`` for the fresh cases).
   Nothing the notebook does to ``cnnlab.check`` or to its own output can change a score.

A graded function that merely calls the library's own implementation (``cnnlab.functional``,
``cnnlab.reference``, ``cnnlab.nn``, ``scipy.signal``, ``torch`` …) is *flagged* in the status
column (``uses-reference: corr2d calls cnnlab.functional.correlate2d``), never zeroed.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import importlib
import inspect
import io
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

__all__ = [
    "DEFAULT_TIMEOUT", "DEFAULT_CELL_TIMEOUT", "FLAGGED_MODULES", "ALLOWED_HELPERS",
    "SubmissionGrade", "Gradebook", "find_submissions", "grade", "write_gradebook",
    "format_table", "add_cli", "main",
]

DEFAULT_TIMEOUT = 600.0        # seconds per submission, everything included (kernel start too)
DEFAULT_CELL_TIMEOUT = 120.0   # seconds per cell, and per call of a graded function
DEFAULT_FRESH = 2              # fresh random cases per exercise, drawn per submission
MAX_NOTEBOOK_BYTES = 100 * 2**20
MAX_RESULT_BYTES = 64 * 2**20  # one returned array larger than this is not transferred
MAX_RESULT_FILE = 512 * 2**20  # a results file larger than this is not read

#: A graded function calling into these modules is flagged ("uses-reference").
FLAGGED_MODULES = (
    "cnnlab.functional", "cnnlab._windows", "cnnlab._fast", "cnnlab._args", "cnnlab.reference",
    "cnnlab.nn", "cnnlab.models",
    "cnnlab.optim", "cnnlab.gradcheck", "cnnlab.checks", "cnnlab.grade", "cnnlab.exercises",
    "cnnlab.train", "scipy.signal", "scipy.ndimage", "torch",
)
#: Small formula helpers the lessons teach students to import; calling them is not flagged
#: (unless the exercise's own function has that name).
ALLOWED_HELPERS = (
    "output_size", "output_size_exact", "conv_parameter_count", "receptive_field",
    "get_rng", "manual_seed",
)

_STATUS_OK = "ok"
_CSV_PREFIX_DANGER = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class SubmissionGrade:
    """One row of the gradebook."""
    submission: str                 # the name shown in the gradebook
    path: str                       # the file graded
    scores: dict[str, float]        # exercise name -> points earned (every selected exercise)
    max_total: float
    status: str
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return float(sum(self.scores.values()))


@dataclasses.dataclass
class Gradebook:
    exercises: list[str]            # column order (registry order)
    points: dict[str, float]        # exercise -> max points
    rows: list[SubmissionGrade]

    @property
    def columns(self) -> list[str]:
        return ["submission", *self.exercises, "total", "max_total", "status"]


# --------------------------------------------------------------------------------------------
# Finding submissions
# --------------------------------------------------------------------------------------------
def find_submissions(paths: Iterable[str | os.PathLike]) -> list[tuple[str, Path]]:
    """Expand files and folders into ``(display name, path)`` pairs, in a deterministic order.

    A folder contributes every ``*.ipynb`` below it (sorted, hidden folders and
    ``.ipynb_checkpoints`` skipped), named by its path relative to the folder. A file is named
    by its file name (by the path as given when two names would collide). A path that does
    not exist is kept: it gets a "not a notebook: file not found" row.
    """
    found: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            items = []
            for f in sorted(p.rglob("*.ipynb")):
                rel = f.relative_to(p)
                if any(part.startswith(".") for part in rel.parts[:-1]):
                    continue
                if f.is_file():
                    items.append((rel.as_posix(), f))
            for name, f in items:
                key = f.resolve()
                if key not in seen:
                    seen.add(key)
                    found.append((name, f))
        else:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                found.append((p.name, p))
    names = [n for n, _ in found]
    dupes = {n for n in names if names.count(n) > 1}
    return [(str(p) if n in dupes else n, p) for n, p in found]


# --------------------------------------------------------------------------------------------
# Reading a submission
# --------------------------------------------------------------------------------------------
class _NotGradable(Exception):
    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


def _read_notebook(path: Path):
    """The notebook as nbformat v4, or raise _NotGradable with the row's status."""
    import nbformat

    if not path.exists():
        raise _NotGradable("not a notebook: file not found")
    if not path.is_file():
        raise _NotGradable("not a notebook: not a regular file")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise _NotGradable(f"not a notebook: file too large ({size // 2**20} MB)")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _NotGradable("not a notebook: not a text file") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise _NotGradable("not a notebook: not valid JSON") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise _NotGradable("not a notebook: JSON, but not a Jupyter notebook") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        cells = nb.get("cells")
        if not isinstance(cells, list):
            raise ValueError("cells is not a list")
        for cell in cells:
            if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
                raise ValueError("a cell without a cell_type")
            src = cell.get("source", "")
            if isinstance(src, list):
                src = "".join(str(s) for s in src)
            if not isinstance(src, str):
                raise ValueError("a cell whose source is not text")
            cell["source"] = src
            if not isinstance(cell.get("metadata"), dict):
                cell["metadata"] = {}
            if cell["cell_type"] == "code":
                cell["outputs"] = []
                cell["execution_count"] = None
        nb = nbformat.from_dict(nb)
    except Exception as exc:  # nbformat raises many types on malformed input
        msg = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise _NotGradable(f"not a notebook: invalid notebook ({msg})") from None
    if not cells:
        raise _NotGradable("blank (no cells)")
    if not any(c["cell_type"] == "code" and c["source"].strip() for c in cells):
        raise _NotGradable("blank (no code)")
    return nb, raw


# --------------------------------------------------------------------------------------------
# Registry access (cnnlab.checks, or an injected stand-in with the same names)
# --------------------------------------------------------------------------------------------
def _load_registry(registry=None):
    if registry is None:
        registry = importlib.import_module("cnnlab.checks")
    elif isinstance(registry, str):
        registry = importlib.import_module(registry)
    for attr in ("EXERCISES", "evaluate_outputs", "ErrorResult"):
        if not hasattr(registry, attr):
            raise RuntimeError(f"the exercise registry {registry!r} has no {attr!r}")
    return registry


def _select_exercises(registry, names=None, lessons=None) -> list[str]:
    all_names = list(registry.EXERCISES)
    if names:
        unknown = [n for n in names if n not in registry.EXERCISES]
        if unknown:
            raise ValueError(
                f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(all_names)}")
    selected = [n for n in all_names
                if (not names or n in names)
                and (not lessons or getattr(registry.EXERCISES[n], "lesson", None) in lessons)]
    if not selected:
        raise ValueError("no exercise matches the --exercise/--lesson selection")
    return selected


# --------------------------------------------------------------------------------------------
# Cases: the registry's own, plus fresh ones for this submission
# --------------------------------------------------------------------------------------------
def _perturb(value, rng: np.random.Generator):
    """Same structure and shapes, new numbers (floats only: integers may be labels/indices)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and value.size > 1 and np.unique(value).size > 2:
            flat = rng.permutation(value.ravel())
            jitter = rng.uniform(0.75, 1.25, size=flat.shape)
            return (flat * jitter).reshape(value.shape).astype(value.dtype)
        return value
    if isinstance(value, tuple):
        return tuple(_perturb(v, rng) for v in value)
    if isinstance(value, list):
        return [_perturb(v, rng) for v in value]
    if isinstance(value, dict):
        return {k: _perturb(v, rng) for k, v in value.items()}
    return value


def _changed(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return not (isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b))
    if isinstance(a, (tuple, list)):
        return any(_changed(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return any(_changed(a[k], b[k]) for k in a)
    return False


def _all_finite(value) -> bool:
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        return bool(np.all(np.isfinite(value)))
    if isinstance(value, (tuple, list)):
        return all(_all_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _replace_case(template, name, args, kwargs, registry):
    if dataclasses.is_dataclass(template):
        return dataclasses.replace(template, name=name, args=args, kwargs=kwargs)
    return registry.Case(name=name, args=args, kwargs=kwargs)


def _fresh_cases(exercise, base_cases, rng: np.random.Generator, n: int, registry) -> list:
    """Up to ``n`` new cases for one exercise, whose answers nobody could have precomputed."""
    if n <= 0:
        return []
    existing = {c.name for c in base_cases}
    params = {}
    try:
        params = inspect.signature(exercise.cases).parameters
    except (TypeError, ValueError):
        pass
    fresh = []
    if "seed" in params:   # the registry can draw random cases itself: use that
        try:
            drawn = exercise.cases(seed=int(rng.integers(2**31)))
        except Exception:
            drawn = []
        drawn = [c for c in drawn if c.name.startswith("random")]
        if drawn:
            picked = sorted(rng.permutation(len(drawn))[:n])
            return [_replace_case(drawn[i], f"fresh #{k} ({drawn[i].name})", drawn[i].args,
                                  dict(drawn[i].kwargs), registry)
                    for k, i in enumerate(picked, 1)]
    probe = np.random.default_rng(0)
    candidates = [c for c in base_cases
                  if _changed(tuple(c.args), _perturb(tuple(c.args), probe))
                  or _changed(tuple(c.kwargs.values()), _perturb(tuple(c.kwargs.values()), probe))]
    # prefer the registry's random cases (general shapes) over the hand-made fixed ones
    candidates.sort(key=lambda c: 0 if c.name.startswith("random") else 1)
    for template in candidates:
        if len(fresh) >= n:
            break
        for _attempt in range(3):
            args = _perturb(tuple(template.args), rng)
            kwargs = {k: _perturb(v, rng) for k, v in template.kwargs.items()}
            try:
                expected = exercise.reference(*args, **kwargs)
            except Exception:
                continue
            if not _all_finite(expected):
                continue
            name = f"fresh #{len(fresh) + 1} (from {template.name})"
            while name in existing:
                name += "'"
            fresh.append(_replace_case(template, name, args, kwargs, registry))
            break
    return fresh


def _encode_input(value, key: str, arrays: dict) -> dict:
    """A case argument → a JSON spec (+ arrays stored under ``key...``)."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("object arrays cannot be sent without pickle")
        arrays[key] = value
        return {"t": "arr", "k": key}
    if isinstance(value, np.generic):
        arrays[key] = np.asarray(value)
        return {"t": "npscalar", "k": key}
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, complex):
        return {"t": "complex", "v": [repr(value.real), repr(value.imag)]}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, (tuple, list)):
        return {"t": "tuple" if isinstance(value, tuple) else "list",
                "v": [_encode_input(v, f"{key}_{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"t": "dict", "v": {k: _encode_input(v, f"{key}_{i}", arrays)
                                   for i, (k, v) in enumerate(value.items())}}
    raise TypeError(f"cannot send a {type(value).__name__} to the kernel without pickle")


# --------------------------------------------------------------------------------------------
# The code that runs INSIDE the student's kernel. Its source is shipped as text; nothing from
# cnnlab is imported there. It only *reports* (results, errors, calls): it decides nothing.
# --------------------------------------------------------------------------------------------
def _kernel_extract(xdir, index, function_name, cases, call_timeout, flagged, allowed,
                    allowed_modules, max_bytes, user_ns):  # pragma: no cover - runs in the kernel
    import builtins
    import json
    import os
    import signal
    import sys
    import time
    import types

    import numpy as np

    report = {"defined": False, "results": [], "calls": {}, "static": [], "tampered": [],
              "seconds": 0.0, "error": None}
    arrays = {}

    def save():
        tmp_npz = os.path.join(xdir, f".out_{index}.npz")
        with builtins.open(tmp_npz, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp_npz, os.path.join(xdir, f"out_{index}.npz"))
        tmp_json = os.path.join(xdir, f".out_{index}.json")
        with builtins.open(tmp_json, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(report))
        os.replace(tmp_json, os.path.join(xdir, f"out_{index}.json"))

    fn = user_ns.get(function_name)
    if not callable(fn):
        save()
        return
    report["defined"] = True

    flagged = tuple(flagged)
    allowed = frozenset(allowed)
    allowed_modules = tuple(allowed_modules)
    cache = {}
    ok_cache = {}

    def module_ok(mod):  # flagged in general, but this exercise is meant to build on it
        hit = ok_cache.get(mod)
        if hit is None:
            hit = ok_cache[mod] = isinstance(mod, str) and any(
                mod == p or mod.startswith(p + ".") for p in allowed_modules)
        return hit

    def is_flagged(mod):
        hit = cache.get(mod)
        if hit is None:
            hit = cache[mod] = isinstance(mod, str) and any(
                mod == p or mod.startswith(p + ".") for p in flagged)
        return hit

    # ---- static look: names the function's code refers to -------------------------------
    def code_names(code, out, depth=0):
        out.update(code.co_names)
        if depth < 8:
            for const in code.co_consts:
                if isinstance(const, types.CodeType):
                    code_names(const, out, depth + 1)

    def static_refs(f):
        refs = set()
        target = f
        for _ in range(3):  # unwrap callables: functools.partial, objects with __call__
            if isinstance(target, types.FunctionType):
                break
            target = getattr(target, "func", None) or getattr(target, "__call__", None)
            if isinstance(target, types.MethodType):
                target = target.__func__
        if not isinstance(target, types.FunctionType):
            return refs
        names = set()
        code_names(target.__code__, names)
        g = target.__globals__
        objs = [(n, g[n]) for n in names if n in g]
        objs += [("<closure>", c.cell_contents) for c in (target.__closure__ or ())
                 if _cell_ok(c)]
        objs += [("<default>", d) for d in (target.__defaults__ or ())]

        def module_attrs(mod):
            for attr in sorted(names):
                if attr in allowed or attr.startswith("__"):
                    continue
                try:
                    has = attr in vars(mod)
                except TypeError:
                    has = False
                if has:
                    refs.add(f"{mod.__name__}.{attr}")

        for _name, obj in objs:
            if isinstance(obj, types.ModuleType):
                mname = getattr(obj, "__name__", "")
                if is_flagged(mname):
                    if not module_ok(mname):
                        module_attrs(obj)
                else:  # a package holding flagged modules: cnnlab.functional, scipy.signal
                    for attr in names:
                        sub = sys.modules.get(f"{mname}.{attr}")
                        if sub is None and mname == "cnnlab" and attr == "F":
                            sub = sys.modules.get("cnnlab.functional")
                        if isinstance(sub, types.ModuleType) and is_flagged(sub.__name__) \
                                and not module_ok(sub.__name__):
                            module_attrs(sub)
            elif callable(obj):
                mod = getattr(obj, "__module__", None)
                oname = getattr(obj, "__name__", None) or type(obj).__name__
                if is_flagged(mod) and not module_ok(mod) and oname not in allowed:
                    refs.add(f"{mod}.{oname}")
        return refs

    def _cell_ok(cell):
        try:
            cell.cell_contents
            return True
        except ValueError:
            return False

    try:
        report["static"] = sorted(static_refs(fn))
    except Exception as exc:  # never let the static look break grading
        report["static_error"] = f"{type(exc).__name__}: {exc}"[:200]

    # ---- inputs --------------------------------------------------------------------------
    with np.load(os.path.join(xdir, "inputs.npz"), allow_pickle=False) as data:
        stored = {k: data[k] for k in data.files}

    def build(spec):
        t = spec["t"]
        if t == "arr":
            return stored[spec["k"]].copy()
        if t == "npscalar":
            return stored[spec["k"]][()]
        if t == "none":
            return None
        if t == "bool":
            return bool(spec["v"])
        if t == "int":
            return int(spec["v"])
        if t == "float":
            return float(spec["v"])
        if t == "complex":
            return complex(float(spec["v"][0]), float(spec["v"][1]))
        if t == "str":
            return str(spec["v"])
        if t == "tuple":
            return tuple(build(s) for s in spec["v"])
        if t == "list":
            return [build(s) for s in spec["v"]]
        if t == "dict":
            return {k: build(s) for k, s in spec["v"].items()}
        raise ValueError(f"unknown spec {t!r}")

    # ---- outputs -------------------------------------------------------------------------
    budget = [4 * max_bytes]

    def enc(value, key, depth=0):
        if isinstance(value, np.ndarray) or isinstance(value, np.generic):
            arr = np.asarray(value)
            if arr.dtype.hasobject or arr.dtype.names is not None or arr.dtype.kind == "V":
                return {"t": "unsupported", "type": f"ndarray of dtype {arr.dtype}"}
            if arr.nbytes > max_bytes or arr.nbytes > budget[0]:
                return {"t": "unsupported", "type": f"array of {arr.nbytes} bytes (too large)"}
            budget[0] -= arr.nbytes
            arrays[key] = np.ascontiguousarray(arr)
            return {"t": "npscalar" if isinstance(value, np.generic) else "arr", "k": key}
        if value is None:
            return {"t": "none"}
        if isinstance(value, bool):
            return {"t": "bool", "v": bool(value)}
        if isinstance(value, int):
            return {"t": "int", "v": str(int(value))} if abs(value) < 10**100 else \
                {"t": "unsupported", "type": "huge int"}
        if isinstance(value, float):
            return {"t": "float", "v": float.__repr__(float(value))}
        if isinstance(value, complex):
            return {"t": "complex", "v": [float.__repr__(value.real), float.__repr__(value.imag)]}
        if isinstance(value, (tuple, list)) and depth < 4 and len(value) <= 256:
            return {"t": "tuple" if isinstance(value, tuple) else "list",
                    "v": [enc(v, f"{key}_{i}", depth + 1) for i, v in enumerate(list(value))]}
        return {"t": "unsupported", "type": type(value).__name__}

    # ---- calls under the tracer and a per-call alarm -------------------------------------
    calls = report["calls"]

    def prof(frame, event, arg):
        if event == "call":
            mod = frame.f_globals.get("__name__")
            if is_flagged(mod):
                back = frame.f_back
                if (back is None or not is_flagged(back.f_globals.get("__name__"))) \
                        and not module_ok(mod):
                    name = frame.f_code.co_name
                    if name not in allowed:
                        # the module the function says it belongs to (cnnlab.functional's
                        # functions live in its concept modules but name the package)
                        f = frame.f_globals.get(name)
                        if getattr(f, "__code__", None) is frame.f_code:
                            mod = getattr(f, "__module__", None) or mod
                        qual = f"{mod}.{frame.f_code.co_qualname}"
                        calls[qual] = calls.get(qual, 0) + 1
        elif event == "c_call":
            mod = getattr(arg, "__module__", None)
            if is_flagged(mod) and not is_flagged(frame.f_globals.get("__name__")) \
                    and not module_ok(mod):
                qual = f"{mod}.{getattr(arg, '__name__', '?')}"
                calls[qual] = calls.get(qual, 0) + 1

    class _CallTimeout(BaseException):
        pass

    def on_alarm(signum, frame):
        raise _CallTimeout()

    use_alarm = hasattr(signal, "setitimer")
    t_start = time.perf_counter()
    stop_reason = None
    for case in cases:
        if stop_reason is not None:
            report["results"].append({"t": "error", "type": "TimeoutError",
                                      "msg": f"not run: {stop_reason}"})
            continue
        try:
            args = [build(s) for s in case["args"]]
            kwargs = {k: build(s) for k, s in case["kwargs"].items()}
        except Exception as exc:
            report["error"] = f"could not rebuild the inputs: {type(exc).__name__}: {exc}"
            break
        old_handler = signal.signal(signal.SIGALRM, on_alarm) if use_alarm else None
        old_prof = sys.getprofile()
        outcome = None
        try:
            try:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, call_timeout)
                sys.setprofile(prof)
                try:
                    value = fn(*args, **kwargs)
                finally:
                    current = sys.getprofile()
                    sys.setprofile(old_prof)
                    if use_alarm:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                    if current is not prof and "profiler" not in report["tampered"]:
                        report["tampered"].append("profiler")
                outcome = enc(value, f"c{len(report['results'])}")
            except _CallTimeout:
                outcome = {"t": "error", "type": "TimeoutError",
                           "msg": f"the call took longer than {call_timeout:g} s"}
                stop_reason = f"an earlier case took longer than {call_timeout:g} s"
            except KeyboardInterrupt:
                stop_reason = "the grading cell was interrupted (time limit)"
                outcome = {"t": "error", "type": "TimeoutError", "msg": stop_reason}
            except BaseException as exc:  # the student's exception, whatever it is
                try:
                    msg = str(exc)
                except BaseException:
                    msg = "<unprintable>"
                outcome = {"t": "error", "type": type(exc).__name__[:100], "msg": msg[:500]}
        except _CallTimeout:  # the alarm fired in our own bookkeeping: treat as a timeout
            outcome = {"t": "error", "type": "TimeoutError",
                       "msg": f"the call took longer than {call_timeout:g} s"}
            stop_reason = f"an earlier case took longer than {call_timeout:g} s"
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_handler)
        report["results"].append(outcome)
    report["seconds"] = time.perf_counter() - t_start
    save()


def _extraction_cell(xdir: str, index: int, function_name: str, cases: list, call_timeout: float,
                     max_bytes: int, allowed: Iterable[str],
                     allowed_modules: Iterable[str] = ()) -> str:
    """The source of the generated cell that extracts one exercise's results in the kernel."""
    src = textwrap.dedent(inspect.getsource(_kernel_extract))
    params = {
        "xdir": xdir, "index": index, "function_name": function_name, "cases": cases,
        "call_timeout": float(call_timeout), "flagged": list(FLAGGED_MODULES),
        "allowed": sorted(allowed), "allowed_modules": list(allowed_modules),
        "max_bytes": int(max_bytes),
    }
    # Everything is reached through `builtins` so a notebook that rebinds exec/compile/json/
    # globals in its own namespace cannot break (or steer) the cell; the code runs in a fresh
    # namespace, so the student's globals are only read (to find the function).
    return (
        "import builtins as __cnnlab_grader_builtins\n"
        "__cnnlab_grader_builtins.exec(__cnnlab_grader_builtins.compile(\n"
        f"    {src!r},\n"
        "    '<cnnlab grader>', 'exec'), __cnnlab_grader_ns := {'__builtins__': "
        "__cnnlab_grader_builtins, '__name__': '__cnnlab_grader__'})\n"
        "__cnnlab_grader_ns['_kernel_extract'](**__cnnlab_grader_builtins.__import__('json')"
        f".loads({json.dumps(params)!r}), user_ns=__cnnlab_grader_builtins.globals())\n"
        "del __cnnlab_grader_builtins, __cnnlab_grader_ns\n"
    )


# --------------------------------------------------------------------------------------------
# The child process: one fresh kernel, the student's cells, then the extraction cells
# --------------------------------------------------------------------------------------------
def _write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _run_one(workdir: Path) -> int:  # pragma: no cover - exercised through subprocesses
    """Child-process entry point (``python -m cnnlab.grade --_one WORKDIR``)."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager  # nbclient needs the async one
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    job = json.loads((workdir / "job.json").read_text(encoding="utf-8"))
    # The inputs live only in this process's memory until the extraction starts: the
    # student's cells run while they are nowhere on disk.
    inputs_blob = (workdir / "inputs.npz").read_bytes()
    (workdir / "inputs.npz").unlink()
    nb = nbformat.read(str(workdir / "notebook.ipynb"), as_version=4)
    (workdir / "notebook.ipynb").unlink()

    state: dict[str, Any] = {"state": "running", "cells": 0, "cell_errors": [],
                             "cell_timeouts": [], "extraction": {}, "xdir": None}
    run_path = workdir / "run.json"
    _write_json_atomic(run_path, state)

    kernels = workdir / "kernels" / "cnnlab-grader"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "cnnlab grader", "language": "python"}), encoding="utf-8")
    cwd = workdir / "cwd"
    cwd.mkdir()

    class GraderClient(NotebookClient):
        current_kind = "cell"
        current_index = -1

        def output(self, outs, msg, display_id, cell_index):
            return None  # the grader keeps no output: it reads nothing the notebook prints

        async def _async_handle_timeout(self, timeout, cell=None):
            bucket = state["cell_timeouts"] if self.current_kind == "cell" else \
                state["extraction"].setdefault("timeouts", [])
            if self.current_index not in bucket:
                bucket.append(self.current_index)
            _write_json_atomic(run_path, state)
            return await super()._async_handle_timeout(timeout, cell)

    def on_cell_error(cell, cell_index, execute_reply):
        if client.current_kind == "cell" and cell_index not in state["cell_errors"]:
            state["cell_errors"].append(cell_index)
        elif client.current_kind == "extract":
            content = execute_reply.get("content", {})
            state["extraction"].setdefault("errors", {})[str(client.current_index)] = (
                f"{content.get('ename')}: {content.get('evalue')}"[:300])

    km = AsyncKernelManager(
        kernel_name="cnnlab-grader",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels.parent)]))
    client = GraderClient(nb, km=km, timeout=max(1, int(math.ceil(job["cell_timeout"]))),
                          allow_errors=True,
                          interrupt_on_timeout=True, shutdown_kernel="immediate",
                          startup_timeout=max(60, int(job["cell_timeout"])),
                          record_timing=False, on_cell_error=on_cell_error)
    try:
        # the kernel's raw stdout/stderr go nowhere: it could otherwise fill a log file
        with client.setup_kernel(cwd=str(cwd), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            pid = getattr(km.provisioner, "pid", None) if km.provisioner else None
            if pid:
                (workdir / "kernel.pid").write_text(str(pid))
            died = False
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                client.current_index = index
                try:
                    client.execute_cell(cell, index, execution_count=state["cells"] + 1)
                except DeadKernelError:
                    state["state"] = "kernel died"
                    state["died_at"] = f"cell {index + 1}"
                    died = True
                    break
                state["cells"] += 1
            if not died:
                xdir = workdir / f"x{secrets.token_hex(8)}"
                xdir.mkdir()
                (xdir / "inputs.npz").write_bytes(inputs_blob)
                state["xdir"] = str(xdir)
                _write_json_atomic(run_path, state)
                client.current_kind = "extract"
                for i, item in enumerate(job["extract"]):
                    client.current_index = i
                    source = _extraction_cell(str(xdir), i, item["function_name"],
                                              item["cases"], job["cell_timeout"],
                                              job["max_bytes"], item["allowed"],
                                              item.get("allowed_modules", ()))
                    cell = nbformat.v4.new_code_cell(source)
                    nb.cells.append(cell)  # nbclient stores the executed cell by its index
                    # backstop only: each call has its own alarm of cell_timeout seconds
                    n_calls = len(item["cases"]) + 1
                    client.timeout = int(math.ceil(job["cell_timeout"] * n_calls)) + 30
                    try:
                        client.execute_cell(cell, len(nb.cells) - 1, store_history=False)
                    except DeadKernelError:
                        state["state"] = "kernel died"
                        state["died_at"] = f"grading {item['name']}"
                        break
                    state["extraction"].setdefault("done", []).append(i)
                    _write_json_atomic(run_path, state)
                else:
                    state["state"] = "ok"
    except DeadKernelError:
        state["state"] = "kernel died"
    except Exception as exc:
        state["state"] = "error"
        state["detail"] = f"{type(exc).__name__}: {exc}"[:300]
    _write_json_atomic(run_path, state)
    return 0


# --------------------------------------------------------------------------------------------
# The parent: prepare, run the child under the total timeout, score
# --------------------------------------------------------------------------------------------
def _kill_tree(proc: subprocess.Popen, workdir: Path) -> None:
    """Kill the child's process group and the kernel's (the kernel runs in its own session)."""
    if os.name == "posix":
        for pgid_source in ("child", "kernel"):
            try:
                if pgid_source == "child":
                    pgid = proc.pid
                else:
                    pid_file = workdir / "kernel.pid"
                    if not pid_file.exists():
                        continue
                    pgid = int(pid_file.read_text().strip())
                    if pgid <= 1:
                        continue
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, ValueError, OSError):
                pass
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _child_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # the kernel sees the same cnnlab as the grader, even from a source checkout
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("CNNLAB_QUICK", "1")       # graded functions are small; training scales down
    env.setdefault("CNNLAB_OFFLINE", "1")
    env["MPLBACKEND"] = "Agg"
    env["IPYTHONDIR"] = str(workdir / "ipython")  # no startup scripts from the grader's profile
    tmp = workdir / "tmp"                         # connection files and the notebook's temp
    tmp.mkdir(exist_ok=True)                      # files: removed with the workdir, even after
    env["TMPDIR"] = env["TEMP"] = env["TMP"] = str(tmp)   # a kill
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _decode_output(spec, npz, registry, depth=0):
    """A result spec from the kernel → the value (or an ErrorResult). Strict: raises on junk."""
    if not isinstance(spec, dict):
        raise ValueError("malformed result")
    t = spec.get("t")
    if t in ("arr", "npscalar"):
        key = spec.get("k")
        if not isinstance(key, str) or key not in npz.files:
            raise ValueError("a result array is missing")
        arr = npz[key]
        return arr[()] if t == "npscalar" else arr
    if t == "none":
        return None
    if t == "bool":
        return bool(spec["v"])
    if t == "int":
        return int(str(spec["v"])[:120])
    if t == "float":
        return float(str(spec["v"]))
    if t == "complex":
        return complex(float(spec["v"][0]), float(spec["v"][1]))
    if t in ("tuple", "list") and depth < 5 and isinstance(spec.get("v"), list):
        items = [_decode_output(s, npz, registry, depth + 1) for s in spec["v"][:256]]
        return tuple(items) if t == "tuple" else items
    if t == "error":
        return registry.ErrorResult(str(spec.get("type", "Exception"))[:100],
                                    str(spec.get("msg", ""))[:500])
    if t == "unsupported":
        return registry.ErrorResult(
            "TypeError", f"returned a {str(spec.get('type'))[:80]}, which the grader cannot "
                         "read back (return NumPy arrays, numbers or tuples of them)")
    raise ValueError(f"unknown result kind {t!r}")


def _points_for(result, points: float, fresh_passed: int, fresh_total: int) -> float:
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


def _fmt_points(x: float) -> str:
    x = round(float(x), 2)
    return str(int(x)) if x == int(x) else f"{x:.2f}".rstrip("0").rstrip(".")


class _Grader:
    def __init__(self, registry, names, *, timeout, cell_timeout, seed, fresh, echo):
        self.registry = registry
        self.names = names
        self.timeout = float(timeout)
        self.cell_timeout = float(cell_timeout)
        self.seed = int(seed)
        self.fresh = int(fresh)
        self.echo = echo
        self.exercises = {n: registry.EXERCISES[n] for n in names}
        self.points = {n: float(getattr(e, "points", 1)) for n, e in self.exercises.items()}
        self.cases = {n: list(e.cases()) for n, e in self.exercises.items()}
        self._running: dict[int, tuple[subprocess.Popen, Path]] = {}
        self._lock = threading.Lock()
        self._cancelled = False

    # ---- one submission ------------------------------------------------------------------
    def grade_one(self, name: str, path: Path) -> SubmissionGrade:
        t0 = time.monotonic()
        row = SubmissionGrade(submission=name, path=str(path),
                              scores={n: 0.0 for n in self.names},
                              max_total=sum(self.points.values()), status=_STATUS_OK)
        try:
            nb, raw = _read_notebook(path)
        except _NotGradable as exc:
            row.status = exc.status
        except OSError as exc:
            row.status = f"not a notebook: cannot read ({exc.strerror or exc})"
        else:
            workdir = Path(tempfile.mkdtemp(prefix="cnnlab-grade-"))
            try:
                self._grade_notebook(row, nb, raw, workdir)
            except Exception as exc:  # a grader bug must not stop the run
                row.status = f"error: {type(exc).__name__}: {exc}"[:300]
            finally:
                if not os.environ.get("CNNLAB_GRADE_KEEP"):
                    shutil.rmtree(workdir, ignore_errors=True)
        row.seconds = time.monotonic() - t0
        return row

    def _grade_notebook(self, row: SubmissionGrade, nb, raw: bytes, workdir: Path) -> None:
        import nbformat

        digest = hashlib.sha256(raw).digest()
        rng = np.random.default_rng([self.seed, *digest[:16]])
        arrays: dict[str, np.ndarray] = {}
        plan = []          # per exercise: its cases (registry + fresh) as sent
        extract = []
        for i, ex_name in enumerate(self.names):
            exercise = self.exercises[ex_name]
            base = self.cases[ex_name]
            fresh = _fresh_cases(exercise, base, rng, self.fresh, self.registry)
            sent, specs, n_base, unsent = [], [], 0, []
            for j, case in enumerate([*base, *fresh]):
                try:
                    tmp: dict[str, np.ndarray] = {}
                    spec = {"args": [_encode_input(a, f"e{i}c{j}a{k}", tmp)
                                     for k, a in enumerate(case.args)],
                            "kwargs": {kw: _encode_input(v, f"e{i}c{j}k{m}", tmp)
                                       for m, (kw, v) in enumerate(case.kwargs.items())}}
                except TypeError:  # a case the grader cannot ship: reported, not sent
                    if j < len(base):
                        unsent.append(case.name)
                    continue
                arrays.update(tmp)
                sent.append(case)
                specs.append(spec)
                n_base += j < len(base)
            # a helper is no helper for the exercise it answers (output_size, ..._exact)
            allowed = [h for h in ALLOWED_HELPERS
                       if exercise.function_name not in h and ex_name not in h]
            plan.append({"name": ex_name, "cases": sent, "n_base": n_base, "unsent": unsent})
            # modules the exercise is MEANT to build on (the registry says which) aren't flagged
            extract.append({"name": ex_name, "function_name": exercise.function_name,
                            "cases": specs, "allowed": allowed,
                            "allowed_modules": list(exercise.allowed_modules)})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        (workdir / "inputs.npz").write_bytes(buf.getvalue())
        nbformat.write(nb, str(workdir / "notebook.ipynb"))
        _write_json_atomic(workdir / "job.json", {
            "cell_timeout": self.cell_timeout, "max_bytes": MAX_RESULT_BYTES, "extract": extract})

        # ---- run the child under the total timeout -----------------------------------------
        with open(workdir / "runner.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cnnlab.grade", "--_one", str(workdir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=str(workdir), env=_child_env(workdir),
                start_new_session=(os.name == "posix"))
            with self._lock:
                self._running[proc.pid] = (proc, workdir)
                cancelled = self._cancelled
            timed_out = False
            try:
                if cancelled:
                    raise KeyboardInterrupt
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_tree(proc, workdir)
                with self._lock:
                    self._running.pop(proc.pid, None)
            if self._cancelled:
                raise KeyboardInterrupt
        try:
            state = json.loads((workdir / "run.json").read_text(encoding="utf-8"))
            if not isinstance(state, dict):
                raise ValueError
        except (OSError, ValueError):
            state = {"state": "not started"}

        # ---- score whatever was extracted ---------------------------------------------------
        flags: list[str] = []
        problems: list[str] = []
        xdir = state.get("xdir")
        xdir_path = Path(xdir) if isinstance(xdir, str) else None
        if xdir_path is not None and xdir_path.parent != workdir:
            xdir_path = None  # never read results from anywhere but our own workdir
        extraction = state.get("extraction") if isinstance(state.get("extraction"), dict) else {}
        x_errors = extraction.get("errors") if isinstance(extraction.get("errors"), dict) else {}
        x_timeouts = extraction.get("timeouts") or []
        failed_in_kernel = []
        for i, item in enumerate(plan):
            ex_name = item["name"]
            detail = self._score_exercise(row, i, item, xdir_path, flags, problems)
            row.details[ex_name] = detail
            if i in x_timeouts:
                problems.append(f"timeout: grading {ex_name} was interrupted")
            elif str(i) in x_errors and detail.get("note") == "not reached":
                # the grader's own cell failed in the kernel (a notebook that broke builtins?)
                failed_in_kernel.append((ex_name, str(x_errors[str(i)])[:100]))
        if failed_in_kernel:
            names = [n for n, _ in failed_in_kernel]
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            problems.append(f"error: grading failed in the kernel for {', '.join(names[:3])}"
                            f"{more} ({failed_in_kernel[0][1]})")

        # ---- status ---------------------------------------------------------------------------
        parts = []
        run_state = state.get("state")
        cell_timeouts = state.get("cell_timeouts") or []
        if timed_out:
            parts.append(f"timeout: exceeded {self.timeout:g} s in total, killed")
        elif run_state == "kernel died":
            where = state.get("died_at")
            parts.append(f"kernel died ({where})" if where else "kernel died")
        elif run_state in ("error", "running", "not started"):
            detail = state.get("detail") or _tail(workdir / "runner.log")
            parts.append(f"error: grading run failed: {detail}"[:300])
        if cell_timeouts and not timed_out:
            cells = ", ".join(str(int(c) + 1) for c in cell_timeouts[:5])
            parts.append(f"timeout: cell {cells} interrupted after {self.cell_timeout:g} s")
        if not parts:  # the run itself went fine: a grading problem, or "ok", leads
            parts, problems = (problems or [_STATUS_OK]), []
        errors = state.get("cell_errors") or []
        if errors:
            parts.append(f"errors in {len(errors)} cell{'s' if len(errors) > 1 else ''}")
        parts.extend(problems)
        parts.extend(flags)
        row.status = "; ".join(parts)

    def _score_exercise(self, row, i, item, xdir: Path | None, flags, problems) -> dict:
        ex_name = item["name"]
        exercise = self.exercises[ex_name]
        cases = item["cases"]
        n_base = item["n_base"]
        detail: dict[str, Any] = {"defined": False, "points": 0.0}
        if item.get("unsent"):
            problems.append(f"error: the grader could not send {len(item['unsent'])} case(s) of "
                            f"{ex_name} to the kernel (they count as failed)")
        if xdir is None:
            detail["note"] = "not reached"
            return detail
        jpath, npath = xdir / f"out_{i}.json", xdir / f"out_{i}.npz"
        if not jpath.exists():
            detail["note"] = "not reached"
            return detail
        try:
            if jpath.stat().st_size > MAX_RESULT_FILE or (
                    npath.exists() and npath.stat().st_size > MAX_RESULT_FILE):
                raise ValueError("results file too large")
            report = json.loads(jpath.read_text(encoding="utf-8"))
            if not isinstance(report, dict):
                raise ValueError("malformed report")
            detail["defined"] = bool(report.get("defined"))
            if not detail["defined"]:
                return detail
            results = report.get("results")
            if not isinstance(results, list):
                raise ValueError("malformed report")
            with np.load(npath, allow_pickle=False) as npz:
                outputs = []
                for j, case in enumerate(cases):
                    if j < len(results):
                        outputs.append(_decode_output(results[j], npz, self.registry))
                    else:
                        outputs.append(self.registry.ErrorResult(
                            "TimeoutError", "not run (the grading stopped before this case)"))
        except Exception as exc:
            problems.append(f"error: unreadable results for {ex_name} ({type(exc).__name__}; "
                            "did the notebook tamper with numpy or the files?)")
            detail["note"] = f"unreadable results: {type(exc).__name__}: {exc}"[:200]
            return detail

        base_outputs = {case.name: out for case, out in zip(cases[:n_base], outputs[:n_base])}
        try:
            result = self.registry.evaluate_outputs(ex_name, base_outputs)
        except Exception as exc:
            problems.append(f"error: checking {ex_name} failed ({type(exc).__name__}: {exc})"[:200])
            return detail
        fresh_passed, fresh_msgs = 0, []
        fresh_cases = cases[n_base:]
        for case, got in zip(fresh_cases, outputs[n_base:]):
            try:
                message = exercise.diagnose(case, got)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
            if message is None:
                fresh_passed += 1
            else:
                fresh_msgs.append(f"{case.name}: {message}"[:300])
        earned = _points_for(result, self.points[ex_name], fresh_passed, len(fresh_cases))
        row.scores[ex_name] = earned
        detail.update({
            "points": earned, "max_points": self.points[ex_name],
            "passed": bool(result.passed), "n_passed": int(result.n_passed),
            "n_cases": int(result.n_cases), "messages": list(result.messages)[:20],
            "fresh_passed": fresh_passed, "fresh_cases": len(fresh_cases),
            "fresh_messages": fresh_msgs[:5],
            "seconds": report.get("seconds"),
        })
        if bool(result.passed) and fresh_cases and fresh_passed < len(fresh_cases):
            flags.append(f"suspicious: {ex_name} passes the course cases but fails "
                         f"{len(fresh_cases) - fresh_passed} fresh random case(s)")
        # ---- flags: the call trace (run time) and the code's names (static) -----------------
        calls = report.get("calls") if isinstance(report.get("calls"), dict) else {}
        static = report.get("static") if isinstance(report.get("static"), list) else []
        tampered = report.get("tampered") if isinstance(report.get("tampered"), list) else []
        called = sorted(str(k)[:120] for k in calls)[:5]
        referenced = sorted(str(s)[:120] for s in static if str(s) not in calls)[:5]
        fname = exercise.function_name
        if called or referenced:
            what = ([f"calls {', '.join(called)}"] if called else []) + \
                   ([f"refers to {', '.join(referenced)}"] if referenced else [])
            flags.append(f"uses-reference: {fname} {' and '.join(what)}")
        if tampered:
            flags.append(f"tampering: {fname} replaced the grader's call tracer")
        detail.update({"calls": {str(k)[:120]: v for k, v in list(calls.items())[:20]},
                       "static": static[:20], "tampered": tampered[:5]})
        return detail

    # ---- many submissions ------------------------------------------------------------------
    def run(self, submissions: list[tuple[str, Path]], jobs: int = 1) -> list[SubmissionGrade]:
        lock = threading.Lock()
        total = len(submissions)
        done = [0]

        def work(item):
            name, path = item
            row = self.grade_one(name, path)
            with lock:
                done[0] += 1
                if self.echo:
                    self.echo(f"[{done[0]}/{total}] {name}: {_fmt_points(row.total)}/"
                              f"{_fmt_points(row.max_total)}  {row.status}  ({row.seconds:.1f} s)")
            return row

        if jobs <= 1:
            return [work(item) for item in submissions]
        pool = ThreadPoolExecutor(max_workers=jobs)
        try:
            return list(pool.map(work, submissions))
        except KeyboardInterrupt:  # Ctrl-C: stop everything now, write nothing
            with self._lock:
                self._cancelled = True
                running = list(self._running.values())
            for proc, workdir in running:
                _kill_tree(proc, workdir)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _tail(path: Path, n: int = 200) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines()
                 if ln.strip() and "WARNING" not in ln]
        return lines[-1][-n:] if lines else "no output"
    except OSError:
        return "no output"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def grade(submissions: Iterable[str | os.PathLike], out: str | os.PathLike | None = None, *,
          timeout: float = DEFAULT_TIMEOUT, cell_timeout: float = DEFAULT_CELL_TIMEOUT,
          jobs: int = 1, seed: int = 0, exercises: Iterable[str] | None = None,
          lessons: Iterable[int] | None = None, fresh: int = DEFAULT_FRESH,
          details: str | os.PathLike | None = None, registry=None,
          echo: Callable[[str], Any] | None = print) -> Gradebook:
    """Grade notebooks (files and/or folders); write the CSV gradebook to ``out`` atomically.

    ``registry`` defaults to :mod:`cnnlab.checks` (anything with ``EXERCISES``,
    ``evaluate_outputs``, ``ErrorResult`` and ``Case`` works, which is how tests inject one).
    """
    if timeout <= 0 or cell_timeout <= 0:
        raise ValueError("timeout and cell_timeout must be positive numbers of seconds")
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    reg = _load_registry(registry)
    names = _select_exercises(reg, list(exercises) if exercises else None,
                              set(lessons) if lessons else None)
    found = find_submissions(submissions)
    if not found:
        raise ValueError("no submissions: give .ipynb files or folders containing them")
    grader = _Grader(reg, names, timeout=timeout, cell_timeout=cell_timeout, seed=seed,
                     fresh=fresh, echo=echo)
    rows = grader.run(found, jobs=jobs)
    book = Gradebook(exercises=names, points=grader.points, rows=rows)
    if out is not None:
        write_gradebook(book, out)
    if details is not None:
        _write_text_atomic(Path(details), json.dumps(
            {r.submission: {"status": r.status, "total": r.total, "max_total": r.max_total,
                            "exercises": r.details} for r in rows}, indent=1, default=str))
    return book


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in text a student controls (file names)."""
    return "'" + text if text.startswith(_CSV_PREFIX_DANGER) else text


def _write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent or "."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_gradebook(book: Gradebook, out: str | os.PathLike) -> None:
    """Write the CSV: a temporary file in the same folder, then ``os.replace`` (atomic)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(book.columns)
    for row in book.rows:
        writer.writerow([_csv_safe(row.submission),
                         *(_fmt_points(row.scores[n]) for n in book.exercises),
                         _fmt_points(row.total), _fmt_points(row.max_total),
                         _csv_safe(row.status)])
    _write_text_atomic(Path(out), buf.getvalue())


def format_table(book: Gradebook, width: int = 100) -> str:
    """A short plain-text table for the terminal: submission, total/max, status."""
    name_w = min(40, max([len("submission"), *(len(r.submission) for r in book.rows)]))
    lines = [f"{'submission':<{name_w}}  {'total':>9}  status", "-" * min(width, name_w + 30)]
    for r in book.rows:
        score = f"{_fmt_points(r.total)}/{_fmt_points(r.max_total)}"
        status = r.status if len(r.status) <= width - name_w - 13 else \
            r.status[:max(10, width - name_w - 16)] + "..."
        name = r.submission if len(r.submission) <= name_w else "..." + r.submission[-name_w + 3:]
        lines.append(f"{name:<{name_w}}  {score:>9}  {status}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Register ``cnnlab grade`` on the CLI's sub-command parsers."""
    p = subparsers.add_parser(
        "grade", help="grade submitted notebooks into a CSV gradebook",
        description="Run each submitted notebook in its own fresh kernel, call the exercise "
                    "functions it defines on the grader's cases, score them outside the "
                    "notebook, and write a CSV gradebook (atomically). Student code runs with "
                    "YOUR privileges: grade untrusted work in a container, VM or unprivileged "
                    "account (see docs/grading.md).")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                   help=".ipynb files, or folders (every .ipynb below them, sorted)")
    p.add_argument("--out", required=True, metavar="CSV", help="the gradebook to write")
    p.add_argument("--timeout", type=_positive, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"total time per submission, kernel start included; the kernel is "
                        f"killed when it runs out (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--cell-timeout", type=_positive, default=DEFAULT_CELL_TIMEOUT,
                   metavar="SECONDS", help=f"time per cell (interrupted, then the notebook goes "
                                           f"on) and per graded call (default "
                                           f"{DEFAULT_CELL_TIMEOUT:g})")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="submissions graded in parallel (default 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for the fresh random cases (mixed with each file's hash)")
    p.add_argument("--fresh", type=int, default=DEFAULT_FRESH, metavar="N",
                   help=f"fresh random cases per exercise (default {DEFAULT_FRESH}; 0: none)")
    p.add_argument("--lesson", type=int, action="append", metavar="N",
                   help="only the exercises of lesson N (repeatable)")
    p.add_argument("--exercise", action="append", metavar="NAME",
                   help="only this exercise (repeatable)")
    p.add_argument("--details", metavar="JSON",
                   help="also write per-exercise feedback (check messages, flags) as JSON")
    p.set_defaults(func=_cli)
    return p


def _cli(args) -> int:
    if args.jobs < 1:
        print("cnnlab grade: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.is_dir():
        print(f"cnnlab grade: error: --out {out} is a folder; give a file name", file=sys.stderr)
        return 2
    if not out.parent.exists():
        print(f"cnnlab grade: error: the folder {out.parent} for --out does not exist",
              file=sys.stderr)
        return 2
    def on_term(signum, frame):  # a scheduler's SIGTERM cleans up like Ctrl-C
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, on_term)
    try:
        book = grade(args.submissions, out, timeout=args.timeout, cell_timeout=args.cell_timeout,
                     jobs=args.jobs, seed=args.seed, exercises=args.exercise,
                     lessons=args.lesson, fresh=max(0, args.fresh), details=args.details)
    except ValueError as exc:
        print(f"cnnlab grade: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"cnnlab grade: error: cannot load the exercise registry: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncnnlab grade: interrupted; no gradebook written", file=sys.stderr)
        return 130
    print()
    print(format_table(book))
    print(f"\nwrote {out} ({len(book.rows)} submission{'s' if len(book.rows) != 1 else ''})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m cnnlab.grade``: the same as ``cnnlab grade`` (plus the internal child mode)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_one"] and len(argv) == 2:
        return _run_one(Path(argv[1]))
    parser = argparse.ArgumentParser(prog="python -m cnnlab.grade")
    sub = parser.add_subparsers(dest="command")
    add_cli(sub)
    args = parser.parse_args(["grade", *argv])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
