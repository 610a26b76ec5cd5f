"""Pooling (PyTorch semantics): max, average, sum and power-average (Lp), 1-D and 2-D.

Every pool looks at the same windows as a convolution, but has no weights: it reduces each
window of each channel to one number,

    max:  out[n, c, y, x] = max_{i,j} padded[n, c, y*sH + i*dH, x*sW + j*dW]   (padding = -inf)
    avg:  out[n, c, y, x] = sum_{i,j} padded[n, c, y*sH + i, x*sW + j] / (kH*kW)  (padding = 0)

Read the definitions at the end of this file (``max_pool2d_readable``, ``window_sum_readable``
and their backwards): the window view and one reduction. The public functions check their
arguments and run the fast twins in ``cnnlab._fast.pool`` (``tests/test_fast_paths.py`` holds
them equal). 1-D pools run as 2-D ones on images of height 1.

Max pooling has a seam for layers, like conv's: ``max_pool2d_with_cache`` returns
``(out, cache)`` and ``max_pool2d_backward(..., cache=cache)`` reuses the winners it found.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab._args import (check_cache, check_grad_output, check_indices, check_norm_type,
                          pool_args)
from cnnlab._fast import pool as fast
from cnnlab._windows import col2im, out_len, pad_nchw, window_view

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool1d_backward", "max_pool2d_backward",
    "max_pool1d_with_cache", "max_pool2d_with_cache", "MaxPoolCache",
    "avg_pool1d", "avg_pool2d", "avg_pool1d_backward", "avg_pool2d_backward",
    "sum_pool2d", "sum_pool2d_backward", "lp_pool1d", "lp_pool2d", "lp_pool1d_backward",
    "lp_pool2d_backward",
    "max_pool2d_readable", "max_pool2d_backward_readable", "window_sum_readable",
    "window_sum_backward_readable",
]


def _out_shape(x4, k, s, pads, d, nd):
    """The pool's output shape, (N, C, OH, OW) or (N, C, OL) for 1-D."""
    _, _, h, w = x4.shape
    oh = out_len(h, k[0], s[0], d[0], pads[0] + pads[1])
    ow = out_len(w, k[1], s[1], d[1], pads[2] + pads[3])
    return x4.shape[:2] + ((oh, ow) if nd == 2 else (ow,))


def _to_2d(a, nd):
    """A 1-D pool's (N, C, L) array as the (N, C, 1, L) image the 2-D code works on."""
    return a if nd == 2 else a[:, :, None, :]


def _from_2d(a, nd):
    return a if nd == 2 else a[:, :, 0, :]


# ----------------------------------------------------------------------------------------------
# max pooling
# ----------------------------------------------------------------------------------------------

@dataclass
class MaxPoolCache:
    """What ``max_pool2d_with_cache`` keeps for the backward: which tap won each window.

    tap         : (N, C, OH, OW) small ints, i*kW + j for tap (i, j) of the window
                  (the first maximum on ties)
    input_shape : (N, C, H, W)  (1-D: (N, C, 1, L))
    kernel, stride, pads, dilation : the pool's (kH, kW), (sH, sW), (top, bottom, left, right),
                  (dH, dW)
    """
    tap: np.ndarray
    input_shape: tuple
    kernel: tuple
    stride: tuple
    pads: tuple
    dilation: tuple


def _max_pool(fn, nd, input, kernel_size, stride, padding, dilation, return_indices):
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, dilation, nd)
    out, tap = fast.max_pool2d_forward(x, k, s, pads, d)
    if return_indices:
        return _from_2d(out, nd), _from_2d(fast.tap_indices(tap, x.shape, k, s, pads, d), nd)
    return _from_2d(out, nd)


def _max_pool_with_cache(fn, nd, input, kernel_size, stride, padding, dilation):
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, dilation, nd)
    out, tap = fast.max_pool2d_forward(x, k, s, pads, d)
    return _from_2d(out, nd), MaxPoolCache(tap, x.shape, k, s, pads, d)


