"""cnnlab.functional: every piece of math in cnnlab, forward and backward.

The names, argument order and semantics follow ``torch.nn.functional`` so that what you learn
here carries over to PyTorch. Everything takes and returns NumPy arrays:

* batched images are NCHW: ``(N, C, H, W)`` = (batch, channels, height, width);
  batched signals are NCL: ``(N, C, L)``;
* a convolution weight is ``(C_out, C_in, kH, kW)`` (``(C_out, C_in, k)`` in 1-D);
* outputs keep the input dtype: float32 in, float32 out; float64 works everywhere (use it for
  gradient checks). Integer or boolean input to the *batched* ops (conv, pools, activations,
  linear, losses) is converted to float64; the pedagogical single-array functions
  (``correlate2d`` ...) keep integers, like ``scipy.signal``.

Every ``<op>_backward`` takes the gradient of the loss with respect to the op's output
(``grad_output``, same shape as the output) and returns the gradient with respect to its
input(s), i.e. one step of the chain rule.

Arguments are checked once, here at the public boundary; a mistake raises ``ValueError`` or
``TypeError`` naming the argument, the problem and the fix, never a bare ``IndexError``.

The fast paths are vectorized: the sliding windows are zero-copy strided views
(``cnnlab._windows``); a convolution is one matrix product per block of images; loops run only
over the k*k kernel taps or over blocks of images, never over pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab._args import (activation_args, cast, check_bias, check_grad_output, check_indices,
                          check_dim, check_norm_type, check_probability, check_size_args,
                          conv_args, cross_entropy_args, float_array, is_int, linear_args,
                          numeric_array, pool_args, positive_int, real_number, signal_args)
from cnnlab._windows import (col2im, col2im_batch_last, get_num_threads, im2col_into, out_len, pad_nchw,
                             parallel_for, set_num_threads, tap_slice, window_view)

__all__ = [
    # formulas
    "output_size", "output_size_exact", "conv_parameter_count", "receptive_field",
    # single arrays (scipy.signal semantics)
    "correlate1d", "convolve1d", "correlate2d", "convolve2d",
    # convolution
    "conv1d", "conv2d", "conv1d_with_cache", "conv2d_with_cache", "conv1d_backward",
    "conv2d_backward", "ConvCache",
    # pooling
    "max_pool1d", "max_pool2d", "max_pool1d_backward", "max_pool2d_backward",
    "avg_pool1d", "avg_pool2d", "avg_pool1d_backward", "avg_pool2d_backward",
    "sum_pool2d", "sum_pool2d_backward", "lp_pool1d", "lp_pool2d", "lp_pool1d_backward",
    "lp_pool2d_backward",
    # activations
    "relu", "relu_backward", "sigmoid", "sigmoid_backward", "tanh", "tanh_backward",
    "leaky_relu", "leaky_relu_backward", "silu", "silu_backward", "softmax", "softmax_backward",
    "log_softmax", "log_softmax_backward",
    # the rest
    "linear", "linear_backward", "cross_entropy", "cross_entropy_backward", "dropout",
    "dropout_backward", "flatten", "flatten_backward",
    # threads for copies and elementwise loops (BLAS has its own)
    "set_num_threads", "get_num_threads",
]

# Images per block in the forward convolution (see NOTES: ~16 images keeps the column buffer
# in cache). The block is shrunk for big layers so one block's columns stay around 2 MB.
_CHUNK_IMAGES = 16
_CHUNK_BYTES = 2 << 20


# ----------------------------------------------------------------------------------------------
# formulas
# ----------------------------------------------------------------------------------------------

def _formula_text(n, k, s, p, d) -> str:
    """The output-size formula with the numbers filled in, without needless terms."""
    if d == 1:
        top = f"{n} - {k}" if p == 0 else f"{n} + 2*{p} - {k}"
    else:
        top = f"{n} - {d}*({k} - 1) - 1" if p == 0 else f"{n} + 2*{p} - {d}*({k} - 1) - 1"
    return f"({top})/{s} + 1"


def output_size(n, kernel_size, stride=1, padding=0, dilation=1, strict=False) -> int:
    """Output length of a convolution or pooling along one axis (PyTorch's floor formula).

        O = floor((n + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1

    Without padding and dilation this is floor((n - k)/s) + 1: the number of places the window
    can sit. When the stride does not fit exactly, the last rows/columns are simply never
    covered (the floor). ``strict=True`` raises a ValueError that shows the fractional value
    instead, e.g. ``output_size(7, 3, stride=3, strict=True)`` explains ``(7 - 3)/3 + 1 = 2.33``.

    >>> output_size(28, 5, padding=2)
    28
    >>> output_size(7, 3, stride=3)
    2
    """
    fn = "output_size"
    check_size_args(fn, n, kernel_size, stride, padding, dilation)
    covered = n + 2 * padding - dilation * (kernel_size - 1) - 1
    o = covered // stride + 1
    rest = covered % stride
    if strict and rest:
        exact = covered / stride + 1
        raise ValueError(
            f"{fn}: stride {stride} does not fit: {_formula_text(n, kernel_size, stride, padding, dilation)}"
            f" = {exact:.2f} is not a whole number. The floor gives {o}, and the last {rest} "
            f"pixel(s) of the padded input are never covered. Choose a stride that divides "
            f"{covered}, or change the padding or kernel_size so that it does."
        )
    return int(o)


def output_size_exact(n, kernel_size, stride=1, padding=0, dilation=1) -> float:
    """The unfloored output size (n + 2p - d(k-1) - 1)/s + 1, e.g. 2.333... for (7, 3, stride 3).

    For explanations and widgets: a fractional value means the stride does not fit and
    ``output_size`` rounds down.
    """
    check_size_args("output_size_exact", n, kernel_size, stride, padding, dilation)
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1


def conv_parameter_count(in_channels, out_channels, kernel_size, bias=True) -> int:
    """Number of learnable numbers in a convolution layer: (kH*kW*C_in + 1)*C_out.

    Each of the C_out filters has kH*kW*C_in weights (it looks at every input channel) plus
    one bias. ``kernel_size`` is an int (square 2-D kernel), a pair, or a 1-tuple for 1-D.

    >>> conv_parameter_count(3, 32, 5)   # 32 filters of 5x5 on an RGB image
    2432
    """
    fn = "conv_parameter_count"
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
        positive_int(v, name, fn)
    if is_int(kernel_size):
        ks = (int(kernel_size),) * 2
    elif isinstance(kernel_size, (tuple, list)) and 1 <= len(kernel_size) <= 3 and all(
            is_int(k) for k in kernel_size):
        ks = tuple(int(k) for k in kernel_size)
    else:
        raise TypeError(f"{fn}: kernel_size must be an int or a tuple of ints, got {kernel_size!r}")
    if min(ks) < 1:
        raise ValueError(f"{fn}: kernel_size must be >= 1, got {kernel_size!r}")
    return (math.prod(ks) * in_channels + (1 if bias else 0)) * out_channels


def receptive_field(layers) -> list[int]:
    """Receptive field (in input pixels, along one axis) after each layer of a stack.

    layers : list of (kernel_size, stride, dilation) tuples; (kernel_size, stride) and
             (kernel_size,) are accepted too (dilation 1, stride 1).
    returns: list of ints, one per layer.

    Each layer widens the field by dilation*(k-1) steps of its input, and one step of its input
    is ``jump`` input pixels, the product of all earlier strides:

        r = r + d*(k-1)*jump;   jump = jump*s

    >>> receptive_field([(3, 1, 1), (3, 1, 1)])    # two 3x3 convs see 5x5
    [3, 5]
    >>> receptive_field([(5, 1, 1), (2, 2, 1), (5, 1, 1), (2, 2, 1)])   # LeNet-5
    [5, 6, 14, 16]
    """
    fn = "receptive_field"
    r, jump, out = 1, 1, []
    for idx, layer in enumerate(layers):
        if is_int(layer):
            layer = (layer,)
        if not isinstance(layer, (tuple, list)) or not 1 <= len(layer) <= 3:
            raise TypeError(f"{fn}: layers[{idx}] must be (kernel_size, stride, dilation), got {layer!r}")
        k, s, d = (tuple(layer) + (1, 1))[:3]
        for name, v in (("kernel_size", k), ("stride", s), ("dilation", d)):
            positive_int(v, f"layers[{idx}] {name}", fn)
        r += d * (k - 1) * jump
        jump *= s
        out.append(int(r))
    return out


# ----------------------------------------------------------------------------------------------
# single arrays, scipy.signal semantics
# ----------------------------------------------------------------------------------------------

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
    mode : "valid" (default; only positions where k lies fully inside x: (H-kH+1, W-kW+1)),
           "same" (output (H, W), zero padding, centred exactly as scipy.signal.correlate2d:
           for an even kernel the extra zero row/column is on the bottom/right), or
           "full" (every overlap: (H+kH-1, W+kW-1)).
    returns out with out[i, j] = sum_{a,b} x[i+a, j+b] * k[a, b]   (in "valid" mode);
    the dtype is that of x and k combined (integers stay integers, like scipy).

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


# ----------------------------------------------------------------------------------------------
# batched convolution
# ----------------------------------------------------------------------------------------------

@dataclass
class ConvCache:
    """What the forward convolution keeps for the backward (see ``conv2d_with_cache``).

    cols        : the im2col matrix of the padded input and a row of ones, (C_in*kH*kW + 1,
                  columns), one column per output position of every image (see ``_columns``):
                  "batch innermost" (column (oh*OW + ow)*N + n)
                  or "batch in the middle" (column n*OH*OW + oh*OW + ow); ``_use_batch_last``
                  decides, ``batch_last`` records which
    input_shape : (N, C_in, H, W)
    pads        : (top, bottom, left, right)
    stride, dilation : (sH, sW), (dH, dW)
    batch_last  : the layout of ``cols``
    """
    cols: np.ndarray | None
    input_shape: tuple
    pads: tuple
    stride: tuple
    dilation: tuple
    batch_last: bool


def _conv2d_forward(x, w, b, stride, pads, dilation):
    """Forward convolution in blocks of images (inference: nothing is kept for a backward).

    x : (N, C_in, H, W)   w : (C_out, C_in, kH, kW)   b : (C_out,) or None
    returns out (N, C_out, OH, OW)

    For each block of about 16 images: copy the block's windows (a zero-copy view) into a small
    reused buffer (block, K, OH*OW) with K = C_in*kH*kW, then one matmul
    W (C_out, K) @ buffer -> (block, C_out, OH*OW), written straight into the NCHW output.
    The memory stays bounded however large the batch.
    """
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    xp = pad_nchw(x, pads)
    win = window_view(xp, (kh, kw), stride, dilation)    # (N, C, kH, kW, OH, OW), no copy
    oh, ow = win.shape[-2:]
    k, L = c * kh * kw, oh * ow
    wm = w.reshape(c_out, k)
    out = np.empty((n, c_out, oh, ow), dtype=x.dtype)
    out3 = out.reshape(n, c_out, L)
    per_image = k * L * x.itemsize
    chunk = max(1, min(_CHUNK_IMAGES, _CHUNK_BYTES // max(per_image, 1)))

    def blocks(start, stop):                  # images start..stop-1 (one thread's share)
        buf = np.empty((min(chunk, stop - start),) + win.shape[1:], dtype=x.dtype)
        for s in range(start, stop, chunk):
            e = min(stop, s + chunk)
            cols = im2col_into(buf, win[s:e])                  # (block, K, L)
            np.matmul(wm, cols, out=out3[s:e])

    parallel_for(n, blocks, items=n * k * L)
    if b is not None:
        _add_bias(out3, b)
    return out


# Rows of the weight and gradient matrices in the training products. Measured here (numpy's
# OpenBLAS, float32, (M, K) @ (K, 100k)): with fewer than 8 rows the product runs 1.3-2x slower
# than with exactly 8 (most likely OpenBLAS's kernels work on panels of 8 and a narrower product
# takes a slow edge path; only the timing was measured). So a layer with fewer than 8 output channels
# (LeNet's conv1 has 6) multiplies with zero rows appended up to 8 and drops their results.
# From 8 rows on, rounding up measured no better.
_GEMM_MIN_ROWS = 8


def _gemm_rows(c_out: int) -> int:
    return max(c_out, _GEMM_MIN_ROWS)


def _columns(x, kernel, stride, pads, dilation, batch_last):
    """The im2col matrix of a training step, shared by the forward and the backward.

    x : (N, C_in, H, W)
    returns cols (K+1, N*OH*OW) with K = C_in*kH*kW (row c*kH*kW + i*kW + j, the order of
    ``weight.reshape(C_out, -1)``), a last row of ones, and one column per output position of
    every image. The row of ones is the "bias trick": [W | b] @ cols adds the bias inside the
    forward product, and grad_output @ cols.T gives [dW | db] in one product.

    batch_last=True  "batch innermost": cols[k, (oh*OW + ow)*N + n]. The input is transposed and
                     padded once into (C_in, Hp, Wp, N), so every window row is a contiguous run
                     of OW*N numbers (a fast copy, and a fast col2im in the backward).
    batch_last=False "batch in the middle": cols[k, n*OH*OW + oh*OW + ow]. The product
                     W @ cols, (C_out, N, OH*OW), goes back to NCHW by copying whole channel
                     images (runs of OH*OW numbers) instead of a transpose with runs of C_out.

    Either way each of the three matrix products of a training step (forward, dW and db, dX)
    is ONE large GEMM. ``_use_batch_last`` picks the layout.
    """
    n, c, h, wd = x.shape
    kh, kw = kernel
    if batch_last:
        pt, pb, pl, pr = pads
        xt = np.zeros((c, h + pt + pb, wd + pl + pr, n), dtype=x.dtype)   # pad = write into zeros
        xt[:, pt:pt + h, pl:pl + wd, :] = x.transpose(1, 2, 3, 0)
        # window_view wants (N, C, H, W): hand it a transposed view, then put N last again
        win = window_view(xt.transpose(3, 0, 1, 2), kernel, stride, dilation)
        win = win.transpose(1, 2, 3, 4, 5, 0)             # (C, kH, kW, OH, OW, N), no copy
    else:
        win = window_view(pad_nchw(x, pads), kernel, stride, dilation)
        win = win.transpose(1, 2, 3, 0, 4, 5)             # (C, kH, kW, N, OH, OW), no copy
    k = c * kh * kw
    count = win.size // k
    flat = np.empty((k + 1) * count, dtype=x.dtype)
    cols = flat[:k * count].reshape(win.shape)
    flat[k * count:] = 1                                  # the row of ones (bias)
    # the copy, split over kernel rows i between threads
    parallel_for(kh, lambda a, b: np.copyto(cols[:, a:b], win[:, a:b]), items=cols.size)
    return flat.reshape(k + 1, count)


def _use_batch_last(c_in, c_out, kh, kw) -> bool:
    """Which im2col layout a training step uses (measured on LeNet-5 shapes).

    Batch innermost copies the columns and adds them back (col2im) fastest, but its forward
    result must be transposed back to NCHW with runs of only N numbers. That pays when the
    columns are much taller than the output: K = C_in*kH*kW >= 8*C_out (LeNet's conv2: 150 vs
    16). For a first layer like LeNet's conv1 (K = 25, C_out = 6) batch-in-the-middle wins.
    """
    return c_in * kh * kw >= 8 * c_out


def _conv2d_forward_cached(x, w, b, stride, pads, dilation):
    """Training forward: keeps the columns for the backward.

    returns out (N, C_out, OH, OW), cols (K+1, N*OH*OW) and the layout of cols (batch_last).
    One GEMM [W | b] (C_out, K+1) @ cols (the bias rides on the row of ones), then back to NCHW.
    """
    n = x.shape[0]
    c_out, c_in, kh, kw = w.shape
    oh = out_len(x.shape[2], kh, stride[0], dilation[0], pads[0] + pads[1])
    ow = out_len(x.shape[3], kw, stride[1], dilation[1], pads[2] + pads[3])
    L = oh * ow
    batch_last = _use_batch_last(c_in, c_out, kh, kw)
    cols = _columns(x, (kh, kw), stride, pads, dilation, batch_last)
    wb = np.zeros((_gemm_rows(c_out), cols.shape[0]), dtype=x.dtype)   # [W | b], zero rows
    wb[:c_out, :-1] = w.reshape(c_out, -1)
    if b is not None:
        wb[:c_out, -1] = b
    res = wb @ cols
    out = np.empty((n, c_out, oh, ow), dtype=x.dtype)
    out3 = out.reshape(n, c_out, L)
    if not batch_last:                                    # res (C_out, N, L): copy channel images
        np.copyto(out3, res.reshape(-1, n, L)[:c_out].transpose(1, 0, 2))
        return out, cols, batch_last
    res = res.reshape(-1, L, n)

    def store(start, stop):
        # back to NCHW one channel at a time: each channel is a plain 2-D transpose
        # (OH*OW, N) -> (N, OH*OW), about twice as fast as one 4-D transposing copy
        for o in range(start, stop):
            np.copyto(out3[:, o], res[o].T)

    parallel_for(c_out, store, items=out.size)
    return out, cols, batch_last


def _add_bias(out3, b):
    """out3 (N, C_out, L) += b[:, None], in place.

    Against a (C_out, L) array of the bias values, broadcast over the batch, NumPy runs its fast
    array-array loop; b[:, None] itself would make every inner loop a scalar operand (~2x slower).
    """
    out3 += np.repeat(b, out3.shape[2]).reshape(out3.shape[1:])


def _conv2d_backward(go, x, w, stride, pads, dilation, needs_input_grad, cols, batch_last):
    """Gradients of out = conv2d(x, w) + b.

    go   : (N, C_out, OH, OW)    x : (N, C_in, H, W)    w : (C_out, C_in, kH, kW)
    cols : the forward's columns (K+1, N*OH*OW) in the layout ``batch_last`` says (see
           ``_columns``), or None to rebuild them from x
    returns grad_input (N, C_in, H, W) or None, grad_weight (C_out, C_in, kH, kW),
    grad_bias (C_out,).

    grad_output is copied once into the layout of the columns, go_t (C_out, N*OH*OW); then
      [dW | db] = go_t @ cols.T                one GEMM (C_out, K+1)
      dX = col2im(W.T @ go_t)                  one GEMM (K, N*OH*OW), then kH*kW slice-adds
    """
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    _, _, oh, ow = go.shape
    k = c * kh * kw
    pt, pb, pl, pr = pads
    if cols is None:
        batch_last = _use_batch_last(c, c_out, kh, kw)
        cols = _columns(x, (kh, kw), stride, pads, dilation, batch_last)
    go_t = _grad_columns(go, batch_last, _gemm_rows(c_out))   # rows past C_out are zeros
    # [dW | db] in one product: the row of ones in cols sums grad_output for the bias
    if k >= 8 * c_out:       # tall columns (LeNet's conv2): the transposed product measured
        full = (cols @ go_t.T).T[:c_out]                              # ~1.5x faster
    else:
        full = (go_t @ cols.T)[:c_out]
    grad_weight = np.ascontiguousarray(full[:, :k]).reshape(w.shape)
    grad_bias = full[:, k].copy()
    if not needs_input_grad:
        return None, grad_weight, grad_bias
    # column gradient, one column per output position as in cols; each tap's slab is added back
    # through a strided slice of the padded input gradient, which is then cropped
    dcols = w.reshape(c_out, k).T @ go_t[:c_out]
    hp, wp = h + pt + pb, wd + pl + pr
    if not batch_last:
        # (C_in, kH, kW, N, OH, OW) seen as (N, C_in, kH, kW, OH, OW): col2im writes NCHW
        dcols = dcols.reshape(c, kh, kw, n, oh, ow).transpose(3, 0, 1, 2, 4, 5)
        dxp = col2im(dcols, (n, c, hp, wp), (kh, kw), stride, dilation)
        return np.ascontiguousarray(dxp[:, :, pt:pt + h, pl:pl + wd]), grad_weight, grad_bias
    dcols = dcols.reshape(c, kh, kw, oh, ow, n)
    dxp = col2im_batch_last(dcols, (c, hp, wp, n), (kh, kw), stride, dilation)
    crop = dxp[:, pt:pt + h, pl:pl + wd, :]                   # (C_in, H, W, N)
    grad_input = np.empty(x.shape, dtype=go.dtype)

    def to_nchw(a, b):                                    # one channel at a time (faster)
        for ch in range(a, b):
            np.copyto(grad_input[:, ch], crop[ch].transpose(2, 0, 1))

    parallel_for(c, to_nchw, items=crop.size)
    return grad_input, grad_weight, grad_bias


def _grad_columns(go, batch_last, rows):
    """(N, C, OH, OW) -> contiguous (rows, N*OH*OW) in the column layout of ``_columns``, with
    zero rows from C on; one copy, split over channels."""
    n, c, oh, ow = go.shape
    if batch_last:
        out, src = np.empty((rows, oh, ow, n), dtype=go.dtype), go.transpose(1, 2, 3, 0)
    else:
        out, src = np.empty((rows, n, oh, ow), dtype=go.dtype), go.transpose(1, 0, 2, 3)
    out[c:] = 0
    parallel_for(c, lambda a, b: np.copyto(out[a:b], src[a:b]), items=go.size)
    return out.reshape(rows, -1)


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
    """
    x, w, b, s, pads, d = conv_args("conv2d", input, weight, bias, stride, padding, dilation, 2)
    return _conv2d_forward(x, w, b, s, pads, d)


def conv2d_with_cache(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """``conv2d`` that also returns what the backward needs: ``(out, cache)``.

    Pass the cache to ``conv2d_backward(..., cache=cache)`` so the backward reuses the im2col
    columns instead of rebuilding them (this is what ``nn.Conv2d`` does).
    """
    x, w, b, s, pads, d = conv_args("conv2d", input, weight, bias, stride, padding, dilation, 2)
    out, cols, batch_last = _conv2d_forward_cached(x, w, b, s, pads, d)
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
    """
    fn = "conv2d_backward"
    x, w, _, s, pads, d = conv_args(fn, input, weight, None, stride, padding, dilation, 2)
    go = check_grad_output(grad_output, _conv_out_shape(x, w, s, pads, d), x.dtype, fn)
    cols, batch_last = _cache_cols(cache, x.shape, pads, s, d, fn)
    gi, gw, gb = _conv2d_backward(go, x, w, s, pads, d, needs_input_grad, cols, batch_last)
    return gi, cast(gw, np.asarray(weight).dtype if _is_float(weight) else gw.dtype), gb


def _is_float(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _cache_cols(cache, x_shape, pads, s, d, fn):
    if cache is None:
        return None, None
    if not isinstance(cache, ConvCache):
        raise TypeError(f"{fn}: cache must be the ConvCache returned by the *_with_cache forward, "
                        f"got {type(cache).__name__}")
    if tuple(cache.input_shape) != tuple(x_shape) or cache.pads != pads or cache.stride != s \
            or cache.dilation != d:
        raise ValueError(f"{fn}: cache does not match this call (forward input "
                         f"{tuple(cache.input_shape)}, got input {tuple(x_shape)}, or different "
                         "stride/padding/dilation); pass the cache from the matching forward")
    return cache.cols, cache.batch_last


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """1-D convolution of a batch of signals, as torch.nn.functional.conv1d.

    input  : (N, C_in, L)    weight : (C_out, C_in, k)    bias : (C_out,) or None
    returns (N, C_out, OL), OL = floor((L + 2p - d(k-1) - 1)/s) + 1
        out[n, o, t] = bias[o] + sum_{c,i} weight[o, c, i] * padded[n, c, t*s + i*d]
    Runs as conv2d on images of height 1.
    """
    x, w, b, s, pads, d = conv_args("conv1d", input, weight, bias, stride, padding, dilation, 1)
    return _conv2d_forward(x, w, b, s, pads, d)[:, :, 0, :]


def conv1d_with_cache(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """``conv1d`` returning ``(out, cache)`` for ``conv1d_backward(..., cache=cache)``."""
    x, w, b, s, pads, d = conv_args("conv1d", input, weight, bias, stride, padding, dilation, 1)
    out, cols, batch_last = _conv2d_forward_cached(x, w, b, s, pads, d)
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
    gi, gw, gb = _conv2d_backward(go, x, w, s, pads, d, needs_input_grad, cols, batch_last)
    gw = cast(gw[:, :, 0, :], np.asarray(weight).dtype if _is_float(weight) else gw.dtype)
    return (None if gi is None else gi[:, :, 0, :]), gw, gb


# ----------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------

def _pool_out_hw(x4, k, s, pads, d):
    _, _, h, w = x4.shape
    return (out_len(h, k[0], s[0], d[0], pads[0] + pads[1]),
            out_len(w, k[1], s[1], d[1], pads[2] + pads[3]))


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


def _max_pool2d_taps(x, k, s, pads, d):
    """Running maximum over the kH*kW taps of the window view.

    returns out (N, C, OH, OW) and tap (N, C, OH, OW) small ints: which tap (i*kW + j) won.
    A tap replaces the current best only where it is strictly greater, so ties go to the first
    maximum in row-major window order, as in PyTorch.
    """
    xp = pad_nchw(x, pads, -np.inf)
    win = window_view(xp, k, s, d)                   # (N, C, kH, kW, OH, OW)
    out = np.empty(win.shape[:2] + win.shape[4:], dtype=x.dtype)
    ntaps = k[0] * k[1]
    tap = np.zeros(out.shape, dtype=np.int8 if ntaps <= 127 else np.int32)

    def images(a, b):                                # images a..b-1 (one thread's share)
        o, tp, w = out[a:b], tap[a:b], win[a:b]
        np.copyto(o, w[:, :, 0, 0])
        better = np.empty(o.shape, dtype=bool)
        for t in range(1, ntaps):
            v = w[:, :, t // k[1], t % k[1]]
            np.greater(v, o, out=better)
            np.maximum(o, v, out=o)
            # tap = t where better: t is larger than every earlier tap number, so a maximum
            # with better*t does it (much faster than np.copyto(..., where=better))
            np.maximum(tp, better * tp.dtype.type(t), out=tp)

    parallel_for(x.shape[0], images, items=x.size)
    return out, tap


def _flat_indices(tap, x_shape, k, s, pads, d):
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


def _max_pool_backward_indices(go, indices, x_shape, k, s, d, fn):
    """Scatter each output gradient to the flat input position in ``indices``.

    go, indices : (N, C, OH, OW);  returns (N, C, H, W).
    Where windows do not overlap every index is unique, so a plain scatter (``gx.flat[...] =``)
    is right; otherwise several windows may pick the same pixel and ``np.bincount`` adds them up.
    """
    n, c, h, w = x_shape
    if indices.size and (indices.min() < 0 or indices.max() >= h * w):
        raise ValueError(f"{fn}: indices must be flat positions in 0..{h * w - 1} of the "
                         f"{h}x{w} input plane, as returned by the forward with return_indices=True")
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


def _max_pool_backward_taps(go, tap, x_shape, k, s, pads, d):
    """Send each output gradient to the tap that won: per tap, grad * (tap == t) into that
    tap's strided slice of the padded input gradient."""
    n, c, h, w = x_shape
    oh, ow = go.shape[-2:]
    gxp = _padded_grad_buffer(go, x_shape, k, s, pads, d)
    disjoint = _taps_disjoint(k, s, d)
    hit = np.empty(go.shape, dtype=bool)
    for t in range(k[0] * k[1]):
        rows, cols = tap_slice(t // k[1], t % k[1], (oh, ow), s, d)
        np.equal(tap, t, out=hit)
        if disjoint:
            np.multiply(go, hit, out=gxp[:, :, rows, cols])
        else:
            gxp[:, :, rows, cols] += go * hit
    return gxp[:, :, pads[0]:pads[0] + h, pads[2]:pads[2] + w]


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, return_indices=False):
    """2-D max pooling, as torch.nn.functional.max_pool2d.

    input : (N, C, H, W)
    kernel_size, stride (default = kernel_size), padding, dilation : int or pair
    padding <= kernel_size/2 (PyTorch's rule); padded pixels are -inf, so they never win.
    returns out (N, C, OH, OW), and with return_indices=True also indices (N, C, OH, OW) int64:
    the flat position row*W + col of each maximum in the unpadded H*W plane.
    Ties go to the FIRST maximum in row-major window order (as PyTorch).
    """
    x, k, s, pads, d = pool_args("max_pool2d", input, kernel_size, stride, padding, dilation, 2)
    out, tap = _max_pool2d_taps(x, k, s, pads, d)
    if return_indices:
        return out, _flat_indices(tap, x.shape, k, s, pads, d)
    return out


def max_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        indices=None):
    """Gradient of ``max_pool2d``: each output gradient goes to the input pixel that won its
    window (the first maximum on ties), and adds up where windows overlap.

    grad_output : (N, C, OH, OW)    input : (N, C, H, W)
    indices     : the indices from ``max_pool2d(..., return_indices=True)`` (skips recomputing
                  the maxima), or None
    returns grad_input (N, C, H, W)
    """
    fn = "max_pool2d_backward"
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, dilation, 2)
    go = check_grad_output(grad_output, x.shape[:2] + _pool_out_hw(x, k, s, pads, d), x.dtype, fn)
    if indices is not None:
        indices = check_indices(indices, go.shape, fn)
        return _max_pool_backward_indices(go, indices, x.shape, k, s, d, fn)
    tap = _max_pool2d_taps(x, k, s, pads, d)[1]
    return _max_pool_backward_taps(go, tap, x.shape, k, s, pads, d)


def _max_pool2d_with_taps(input, kernel_size, stride, padding, dilation):
    """``max_pool2d`` for ``nn.MaxPool2d`` in training: returns out and the winning tap of
    each window (small ints, see ``_max_pool2d_taps``). Cheaper than flat indices, both to
    make and to use in ``_max_pool2d_backward_taps``."""
    x, k, s, pads, d = pool_args("max_pool2d", input, kernel_size, stride, padding, dilation, 2)
    return _max_pool2d_taps(x, k, s, pads, d)


def _max_pool2d_backward_taps(grad_output, input, tap, kernel_size, stride, padding, dilation):
    """``max_pool2d_backward`` from the taps kept by ``_max_pool2d_with_taps``."""
    fn = "max_pool2d_backward"
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, dilation, 2)
    go = check_grad_output(grad_output, x.shape[:2] + _pool_out_hw(x, k, s, pads, d), x.dtype, fn)
    return _max_pool_backward_taps(go, tap, x.shape, k, s, pads, d)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, return_indices=False):
    """1-D max pooling, as torch.nn.functional.max_pool1d.

    input : (N, C, L) -> out (N, C, OL) [, indices (N, C, OL) int64 positions in 0..L-1]
    """
    x, k, s, pads, d = pool_args("max_pool1d", input, kernel_size, stride, padding, dilation, 1)
    out, tap = _max_pool2d_taps(x, k, s, pads, d)
    if return_indices:
        return out[:, :, 0, :], _flat_indices(tap, x.shape, k, s, pads, d)[:, :, 0, :]
    return out[:, :, 0, :]


