"""Measuring a trained classifier: :func:`confusion_matrix`."""
from __future__ import annotations

import numpy as np

from cnnlab._args import check_labels

__all__ = ["confusion_matrix"]


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