def _max_pool_backward(fn, nd, grad_output, input, kernel_size, stride, padding, dilation,
                       indices, cache):
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, dilation, nd)
    go = check_grad_output(grad_output, _out_shape(x, k, s, pads, d, nd), x.dtype, fn)
    if indices is not None and cache is not None:
        raise ValueError(f"{fn}: pass indices or cache, not both (either one says which input "
                         "pixel won each window)")
    if indices is not None:
        ind = check_indices(indices, go.shape, fn, plane=x.shape[2:])
        gx = fast.max_pool2d_backward_indices(_to_2d(go, nd), _to_2d(ind, nd), x.shape, k, s, d)
        return _from_2d(gx, nd)
    if cache is None:
        tap = fast.max_pool2d_forward(x, k, s, pads, d)[1]
    else:
        tap = check_cache(cache, MaxPoolCache, fn, x.shape, "kernel_size/stride/padding/dilation",
                          kernel=k, stride=s, pads=pads, dilation=d).tap
    return _from_2d(fast.max_pool2d_backward_taps(_to_2d(go, nd), tap, x.shape, k, s, pads, d), nd)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, return_indices=False):
    """2-D max pooling, as torch.nn.functional.max_pool2d.

    input : (N, C, H, W)
    kernel_size, stride (default = kernel_size), padding, dilation : int or pair
    padding <= kernel_size/2 (PyTorch's rule); padded pixels are -inf, so they never win.
    returns out (N, C, OH, OW), and with return_indices=True also indices (N, C, OH, OW) int64:
    the flat position row*W + col of each maximum in the unpadded H*W plane.
    Ties go to the FIRST maximum in row-major window order (as PyTorch).

    Definition: ``max_pool2d_readable``; runs ``cnnlab._fast.pool.max_pool2d_forward``.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     return_indices)


def max_pool2d_with_cache(input, kernel_size, stride=None, padding=0, dilation=1):
    """``max_pool2d`` that also returns what the backward needs: ``(out, cache)``.

    input : (N, C, H, W) -> out (N, C, OH, OW), cache a ``MaxPoolCache`` (the winning tap of
    each window, small ints: cheaper to make and to use than flat indices).
    Pass it to ``max_pool2d_backward(..., cache=cache)`` (this is what ``nn.MaxPool2d`` does).
    """
    return _max_pool_with_cache("max_pool2d", 2, input, kernel_size, stride, padding, dilation)


def max_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        indices=None, cache=None):
    """Gradient of ``max_pool2d``: each output gradient goes to the input pixel that won its
    window (the first maximum on ties), and adds up where windows overlap.

    grad_output : (N, C, OH, OW)    input : (N, C, H, W)
    indices     : the indices from ``max_pool2d(..., return_indices=True)``, or
    cache       : the MaxPoolCache from ``max_pool2d_with_cache`` (either one skips
                  recomputing the maxima; give at most one)
    returns grad_input (N, C, H, W)

    Definition: ``max_pool2d_backward_readable``; runs
    ``cnnlab._fast.pool.max_pool2d_backward_taps`` (or ``..._indices``).
    """
    return _max_pool_backward("max_pool2d_backward", 2, grad_output, input, kernel_size, stride,
                              padding, dilation, indices, cache)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, return_indices=False):
    """1-D max pooling, as torch.nn.functional.max_pool1d.

    input : (N, C, L) -> out (N, C, OL) [, indices (N, C, OL) int64 positions in 0..L-1]
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     return_indices)


def max_pool1d_with_cache(input, kernel_size, stride=None, padding=0, dilation=1):
    """``max_pool1d`` returning ``(out, cache)`` for ``max_pool1d_backward(..., cache=cache)``."""
    return _max_pool_with_cache("max_pool1d", 1, input, kernel_size, stride, padding, dilation)


def max_pool1d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        indices=None, cache=None):
    """Gradient of ``max_pool1d``: grad_output (N, C, OL), input (N, C, L) -> (N, C, L)."""
    return _max_pool_backward("max_pool1d_backward", 1, grad_output, input, kernel_size, stride,
                              padding, dilation, indices, cache)


# ----------------------------------------------------------------------------------------------
# average and sum pooling: a window sum, divided or not
# ----------------------------------------------------------------------------------------------

def _avg_divisor(x_shape, k, s, pads, count_include_pad, dtype):
    """kH*kW (count_include_pad) or, per output position, the number of real (unpadded)
    pixels in the window: the window sum of an all-ones image. Shape () or (OH, OW)."""
    if count_include_pad:
        return float(k[0] * k[1])
    ones = np.ones((1, 1) + tuple(x_shape[2:]), dtype=dtype)
    return fast.window_sum(ones, k, s, pads, (1, 1))[0, 0]


def _avg_pool(fn, nd, input, kernel_size, stride, padding, count_include_pad):
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, 1, nd)
    div = _avg_divisor(x.shape, k, s, pads, count_include_pad, x.dtype)
    return _from_2d(fast.window_sum(x, k, s, pads, d) / div, nd)