def max_pool1d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        indices=None):
    """Gradient of ``max_pool1d``: grad_output (N, C, OL), input (N, C, L) -> (N, C, L)."""
    fn = "max_pool1d_backward"
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, dilation, 1)
    go = check_grad_output(grad_output, x.shape[:2] + _pool_out_hw(x, k, s, pads, d)[1:],
                            x.dtype, fn)[:, :, None, :]
    if indices is not None:
        ind = check_indices(indices, go.shape[:2] + go.shape[3:], fn)[:, :, None, :]
        return _max_pool_backward_indices(go, ind, x.shape, k, s, d, fn)[:, :, 0, :]
    tap = _max_pool2d_taps(x, k, s, pads, d)[1]
    return _max_pool_backward_taps(go, tap, x.shape, k, s, pads, d)[:, :, 0, :]


def _window_sum(x, k, s, pads, d):
    """Sum over each window: a loop over the kH*kW taps of the zero-padded window view."""
    xp = pad_nchw(x, pads)
    win = window_view(xp, k, s, d)
    out = win[:, :, 0, 0].copy()
    for t in range(1, k[0] * k[1]):
        out += win[:, :, t // k[1], t % k[1]]
    return out


def _window_sum_backward(go, x_shape, k, s, pads, d):
    """Adjoint of ``_window_sum``: every tap receives the window's gradient."""
    n, c, h, w = x_shape
    oh, ow = go.shape[-2:]
    gxp = _padded_grad_buffer(go, x_shape, k, s, pads, d)
    disjoint = _taps_disjoint(k, s, d)
    for t in range(k[0] * k[1]):
        rows, cols = tap_slice(t // k[1], t % k[1], (oh, ow), s, d)
        if disjoint:
            gxp[:, :, rows, cols] = go
        else:
            gxp[:, :, rows, cols] += go
    return gxp[:, :, pads[0]:pads[0] + h, pads[2]:pads[2] + w]


def _avg_divisor(x_shape, k, s, pads, count_include_pad, dtype):
    """kH*kW (count_include_pad) or, per output position, the number of real (unpadded)
    pixels in the window: the window sum of an all-ones image. Shape () or (OH, OW)."""
    if count_include_pad:
        return float(k[0] * k[1])
    ones = np.ones((1, 1) + tuple(x_shape[2:]), dtype=dtype)
    return _window_sum(ones, k, s, pads, (1, 1))[0, 0]


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """2-D average pooling, as torch.nn.functional.avg_pool2d.

    input : (N, C, H, W) -> (N, C, OH, OW); the mean over each kH x kW window.
    stride defaults to kernel_size; padding <= kernel_size/2, zeros; count_include_pad=True
    divides by kH*kW even where the window covers padding (PyTorch's default), False divides by
    the number of real pixels.
    """
    fn = "avg_pool2d"
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, 1, 2)
    return _window_sum(x, k, s, pads, d) / _avg_divisor(x.shape, k, s, pads, count_include_pad,
                                                         x.dtype)


def avg_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0,
                        count_include_pad=True):
    """Gradient of ``avg_pool2d``: each pixel of a window gets grad / divisor.

    grad_output : (N, C, OH, OW)   input : (N, C, H, W)   returns (N, C, H, W)
    """
    fn = "avg_pool2d_backward"
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, 1, 2)
    go = check_grad_output(grad_output, x.shape[:2] + _pool_out_hw(x, k, s, pads, d), x.dtype, fn)
    go = go / _avg_divisor(x.shape, k, s, pads, count_include_pad, x.dtype)
    return _window_sum_backward(go, x.shape, k, s, pads, d)


