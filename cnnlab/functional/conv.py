"""Batched convolution (PyTorch semantics), forward and backward.

conv2d slides each filter over every position of every image of the batch:

    out[n, o, y, x] = bias[o] + sum_{c,i,j} weight[o, c, i, j]
                                      * padded[n, c, y*sH + i*dH, x*sW + j*dW]

Read ``conv2d_readable`` and ``conv2d_backward_readable`` at the end of this file for the
definition in a few lines: the window view of the padded input (``cnnlab._windows``) and one
``tensordot``. The public functions check their arguments and run the fast twins in
``cnnlab._fast.conv``, which compute the same numbers (``tests/test_fast_paths.py``).
1-D convolutions run as 2-D ones on images of height 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab._args import cast, check_cache, check_grad_output, conv_args
from cnnlab._fast import conv as fast
from cnnlab._windows import col2im, out_len, pad_nchw, window_view

__all__ = ["conv1d", "conv2d", "conv1d_with_cache", "conv2d_with_cache", "conv1d_backward",
           "conv2d_backward", "ConvCache", "conv2d_readable", "conv2d_backward_readable"]


@dataclass
class ConvCache:
    """What the forward convolution keeps for the backward (see ``conv2d_with_cache``).

    cols        : the im2col matrices of the padded input, a tuple with one per block of
                  images (the batch is split into one block per thread, see
                  ``cnnlab.set_num_threads``): each (C_in*kH*kW + 1, columns) with a row of
                  ones and one column per output position of every image of its block, in one
                  of two layouts (see ``cnnlab._fast.conv.columns``): "batch innermost"
                  (column (oh*OW + ow)*n + i) or "batch in the middle"
                  (column i*OH*OW + oh*OW + ow)
    input_shape : (N, C_in, H, W)
    pads        : (top, bottom, left, right)
    stride, dilation : (sH, sW), (dH, dW)
    batch_last  : the layout of ``cols``
    """
    cols: tuple | None
    input_shape: tuple
    pads: tuple
    stride: tuple
    dilation: tuple
    batch_last: bool


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation) of a batch of images, as torch.nn.functional.conv2d.

    input  : (N, C_in, H, W)
    weight : (C_out, C_in, kH, kW)
    bias   : (C_out,) or None
    stride, dilation : int or (sH, sW) >= 1
    padding : int or (pH, pW) zeros on each side, or "valid" (none) or "same" (stride 1 only;
              output H x W; an odd total padding puts the extra row/column at the bottom/right,
              as PyTorch)
    returns (N, C_out, OH, OW), OH = floor((H + 2pH - dH(kH-1) - 1)/sH) + 1, likewise OW:

        out[n, o, y, x] = bias[o] + sum_{c,i,j} weight[o, c, i, j]
                                          * padded[n, c, y*sH + i*dH, x*sW + j*dW]

    Definition: ``conv2d_readable``; runs its fast twin ``cnnlab._fast.conv.conv2d_forward``.
    """
    x, w, b, s, pads, d = conv_args("conv2d", input, weight, bias, stride, padding, dilation, 2)
    return fast.conv2d_forward(x, w, b, s, pads, d)


def conv2d_with_cache(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """``conv2d`` that also returns what the backward needs: ``(out, cache)``.

    Pass the cache to ``conv2d_backward(..., cache=cache)`` so the backward reuses the im2col
    columns instead of rebuilding them (this is what ``nn.Conv2d`` does).
    Runs ``cnnlab._fast.conv.conv2d_forward_cached``.
    """
    x, w, b, s, pads, d = conv_args("conv2d", input, weight, bias, stride, padding, dilation, 2)
    out, cols, batch_last = fast.conv2d_forward_cached(x, w, b, s, pads, d)
    return out, ConvCache(cols, x.shape, pads, s, d, batch_last)


def _conv_out_shape(x4, w4, s, pads, d):
    n, _, h, wd = x4.shape
    oh = out_len(h, w4.shape[2], s[0], d[0], pads[0] + pads[1])
    ow = out_len(wd, w4.shape[3], s[1], d[1], pads[2] + pads[3])
    return n, w4.shape[0], oh, ow


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1,
                    needs_input_grad=True, cache=None):
    """Gradients of ``conv2d`` (same stride/padding/dilation as the forward).

    grad_output : (N, C_out, OH, OW)  dLoss/dout
    input       : (N, C_in, H, W)     the forward input
    weight      : (C_out, C_in, kH, kW)
    needs_input_grad : False skips grad_input (e.g. the first layer: nothing to send it to)
    cache       : the ConvCache from ``conv2d_with_cache`` (reuses its columns)
    returns (grad_input (N, C_in, H, W) or None, grad_weight (C_out, C_in, kH, kW),
             grad_bias (C_out,) = grad_output summed over N, OH, OW)

    grad_weight is a correlation of the input with grad_output; grad_input is a "full"
    convolution of grad_output with the weight (implemented as W^T @ grad_output + col2im).
    Definition: ``conv2d_backward_readable``; runs ``cnnlab._fast.conv.conv2d_backward``.
    """
    fn = "conv2d_backward"
    x, w, _, s, pads, d = conv_args(fn, input, weight, None, stride, padding, dilation, 2)
    go = check_grad_output(grad_output, _conv_out_shape(x, w, s, pads, d), x.dtype, fn)
    cols, batch_last = _cache_cols(cache, x.shape, pads, s, d, fn)
    gi, gw, gb = fast.conv2d_backward(go, x, w, s, pads, d, needs_input_grad, cols, batch_last)
    return gi, cast(gw, np.asarray(weight).dtype if _is_float(weight) else gw.dtype), gb