def _avg_pool_backward(fn, nd, grad_output, input, kernel_size, stride, padding,
                       count_include_pad):
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, 1, nd)
    go = _to_2d(check_grad_output(grad_output, _out_shape(x, k, s, pads, d, nd), x.dtype, fn), nd)
    go = go / _avg_divisor(x.shape, k, s, pads, count_include_pad, x.dtype)
    return _from_2d(fast.window_sum_backward(go, x.shape, k, s, pads, d), nd)


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """2-D average pooling, as torch.nn.functional.avg_pool2d.

    input : (N, C, H, W) -> (N, C, OH, OW); the mean over each kH x kW window.
    stride defaults to kernel_size; padding <= kernel_size/2, zeros; count_include_pad=True
    divides by kH*kW even where the window covers padding (PyTorch's default), False divides by
    the number of real pixels.
    Definition: ``window_sum_readable`` / divisor; runs ``cnnlab._fast.pool.window_sum``.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, count_include_pad)


def avg_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0,
                        count_include_pad=True):
    """Gradient of ``avg_pool2d``: each pixel of a window gets grad / divisor.

    grad_output : (N, C, OH, OW)   input : (N, C, H, W)   returns (N, C, H, W)
    """
    return _avg_pool_backward("avg_pool2d_backward", 2, grad_output, input, kernel_size, stride,
                              padding, count_include_pad)


def avg_pool1d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """1-D average pooling, as torch.nn.functional.avg_pool1d: (N, C, L) -> (N, C, OL)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, count_include_pad)


def avg_pool1d_backward(grad_output, input, kernel_size, stride=None, padding=0,
                        count_include_pad=True):
    """Gradient of ``avg_pool1d``: grad_output (N, C, OL), input (N, C, L) -> (N, C, L)."""
    return _avg_pool_backward("avg_pool1d_backward", 1, grad_output, input, kernel_size, stride,
                              padding, count_include_pad)


def sum_pool2d(input, kernel_size, stride=None, padding=0):
    """Sum pooling (the sum over each window, zero padding) = avg_pool2d * kH*kW.

    input : (N, C, H, W) -> (N, C, OH, OW). Not in PyTorch; it is the "subsampling" of the
    original LeNet before its trainable scale.
    """
    x, k, s, pads, d = pool_args("sum_pool2d", input, kernel_size, stride, padding, 1, 2)
    return fast.window_sum(x, k, s, pads, d)


def sum_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0):
    """Gradient of ``sum_pool2d``: every pixel of a window receives the window's gradient."""
    fn = "sum_pool2d_backward"
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, 1, 2)
    go = check_grad_output(grad_output, _out_shape(x, k, s, pads, d, 2), x.dtype, fn)
    return fast.window_sum_backward(go, x.shape, k, s, pads, d)


# ----------------------------------------------------------------------------------------------
# power-average (Lp) pooling: (window sum of x^p)^(1/p)
# ----------------------------------------------------------------------------------------------

def _power(x, p: float):
    """x**p with the cheap special cases (p = 1, 2) spelled out; keeps the dtype."""
    if p == 1.0:
        return x
    if p == 2.0:
        return x * x
    return np.power(x, p)


def _lp_forward(x, p, k, s):
    """Returns (out, window sums S) with out = S**(1/p), S = sum of x**p over each window."""
    ssum = fast.window_sum(_power(x, p), k, s, (0, 0, 0, 0), (1, 1))
    out = np.sqrt(ssum) if p == 2.0 else np.power(ssum, 1.0 / p)
    return out, ssum


def _lp_backward(go, x, p, k, s):
    """d out / d x = S**(1/p - 1) * x**(p-1) = (out / S) * x**(p-1), taken as 0 where S = 0
    (as PyTorch gives for an all-zero window)."""
    out, ssum = _lp_forward(x, p, k, s)
    coef = np.zeros_like(ssum)
    np.divide(go * out, ssum, out=coef, where=ssum != 0)
    spread = fast.window_sum_backward(coef, x.shape, k, s, (0, 0, 0, 0), (1, 1))
    return spread * _power(x, p - 1.0)


def _lp_pool(fn, nd, input, norm_type, kernel_size, stride):
    p = check_norm_type(norm_type, fn)
    x, k, s, _, _ = pool_args(fn, input, kernel_size, stride, 0, 1, nd)
    return _from_2d(_lp_forward(x, p, k, s)[0], nd)


def _lp_pool_backward(fn, nd, grad_output, input, norm_type, kernel_size, stride):
    p = check_norm_type(norm_type, fn)
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, 0, 1, nd)
    go = _to_2d(check_grad_output(grad_output, _out_shape(x, k, s, pads, d, nd), x.dtype, fn), nd)
    return _from_2d(_lp_backward(go, x, p, k, s), nd)


