"""The measured fast path of ReLU (readable twins: ``cnnlab.functional.activations``).

ReLU runs on every activation of a training step, so it gets two measured tricks:

* ``np.maximum`` against a scalar 0 runs NumPy's slow scalar-operand loop (~3x slower here);
  against one sample's worth of zeros, broadcast over the batch, it runs the fast array-array
  loop. Same result bit for bit (NaN, -inf, -0.0 included).
* Big arrays are split over the worker threads by rows (``cnnlab._fast.threads.by_rows``).

Arguments are checked by the public functions in ``cnnlab.functional``; nothing here validates.
"""
from __future__ import annotations

import numpy as np

from cnnlab._fast.threads import by_rows

__all__ = ["relu", "relu_backward"]


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0) of a float array, elementwise."""
    zero = np.zeros(x.shape[1:], dtype=x.dtype) if x.ndim > 1 else x.dtype.type(0)
    return by_rows(lambda v, out: np.maximum(v, zero, out=out), np.empty_like(x), x)


def relu_backward(go: np.ndarray, x: np.ndarray) -> np.ndarray:
    """go * (x > 0) for float arrays of the same shape and dtype."""
    return by_rows(lambda g, v, out: np.multiply(g, v > 0, out=out), np.empty_like(go), go, x)
