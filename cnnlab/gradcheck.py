"""Gradient checking by centred finite differences (the way to trust a hand-written backward).

For a function f and an upstream gradient g (same shape as f's output), the chain rule says the
gradient of the scalar ``L(x) = sum(f(x) * g)`` with respect to x is exactly what a backward
function returns. We can estimate it without any calculus:

    dL/dx[i] ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

(centred differences: error O(eps^2)). Everything runs in float64; with eps = 1e-6 the relative
error of a correct backward is typically 1e-10..1e-6 (larger where a true gradient is nearly 0),
while a bug gives something near 1.

>>> import numpy as np
>>> from cnnlab import functional as F
>>> x = np.random.default_rng(0).normal(size=(2, 3))
>>> g = np.ones((2, 3))
>>> rel_error(numerical_gradient(F.sigmoid, x, g), F.sigmoid_backward(g, x)) < 1e-7
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["numerical_gradient", "rel_error", "check_gradients"]


def numerical_gradient(f, x, grad_output=None, eps=1e-6):
    """Centred-difference estimate of the gradient of ``sum(f(x) * grad_output)`` w.r.t. x.

    f           : callable taking an array shaped like x (its float64 copy) and returning an
                  array (or a number)
    x           : array of any shape (converted to float64; the caller's array is not changed)
    grad_output : array shaped like f(x), or None for all ones (the gradient of sum(f(x)))
    eps         : step size
    returns an array shaped like x, float64.

    It evaluates f twice per element of x: fine for the small arrays of a gradient check.
    """
    x = np.array(x, dtype=np.float64)            # a private float64 copy we may perturb
    g = None if grad_output is None else np.asarray(grad_output, dtype=np.float64)

    def loss() -> float:
        out = np.asarray(f(x), dtype=np.float64)
        if g is None:
            return float(out.sum())
        if out.shape != g.shape:
            raise ValueError(f"numerical_gradient: grad_output has shape {g.shape} but f(x) "
                             f"returned shape {out.shape}")
        return float((out * g).sum())

    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)   # views: writing them changes x, grad
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + eps
        plus = loss()
        flat_x[i] = old - eps
        minus = loss()
        flat_x[i] = old
        flat_g[i] = (plus - minus) / (2 * eps)
    return grad


def rel_error(a, b) -> float:
    """Largest elementwise relative error max |a - b| / max(1e-8, |a| + |b|) (CS231n's measure).

    Below ~1e-7 in float64: the gradients agree. Around 1e-2 or more: something is wrong.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def check_gradients(fn, inputs: dict, grad_output, analytic: dict, eps=1e-6) -> dict:
    """Compare analytic gradients with finite differences, one named input at a time.

    fn          : callable called as ``fn(**inputs)``
    inputs      : dict name -> array (or other keyword argument, e.g. stride=2)
    grad_output : array shaped like fn's output (the upstream gradient)
    analytic    : dict name -> your gradient of sum(fn(**inputs) * grad_output) w.r.t. that input
    returns dict name -> rel_error

    >>> import numpy as np
    >>> from cnnlab import functional as F
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=(4, 3, 3, 3))
    >>> g = rng.normal(size=(2, 4, 3, 3))
    >>> gx, gw, _ = F.conv2d_backward(g, x, w)
    >>> errs = check_gradients(F.conv2d, {"input": x, "weight": w}, g, {"input": gx, "weight": gw})
    >>> max(errs.values()) < 1e-5
    True
    """
    errors = {}
    for name, grad in analytic.items():
        if name not in inputs:
            raise KeyError(f"check_gradients: analytic has {name!r}, which is not in inputs "
                           f"({', '.join(inputs)})")
        others = {k: v for k, v in inputs.items() if k != name}

        def f(value, name=name, others=others):
            return fn(**others, **{name: value})

        numeric = numerical_gradient(f, inputs[name], grad_output, eps)
        errors[name] = rel_error(numeric, grad)
    return errors