def avg_pool1d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """1-D average pooling, as torch.nn.functional.avg_pool1d: (N, C, L) -> (N, C, OL)."""
    x, k, s, pads, d = pool_args("avg_pool1d", input, kernel_size, stride, padding, 1, 1)
    div = _avg_divisor(x.shape, k, s, pads, count_include_pad, x.dtype)
    return (_window_sum(x, k, s, pads, d) / div)[:, :, 0, :]


def avg_pool1d_backward(grad_output, input, kernel_size, stride=None, padding=0,
                        count_include_pad=True):
    """Gradient of ``avg_pool1d``: grad_output (N, C, OL), input (N, C, L) -> (N, C, L)."""
    fn = "avg_pool1d_backward"
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, 1, 1)
    go = check_grad_output(grad_output, x.shape[:2] + _pool_out_hw(x, k, s, pads, d)[1:],
                            x.dtype, fn)[:, :, None, :]
    go = go / _avg_divisor(x.shape, k, s, pads, count_include_pad, x.dtype)
    return _window_sum_backward(go, x.shape, k, s, pads, d)[:, :, 0, :]


def sum_pool2d(input, kernel_size, stride=None, padding=0):
    """Sum pooling (the sum over each window, zero padding) = avg_pool2d * kH*kW.

    input : (N, C, H, W) -> (N, C, OH, OW). Not in PyTorch; it is the "subsampling" of the
    original LeNet before its trainable scale.
    """
    x, k, s, pads, d = pool_args("sum_pool2d", input, kernel_size, stride, padding, 1, 2)
    return _window_sum(x, k, s, pads, d)


