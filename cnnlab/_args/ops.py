"""Windows (kernel fits the padded input, conv padding, pooling windows) and the argument
bundles of the ``cnnlab.functional`` ops: one line at the top of each op (see ``cnnlab._args``)."""
from __future__ import annotations

import math

import numpy as np

from cnnlab._windows import out_len
from cnnlab._args.arrays import (cast, check_batched_input, check_bias, check_same_shape,
                                 check_weight, float_array, numeric_array)
from cnnlab._args.values import check_dim, int_tuple

__all__ = [
    "check_kernel_fits",
    "conv_padding",
    "check_windows_see_input",
    "conv_args",
    "check_pool_padding",
    "pool_args",
    "signal_args",
    "activation_args",
    "softmax_args",
    "linear_args",
    "cross_entropy_grad_output",
    "check_rng",
    "check_mask",
    "flatten_dims",
    "check_grad_size",
    "cross_entropy_args",
    "MODES",
    "REDUCTIONS",
]


# ----------------------------------------------------------------------------------------------
# windows
# ----------------------------------------------------------------------------------------------

def check_kernel_fits(fn: str, sizes, kernel, dilation, pads, axis_names) -> None:
    """The dilated kernel must fit in the padded input along every axis."""
    for n, k, d, (p0, p1), ax in zip(sizes, kernel, dilation, pads, axis_names):
        span = d * (k - 1) + 1
        if span > n + p0 + p1:
            dil = f" = dilation {d}*({k}-1)+1" if d != 1 else ""
            raise ValueError(
                f"{fn}: the kernel spans {span} pixels along the {ax}{dil} (kernel_size {k}), "
                f"which is larger than the padded input {ax} {n + p0 + p1} "
                f"({ax} {n} + padding {p0}+{p1}); use a smaller kernel_size or dilation, "
                "more padding, or a larger input"
            )


