"""The classifier head of a CNN: flatten, linear (fully connected) and dropout.

LeNet-5 ends with Flatten -> Linear -> ReLU -> Linear -> ReLU -> Linear: the feature maps of
the last pooling layer become one vector per image, and fully connected layers map it to the
class scores. Dropout, when used, sits between them.
"""
from __future__ import annotations

import numpy as np

from cnnlab._args import (cast, check_grad_output, check_bias, check_grad_size, check_mask,
                          check_probability, check_rng, flatten_dims, float_array, linear_args,
                          numeric_array)

__all__ = ["linear", "linear_backward", "dropout", "dropout_backward", "flatten",
           "flatten_backward"]


def linear(input, weight, bias=None):
    """Fully connected layer: input @ weight.T + bias, as torch.nn.functional.linear.

    input  : (N, in_features) (or any (..., in_features))
    weight : (out_features, in_features)
    bias   : (out_features,) or None
    returns (N, out_features)
    """
    x, w = linear_args("linear", input, weight)
    b = check_bias(bias, w.shape[0], x.dtype, "linear", axis="out_features")
    out = x @ w.T
    if b is not None:
        out += b
    return out


def linear_backward(grad_output, input, weight):
    """Gradients of ``linear``.

    grad_output : (N, out_features)   input : (N, in_features)   weight : (out, in)
    returns (grad_input (N, in) = grad @ W, grad_weight (out, in) = grad^T @ input,
             grad_bias (out,) = grad summed over N)
    """
    fn = "linear_backward"
    x, w = linear_args(fn, input, weight)
    go = check_grad_output(grad_output, x.shape[:-1] + (w.shape[0],), x.dtype, fn)
    go2 = go.reshape(-1, w.shape[0])
    grad_weight = go2.T @ x.reshape(-1, w.shape[1])
    w_dtype = np.asarray(weight).dtype
    if w_dtype.kind == "f":
        grad_weight = cast(grad_weight, w_dtype)
    return go @ w, grad_weight, go2.sum(axis=0)


_fallback_rng = None


def dropout(input, p=0.5, training=True, rng=None, return_mask=False):
    """Inverted dropout, as torch.nn.functional.dropout.

    Zeroes each element with probability p and scales the rest by 1/(1-p), so the expected
    value is unchanged and nothing has to change at test time. training=False returns input.
    input : any shape;  rng : a numpy Generator (layers pass ``cnnlab.nn.get_rng()``)
    returns output, or (output, mask) with return_mask=True: mask is the boolean "kept" array
    that ``dropout_backward`` needs.
    """
    global _fallback_rng
    fn = "dropout"
    x = float_array(input, "input", fn)
    p = check_probability(p, fn)
    if not training or p == 0.0:
        mask = np.ones(x.shape, dtype=bool)
        return (x, mask) if return_mask else x
    if rng is None:
        if _fallback_rng is None:
            _fallback_rng = np.random.default_rng()
        rng = _fallback_rng
    check_rng(rng, fn)
    mask = rng.random(x.shape, dtype=np.float32) >= p
    out = x * mask * (1.0 / (1.0 - p)) if p < 1.0 else np.zeros_like(x)
    return (out, mask) if return_mask else out


def dropout_backward(grad_output, mask, p):
    """grad * mask / (1 - p): the gradient flows only through the kept elements."""
    fn = "dropout_backward"
    go = float_array(grad_output, "grad_output", fn)
    mask = check_mask(mask, go, fn)
    check_probability(p, fn)
    if p >= 1.0:
        return np.zeros_like(go)
    return go * mask * (1.0 / (1.0 - float(p)))


def flatten(input, start_dim=1, end_dim=-1):
    """Merge the axes start_dim..end_dim into one (a view when possible), as torch.flatten.

    (N, C, H, W) -> (N, C*H*W) with the defaults.
    """
    x = numeric_array(input, "input", "flatten")
    a, b = flatten_dims(start_dim, end_dim, x.ndim, "flatten")
    return x.reshape(x.shape[:a] + (-1,) + x.shape[b + 1:]) if x.ndim else x.reshape(1)


def flatten_backward(grad_output, input):
    """Reshape the gradient back to the input's shape. ``input`` may be the array or its shape."""
    shape = tuple(input.shape) if hasattr(input, "shape") else tuple(input)
    return check_grad_size(grad_output, shape, "flatten_backward").reshape(shape)