def sum_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0):
    """Gradient of ``sum_pool2d``: every pixel of a window receives the window's gradient."""
    fn = "sum_pool2d_backward"
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, padding, 1, 2)
    go = check_grad_output(grad_output, x.shape[:2] + _pool_out_hw(x, k, s, pads, d), x.dtype, fn)
    return _window_sum_backward(go, x.shape, k, s, pads, d)


def _power(x, p: float):
    """x**p with the cheap special cases (p = 1, 2) spelled out; keeps the dtype."""
    if p == 1.0:
        return x
    if p == 2.0:
        return x * x
    return np.power(x, p)


def _lp_forward(x, p, k, s):
    """Returns (out, window sums S) with out = S**(1/p), S = sum of x**p over each window."""
    ssum = _window_sum(_power(x, p), k, s, (0, 0, 0, 0), (1, 1))
    out = np.sqrt(ssum) if p == 2.0 else np.power(ssum, 1.0 / p)
    return out, ssum


def _lp_backward(go, x, p, k, s):
    """d out / d x = S**(1/p - 1) * x**(p-1) = (out / S) * x**(p-1), taken as 0 where S = 0
    (as PyTorch gives for an all-zero window)."""
    out, ssum = _lp_forward(x, p, k, s)
    coef = np.zeros_like(ssum)
    np.divide(go * out, ssum, out=coef, where=ssum != 0)
    spread = _window_sum_backward(coef, x.shape, k, s, (0, 0, 0, 0), (1, 1))
    return spread * _power(x, p - 1.0)


