"""Activations, elementwise on any shape, and softmax along one axis.

Each ``<name>_backward(grad_output, x)`` is one step of the chain rule: grad_output times the
derivative of the activation at x. Sigmoid, tanh and softmax accept ``output=`` (the forward
result) to skip recomputing it, as the layers keep it.

ReLU, run on every activation of a training step, has a fast twin in
``cnnlab._fast.elementwise``; ``relu_readable`` and ``relu_backward_readable`` are its definition.
"""
from __future__ import annotations

import numpy as np

from cnnlab._args import activation_args, cast, real_number, softmax_args
from cnnlab._fast import elementwise as fast

__all__ = ["relu", "relu_backward", "sigmoid", "sigmoid_backward", "tanh", "tanh_backward",
           "leaky_relu", "leaky_relu_backward", "silu", "silu_backward", "softmax",
           "softmax_backward", "log_softmax", "log_softmax_backward", "relu_readable",
           "relu_backward_readable"]


def relu(x):
    """max(x, 0), elementwise; any shape.

    Definition: ``relu_readable``; runs its fast twin ``cnnlab._fast.elementwise.relu``.
    """
    return fast.relu(activation_args("relu", x))


def relu_backward(grad_output, x):
    """grad * (x > 0) (at exactly 0 the gradient is 0, as PyTorch).

    Definition: ``relu_backward_readable``; runs ``cnnlab._fast.elementwise.relu_backward``.
    """
    x, go = activation_args("relu_backward", x, grad_output)
    return fast.relu_backward(go, x)


def relu_readable(x):
    """max(x, 0), elementwise.  fast twin: cnnlab._fast.elementwise.relu"""
    return np.maximum(x, 0)


def relu_backward_readable(go, x):
    """go * (x > 0).  fast twin: cnnlab._fast.elementwise.relu_backward"""
    return go * (x > 0)


def _sigmoid(x):
    # Stable for large |x|: exp only ever sees -|x| <= 0, so it cannot overflow.
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return _sigmoid(activation_args("sigmoid", x))


def sigmoid_backward(grad_output, x, output=None):
    """grad * s * (1 - s) with s = sigmoid(x) (pass ``output`` = s to skip recomputing it)."""
    x, go = activation_args("sigmoid_backward", x, grad_output)
    s = _sigmoid(x) if output is None else cast(np.asarray(output), x.dtype)
    return go * s * (1 - s)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return np.tanh(activation_args("tanh", x))


def tanh_backward(grad_output, x, output=None):
    """grad * (1 - tanh(x)^2) (pass ``output`` = tanh(x) to skip recomputing it)."""
    x, go = activation_args("tanh_backward", x, grad_output)
    t = np.tanh(x) if output is None else cast(np.asarray(output), x.dtype)
    return go * (1 - t * t)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, negative_slope * x elsewhere."""
    a = real_number(negative_slope, "negative_slope", "leaky_relu")
    x = activation_args("leaky_relu", x)
    return np.where(x > 0, x, x * a)


def leaky_relu_backward(grad_output, x, negative_slope=0.01):
    """grad where x > 0, grad * negative_slope elsewhere (including x = 0, as PyTorch)."""
    a = real_number(negative_slope, "negative_slope", "leaky_relu_backward")
    x, go = activation_args("leaky_relu_backward", x, grad_output)
    return np.where(x > 0, go, go * a)


def silu(x):
    """x * sigmoid(x) (a.k.a. swish)."""
    x = activation_args("silu", x)
    return x * _sigmoid(x)


def silu_backward(grad_output, x):
    """grad * s * (1 + x * (1 - s)) with s = sigmoid(x)."""
    x, go = activation_args("silu_backward", x, grad_output)
    s = _sigmoid(x)
    return go * s * (1 + x * (1 - s))


def _log_softmax(x, dim):
    # Subtract the maximum first: exp never overflows, even for logits like 1000.
    z = x - x.max(axis=dim, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))


def _softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def softmax(x, dim=-1):
    """exp(x) / sum(exp(x)) along ``dim``, stable for large values."""
    return _softmax(*softmax_args("softmax", x, dim))


def softmax_backward(grad_output, x, dim=-1, output=None):
    """s * (grad - sum(grad * s, dim)) with s = softmax(x, dim)."""
    x, go, dim = softmax_args("softmax_backward", x, dim, grad_output)
    s = _softmax(x, dim) if output is None else cast(np.asarray(output), x.dtype)
    return s * (go - (go * s).sum(axis=dim, keepdims=True))


def log_softmax(x, dim=-1):
    """log(softmax(x)) = x - max - log(sum(exp(x - max))): stable for logits like 1000."""
    return _log_softmax(*softmax_args("log_softmax", x, dim))


def log_softmax_backward(grad_output, x, dim=-1, output=None):
    """grad - softmax(x) * sum(grad, dim)."""
    x, go, dim = softmax_args("log_softmax_backward", x, dim, grad_output)
    s = _softmax(x, dim) if output is None else np.exp(cast(np.asarray(output), x.dtype))
    return go - s * go.sum(axis=dim, keepdims=True)
