"""Lesson 6 (activations and the forward pass): ``relu_forward``, ``relu_backward`` and
``softmax``."""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant, shape_str
from cnnlab.checks.helpers import float32_note, randn

__all__ = ["EXERCISES"]

# The worked example of both ReLU exercises: one value of each kind, 0 included.
_X = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
_DOUT = np.array([1.0, 2.0, 3.0, 4.0, 5.0])

# (shape, dtype) of the random cases; half of the values are whole numbers, so exact zeros
# (where > and >= differ) occur in every case.
_SPECS = [((2, 3, 4, 4), np.float64), ((6, 10), np.float64), ((7,), np.float64),
          ((2, 2, 5, 3), np.float32), ((1, 6, 3, 3), np.float64)]


def _relu_values(rng, shape, dtype):
    whole = rng.integers(-3, 4, size=shape).astype(dtype)
    real = randn(rng, shape, dtype)
    x = np.where(rng.random(shape) < 0.5, whole, real).astype(dtype)
    x.flat[0] = 0                       # at least one exact zero
    return x


def _relu_cases(backward):
    def make(rng):
        if backward:
            cases = [Case("fixed: x = [-2, -0.5, 0, 0.5, 2], dout = [1, 2, 3, 4, 5] "
                          "(answer [0, 0, 0, 4, 5])", (_DOUT.copy(), _X.copy()), {})]
        else:
            cases = [Case("fixed: x = [-2, -0.5, 0, 0.5, 2] (answer [0, 0, 0, 0.5, 2])",
                          (_X.copy(),), {})]
        for i, (shape, dtype) in enumerate(_SPECS, 1):
            x = _relu_values(rng, shape, dtype)
            name = f"random #{i}: x {shape_str(shape)} with zeros" + float32_note(dtype)
            if backward:
                cases.append(Case(name, (randn(rng, shape, dtype), x), {}))
            else:
                cases.append(Case(name, (x,), {}))
        return cases
    return make


_FORWARD_VARIANTS = (
    Variant("the mask returned", "return the values, x where x > 0 and 0 elsewhere, not "
            "whether x > 0: x * (x > 0) or np.maximum(x, 0)",
            lambda x: (x > 0).astype(x.dtype)),
    Variant("negative values flipped, not zeroed", "ReLU sends a negative value to 0; "
            "np.abs(x) makes it positive", lambda x: np.abs(x)),
    Variant("minimum instead of maximum", "ReLU keeps the positive part: np.maximum(x, 0), "
            "not np.minimum", lambda x: np.minimum(x, 0)),
    Variant("a slope for negative inputs (leaky ReLU)", "plain ReLU gives exactly 0 for "
            "x < 0, not a small multiple of x", lambda x: F.leaky_relu(x, 0.01)),
    Variant("the positive values lost", "keep x where x > 0 (x * (x > 0)); your result is 0 "
            "there too", lambda x: np.zeros_like(x)),
)

_FORWARD_SHAPES = (
    Variant("np.max(x, 0) is the largest value along axis 0 (one number per column); the "
            "elementwise maximum of x and 0 is np.maximum(x, 0)", "",
            lambda x: np.max(x, 0).shape),
)


def _mask_ge(dout, x):
    return None if not np.any(x == 0) else dout * (x >= 0)


_BACKWARD_VARIANTS = (
    Variant("gradient passed at x = 0 (>= instead of >)", "ReLU's derivative is 1 only where "
            "x > 0; at exactly x = 0 it is taken as 0 (as PyTorch): use x > 0, not x >= 0",
            _mask_ge),
    Variant("the mask returned, not dout times the mask", "the backward multiplies the "
            "incoming gradient by the derivative: dout * (x > 0)",
            lambda dout, x: (x > 0).astype(x.dtype)),
    Variant("mask taken from dout instead of x", "whether the gradient passes depends on the "
            "forward input x (x > 0), not on the sign of dout",
            lambda dout, x: dout * (dout > 0)),
    Variant("the derivative ignored", "dout flows back only where x > 0; elsewhere the "
            "gradient is 0", lambda dout, x: dout.copy()),
    Variant("mask inverted", "the gradient passes where x > 0 (where ReLU let x through), "
            "and is 0 where x <= 0", lambda dout, x: dout * (x <= 0)),
    Variant("mask inverted", "the gradient passes where x > 0 (where ReLU let x through), "
            "and is 0 where x <= 0", lambda dout, x: dout * (x < 0)),
    Variant("multiplied by relu(x) instead of its derivative", "the derivative of ReLU is "
            "1 where x > 0 and 0 elsewhere: dout * (x > 0), not dout * relu(x)",
            lambda dout, x: dout * F.relu(x)),
    Variant("forward applied to dout", "relu(dout) is not the backward: multiply dout by the "
            "mask x > 0", lambda dout, x: F.relu(dout)),
)