def lp_pool2d(input, norm_type, kernel_size, stride=None):
    """Power-average (Lp) pooling, as torch.nn.functional.lp_pool2d: (sum over window x^p)^(1/p).

    input : (N, C, H, W) -> (N, C, OH, OW); no padding; stride defaults to kernel_size.
    norm_type=2 is the lectures' square-sum (L2) pooling; p=1 is sum pooling; p -> inf tends to
    max pooling. Like PyTorch, a negative window sum with odd p gives nan.
    """
    fn = "lp_pool2d"
    p = check_norm_type(norm_type, fn)
    x, k, s, _, _ = pool_args(fn, input, kernel_size, stride, 0, 1, 2)
    return _lp_forward(x, p, k, s)[0]


def lp_pool2d_backward(grad_output, input, norm_type, kernel_size, stride=None):
    """Gradient of ``lp_pool2d``: grad_output (N, C, OH, OW), input (N, C, H, W) -> (N, C, H, W)."""
    fn = "lp_pool2d_backward"
    p = check_norm_type(norm_type, fn)
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, 0, 1, 2)
    go = check_grad_output(grad_output, x.shape[:2] + _pool_out_hw(x, k, s, pads, d), x.dtype, fn)
    return _lp_backward(go, x, p, k, s)


def lp_pool1d(input, norm_type, kernel_size, stride=None):
    """1-D power-average pooling, as torch.nn.functional.lp_pool1d: (N, C, L) -> (N, C, OL)."""
    fn = "lp_pool1d"
    p = check_norm_type(norm_type, fn)
    x, k, s, _, _ = pool_args(fn, input, kernel_size, stride, 0, 1, 1)
    return _lp_forward(x, p, k, s)[0][:, :, 0, :]