def _is_float(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _cache_cols(cache, x_shape, pads, s, d, fn):
    if cache is None:
        return None, None
    check_cache(cache, ConvCache, fn, x_shape, "stride/padding/dilation", pads=pads, stride=s,
                dilation=d)
    return cache.cols, cache.batch_last


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """1-D convolution of a batch of signals, as torch.nn.functional.conv1d.

    input  : (N, C_in, L)    weight : (C_out, C_in, k)    bias : (C_out,) or None
    returns (N, C_out, OL), OL = floor((L + 2p - d(k-1) - 1)/s) + 1
        out[n, o, t] = bias[o] + sum_{c,i} weight[o, c, i] * padded[n, c, t*s + i*d]
    Runs as conv2d on images of height 1.
    """
    x, w, b, s, pads, d = conv_args("conv1d", input, weight, bias, stride, padding, dilation, 1)
    return fast.conv2d_forward(x, w, b, s, pads, d)[:, :, 0, :]


def conv1d_with_cache(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """``conv1d`` returning ``(out, cache)`` for ``conv1d_backward(..., cache=cache)``."""
    x, w, b, s, pads, d = conv_args("conv1d", input, weight, bias, stride, padding, dilation, 1)
    out, cols, batch_last = fast.conv2d_forward_cached(x, w, b, s, pads, d)
    return out[:, :, 0, :], ConvCache(cols, x.shape, pads, s, d, batch_last)


def conv1d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1,
                    needs_input_grad=True, cache=None):
    """Gradients of ``conv1d``.

    grad_output : (N, C_out, OL)   input : (N, C_in, L)   weight : (C_out, C_in, k)
    returns (grad_input (N, C_in, L) or None, grad_weight (C_out, C_in, k), grad_bias (C_out,))
    """
    fn = "conv1d_backward"
    x, w, _, s, pads, d = conv_args(fn, input, weight, None, stride, padding, dilation, 1)
    n, c_out, _, ol = _conv_out_shape(x, w, s, pads, d)
    go = check_grad_output(grad_output, (n, c_out, ol), x.dtype, fn)[:, :, None, :]
    cols, batch_last = _cache_cols(cache, x.shape, pads, s, d, fn)
    gi, gw, gb = fast.conv2d_backward(go, x, w, s, pads, d, needs_input_grad, cols, batch_last)
    gw = cast(gw[:, :, 0, :], np.asarray(weight).dtype if _is_float(weight) else gw.dtype)
    return (None if gi is None else gi[:, :, 0, :]), gw, gb


# ----------------------------------------------------------------------------------------------
# the definitions, in a few lines of NumPy (on checked arguments, see cnnlab._args.conv_args)
# ----------------------------------------------------------------------------------------------

def conv2d_readable(x, w, b, stride, pads, dilation):
    """What ``conv2d`` computes: the window view and one tensordot.

    x : (N, C_in, H, W)   w : (C_out, C_in, kH, kW)   b : (C_out,) or None
    stride (sH, sW), pads (top, bottom, left, right), dilation (dH, dW)
    returns (N, C_out, OH, OW):  out[n, o] = b[o] + sum_{c,i,j} w[o, c, i, j] * win[n, c, i, j]

    fast twin: cnnlab._fast.conv.conv2d_forward (and conv2d_forward_cached, for training)
    """
    win = window_view(pad_nchw(x, pads), w.shape[2:], stride, dilation)  # (N, C_in, kH, kW, OH, OW)
    out = np.tensordot(w, win, axes=([1, 2, 3], [1, 2, 3]))             # (C_out, N, OH, OW)
    out = out.transpose(1, 0, 2, 3)
    if b is not None:
        out = out + b[:, None, None]
    return np.ascontiguousarray(out)


def conv2d_backward_readable(go, x, w, stride, pads, dilation):
    """What ``conv2d_backward`` computes, from the same window view as the forward.

    go : (N, C_out, OH, OW)   x : (N, C_in, H, W)   w : (C_out, C_in, kH, kW)
    returns grad_input (N, C_in, H, W), grad_weight (C_out, C_in, kH, kW), grad_bias (C_out,):

        grad_weight[o, c, i, j] = sum_{n,y,x} go[n, o, y, x] * win[n, c, i, j, y, x]
        grad_win[n, c, i, j, y, x] = sum_o w[o, c, i, j] * go[n, o, y, x]
        grad_input = col2im(grad_win), cropped: each window pixel's gradient goes back to the
                     input pixel it was read from (adding up where windows overlap)

    fast twin: cnnlab._fast.conv.conv2d_backward
    """
    xp = pad_nchw(x, pads)
    kernel = w.shape[2:]
    win = window_view(xp, kernel, stride, dilation)                     # (N, C_in, kH, kW, OH, OW)
    grad_weight = np.tensordot(go, win, axes=([0, 2, 3], [0, 4, 5]))    # (C_out, C_in, kH, kW)
    grad_bias = go.sum(axis=(0, 2, 3))
    grad_win = np.tensordot(w, go, axes=([0], [1]))                     # (C_in, kH, kW, N, OH, OW)
    grad_xp = col2im(grad_win.transpose(3, 0, 1, 2, 4, 5), xp.shape, kernel, stride, dilation)
    pt, _, pl, _ = pads
    grad_input = grad_xp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    return grad_input, grad_weight, grad_bias
