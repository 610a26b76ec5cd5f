"""Lesson 8 (backpropagation end to end): ``numerical_gradients`` (a gradient check the
student writes) and ``which_is_wrong`` (using it to find the planted bug in a layer's backward).

The exercise notebook gives the student a small layer, ``layer_forward(x, w, b) =
tanh(x ⋆ w + b)`` (one channel, valid cross-correlation, ``b`` a number), and a locked
``layer_backward`` with ONE planted bug: its weight gradient uses the delta rotated by 180°
(the mistake lesson 7's 07-008b warns about). ``layer_forward`` and ``buggy_layer_backward``
below are the same computations written with ``cnnlab.functional``; a test holds the notebook's
locked cell equal to them.
"""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant
from cnnlab.checks.helpers import rand, randn
from cnnlab.gradcheck import numerical_gradient, rel_error

__all__ = ["EXERCISES", "layer_forward", "buggy_layer_backward", "PARTS"]

PARTS = ("dx", "dw", "db")


def layer_forward(x, w, b):
    """tanh(x ⋆ w + b): x (H, W), w (k, k), b a number."""
    return np.tanh(F.correlate2d(x, w) + b)


def layer_backward(dout, x, w, b):
    """The correct (dx, dw, db) of sum(layer_forward(x, w, b) * dout)."""
    g = dout * (1 - layer_forward(x, w, b) ** 2)
    return F.convolve2d(g, w, mode="full"), F.correlate2d(x, g), np.asarray(g.sum())


def buggy_layer_backward(dout, x, w, b):
    """What the notebook's locked ``layer_backward`` returns: dw with the delta rotated."""
    g = dout * (1 - layer_forward(x, w, b) ** 2)
    return F.convolve2d(g, w, mode="full"), F.correlate2d(x, g[::-1, ::-1]), np.asarray(g.sum())


# =========================================================================== numerical_gradients

def _numgrad_cases(rng):
    x = np.array([[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 0, 1, 2]], dtype=np.float64) / 4
    w = np.array([[0.5, -0.25], [0.25, 0.5]])
    cases = [Case("fixed: 4x4 x, 2x2 w, b = 0.1, dout all ones, eps = 1e-6",
                  (x, w, 0.1, np.ones((3, 3))), dict(eps=1e-6)),
             Case("fixed: the same with eps = 0.01 (a centred difference is still accurate)",
                  (x, w, 0.1, np.ones((3, 3))), dict(eps=1e-2))]
    specs = [((5, 5), 3, 1e-6), ((6, 5), 2, 1e-3), ((5, 7), 3, 1e-2), ((4, 4), 3, 1e-5)]
    for i, (shape, k, eps) in enumerate(specs, 1):
        x, w = randn(rng, shape) * 0.5, randn(rng, (k, k)) * 0.5
        dout = rand(rng, (shape[0] - k + 1, shape[1] - k + 1), np.float64, -3, 4)
        b = float(np.round(rng.normal() * 0.3, 2))
        cases.append(Case(f"random #{i}: x {shape[0]}x{shape[1]}, w {k}x{k}, eps = {eps:g}",
                          (x, w, b, dout), dict(eps=eps)))
    return cases


def _numeric(dout, x, w, b, eps, diff):
    """The gradients of sum(layer_forward(x, w, b) * dout) by the difference rule ``diff``
    (loss at +eps, loss at -eps, loss at x, eps) -> estimate."""
    def loss(x_, w_, b_):
        return float(np.sum(layer_forward(x_, w_, b_) * dout))

    def grad(f, v):
        v = np.array(v, dtype=np.float64)
        out = np.zeros_like(v)
        base = f(v)
        for idx in np.ndindex(v.shape):
            plus, minus = v.copy(), v.copy()
            plus[idx] += eps
            minus[idx] -= eps
            out[idx] = diff(f(plus), f(minus), base, eps)
        return out
    return (grad(lambda v: loss(v, w, b), x), grad(lambda v: loss(x, v, b), w),
            grad(lambda v: loss(x, w, v[()]), np.asarray(b, dtype=np.float64)))


