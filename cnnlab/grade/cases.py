"""What a grading run sends to each kernel: the selected exercises, their cases (the registry's
own plus fresh ones drawn for this submission) and the inputs encoded for the wire."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import math

import numpy as np

from cnnlab.grade import wire

__all__ = [
    "FLAGGED_MODULES", "ALLOWED_HELPERS", "ExercisePlan", "load_registry", "select_exercises",
    "fresh_cases", "allowed_helpers", "plan_exercise",
]

#: A graded function calling into these modules is flagged ("uses-reference").
FLAGGED_MODULES = (
    "cnnlab.functional", "cnnlab._windows", "cnnlab._fast", "cnnlab._args", "cnnlab.reference",
    "cnnlab.nn", "cnnlab.models", "cnnlab.optim", "cnnlab.gradcheck", "cnnlab.checks",
    "cnnlab.grade", "cnnlab.exercises", "cnnlab.train", "scipy.signal", "scipy.ndimage", "torch",
)
#: Small formula helpers the lessons teach students to import; calling them is not flagged
#: (unless the exercise's own function has that name).
ALLOWED_HELPERS = (
    "output_size", "output_size_exact", "conv_parameter_count", "receptive_field",
    "get_rng", "manual_seed",
)


# =========================================================================== the registry

def load_registry(registry=None):
    """``cnnlab.checks`` (default), a module name, or a stand-in with the same names."""
    if registry is None:
        registry = importlib.import_module("cnnlab.checks")
    elif isinstance(registry, str):
        registry = importlib.import_module(registry)
    for attr in ("EXERCISES", "evaluate_outputs", "ErrorResult"):
        if not hasattr(registry, attr):
            raise RuntimeError(f"the exercise registry {registry!r} has no {attr!r}")
    return registry


def select_exercises(registry, names=None, lessons=None) -> list[str]:
    """The exercises to grade, in registry order; ValueError for an unknown name or none left."""
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


# =========================================================================== fresh cases

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


def _drawn_again(exercise, rng, n: int, registry) -> list:
    """Fresh cases from the registry's own random cases, drawn from another seed ([] if the
    exercise cannot do that)."""
    try:
        params = inspect.signature(exercise.cases).parameters
    except (TypeError, ValueError):
        params = {}
    if "seed" not in params:
        return []
    try:
        drawn = exercise.cases(seed=int(rng.integers(2**31)))
    except Exception:
        drawn = []
    drawn = [c for c in drawn if c.name.startswith("random")]
    if not drawn:
        return []
    picked = sorted(rng.permutation(len(drawn))[:n])
    return [_replace_case(drawn[i], f"fresh #{k} ({drawn[i].name})", drawn[i].args,
                          dict(drawn[i].kwargs), registry)
            for k, i in enumerate(picked, 1)]


def _perturbed(exercise, base_cases, rng, n: int, registry) -> list:
    """Fresh cases made by permuting and jittering the float inputs of the registry's cases."""
    existing = {c.name for c in base_cases}
    probe = np.random.default_rng(0)
    candidates = [c for c in base_cases
                  if _changed(tuple(c.args), _perturb(tuple(c.args), probe))
                  or _changed(tuple(c.kwargs.values()), _perturb(tuple(c.kwargs.values()), probe))]
    # prefer the registry's random cases (general shapes) over the hand-made fixed ones
    candidates.sort(key=lambda c: 0 if c.name.startswith("random") else 1)
    fresh = []
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


def fresh_cases(exercise, base_cases, rng: np.random.Generator, n: int, registry) -> list:
    """Up to ``n`` new cases for one exercise, whose answers nobody could have precomputed.

    ``Exercise.cases(seed=...)`` draws them when the exercise can; otherwise the float inputs
    of its cases are permuted and jittered (shapes and dtypes kept).
    """
    if n <= 0:
        return []
    return _drawn_again(exercise, rng, n, registry) or _perturbed(exercise, base_cases, rng, n,
                                                                  registry)


# =========================================================================== the plan

@dataclasses.dataclass
class ExercisePlan:
    """One exercise of one submission: what is sent to the kernel and how to read it back.

    name, function_name : registry key, and what the notebook defines
    cases               : the cases sent (the registry's first, then the fresh ones)
    n_base              : how many of ``cases`` are the registry's
    unsent              : names of registry cases the wire cannot carry (they count as failed)
    specs               : per case sent, ``{"args": spec, "kwargs": spec}`` (``wire``)
    allowed             : helper names not flagged; allowed_modules: modules not flagged
    driver              : the file of a driver that calls the function many times (the
                          capstone's training run, ``Exercise.driver_path``), or None
    keep_inputs         : the kernel reports a call that changed its arguments (as
                          ``ModifiedInput``): every exercise but those with ``modifies_inputs``
    """
    name: str
    function_name: str
    cases: list
    n_base: int
    unsent: list = dataclasses.field(default_factory=list)
    specs: list = dataclasses.field(default_factory=list)
    allowed: list = dataclasses.field(default_factory=list)
    allowed_modules: list = dataclasses.field(default_factory=list)
    driver: str | None = None
    keep_inputs: bool = False


def allowed_helpers(exercise, name: str) -> list[str]:
    """ALLOWED_HELPERS, minus those the exercise answers (a helper is no helper for
    ``output_size``)."""
    return [h for h in ALLOWED_HELPERS if exercise.function_name not in h and name not in h]


def plan_exercise(index: int, name: str, exercise, base, fresh, arrays: dict) -> ExercisePlan:
    """Encode the cases of one exercise (their arrays go into ``arrays``) as a plan."""
    plan = ExercisePlan(name=name, function_name=exercise.function_name, cases=[], n_base=0,
                        allowed=allowed_helpers(exercise, name),
                        allowed_modules=list(getattr(exercise, "allowed_modules", ())),
                        driver=getattr(exercise, "driver_path", None),
                        keep_inputs=not getattr(exercise, "modifies_inputs", True))
    for j, case in enumerate([*base, *fresh]):
        encoder = wire.Encoder(strict=True)
        try:
            spec = {"args": encoder.encode(tuple(case.args), f"e{index}c{j}a"),
                    "kwargs": encoder.encode(dict(case.kwargs), f"e{index}c{j}k")}
        except TypeError:  # a case the grader cannot ship: reported, not sent
            if j < len(base):
                plan.unsent.append(case.name)
            continue
        arrays.update(encoder.arrays)
        plan.cases.append(case)
        plan.specs.append(spec)
        plan.n_base += j < len(base)
    return plan
