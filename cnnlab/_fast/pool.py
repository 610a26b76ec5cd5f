"""The measured fast paths of pooling (readable twins: ``cnnlab.functional.pool``).

Max pooling loops over the kH*kW taps of the strided window view: a running ``np.maximum`` and
a small integer (int8) index of the winning tap, updated only where a candidate is strictly
greater, so ties go to the first maximum as in PyTorch. The backward sends, per tap, the
gradient times (tap == t) into that tap's strided slice of the input gradient. Measured against
the alternatives (LeNet-5, batch 128): ``argmax`` along the tiny tap axis, boolean-mask
assignment and the 6-D reshape-max are slower, and the mask version sends gradient to every
tied maximum (after ReLU, ties at 0 are common). Keeping the winning tap (int8) instead of
PyTorch's int64 flat indices is cheaper to make and to use.

Sum-type pools (average, sum, Lp) run the same tap loop with ``+=``. Where windows tile the
padded input exactly (LeNet's 2x2 pools) the backward writes every pixel once, so it skips
zero-filling the gradient and writes instead of adding.

Arguments are checked by the public functions in ``cnnlab.functional``; nothing here validates.
``tests/test_fast_paths.py`` holds every function here equal to its readable twin.
"""
from __future__ import annotations

import numpy as np

from cnnlab._fast.threads import parallel_for
from cnnlab._windows import out_len, pad_nchw, tap_slice, window_view

__all__ = ["max_pool2d_forward", "tap_indices", "max_pool2d_backward_taps",
           "max_pool2d_backward_indices", "window_sum", "window_sum_backward"]


def _taps_disjoint(k, s, d) -> bool:
    """True when no two windows share a pixel (stride >= dilated kernel span on both axes), so
    the backward may write each tap's gradient instead of adding it."""
    return all(st >= dd * (kk - 1) + 1 for kk, st, dd in zip(k, s, d))


def _padded_grad_buffer(go, x_shape, k, s, pads, d):
    """The padded input gradient (N, C, Hp, Wp) that a pooling backward fills tap by tap.

    Zeros in general; but when the windows tile the padded input exactly (stride = kernel,
    no dilation, Hp and Wp multiples of the kernel: LeNet's 2x2 pools) the taps' slices write
    every pixel exactly once, so the zero-filling pass is skipped.
    """
    n, c, h, w = x_shape
    oh, ow = go.shape[-2:]
    hp, wp = h + pads[0] + pads[1], w + pads[2] + pads[3]
    tiles = tuple(s) == tuple(k) and tuple(d) == (1, 1) and (hp, wp) == (oh * s[0], ow * s[1])
    return (np.empty if tiles else np.zeros)((n, c, hp, wp), dtype=go.dtype)