def lp_pool1d_backward(grad_output, input, norm_type, kernel_size, stride=None):
    """Gradient of ``lp_pool1d``: grad_output (N, C, OL), input (N, C, L) -> (N, C, L)."""
    fn = "lp_pool1d_backward"
    p = check_norm_type(norm_type, fn)
    x, k, s, pads, d = pool_args(fn, input, kernel_size, stride, 0, 1, 1)
    go = check_grad_output(grad_output, x.shape[:2] + _pool_out_hw(x, k, s, pads, d)[1:],
                            x.dtype, fn)[:, :, None, :]
    return _lp_backward(go, x, p, k, s)[:, :, 0, :]


# ----------------------------------------------------------------------------------------------
# activations (elementwise, any shape)
# ----------------------------------------------------------------------------------------------

def _by_rows(kernel, out, *arrays):
    """out[a:b] = kernel(arrays[0][a:b], ..., out=out[a:b]) over blocks of the first axis, on
    the worker threads when the arrays are big (see ``cnnlab._windows.parallel_for``)."""
    if out.ndim == 0:
        kernel(*arrays, out=out)
    else:
        parallel_for(out.shape[0], lambda a, b: kernel(*(v[a:b] for v in arrays), out=out[a:b]),
                     items=out.size * (len(arrays) + 1))
    return out


