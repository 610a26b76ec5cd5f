"""Correlation and convolution of single arrays, with ``scipy.signal`` semantics.

The pedagogical pair of lesson 1: ``correlate2d`` (what CNNs call "convolution") and
``convolve2d`` (the kernel flipped), plus the 1-D versions. One array and one kernel, modes
"valid", "same" and "full"; integers stay integers, like scipy. The batched, multi-channel
operation of a CNN layer is ``conv2d`` in ``cnnlab.functional.conv``.

Each is the window view of the zero-padded input and one ``tensordot`` with the kernel.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab._args import signal_args

__all__ = ["correlate1d", "convolve1d", "correlate2d", "convolve2d"]


def _crop_plan(n, a, mode, same_offset):
    """(pad_before, pad_after, out_len) along one axis, for a correlation of a length-n signal
    with a length-a kernel, relative to 'full' correlation (length n + a - 1, pad a-1 each side).

    full : everything;  valid : the |n-a|+1 central values where one array lies inside the
    other (no zero padding used);  same : n values starting at ``same_offset`` of full.
    """
    if mode == "full":
        start, size = 0, n + a - 1
    elif mode == "valid":
        start, size = min(n, a) - 1, abs(n - a) + 1
    else:
        start, size = same_offset, n
    before = a - 1 - start
    after = size + a - 1 - n - before
    return before, after, size


def _correlate_nd(x, k, mode, same_offsets):
    dtype = np.result_type(x, k)
    pads = [_crop_plan(n, a, mode, off) for n, a, off in zip(x.shape, k.shape, same_offsets)]
    # zero padding, by writing x into a fresh array (pads are never negative by construction)
    xp = np.zeros([n + b + e for n, (b, e, _) in zip(x.shape, pads)], dtype=dtype)
    xp[tuple(slice(b, b + n) for n, (b, _, _) in zip(x.shape, pads))] = x
    # windows: shape (*out, *k.shape); out[i, j] = sum over the window times the kernel
    win = sliding_window_view(xp, k.shape)
    axes = tuple(range(x.ndim, 2 * x.ndim))
    out = np.tensordot(win, k.astype(dtype, copy=False), axes=(axes, tuple(range(x.ndim))))
    return out


def correlate2d(x, k, mode="valid"):
    """Cross-correlation of one 2-D array with one 2-D kernel (what CNNs call "convolution").

    x    : (H, W) input (list of lists is fine)
    k    : (kH, kW) kernel
    mode : "valid" (default; only positions where k lies fully inside x: (H-kH+1, W-kW+1);
           as in scipy.signal, a k larger than x in both directions gives the positions where
           x lies fully inside k, (kH-H+1, kW-W+1), and larger in one direction only is an
           error), "same" (output (H, W), zero padding, centred exactly as scipy.signal.correlate2d:
           for an even kernel the extra zero row/column is on the bottom/right), or
           "full" (every overlap: (H+kH-1, W+kW-1)).
    returns out with out[i, j] = sum_{a,b} x[i+a, j+b] * k[a, b]   (in "valid" mode);
    the dtype is that of x and k combined (integers stay integers, like scipy).

    >>> import numpy as np
    >>> correlate2d(np.arange(9).reshape(3, 3), [[0, 1], [2, 3]]).tolist()
    [[19, 25], [37, 43]]
    """
    x, k = signal_args(x, k, mode, 2, "correlate2d")
    if k.dtype.kind == "c":
        k = k.conj()  # scipy conjugates the kernel of a correlation
    # scipy centres a correlation's "same" output on kernel index k//2
    return _correlate_nd(x, k, mode, (k.shape[0] // 2, k.shape[1] // 2))


def convolve2d(x, k, mode="valid"):
    """True 2-D convolution, as scipy.signal.convolve2d: correlation with the kernel flipped
    in both directions (``k[::-1, ::-1]``).

    out[i, j] = sum_{a,b} x[i+a, j+b] * k[kH-1-a, kW-1-b]  (in "valid" mode)
    Shapes and modes as ``correlate2d``; "same" is centred as scipy.signal.convolve2d
    (for an even kernel this differs by one pixel from correlate2d with the flipped kernel).
    """
    x, k = signal_args(x, k, mode, 2, "convolve2d")
    flipped = k[::-1, ::-1]
    return _correlate_nd(x, flipped, mode, ((k.shape[0] - 1) // 2, (k.shape[1] - 1) // 2))


def correlate1d(x, k, mode="valid"):
    """Cross-correlation of two 1-D arrays, as ``np.correlate`` / ``scipy.signal.correlate``.

    x : (L,)   k : (kL,)
    out[i] = sum_a x[i+a] * k[a]; "valid" length L-kL+1, "same" length L (centred as
    scipy.signal.correlate), "full" length L+kL-1.

    >>> correlate1d([0, 1, 2, 3], [1, 2]).tolist()
    [2, 5, 8]
    """
    x, k = signal_args(x, k, mode, 1, "correlate1d")
    if k.dtype.kind == "c":
        k = k.conj()
    return _correlate_nd(x, k, mode, ((k.shape[0] - 1) // 2,))


def convolve1d(x, k, mode="valid"):
    """1-D convolution (kernel flipped), as ``np.convolve`` / ``scipy.signal.convolve``.

    >>> convolve1d([0, 1, 2, 3], [1, 2]).tolist()
    [1, 4, 7]
    """
    x, k = signal_args(x, k, mode, 1, "convolve1d")
    return _correlate_nd(x, k[::-1], mode, ((k.shape[0] - 1) // 2,))