def max_pool2d_forward(x, k, s, pads, d):
    """Running maximum over the kH*kW taps of the window view.

    returns out (N, C, OH, OW) and tap (N, C, OH, OW) small ints: which tap (i*kW + j) won.
    A tap replaces the current best only where it is strictly greater, so ties go to the first
    maximum in row-major window order, as in PyTorch.
    """
    n, c, h, w = x.shape
    oh = out_len(h, k[0], s[0], d[0], pads[0] + pads[1])
    ow = out_len(w, k[1], s[1], d[1], pads[2] + pads[3])
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    ntaps = k[0] * k[1]
    tap = np.zeros(out.shape, dtype=np.int8 if ntaps <= 127 else np.int32)

    def images(a, b):                                # images a..b-1 (one thread's share)
        w = window_view(pad_nchw(x[a:b], pads, -np.inf), k, s, d)   # (n, C, kH, kW, OH, OW)
        o, tp = out[a:b], tap[a:b]
        np.copyto(o, w[:, :, 0, 0])
        better = np.empty(o.shape, dtype=bool)
        for t in range(1, ntaps):
            v = w[:, :, t // k[1], t % k[1]]
            np.greater(v, o, out=better)
            np.maximum(o, v, out=o)
            # tap = t where better: t is larger than every earlier tap number, so a maximum
            # with better*t does it (much faster than np.copyto(..., where=better))
            np.maximum(tp, better * tp.dtype.type(t), out=tp)

    parallel_for(n, images, items=x.size + 3 * out.size * ntaps)
    return out, tap


def tap_indices(tap, x_shape, k, s, pads, d):
    """Turn winning taps into PyTorch's indices: flat positions row*W + col in the unpadded
    H*W plane. Window (oh, ow) tap (i, j) reads row oh*sH - pT + i*dH, col ow*sW - pL + j*dW."""
    _, _, h, w = x_shape
    oh, ow = tap.shape[-2:]
    rows = np.arange(oh) * s[0] - pads[0]
    cols = np.arange(ow) * s[1] - pads[2]
    base = rows[:, None] * w + cols[None, :]                       # (OH, OW) window corner
    ti, tj = np.divmod(np.arange(k[0] * k[1]), k[1])
    offset = ti * d[0] * w + tj * d[1]                              # (kH*kW,) tap offset
    flat = np.empty(tap.shape, dtype=np.int64)
    parallel_for(tap.shape[0], lambda a, b: np.add(base, offset.take(tap[a:b]), out=flat[a:b]),
                 items=4 * tap.size)
    return flat


def max_pool2d_backward_indices(go, indices, x_shape, k, s, d):
    """Scatter each output gradient to the flat input position in ``indices``.

    go, indices : (N, C, OH, OW);  returns (N, C, H, W).
    Where windows do not overlap every index is unique, so a plain scatter (``gx.flat[...] =``)
    is right; otherwise several windows may pick the same pixel and ``np.bincount`` adds them up.
    """
    n, c, h, w = x_shape
    if _taps_disjoint(k, s, d):
        gx = np.zeros(x_shape, dtype=go.dtype)

        def scatter(a, b):                   # images a..b-1, seen as one long vector:
            # position = plane number * H*W + index in the plane
            planes = (np.arange((b - a) * c, dtype=np.int64) * (h * w)).reshape(b - a, c, 1, 1)
            gx[a:b].reshape(-1)[(indices[a:b] + planes).reshape(-1)] = go[a:b].reshape(-1)

        parallel_for(n, scatter, items=4 * go.size)
        return gx
    # position in the whole (N, C, H, W) array = index in its plane + plane number * H*W
    planes = (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1)
    flat = (indices + planes).reshape(-1)
    gx = np.bincount(flat, weights=go.reshape(-1), minlength=n * c * h * w).astype(go.dtype)
    return gx.reshape(x_shape)


def max_pool2d_backward_taps(go, tap, x_shape, k, s, pads, d):
    """Send each output gradient to the tap that won: per tap, grad * (tap == t) into that
    tap's strided slice of the padded input gradient (blocks of images on the threads)."""
    n, c, h, w = x_shape
    oh, ow = go.shape[-2:]
    gxp = _padded_grad_buffer(go, x_shape, k, s, pads, d)
    disjoint = _taps_disjoint(k, s, d)

    def images(a, b):
        g, tp, gx = go[a:b], tap[a:b], gxp[a:b]
        hit = np.empty(g.shape, dtype=bool)
        for t in range(k[0] * k[1]):
            rows, cols = tap_slice(t // k[1], t % k[1], (oh, ow), s, d)
            np.equal(tp, t, out=hit)
            if disjoint:
                np.multiply(g, hit, out=gx[:, :, rows, cols])
            else:
                gx[:, :, rows, cols] += g * hit

    parallel_for(n, images, items=gxp.size + 2 * go.size * k[0] * k[1])
    return gxp[:, :, pads[0]:pads[0] + h, pads[2]:pads[2] + w]


def window_sum(x, k, s, pads, d):
    """Sum over each window: a loop over the kH*kW taps of the zero-padded window view."""
    n, c, h, w = x.shape
    oh = out_len(h, k[0], s[0], d[0], pads[0] + pads[1])
    ow = out_len(w, k[1], s[1], d[1], pads[2] + pads[3])
    out = np.empty((n, c, oh, ow), dtype=x.dtype)

    def images(a, b):
        win = window_view(pad_nchw(x[a:b], pads), k, s, d)
        o = out[a:b]
        np.copyto(o, win[:, :, 0, 0])
        for t in range(1, k[0] * k[1]):
            o += win[:, :, t // k[1], t % k[1]]

    parallel_for(n, images, items=x.size + out.size * k[0] * k[1])
    return out


def window_sum_backward(go, x_shape, k, s, pads, d):
    """Adjoint of ``window_sum``: every tap receives the window's gradient."""
    n, c, h, w = x_shape
    oh, ow = go.shape[-2:]
    gxp = _padded_grad_buffer(go, x_shape, k, s, pads, d)
    disjoint = _taps_disjoint(k, s, d)

    def images(a, b):
        g, gx = go[a:b], gxp[a:b]
        for t in range(k[0] * k[1]):
            rows, cols = tap_slice(t // k[1], t % k[1], (oh, ow), s, d)
            if disjoint:
                gx[:, :, rows, cols] = g
            else:
                gx[:, :, rows, cols] += g

    parallel_for(n, images, items=gxp.size + go.size * k[0] * k[1])
    return gxp[:, :, pads[0]:pads[0] + h, pads[2]:pads[2] + w]