def lp_pool2d(input, norm_type, kernel_size, stride=None):
    """Power-average (Lp) pooling, as torch.nn.functional.lp_pool2d: (sum over window x^p)^(1/p).

    input : (N, C, H, W) -> (N, C, OH, OW); no padding; stride defaults to kernel_size.
    norm_type=2 is the lectures' square-sum (L2) pooling; p=1 is sum pooling; p -> inf tends to
    max pooling. Like PyTorch, a negative window sum with odd p gives nan.
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride)


def lp_pool2d_backward(grad_output, input, norm_type, kernel_size, stride=None):
    """Gradient of ``lp_pool2d``: grad_output (N, C, OH, OW), input (N, C, H, W) -> (N, C, H, W)."""
    return _lp_pool_backward("lp_pool2d_backward", 2, grad_output, input, norm_type, kernel_size,
                             stride)


def lp_pool1d(input, norm_type, kernel_size, stride=None):
    """1-D power-average pooling, as torch.nn.functional.lp_pool1d: (N, C, L) -> (N, C, OL)."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride)


def lp_pool1d_backward(grad_output, input, norm_type, kernel_size, stride=None):
    """Gradient of ``lp_pool1d``: grad_output (N, C, OL), input (N, C, L) -> (N, C, L)."""
    return _lp_pool_backward("lp_pool1d_backward", 1, grad_output, input, norm_type, kernel_size,
                             stride)


# ----------------------------------------------------------------------------------------------
# the definitions, in a few lines of NumPy (on checked arguments, see cnnlab._args.pool_args)
# ----------------------------------------------------------------------------------------------

def max_pool2d_readable(x, kernel, stride, pads, dilation):
    """What ``max_pool2d`` computes: the largest value of each window, and where it was.

    x : (N, C, H, W); kernel (kH, kW), stride (sH, sW), pads (top, bottom, left, right),
    dilation (dH, dW)
    returns out (N, C, OH, OW) and indices (N, C, OH, OW): the flat position row*W + col of
    the winner in the unpadded plane. ``argmax`` returns the FIRST maximum: ties go to the
    first tap in row-major window order, as in PyTorch.

    fast twin: cnnlab._fast.pool.max_pool2d_forward (+ tap_indices)
    """
    n, c, h, w = x.shape
    kh, kw = kernel
    win = window_view(pad_nchw(x, pads, -np.inf), kernel, stride, dilation)  # (N, C, kH, kW, OH, OW)
    oh, ow = win.shape[-2:]
    taps = win.reshape(n, c, kh * kw, oh, ow)          # the kH*kW candidates of each window
    out = taps.max(axis=2)
    i, j = np.divmod(taps.argmax(axis=2), kw)           # the winning tap (i, j)
    row = np.arange(oh)[:, None] * stride[0] - pads[0] + i * dilation[0]
    col = np.arange(ow)[None, :] * stride[1] - pads[2] + j * dilation[1]
    return out, row * w + col


def max_pool2d_backward_readable(go, indices, x_shape):
    """What ``max_pool2d_backward`` computes: each output gradient is added to the input pixel
    that won its window.

    go, indices : (N, C, OH, OW) (indices as from ``max_pool2d_readable``);  x_shape (N, C, H, W)
    returns grad_input (N, C, H, W)

    fast twins: cnnlab._fast.pool.max_pool2d_backward_taps and max_pool2d_backward_indices
    """
    n, c, h, w = x_shape
    grad = np.zeros((n * c, h * w), dtype=go.dtype)
    plane = np.arange(n * c)[:, None]                   # one row per (image, channel)
    np.add.at(grad, (plane, indices.reshape(n * c, -1)), go.reshape(n * c, -1))
    return grad.reshape(x_shape)


def window_sum_readable(x, kernel, stride, pads, dilation):
    """The sum over each window of the zero-padded input (avg pool = this / kH*kW).

    x : (N, C, H, W)  returns (N, C, OH, OW)

    fast twin: cnnlab._fast.pool.window_sum
    """
    return window_view(pad_nchw(x, pads), kernel, stride, dilation).sum(axis=(2, 3))


def window_sum_backward_readable(go, x_shape, kernel, stride, pads, dilation):
    """Gradient of ``window_sum_readable``: every pixel of a window receives the window's
    gradient (col2im of the gradient copied to every tap), added up where windows overlap.

    go : (N, C, OH, OW)   x_shape (N, C, H, W)   returns (N, C, H, W)

    fast twin: cnnlab._fast.pool.window_sum_backward
    """
    n, c, h, w = x_shape
    pt, pb, pl, pr = pads
    taps = np.broadcast_to(go[:, :, None, None], (n, c) + tuple(kernel) + go.shape[2:])
    grad = col2im(taps, (n, c, h + pt + pb, w + pl + pr), kernel, stride, dilation)
    return grad[:, :, pt:pt + h, pl:pl + w]