def _numgrad_reference(x, w, b, dout, eps=1e-6):
    def loss_of(which):
        def f(v):
            args = {"x": x, "w": w, "b": b}
            args[which] = v[()] if which == "b" else v
            return layer_forward(args["x"], args["w"], args["b"])
        return f
    return tuple(numerical_gradient(loss_of(p), v, dout, eps)
                 for p, v in (("x", x), ("w", w), ("b", np.asarray(b, dtype=np.float64))))


def _not_restored(x, w, b, dout, eps=1e-6):
    """Each entry is left at value - eps after its two evaluations (x[i] += eps; x[i] -= 2*eps,
    never set back): later entries see a shifted input."""
    def loss(x_, w_, b_):
        return float(np.sum(layer_forward(x_, w_, b_) * dout))

    def grad(f, v):
        v = np.array(v, dtype=np.float64)
        out = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            v[idx] += eps
            plus = f(v)
            v[idx] -= 2 * eps
            out[idx] = (plus - f(v)) / (2 * eps)
        return out
    return (grad(lambda v: loss(v, w, b), x), grad(lambda v: loss(x, v, b), w),
            grad(lambda v: loss(x, w, v[()]), np.asarray(b, dtype=np.float64)))


def _numgrad_variants():
    rules = {
        "forward difference": lambda p, m, base, e: (p - base) / e,
        "backward difference": lambda p, m, base, e: (base - m) / e,
        "divided by eps instead of 2*eps": lambda p, m, base, e: (p - m) / e,
        "divided by eps**2": lambda p, m, base, e: (p - m) / (2 * e * e),
    }
    explain = {
        "forward difference": "(f(x + eps) - f(x)) / eps is only accurate to O(eps); use the "
                              "CENTRED difference (f(x + eps) - f(x - eps)) / (2*eps), accurate "
                              "to O(eps**2)",
        "backward difference": "(f(x) - f(x - eps)) / eps is only accurate to O(eps); use the "
                               "CENTRED difference (f(x + eps) - f(x - eps)) / (2*eps)",
        "divided by eps instead of 2*eps": "the two points x + eps and x - eps are 2*eps apart: "
                                           "divide by 2*eps",
        "divided by eps**2": "a first derivative divides the difference by the distance 2*eps",
    }
    out = []
    for cause, rule in rules.items():
        for i, part in enumerate(PARTS):
            out.append(Variant(cause, explain[cause],
                               lambda x, w, b, dout, eps=1e-6, r=rule, i=i:
                               _numeric(dout, x, w, b, eps, r)[i], part))
    for i, part in enumerate(PARTS):
        if part != "db":    # b has one entry: nothing after it sees the shift
            out.append(Variant("the input is not restored", "after evaluating f at x + eps and "
                               "x - eps, set the entry back to its old value before moving on",
                               lambda x, w, b, dout, eps=1e-6, i=i:
                               _not_restored(x, w, b, dout, eps)[i], part))
        out.append(Variant("dout ignored", "the loss is sum(layer_forward(x, w, b) * dout): "
                           "multiply by dout before summing",
                           lambda x, w, b, dout, eps=1e-6, i=i:
                           _numgrad_reference(x, w, b, np.ones_like(dout), eps)[i], part))
        out.append(Variant("the exact gradient instead of the estimate", "return the "
                           "centred-difference ESTIMATE with the given eps, computed from "
                           "layer_forward only",
                           lambda x, w, b, dout, eps=1e-6, i=i:
                           None if eps < 1e-4 else layer_backward(dout, x, w, b)[i], part))
    return tuple(out)


# =========================================================================== which_is_wrong