def relu(x):
    """max(x, 0), elementwise; any shape."""
    x = activation_args("relu", x)
    # np.maximum against a scalar 0 runs NumPy's slow scalar-operand loop (~3x slower here);
    # against one sample's worth of zeros, broadcast over the batch, it runs the fast
    # array-array loop. Same result bit for bit (NaN, -inf, -0.0 included).
    zero = np.zeros(x.shape[1:], dtype=x.dtype) if x.ndim > 1 else x.dtype.type(0)
    return _by_rows(lambda v, out: np.maximum(v, zero, out=out), np.empty_like(x), x)


def relu_backward(grad_output, x):
    """grad * (x > 0) (at exactly 0 the gradient is 0, as PyTorch)."""
    x, go = activation_args("relu_backward", x, grad_output)
    return _by_rows(lambda g, v, out: np.multiply(g, v > 0, out=out), np.empty_like(go), go, x)


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
    x = activation_args("softmax", x)
    if x.ndim == 0:
        raise ValueError("softmax: x must have at least 1 dimension, got a scalar")
    return _softmax(x, check_dim(dim, x.ndim, "softmax"))


def softmax_backward(grad_output, x, dim=-1, output=None):
    """s * (grad - sum(grad * s, dim)) with s = softmax(x, dim)."""
    x, go = activation_args("softmax_backward", x, grad_output)
    dim = check_dim(dim, x.ndim, "softmax_backward")
    s = _softmax(x, dim) if output is None else cast(np.asarray(output), x.dtype)
    return s * (go - (go * s).sum(axis=dim, keepdims=True))


