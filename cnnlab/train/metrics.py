"""Measuring training: :func:`confusion_matrix` of a classifier, :func:`moving_average` of a curve."""
from __future__ import annotations

import numpy as np

from cnnlab._args import check_labels

__all__ = ["confusion_matrix", "moving_average"]


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of examples of true class ``i`` predicted as ``j`` (int64)."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} "
                         f"and {len(y_pred)}")
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    check_labels(y_true, num_classes, "y_true")
    check_labels(y_pred, num_classes, "y_pred")
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def moving_average(values, window: int) -> np.ndarray:
    """The mean of the last ``window`` values at every step, same length as ``values``.

    values : (T,) e.g. ``History.step_loss``
    returns (T,) float64; the first ``window - 1`` entries average the values seen so far
    (a growing window), so a short run still gets a curve from its first step.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    k = min(max(1, int(window)), v.size)
    if k <= 1:
        return v.copy()
    c = np.cumsum(np.insert(v, 0, 0.0))
    head = c[1:k] / np.arange(1, k)
    return np.concatenate([head, (c[k:] - c[:-k]) / k])
