"""Losses: softmax cross-entropy of logits against integer labels, forward and backward."""
from __future__ import annotations

import numpy as np

from cnnlab._args import cross_entropy_args, cross_entropy_grad_output
from cnnlab.functional.activations import log_softmax, softmax

__all__ = ["cross_entropy", "cross_entropy_backward"]


def cross_entropy(input, target, reduction="mean"):
    """Softmax cross-entropy of logits against integer labels, as torch.nn.functional.cross_entropy.

    input  : (N, C) raw scores (logits), not probabilities
    target : (N,) integer class labels in 0..C-1
    loss_n = -log softmax(input)[n, target[n]]  (via the stable log_softmax)
    returns a 0-d array of the input dtype (mean or sum over n) or (N,) for reduction="none".
    """
    x, t = cross_entropy_args("cross_entropy", input, target, reduction)
    losses = -log_softmax(x, 1)[np.arange(x.shape[0]), t]
    if reduction == "none":
        return losses
    total = losses.sum(dtype=x.dtype)
    if reduction == "mean":
        total = total / x.shape[0] if x.shape[0] else np.asarray(np.nan, x.dtype)
    return np.asarray(total, dtype=x.dtype)


def cross_entropy_backward(grad_output, input, target, reduction="mean"):
    """d loss / d logits = (softmax(input) - one_hot(target)) * grad_output (/ N for "mean").

    grad_output : scalar (mean/sum; 1.0 when the loss is the final output) or (N,) for "none"
    returns (N, C) of the input dtype.
    """
    fn = "cross_entropy_backward"
    x, t = cross_entropy_args(fn, input, target, reduction)
    n = x.shape[0]
    grad = softmax(x, 1)
    grad[np.arange(n), t] -= 1
    go = cross_entropy_grad_output(grad_output, n, reduction, x.dtype, fn)
    if reduction == "none":
        return grad * go[:, None]
    if reduction == "mean":
        go = go / max(n, 1)
    grad *= go
    return grad