def log_softmax(x, dim=-1):
    """log(softmax(x)) = x - max - log(sum(exp(x - max))): stable for logits like 1000."""
    x = activation_args("log_softmax", x)
    if x.ndim == 0:
        raise ValueError("log_softmax: x must have at least 1 dimension, got a scalar")
    return _log_softmax(x, check_dim(dim, x.ndim, "log_softmax"))


def log_softmax_backward(grad_output, x, dim=-1, output=None):
    """grad - softmax(x) * sum(grad, dim)."""
    x, go = activation_args("log_softmax_backward", x, grad_output)
    dim = check_dim(dim, x.ndim, "log_softmax_backward")
    s = _softmax(x, dim) if output is None else np.exp(cast(np.asarray(output), x.dtype))
    return go - s * go.sum(axis=dim, keepdims=True)


# ----------------------------------------------------------------------------------------------
# linear, loss, dropout, flatten
# ----------------------------------------------------------------------------------------------

def linear(input, weight, bias=None):
    """Fully connected layer: input @ weight.T + bias, as torch.nn.functional.linear.

    input  : (N, in_features) (or any (..., in_features))
    weight : (out_features, in_features)
    bias   : (out_features,) or None
    returns (N, out_features)
    """
    x, w = linear_args("linear", input, weight)
    out = x @ w.T
    if bias is not None:
        b = float_array(bias, "bias", "linear")
        if b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias must have shape (out_features,) = ({w.shape[0]},), "
                             f"got shape {tuple(b.shape)}")
        out += cast(b, x.dtype)
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


def cross_entropy(input, target, reduction="mean"):
    """Softmax cross-entropy of logits against integer labels, as torch.nn.functional.cross_entropy.

    input  : (N, C) raw scores (logits), not probabilities
    target : (N,) integer class labels in 0..C-1
    loss_n = -log softmax(input)[n, target[n]]  (via the stable log_softmax)
    returns a 0-d array of the input dtype (mean or sum over n) or (N,) for reduction="none".
    """
    x, t = cross_entropy_args("cross_entropy", input, target, reduction)
    losses = -_log_softmax(x, 1)[np.arange(x.shape[0]), t]
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
    grad = _softmax(x, 1)
    grad[np.arange(n), t] -= 1
    go = numeric_array(grad_output, "grad_output", fn)
    if reduction == "none":
        if go.shape != (n,):
            raise ValueError(f"{fn}: with reduction='none' grad_output must have shape ({n},), got "
                             f"{tuple(go.shape)}")
        return grad * cast(go.astype(x.dtype, copy=False), x.dtype)[:, None]
    if go.size != 1:
        raise ValueError(f"{fn}: with reduction={reduction!r} grad_output must be a scalar, got shape "
                         f"{tuple(go.shape)}")
    g = float(go.reshape(()))
    if reduction == "mean":
        g = g / max(n, 1)
    grad *= g
    return grad


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
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{fn}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    mask = rng.random(x.shape, dtype=np.float32) >= p
    out = x * mask * (1.0 / (1.0 - p)) if p < 1.0 else np.zeros_like(x)
    return (out, mask) if return_mask else out


def dropout_backward(grad_output, mask, p):
    """grad * mask / (1 - p): the gradient flows only through the kept elements."""
    fn = "dropout_backward"
    go = float_array(grad_output, "grad_output", fn)
    mask = np.asarray(mask)
    if mask.shape != go.shape:
        raise ValueError(f"{fn}: mask must have the shape of grad_output {tuple(go.shape)}, got "
                         f"{tuple(mask.shape)}")
    check_probability(p, fn)
    if p >= 1.0:
        return np.zeros_like(go)
    return go * mask * (1.0 / (1.0 - float(p)))


def flatten(input, start_dim=1, end_dim=-1):
    """Merge the axes start_dim..end_dim into one (a view when possible), as torch.flatten.

    (N, C, H, W) -> (N, C*H*W) with the defaults.
    """
    x = numeric_array(input, "input", "flatten")
    nd = max(x.ndim, 1)
    a = check_dim(start_dim, nd, "flatten") % nd
    b = check_dim(end_dim, nd, "flatten") % nd
    if a > b:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    return x.reshape(x.shape[:a] + (-1,) + x.shape[b + 1:]) if x.ndim else x.reshape(1)


def flatten_backward(grad_output, input):
    """Reshape the gradient back to the input's shape. ``input`` may be the array or its shape."""
    shape = tuple(input.shape) if hasattr(input, "shape") else tuple(input)
    go = float_array(grad_output, "grad_output", "flatten_backward")
    if go.size != math.prod(shape):
        raise ValueError(f"flatten_backward: grad_output has {go.size} elements, the input shape "
                         f"{shape} has {math.prod(shape)}")
    return go.reshape(shape)
