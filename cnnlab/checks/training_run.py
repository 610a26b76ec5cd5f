"""The training run of the capstone (lesson 9): call a student's ``train_step`` over a dataset.

``drive(train_step, params, x, y, lr, batch_size, epochs, seed)`` is what the capstone's
accuracy check calls *instead of* calling ``train_step`` once: mini-batch SGD over ``x, y`` in an
order drawn from ``seed``, every step done by the student's function. It returns the final
parameters (the grader measures their accuracy on digits that never reach the student's
kernel), the loss of every step, and the parameters after the first step (checked exactly
against the reference step, so a ``train_step`` that ignores its input cannot pass).

NumPy and the standard library only: the batch grader loads this file **fresh** into the
student's kernel (like ``cnnlab.grade.kernel_side``), so a notebook that replaced parts of
``cnnlab`` does not change how its ``train_step`` is driven.
"""
from __future__ import annotations

import numpy as np

__all__ = ["drive"]


def _checked(result, params: dict, step: int):
    """(loss, new params) from what ``train_step`` returned, or a TypeError saying what is wrong."""
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"train_step should return (loss, new_params); step {step} returned "
                        f"{type(result).__name__}")
    loss, new = result
    if not isinstance(new, dict) or set(new) != set(params):
        raise TypeError(f"train_step should return (loss, new_params) with new_params a dict "
                        f"with the keys {sorted(params)}; step {step} returned "
                        f"{type(new).__name__}")
    try:
        loss = float(loss)
    except (TypeError, ValueError):
        raise TypeError(f"the loss returned by step {step} is not a number") from None
    for key, value in new.items():
        if not (isinstance(value, np.ndarray) and value.shape == params[key].shape):
            raise TypeError(f"new_params[{key!r}] after step {step} is not an array of shape "
                            f"{params[key].shape}")
    return loss, new


def drive(train_step, params, x, y, lr, batch_size, epochs, seed):
    """Train with ``train_step(params, xb, yb, lr) -> (loss, new_params)`` for ``epochs`` passes
    over ``x, y`` in mini-batches of ``batch_size`` (the order drawn from ``seed``).

    returns {"params": the final parameters, "first": the parameters after the first step,
             "losses": the loss of every step (float64)}
    """
    rng = np.random.default_rng(int(seed))
    n = len(x)
    losses, first = [], None
    for _ in range(int(epochs)):
        order = rng.permutation(n)
        for start in range(0, n, int(batch_size)):
            idx = order[start:start + int(batch_size)]
            loss, params = _checked(train_step(params, x[idx], y[idx], lr), params, len(losses) + 1)
            losses.append(loss)
            if first is None:
                first = {k: np.array(v, copy=True) for k, v in params.items()}
    return {"params": params, "first": first, "losses": np.asarray(losses, dtype=np.float64)}
