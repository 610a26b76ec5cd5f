"""Naive, obviously-correct loop versions of the core operations.

They follow the definitions literally, one output number at a time, so they are slow but easy
to check by eye. The tests hold the vectorized ``cnnlab.functional`` to them (a second oracle
beside scipy and PyTorch), and the exercise checks can use them as model answers.
Only use them on small arrays.
"""
from __future__ import annotations

import numpy as np

__all__ = ["correlate2d_naive", "conv2d_naive", "conv1d_naive", "max_pool2d_naive",
           "avg_pool2d_naive"]


def _pair(v):
    return (v, v) if isinstance(v, (int, np.integer)) else tuple(v)


def correlate2d_naive(x, k):
    """Valid cross-correlation: out[i, j] = sum_{a,b} x[i+a, j+b] * k[a, b].

    x : (H, W)   k : (kH, kW)   returns (H-kH+1, W-kW+1)
    """
    x, k = np.asarray(x), np.asarray(k)
    H, W = x.shape
    kH, kW = k.shape
    out = np.zeros((H - kH + 1, W - kW + 1), dtype=np.result_type(x, k))
    for i in range(H - kH + 1):
        for j in range(W - kW + 1):
            total = 0
            for a in range(kH):
                for b in range(kW):
                    total += x[i + a, j + b] * k[a, b]
            out[i, j] = total
    return out


def _float(a):
    """a as an array: floats keep their dtype, anything else becomes float64."""
    a = np.asarray(a)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def _pad(x, ph, pw, value=0.0):
    N, C, H, W = x.shape
    xp = np.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    return xp


def conv2d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """out[n, o, y, x] = bias[o] + sum_{c,i,j} weight[o,c,i,j] * padded[n, c, y*sH+i*dH, x*sW+j*dW]

    input (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out,) or None;
    stride/padding/dilation int or pair (symmetric padding).
    """
    x = _float(input)
    w = np.asarray(weight, dtype=x.dtype)
    sH, sW = _pair(stride)
    pH, pW = _pair(padding)
    dH, dW = _pair(dilation)
    N, C, H, W = x.shape
    C_out, _, kH, kW = w.shape
    xp = _pad(x, pH, pW)
    OH = (H + 2 * pH - dH * (kH - 1) - 1) // sH + 1
    OW = (W + 2 * pW - dW * (kW - 1) - 1) // sW + 1
    out = np.zeros((N, C_out, OH, OW), dtype=x.dtype)
    for n in range(N):
        for o in range(C_out):
            for y in range(OH):
                for xx in range(OW):
                    total = 0.0 if bias is None else bias[o]
                    for c in range(C):
                        for i in range(kH):
                            for j in range(kW):
                                total += w[o, c, i, j] * xp[n, c, y * sH + i * dH, xx * sW + j * dW]
                    out[n, o, y, xx] = total
    return out


def conv1d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """out[n, o, t] = bias[o] + sum_{c,i} weight[o, c, i] * padded[n, c, t*s + i*d]

    input (N, C_in, L), weight (C_out, C_in, k): the 2-D loops on images of height 1.
    """
    x = _float(input)
    w = np.asarray(weight, dtype=x.dtype)
    out = conv2d_naive(x[:, :, None, :], w[:, :, None, :], bias, (1, stride), (0, padding),
                       (1, dilation))
    return out[:, :, 0, :]


def max_pool2d_naive(input, kernel_size, stride=None, padding=0, dilation=1):
    """Largest value in each window (padding counts as -inf); returns (out, indices) where
    indices are flat positions row*W + col of the FIRST maximum in row-major window order."""
    x = _float(input)
    kH, kW = _pair(kernel_size)
    sH, sW = _pair(kernel_size if stride is None else stride)
    pH, pW = _pair(padding)
    dH, dW = _pair(dilation)
    N, C, H, W = x.shape
    OH = (H + 2 * pH - dH * (kH - 1) - 1) // sH + 1
    OW = (W + 2 * pW - dW * (kW - 1) - 1) // sW + 1
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    idx = np.zeros((N, C, OH, OW), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for y in range(OH):
                for xx in range(OW):
                    best, where = -np.inf, -1
                    for i in range(kH):
                        for j in range(kW):
                            r = y * sH - pH + i * dH
                            q = xx * sW - pW + j * dW
                            if 0 <= r < H and 0 <= q < W and (where < 0 or x[n, c, r, q] > best):
                                best, where = x[n, c, r, q], r * W + q
                    out[n, c, y, xx] = best
                    idx[n, c, y, xx] = where
    return out, idx


def avg_pool2d_naive(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean of each window (zero padding); divides by kH*kW, or by the number of real pixels
    in the window when count_include_pad=False."""
    x = _float(input)
    kH, kW = _pair(kernel_size)
    sH, sW = _pair(kernel_size if stride is None else stride)
    pH, pW = _pair(padding)
    N, C, H, W = x.shape
    OH = (H + 2 * pH - kH) // sH + 1
    OW = (W + 2 * pW - kW) // sW + 1
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for y in range(OH):
                for xx in range(OW):
                    total, count = 0.0, 0
                    for i in range(kH):
                        for j in range(kW):
                            r, q = y * sH - pH + i, xx * sW - pW + j
                            if 0 <= r < H and 0 <= q < W:
                                total += x[n, c, r, q]
                                count += 1
                    out[n, c, y, xx] = total / (kH * kW if count_include_pad else count)
    return out