def conv_padding(padding, nd: int, kernel, dilation, stride, fn: str):
    """Normalise conv padding to ((before, after), ...) per spatial axis.

    "valid" = no padding; "same" = output as large as the input (stride 1 only, as PyTorch):
    the total padding d*(k-1) is split with the extra pixel, when it is odd, on the right/bottom.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in range(nd))
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{fn}: padding='same' requires stride=1 (as in PyTorch), got "
                                 f"stride={stride if nd > 1 else stride[0]}; use an int padding "
                                 "with strides")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{fn}: padding must be an int, a tuple of ints, 'valid' or 'same', "
                         f"got {padding!r}")
    p = int_tuple(padding, nd, "padding", fn, 0)
    return tuple((e, e) for e in p)


def check_windows_see_input(fn: str, n, k, s, p, d, axis) -> None:
    """With dilation, a window may fall entirely on padding (its taps straddle the input).
    PyTorch then returns -inf and a meaningless index; we refuse instead."""
    o = out_len(n, k, s, d, 2 * p)
    taps = np.arange(o)[:, None] * s - p + np.arange(k)[None, :] * d    # (O, k) input positions
    inside = ((taps >= 0) & (taps < n)).any(axis=1)
    if not inside.all():
        raise ValueError(f"{fn}: with padding={p} and dilation={d} the pooling window at "
                         f"{axis} position {int(np.argmin(inside))} sees only padding; use less "
                         "padding or a smaller dilation")


# ----------------------------------------------------------------------------------------------
# the argument bundles of cnnlab.functional
# ----------------------------------------------------------------------------------------------

def conv_args(fn, input, weight, bias, stride, padding, dilation, nd):
    """Validate and normalise a convolution's arguments, in 2-D form:
    returns x (N, C_in, H, W), w (C_out, C_in, kH, kW), b, stride (sH, sW),
    pads (top, bottom, left, right), dilation (dH, dW).

    1-D convolutions run as 2-D ones on images of height 1 (x[:, :, None, :]).
    """
    x = check_batched_input(input, fn, nd)
    w = check_weight(weight, x, fn, nd)
    b = check_bias(bias, w.shape[0], x.dtype, fn)
    s = int_tuple(stride, nd, "stride", fn, 1)
    d = int_tuple(dilation, nd, "dilation", fn, 1)
    kernel = w.shape[2:]
    pads = conv_padding(padding, nd, kernel, d, s, fn)
    names = ("length",) if nd == 1 else ("height", "width")
    check_kernel_fits(fn, x.shape[2:], kernel, d, pads, names)
    if nd == 1:
        return (x[:, :, None, :], w[:, :, None, :], b, (1, s[0]), (0, 0) + pads[0], (1, d[0]))
    return x, w, b, s, pads[0] + pads[1], d


def check_pool_padding(kernel, pads, fn: str, padding=None, kernel_size=None) -> None:
    """Pooling padding is at most half the kernel on every axis (PyTorch's rule).

    kernel, pads : per-axis ints; padding, kernel_size : the values as the caller gave them
    (shown in the message; default: the tuples)."""
    for kk, pp in zip(kernel, pads):
        if pp > kk // 2:
            shown_p = pads if padding is None else padding
            shown_k = kernel if kernel_size is None else kernel_size
            raise ValueError(
                f"{fn}: padding must be at most half the kernel size (PyTorch's rule), got "
                f"padding={shown_p!r} with kernel_size={shown_k!r}; use padding <= {kk // 2}")


def pool_args(fn, input, kernel_size, stride, padding, dilation, nd, check_half=True):
    """Validate a pooling's arguments, in 2-D form: returns x (N, C, H, W), kernel (kH, kW),
    stride (default: the kernel), pads (top, bottom, left, right), dilation."""
    x = check_batched_input(input, fn, nd)
    k = int_tuple(kernel_size, nd, "kernel_size", fn, 1)
    s = k if stride is None else int_tuple(stride, nd, "stride", fn, 1)
    p = int_tuple(padding, nd, "padding", fn, 0)
    d = int_tuple(dilation, nd, "dilation", fn, 1)
    if check_half:
        check_pool_padding(k, p, fn, padding, kernel_size)
    names = ("length",) if nd == 1 else ("height", "width")
    check_kernel_fits(fn, x.shape[2:], k, d, [(e, e) for e in p], names)
    for n, kk, ss, pp, dd, ax in zip(x.shape[2:], k, s, p, d, names):
        if dd > 1 and pp > 0:
            check_windows_see_input(fn, n, kk, ss, pp, dd, ax)
    if nd == 1:
        return x[:, :, None, :], (1, k[0]), (1, s[0]), (0, 0, p[0], p[0]), (1, d[0])
    return x, k, s, (p[0], p[0], p[1], p[1]), d


MODES = ("valid", "same", "full")


def signal_args(x, k, mode, nd, fn):
    """The single arrays of correlate/convolve (1-D or 2-D, scipy.signal semantics).
    Integers stay integers (bool becomes int64), like scipy."""
    x = numeric_array(x, "x", fn)
    k = numeric_array(k, "k", fn)
    if x.dtype == bool:
        x = x.astype(np.int64)
    if k.dtype == bool:
        k = k.astype(np.int64)
    kind = "1-D" if nd == 1 else "2-D"
    for name, a in (("x", x), ("k", k)):
        if a.ndim != nd:
            extra = ""
            if nd == 2 and a.ndim == 4:
                extra = "; for batches of multi-channel images use conv2d"
            elif nd == 2 and a.ndim == 3:
                extra = "; for a colour image correlate each channel, or use conv2d"
            raise ValueError(f"{fn}: {name} must be {kind}, got shape {tuple(a.shape)}{extra}")
        if a.size == 0:
            raise ValueError(f"{fn}: {name} is empty (shape {tuple(a.shape)})")
    if mode not in MODES:
        raise ValueError(f"{fn}: mode must be 'valid', 'same' or 'full', got {mode!r}")
    if mode == "valid":
        bigger = all(a >= b for a, b in zip(x.shape, k.shape))
        smaller = all(a <= b for a, b in zip(x.shape, k.shape))
        if not (bigger or smaller):
            raise ValueError(f"{fn}: in 'valid' mode x {tuple(x.shape)} must be at least as large "
                             f"as k {tuple(k.shape)} in every dimension (or the other way round, as "
                             "in scipy.signal); use mode='same' or 'full'")
    return x, k


def activation_args(fn, x, grad_output=None):
    """x as a float array; with grad_output, (x, grad_output) of the same shape and dtype."""
    x = float_array(x, "x", fn)
    if grad_output is None:
        return x
    return x, check_same_shape(x, grad_output, fn)


def softmax_args(fn, x, dim, grad_output=None):
    """x (at least 1-D for the forward) and dim as an axis of x; with grad_output,
    (x, grad_output, dim)."""
    if grad_output is None:
        x = activation_args(fn, x)
        if x.ndim == 0:
            raise ValueError(f"{fn}: x must have at least 1 dimension, got a scalar")
        return x, check_dim(dim, x.ndim, fn)
    x, go = activation_args(fn, x, grad_output)
    return x, go, check_dim(dim, x.ndim, fn)


def linear_args(fn, input, weight):
    """input (..., in_features) and weight (out_features, in_features) in the input's dtype."""
    x = float_array(input, "input", fn)
    w = float_array(weight, "weight", fn)
    if w.ndim != 2:
        raise ValueError(f"{fn}: weight must be 2-D (out_features, in_features), got shape "
                         f"{tuple(w.shape)}")
    if x.ndim < 1:
        raise ValueError(f"{fn}: input must be at least 1-D (..., in_features), got a scalar")
    if x.shape[-1] != w.shape[1]:
        hint = ""
        if x.ndim > 2:
            hint = (f"; input has shape {tuple(x.shape)}: flatten it first "
                    f"(flatten(input) gives {x.shape[0]} x {math.prod(x.shape[1:])})")
        raise ValueError(
            f"{fn}: input has {x.shape[-1]} features (input.shape[-1]) but weight expects "
            f"{w.shape[1]} (weight.shape[1] = in_features){hint}"
        )
    return x, cast(w, x.dtype)


def cross_entropy_grad_output(grad_output, n: int, reduction: str, dtype, fn: str):
    """The upstream gradient of a cross-entropy loss: an (N,) array in ``dtype`` for
    reduction="none", else a Python float (the loss was one number)."""
    go = numeric_array(grad_output, "grad_output", fn)
    if reduction == "none":
        if go.shape != (n,):
            raise ValueError(f"{fn}: with reduction='none' grad_output must have shape ({n},), got "
                             f"{tuple(go.shape)}")
        return cast(go.astype(dtype, copy=False), dtype)
    if go.size != 1:
        raise ValueError(f"{fn}: with reduction={reduction!r} grad_output must be a scalar, got shape "
                         f"{tuple(go.shape)}")
    return float(go.reshape(()))


def check_rng(rng, fn: str) -> np.random.Generator:
    """A numpy.random.Generator (layers pass ``cnnlab.nn.get_rng()``)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{fn}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def check_mask(mask, go: np.ndarray, fn: str) -> np.ndarray:
    """A dropout mask of grad_output's shape."""
    mask = np.asarray(mask)
    if mask.shape != go.shape:
        raise ValueError(f"{fn}: mask must have the shape of grad_output {tuple(go.shape)}, got "
                         f"{tuple(mask.shape)}")
    return mask


def flatten_dims(start_dim, end_dim, ndim: int, fn: str) -> tuple[int, int]:
    """start_dim and end_dim of a flatten as axes 0..ndim-1, start not after end."""
    nd = max(ndim, 1)
    a = check_dim(start_dim, nd, fn) % nd
    b = check_dim(end_dim, nd, fn) % nd
    if a > b:
        raise ValueError(f"{fn}: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    return a, b


def check_grad_size(grad_output, shape: tuple, fn: str) -> np.ndarray:
    """grad_output with as many elements as ``shape`` (to be reshaped to it), as floats."""
    go = float_array(grad_output, "grad_output", fn)
    if go.size != math.prod(shape):
        raise ValueError(f"{fn}: grad_output has {go.size} elements, the input shape "
                         f"{shape} has {math.prod(shape)}")
    return go


REDUCTIONS = ("mean", "sum", "none")


def cross_entropy_args(fn, input, target, reduction):
    """Logits (N, C) as floats and integer labels (N,) in 0..C-1 (as np.intp)."""
    x = float_array(input, "input", fn)
    if x.ndim != 2:
        hint = "; for a single sample use input[None] and target[None]" if x.ndim == 1 else ""
        raise ValueError(f"{fn}: input must be 2-D logits (N, C), got shape {tuple(x.shape)}{hint}")
    t = numeric_array(target, "target", fn)
    if t.dtype.kind == "f" and t.size and np.all(np.isfinite(t)) and np.all(t == np.round(t)):
        t = t.astype(np.int64)      # 3.0 is a fine label; 3.5 is not
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class labels 0..{x.shape[1] - 1}, got "
                        f"dtype {t.dtype}; use target.astype(int) (for one-hot targets use "
                        "target.argmax(1))")
    if t.shape != (x.shape[0],):
        raise ValueError(f"{fn}: target must have shape (N,) = ({x.shape[0]},), one label per "
                         f"row of input, got shape {tuple(t.shape)}")
    if t.size and (t.min() < 0 or t.max() >= x.shape[1]):
        bad = t[(t < 0) | (t >= x.shape[1])][0]
        raise ValueError(f"{fn}: target has label {bad}, outside 0..{x.shape[1] - 1} for C = "
                         f"{x.shape[1]} classes (input.shape[1]); check the number of classes")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return x, t.astype(np.intp, copy=False)