# =========================================================================== softmax

def _softmax_cases(rng):
    cases = [Case("fixed: logits [[0, 1], [2, 2]] (answer [[0.2689, 0.7311], [0.5, 0.5]])",
                  (np.array([[0.0, 1.0], [2.0, 2.0]]),), {}),
             Case("fixed: large logits [[1000, 1001], [-1000, -1000]] (answer [[0.2689, 0.7311], "
                  "[0.5, 0.5]])", (np.array([[1000.0, 1001.0], [-1000.0, -1000.0]]),), {})]
    specs = [((4, 3), np.float64, 1), ((5, 10), np.float64, 3), ((3, 6), np.float32, 2),
             ((6, 2), np.float64, 1), ((2, 7), np.float64, 50)]
    for i, (shape, dtype, scale) in enumerate(specs, 1):
        z = (randn(rng, shape, np.float64) * scale).astype(dtype)
        name = f"random #{i}: logits {shape_str(shape)}, spread {scale}" + float32_note(dtype)
        cases.append(Case(name, (z,), {}))
    return cases


def _normalised(z, axis, shift_axis=None):
    """exp(z - max) divided by its sum over ``axis`` (None: everything); the max over
    ``shift_axis`` (None: the global one). None where the result is not finite."""
    e = np.exp(z - z.max(axis=shift_axis, keepdims=shift_axis is not None))
    return _finite(e / e.sum(axis=axis, keepdims=axis is not None))


def _finite(a):
    """``a``, or None when it holds inf or NaN (a planted mistake that overflows)."""
    return a if np.all(np.isfinite(a)) else None


_SOFTMAX_VARIANTS = (
    Variant("normalised over the wrong axis", "each ROW (one example) sums to 1: sum over "
            "axis 1 (e.sum(axis=1, keepdims=True)), not axis 0",
            lambda z: None if z.shape[0] == 1 else _normalised(z, 0)),
    Variant("normalised over the wrong axis", "each ROW (one example) sums to 1: sum over "
            "axis 1 (e.sum(axis=1, keepdims=True)), not axis 0",
            lambda z: None if z.shape[0] == 1 else _normalised(z, 0, 1)),
    Variant("normalised over the whole batch", "each row sums to 1 on its own: "
            "e.sum(axis=1, keepdims=True), not e.sum()", lambda z: _normalised(z, None)),
    Variant("normalised over the whole batch", "each row sums to 1 on its own: "
            "e.sum(axis=1, keepdims=True), not e.sum()", lambda z: _normalised(z, None, 1)),
    Variant("the exponential missing", "softmax is exp(z_j) / sum_k exp(z_k); you divided the "
            "logits themselves by their sum", lambda z: _finite(z / z.sum(axis=1, keepdims=True))),
    Variant("the logits returned", "apply exp, then divide by the row's sum",
            lambda z: z.copy()),
    Variant("exp(z) returned, not normalised", "divide each row by its sum so that it sums "
            "to 1", lambda z: _finite(np.exp(z))),
)


EXERCISES = (
    Exercise("relu_forward", 6, "relu_forward", 1, "ReLU forward", "relu_forward(x)",
             _relu_cases(False), lambda x: F.relu(x), _FORWARD_VARIANTS,
             shape_variants=_FORWARD_SHAPES),
    Exercise("relu_backward", 6, "relu_backward", 2, "ReLU backward", "relu_backward(dout, x)",
             _relu_cases(True), lambda dout, x: F.relu_backward(dout, x), _BACKWARD_VARIANTS),
    Exercise("softmax", 6, "softmax", 2, "stable softmax of each row", "softmax(z)",
             _softmax_cases, lambda z: F.softmax(z, dim=1), _SOFTMAX_VARIANTS),
)