def _corrupt(rng, a, how):
    return {"sign": -a, "double": 2 * a, "flip": a[::-1, ::-1] if a.ndim == 2 else -a,
            "half": a / 2, "shift": a + 0.5 * np.abs(a).max()}[how]


def _which_cases(rng):
    x = np.array([[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 0, 1, 2]], dtype=np.float64) / 4
    w = np.array([[0.5, -0.25], [0.25, 0.5]])
    dout = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 1.0], [2.0, 0.0, 1.0]])
    numeric = _numgrad_reference(x, w, 0.1, dout)
    cases = [Case("fixed: the notebook's locked layer_backward on its worked example",
                  (buggy_layer_backward(dout, x, w, 0.1), numeric), {}),
             Case("fixed: a correct backward on the same example",
                  (layer_backward(dout, x, w, 0.1), numeric), {})]
    # (wrong part or None, corruption, magnitudes of dx, dw, db)
    specs = [("dx", "sign", (1, 1, 1)), ("db", "half", (1, 1, 1)), ("dw", "double", (1e4, 1, 1)),
             ("db", "shift", (1, 1, 1e-7)), (None, None, (1e4, 1e3, 1e-4)), ("dx", "flip", (1e-3, 1e2, 1)),
             ("dw", "sign", (1, 1e-5, 1))]
    for i, (wrong, how, scales) in enumerate(specs, 1):
        shapes = ((5, 5), (3, 3), ())
        num = tuple(np.asarray(randn(rng, s) * m) for s, m in zip(shapes, scales))
        # the analytic values agree with the numeric ones up to ~1e-9 relative (rounding)
        ana = [n * (1 + 1e-9 * randn(rng, np.shape(n))) for n in num]
        if wrong is not None:
            k = PARTS.index(wrong)
            ana[k] = np.asarray(_corrupt(rng, num[k], how))
        label = "all three agree" if wrong is None else f"{wrong} wrong ({how})"
        sizes = ", ".join(f"|{p}| ~ {m:g}" for p, m in zip(PARTS, scales))
        cases.append(Case(f"random #{i}: {label}; {sizes}", (tuple(ana), num), {}))
    return cases


def _which_reference(analytic, numeric, tol=1e-6):
    for name, a, n in zip(PARTS, analytic, numeric):
        if rel_error(a, n) > tol:
            return name
    return "none"


def _which_absolute(analytic, numeric, tol=1e-6):
    for name, a, n in zip(PARTS, analytic, numeric):
        if np.max(np.abs(np.asarray(a, float) - np.asarray(n, float))) > tol:
            return name
    return "none"


def _which_worst_absolute(analytic, numeric, tol=1e-6):
    errs = [float(np.max(np.abs(np.asarray(a, float) - np.asarray(n, float))))
            for a, n in zip(analytic, numeric)]
    return PARTS[int(np.argmax(errs))] if max(errs) > tol else "none"


_WHICH_VARIANTS = (
    Variant("absolute instead of relative error", "a gradient of size 10,000 has rounding "
            "differences far above 1e-6, and a wrong gradient of size 1e-4 can differ by less: "
            "compare max |a - n| / max(1e-8, |a| + |n|) (entry by entry) with tol", _which_absolute),
    Variant("the largest absolute difference", "the part with the largest |a - n| is often just "
            "the largest gradient; use the relative error of each part", _which_worst_absolute),
)


EXERCISES = (
    Exercise("numerical_gradients", 8, "numerical_gradients", 3,
             "a centred-difference gradient check of a layer",
             "numerical_gradients(x, w, b, dout, eps=1e-6)", _numgrad_cases, _numgrad_reference,
             _numgrad_variants(), kind="tuple", parts=PARTS),
    Exercise("which_is_wrong", 8, "which_is_wrong", 2, "which gradient is wrong?",
             "which_is_wrong(analytic, numeric, tol=1e-6)", _which_cases, _which_reference,
             _WHICH_VARIANTS, kind="choice", choices=PARTS + ("none",)),
)
