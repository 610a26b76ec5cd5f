"""The strided-window machinery shared by convolution and pooling.

Every sliding-window operation in ``cnnlab.functional`` is built from three ideas:

1. **Pad** the input by writing it into a fresh array of zeros (or ``-inf`` for max pooling).
2. **View the windows** without copying: ``window_view`` returns an array of shape
   ``(N, C, kH, kW, OH, OW)`` whose element ``[n, c, i, j, oh, ow]`` is the input pixel that
   kernel tap ``(i, j)`` sees when the window sits at output position ``(oh, ow)``::

       xp[n, c, oh*stride_h + i*dilation_h, ow*stride_w + j*dilation_w]

   It is only a different set of *strides* over the same memory (``as_strided``), so building it
   costs nothing; stride and dilation are just bigger steps.
3. **im2col / col2im**: copying those windows into a matrix turns a convolution into one matrix
   product; the way back (``col2im``) adds each tap's slab into the padded input gradient through a
   strided slice, one slice per kernel tap (kH*kW additions, no loop over pixels).

Shapes use PyTorch's NCHW layout. Arguments are validated by the public functions in
``cnnlab.functional``, whose readable definitions are written with these pieces; the measured
layouts built on them (batch-innermost col2im, a reused im2col buffer) are in
``cnnlab._fast.conv``.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["pad_nchw", "window_view", "tap_slice", "out_len", "im2col", "col2im", "zeroed"]


def out_len(n: int, k: int, stride: int, dilation: int, pad_total: int) -> int:
    """Number of window positions along one axis: floor((n + pads - d(k-1) - 1)/s) + 1."""
    return (n + pad_total - dilation * (k - 1) - 1) // stride + 1


def pad_nchw(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0) -> np.ndarray:
    """Pad the last two axes of ``x``.

    x     : (..., H, W)
    pads  : (top, bottom, left, right), non-negative ints (may differ: "same" padding with an
            even kernel puts the extra row/column at the bottom/right, as PyTorch does)
    value : fill value (0 for convolution and average pooling, -inf for max pooling)
    returns (..., H + top + bottom, W + left + right), a fresh C-contiguous array

    Writing into a fresh filled array is faster than ``np.pad`` and never returns a view.
    With no padding the input itself is returned (not copied).
    """
    pt, pb, pl, pr = pads
    if pt == pb == pl == pr == 0:
        return x
    *lead, h, w = x.shape
    out = np.full((*lead, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    out[..., pt:pt + h, pl:pl + w] = x
    return out


def window_view(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1),
                dilation: tuple[int, int] = (1, 1)) -> np.ndarray:
    """Zero-copy, read-only view of all sliding windows of an (already padded) input.

    x        : (N, C, H, W)   (any strides)
    kernel   : (kH, kW)
    returns  : (N, C, kH, kW, OH, OW) with
               view[n, c, i, j, oh, ow] = x[n, c, oh*sH + i*dH, ow*sW + j*dW]
               OH = floor((H - dH*(kH-1) - 1)/sH) + 1, likewise OW.

    Putting the kernel taps (kH, kW) before the output positions (OH, OW) means that a copy of
    the view reshaped to (N, C*kH*kW, OH*OW) is exactly the im2col matrix, and ``W @ cols``
    gives the output already in NCHW order.
    """
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    oh = out_len(h, kh, sh, dh, 0)
    ow = out_len(w, kw, sw, dw, 0)
    s_n, s_c, s_h, s_w = x.strides
    return as_strided(
        x,
        shape=(n, c, kh, kw, oh, ow),
        strides=(s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw),
        writeable=False,
    )


def tap_slice(i: int, j: int, out_hw: tuple[int, int], stride: tuple[int, int],
              dilation: tuple[int, int]) -> tuple[slice, slice]:
    """The (row, column) slices of the padded input that kernel tap (i, j) touches.

    For tap (i, j) the window at output (oh, ow) reads padded pixel
    (oh*sH + i*dH, ow*sW + j*dW); over all (oh, ow) that is a strided slice starting at
    (i*dH, j*dW) with steps (sH, sW) and exactly (OH, OW) elements. Writing through this slice
    is how col2im and the pooling backward scatter gradients without a loop over pixels.
    """
    oh, ow = out_hw
    sh, sw = stride
    dh, dw = dilation
    r0, c0 = i * dh, j * dw
    return slice(r0, r0 + sh * (oh - 1) + 1, sh), slice(c0, c0 + sw * (ow - 1) + 1, sw)


def im2col(xp: np.ndarray, kernel, stride=(1, 1), dilation=(1, 1)) -> np.ndarray:
    """Copy every window of the padded input into a column matrix.

    xp      : (N, C, Hp, Wp) padded input
    returns : (N, C*kH*kW, OH*OW) contiguous; row index = c*kH*kW + i*kW + j
              (the same order as ``weight.reshape(C_out, -1)``), column index = oh*OW + ow.
    """
    win = window_view(xp, kernel, stride, dilation)
    n, c, kh, kw, oh, ow = win.shape
    cols = np.empty(win.shape, dtype=xp.dtype)
    np.copyto(cols, win)
    return cols.reshape(n, c * kh * kw, oh * ow)


def zeroed(out, shape, dtype) -> np.ndarray:
    """``out`` filled with zeros (a buffer the caller reuses), or a new zero array of ``shape``."""
    if out is None:
        return np.zeros(shape, dtype=dtype)
    out[...] = 0
    return out


def col2im(cols: np.ndarray, padded_shape, kernel, stride=(1, 1), dilation=(1, 1),
           out=None) -> np.ndarray:
    """Adjoint of ``im2col``: add every column entry back to the pixel it was copied from.

    cols         : (N, C*kH*kW, OH*OW) or (N, C, kH, kW, OH, OW), any strides (the training
                   backward passes a transposed view of its (C, kH, kW, N, OH, OW) gradient)
    padded_shape : (N, C, Hp, Wp)
    out          : an array of padded_shape to fill (the fast path reuses buffers), or None
    returns      : (N, C, Hp, Wp)  (still padded; crop it yourself)

    One strided slice-add per kernel tap; overlapping windows accumulate correctly because
    the taps are added one after the other.
    """
    n, c, hp, wp = padded_shape
    kh, kw = kernel
    oh = out_len(hp, kh, stride[0], dilation[0], 0)
    ow = out_len(wp, kw, stride[1], dilation[1], 0)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    out = zeroed(out, padded_shape, cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = tap_slice(i, j, (oh, ow), stride, dilation)
            out[:, :, rows, columns] += cols[:, :, i, j]
    return out
