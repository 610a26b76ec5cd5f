"""The measured fast path of the batched convolution (readable twins: ``cnnlab.functional.conv``).

Three products make a training step: the forward ``W @ cols``, the weight gradient
``grad @ cols.T`` and the input gradient ``col2im(W.T @ grad)``. What is measured here (LeNet-5,
batch 128, float32, numpy's OpenBLAS, 2 cores) and why:

* **Inference forward in blocks of images** (``conv2d_forward``): for each block of about 16
  images the windows are copied into one small reused buffer and multiplied in one matmul written
  straight into the NCHW output. Blocks beat one huge im2col by 1.3-1.5x (the buffer stays in
  cache, no page faults) and bound memory (a single im2col of a 64x32x32x32 3x3 layer is 75 MB).
* **Training forward keeps its columns** (``conv2d_forward_cached``) in one of two layouts
  (``columns``, ``use_batch_last``) with a row of ones for the bias (the "bias trick": the bias
  rides inside the forward product, and its gradient comes out of the weight-gradient product).
* **GEMM rows**: with fewer than 8 output channels the weight matrix gets zero rows up to 8
  (``_GEMM_MIN_ROWS``), because OpenBLAS runs narrower products 1.3-2x slower.
* **Batch innermost col2im** (``col2im_batch_last``): each tap's slice-add runs over OW*N
  contiguous numbers, about twice as fast as the same adds in NCHW order.

Arguments are checked by the public functions in ``cnnlab.functional``; nothing here validates.
``tests/test_fast_paths.py`` holds every function here equal to its readable twin.
"""
from __future__ import annotations

import numpy as np

from cnnlab._fast.threads import batch_blocks, parallel_for, run_blocks, scratch
from cnnlab._windows import col2im, out_len, pad_nchw, tap_slice, window_view, zeroed

__all__ = ["conv2d_forward", "conv2d_forward_cached", "conv2d_backward", "columns",
           "use_batch_last", "im2col_into", "col2im_batch_last"]

# Images per block in the forward convolution: ~16 images keeps the column buffer in cache.
# The block is shrunk for big layers so one block's columns stay around 2 MB.
_CHUNK_IMAGES = 16
_CHUNK_BYTES = 2 << 20


def conv2d_forward(x, w, b, stride, pads, dilation):
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
    oh = out_len(h, kh, stride[0], dilation[0], pads[0] + pads[1])
    ow = out_len(wd, kw, stride[1], dilation[1], pads[2] + pads[3])
    k, L = c * kh * kw, oh * ow
    wm = w.reshape(c_out, k)
    out = np.empty((n, c_out, oh, ow), dtype=x.dtype)
    out3 = out.reshape(n, c_out, L)
    per_image = k * L * x.itemsize
    chunk = max(1, min(_CHUNK_IMAGES, _CHUNK_BYTES // max(per_image, 1)))

    def images(start, stop):                  # images start..stop-1 (one thread's share)
        win = window_view(pad_nchw(x[start:stop], pads), (kh, kw), stride, dilation)
        buf = np.empty((min(chunk, stop - start),) + win.shape[1:], dtype=x.dtype)
        for s in range(0, stop - start, chunk):
            e = min(stop - start, s + chunk)
            cols = im2col_into(buf, win[s:e])                  # (block, K, L)
            np.matmul(wm, cols, out=out3[start + s:start + e])
        if b is not None:
            _add_bias(out3[start:stop], b)

    parallel_for(n, images, items=n * (k + c_out) * L)
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


def columns(x, kernel, stride, pads, dilation, batch_last, out=None, scratch=None):
    """The im2col matrix of a block of images, shared by the forward and the backward.

    x : (N, C_in, H, W)  (the whole batch, or one block of it)
    returns cols (K+1, N*OH*OW) with K = C_in*kH*kW (row c*kH*kW + i*kW + j, the order of
    ``weight.reshape(C_out, -1)``), a last row of ones, and one column per output position of
    every image. The row of ones is the "bias trick": [W | b] @ cols adds the bias inside the
    forward product, and grad_output @ cols.T gives [dW | db] in one product.
    ``out`` (flat, (K+1)*N*OH*OW numbers) and ``scratch`` (flat, the padded input's size)
    are buffers to use instead of new arrays.

    batch_last=True  "batch innermost": cols[k, (oh*OW + ow)*N + n]. The input is transposed and
                     padded once into (C_in, Hp, Wp, N), so every window row is a contiguous run
                     of OW*N numbers (a fast copy, and a fast col2im in the backward).
    batch_last=False "batch in the middle": cols[k, n*OH*OW + oh*OW + ow]. The product
                     W @ cols, (C_out, N, OH*OW), goes back to NCHW by copying whole channel
                     images (runs of OH*OW numbers) instead of a transpose with runs of C_out.

    Either way each of the three matrix products of a training step (forward, dW and db, dX)
    is ONE large GEMM per block of images. ``use_batch_last`` picks the layout.
    """
    n, c, h, wd = x.shape
    kh, kw = kernel
    pt, pb, pl, pr = pads
    hp, wp = h + pt + pb, wd + pl + pr
    if batch_last:
        xt = _buffer(scratch, (c, hp, wp, n), x.dtype)
        _zero_border(xt, pads, (h, wd), (1, 2))          # pad = write into zeros
        xt[:, pt:pt + h, pl:pl + wd, :] = x.transpose(1, 2, 3, 0)
        # window_view wants (N, C, H, W): hand it a transposed view, then put N last again
        win = window_view(xt.transpose(3, 0, 1, 2), kernel, stride, dilation)
        win = win.transpose(1, 2, 3, 4, 5, 0)             # (C, kH, kW, OH, OW, N), no copy
    else:
        xp = x
        if any(pads):
            xp = _buffer(scratch, (n, c, hp, wp), x.dtype)
            _zero_border(xp, pads, (h, wd), (2, 3))
            xp[:, :, pt:pt + h, pl:pl + wd] = x
        win = window_view(xp, kernel, stride, dilation)
        win = win.transpose(1, 2, 3, 0, 4, 5)             # (C, kH, kW, N, OH, OW), no copy
    k = c * kh * kw
    count = win.size // k
    flat = _buffer(out, ((k + 1) * count,), x.dtype)
    np.copyto(flat[:k * count].reshape(win.shape), win)
    flat[k * count:] = 1                                  # the row of ones (bias)
    return flat.reshape(k + 1, count)


def _pad_scratch(blocks, x, pads, batch_last):
    """Per block, a flat buffer for the padded (or transposed) input of ``columns``, or None
    where ``columns`` needs none (batch in the middle, no padding)."""
    if not batch_last and not any(pads):
        return [None] * len(blocks)
    _, c, h, w = x.shape
    return scratch(blocks, c * (h + pads[0] + pads[1]) * (w + pads[2] + pads[3]), x.dtype)


def _buffer(flat, shape, dtype):
    """``flat`` (a 1-D buffer of the right size) seen as ``shape``, or a new array."""
    return np.empty(shape, dtype=dtype) if flat is None else flat.reshape(shape)


def _zero_border(a, pads, hw, axes):
    """Zero the padding border of ``a`` along ``axes`` (the rows and columns outside the
    h x w image at offset (top, left)); the image itself is written by the caller."""
    pt, pb, pl, pr = pads
    h, w = hw
    rows = [slice(None)] * a.ndim
    for sl in (slice(0, pt), slice(pt + h, pt + h + pb)):
        rows[axes[0]] = sl
        a[tuple(rows)] = 0
    cols = [slice(None)] * a.ndim
    cols[axes[0]] = slice(pt, pt + h)
    for sl in (slice(0, pl), slice(pl + w, pl + w + pr)):
        cols[axes[1]] = sl
        a[tuple(cols)] = 0


def use_batch_last(c_in, c_out, kh, kw) -> bool:
    """Which im2col layout a training step uses (measured on LeNet-5 shapes).

    Batch innermost copies the columns and adds them back (col2im) fastest, but its forward
    result must be transposed back to NCHW with runs of only N numbers. That pays when the
    columns are much taller than the output: K = C_in*kH*kW >= 8*C_out (LeNet's conv2: 150 vs
    16). For a first layer like LeNet's conv1 (K = 25, C_out = 6) batch-in-the-middle wins.
    """
    return c_in * kh * kw >= 8 * c_out


def _dw_transposed(k, c_out) -> bool:
    """Compute [dW | db] as (cols @ go_t.T).T rather than go_t @ cols.T: measured ~1.5x faster
    for tall columns (K >= 8*C_out, LeNet's conv2)."""
    return k >= 8 * c_out


def _blocks_of(cols, n, L):
    """The image blocks (start, stop) that a tuple of per-block columns was made for."""
    bounds, start = [], 0
    for c in cols:
        stop = start + c.shape[1] // L if L else n
        bounds.append((start, stop))
        start = stop
    return bounds


def conv2d_forward_cached(x, w, b, stride, pads, dilation):
    """Training forward: keeps the columns for the backward.

    returns out (N, C_out, OH, OW), cols and the layout of cols (batch_last). The batch is split
    into blocks of images, one per thread (``cnnlab._fast.threads.batch_blocks``); ``cols`` is
    the tuple of the blocks' column matrices (``columns``), each (K+1, n_block*OH*OW). Per
    block: one GEMM [W | b] (C_out, K+1) @ cols (the bias rides on the row of ones), then back
    to NCHW. Every array is allocated here, before the blocks run (``threads.scratch``).
    """
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    oh = out_len(h, kh, stride[0], dilation[0], pads[0] + pads[1])
    ow = out_len(wd, kw, stride[1], dilation[1], pads[2] + pads[3])
    L = oh * ow
    batch_last = use_batch_last(c_in, c_out, kh, kw)
    k = c_in * kh * kw
    rows = _gemm_rows(c_out)
    wb = np.zeros((rows, k + 1), dtype=x.dtype)           # [W | b], zero rows
    wb[:c_out, :-1] = w.reshape(c_out, -1)
    if b is not None:
        wb[:c_out, -1] = b
    out = np.empty((n, c_out, oh, ow), dtype=x.dtype)
    blocks = batch_blocks(n, items=n * (k + 1 + c_out) * L)
    cols = scratch(blocks, (k + 1) * L, x.dtype)
    res = scratch(blocks, rows * L, x.dtype)
    pad = _pad_scratch(blocks, x, pads, batch_last)

    def block(start, stop, cols, res, pad):
        cols = columns(x[start:stop], (kh, kw), stride, pads, dilation, batch_last, cols, pad)
        res = np.matmul(wb, cols, out=res.reshape(rows, -1))
        _store_nchw(res, out[start:stop], batch_last)
        return cols

    cols = run_blocks(block, [(a, b_, c, r, p) for (a, b_), c, r, p in
                              zip(blocks, cols, res, pad)])
    return out, tuple(cols), batch_last


def _store_nchw(res, out, batch_last):
    """The product [W | b] @ cols, (rows, n*L) in the layout of cols, into out (n, C_out, OH, OW)
    (rows past C_out are the zero rows of ``_gemm_rows``)."""
    n, c_out = out.shape[:2]
    out3 = out.reshape(n, c_out, -1)
    L = out3.shape[2]
    if not batch_last:                                    # res (C_out, N, L): copy channel images
        np.copyto(out3, res.reshape(-1, n, L)[:c_out].transpose(1, 0, 2))
        return
    res = res.reshape(-1, L, n)
    # back to NCHW one channel at a time: each channel is a plain 2-D transpose
    # (OH*OW, N) -> (N, OH*OW), about twice as fast as one 4-D transposing copy
    for o in range(c_out):
        np.copyto(out3[:, o], res[o].T)


def _add_bias(out3, b):
    """out3 (N, C_out, L) += b[:, None], in place.

    Against a (C_out, L) array of the bias values, broadcast over the batch, NumPy runs its fast
    array-array loop; b[:, None] itself would make every inner loop a scalar operand (~2x slower).
    """
    out3 += np.repeat(b, out3.shape[2]).reshape(out3.shape[1:])


def conv2d_backward(go, x, w, stride, pads, dilation, needs_input_grad, cols, batch_last):
    """Gradients of out = conv2d(x, w) + b.

    go   : (N, C_out, OH, OW)    x : (N, C_in, H, W)    w : (C_out, C_in, kH, kW)
    cols : the forward's columns (a tuple, one matrix per block of images, in the layout
           ``batch_last`` says; see ``conv2d_forward_cached``), or None to rebuild them from x
    returns grad_input (N, C_in, H, W) or None, grad_weight (C_out, C_in, kH, kW),
    grad_bias (C_out,).

    Each block of images runs on its own thread (the blocks of the forward): grad_output is
    copied once into the layout of the columns, go_t (C_out, n*OH*OW); then
      [dW | db]_block = go_t @ cols.T          one GEMM (C_out, K+1)
      dX_block = col2im(W.T @ go_t)            one GEMM (K, n*OH*OW), then kH*kW slice-adds
    and [dW | db] is the sum of the blocks' parts, added in block order (so a fixed thread
    count gives bit-identical results).
    """
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    L = go.shape[2] * go.shape[3]
    k = c * kh * kw
    rows = _gemm_rows(c_out)
    hp, wp = h + pads[0] + pads[1], wd + pads[2] + pads[3]
    if cols is None:
        batch_last = use_batch_last(c, c_out, kh, kw)
        blocks = batch_blocks(n, items=n * (k + 1 + c_out) * L)
        cols = zip(scratch(blocks, (k + 1) * L, x.dtype),
                   _pad_scratch(blocks, x, pads, batch_last))
    else:
        blocks = _blocks_of(cols, n, L)
        cols = ((cb, False) for cb in cols)
    tall = _dw_transposed(k, c_out)
    parts = [np.empty((k + 1, rows) if tall else (rows, k + 1), dtype=x.dtype) for _ in blocks]
    go_t = scratch(blocks, rows * L, x.dtype)
    grad_input = None
    if needs_input_grad:
        grad_input = np.empty(x.shape, dtype=go.dtype)
        dcols = scratch(blocks, k * L, x.dtype)
        dxp = scratch(blocks, c * hp * wp, x.dtype)
    else:
        dcols = dxp = [None] * len(blocks)

    def block(start, stop, cols, part, go_t, dcols, dxp):
        cb, pad = cols
        if pad is not False:                              # rebuild the columns
            cb = columns(x[start:stop], (kh, kw), stride, pads, dilation, batch_last, cb, pad)
        go_t = _grad_columns(go[start:stop], batch_last, rows, go_t)  # zero rows past C_out
        # [dW | db] in one product: the row of ones in cols sums grad_output for the bias
        if tall:
            np.matmul(cb, go_t.T, out=part)
        else:
            np.matmul(go_t, cb.T, out=part)
        if needs_input_grad:
            _input_grad(go_t[:c_out], w, (stride, pads, dilation), batch_last,
                        grad_input[start:stop], dcols, dxp)

    run_blocks(block, [(a, b, cl, p, g, dc, dx) for (a, b), cl, p, g, dc, dx in
                       zip(blocks, cols, parts, go_t, dcols, dxp)])
    full = parts[0]
    for part in parts[1:]:                                  # block order: deterministic
        full += part
    full = (full.T if tall else full)[:c_out]
    grad_weight = np.ascontiguousarray(full[:, :k]).reshape(w.shape)
    grad_bias = full[:, k].copy()
    return grad_input, grad_weight, grad_bias


def _input_grad(go_t, w, geometry, batch_last, grad_input, dcols, dxp):
    """grad_input (n, C_in, H, W) of one block, written in place: the column gradient
    W.T @ go_t, one column per output position as in cols; each tap's slab is added back
    through a strided slice of the padded input gradient, which is then cropped.
    ``dcols`` and ``dxp`` are flat buffers for the column gradient and the padded gradient."""
    stride, pads, dilation = geometry
    n, c, h, wd = grad_input.shape
    c_out, _, kh, kw = w.shape
    pt, pb, pl, pr = pads
    hp, wp = h + pt + pb, wd + pl + pr
    dcols = np.matmul(w.reshape(c_out, -1).T, go_t, out=dcols.reshape(c * kh * kw, -1))
    oh = out_len(hp, kh, stride[0], dilation[0], 0)
    ow = out_len(wp, kw, stride[1], dilation[1], 0)
    if not batch_last:
        # (C_in, kH, kW, N, OH, OW) seen as (N, C_in, kH, kW, OH, OW): col2im writes NCHW
        dcols = dcols.reshape(c, kh, kw, n, oh, ow).transpose(3, 0, 1, 2, 4, 5)
        dxp = col2im(dcols, (n, c, hp, wp), (kh, kw), stride, dilation,
                     out=dxp.reshape(n, c, hp, wp))
        np.copyto(grad_input, dxp[:, :, pt:pt + h, pl:pl + wd])
        return
    dcols = dcols.reshape(c, kh, kw, oh, ow, n)
    dxp = col2im_batch_last(dcols, (c, hp, wp, n), (kh, kw), stride, dilation,
                            out=dxp.reshape(c, hp, wp, n))
    crop = dxp[:, pt:pt + h, pl:pl + wd, :]                   # (C_in, H, W, N)
    for ch in range(c):                                       # one channel at a time (faster)
        np.copyto(grad_input[:, ch], crop[ch].transpose(2, 0, 1))


def _grad_columns(go, batch_last, rows, out=None):
    """(N, C, OH, OW) -> contiguous (rows, N*OH*OW) in the column layout of ``columns``, with
    zero rows from C on; one copy (into the flat buffer ``out`` if given)."""
    n, c, oh, ow = go.shape
    if batch_last:
        out, src = _buffer(out, (rows, oh, ow, n), go.dtype), go.transpose(1, 2, 3, 0)
    else:
        out, src = _buffer(out, (rows, n, oh, ow), go.dtype), go.transpose(1, 0, 2, 3)
    out[c:] = 0
    np.copyto(out[:c], src)
    return out.reshape(rows, -1)


def im2col_into(buf: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Copy a block of windows ``win`` (n, C, kH, kW, OH, OW) into the contiguous ``buf``
    (at least n images long) and return it as the (n, C*kH*kW, OH*OW) column matrix.

    Used by the chunked forward convolution: the same small buffer is reused for every block
    of about 16 images, so it stays in cache.
    """
    n, c, kh, kw, oh, ow = win.shape
    b = buf[:n]
    np.copyto(b, win)
    return b.reshape(n, c * kh * kw, oh * ow)


def col2im_batch_last(cols: np.ndarray, padded_shape, kernel, stride=(1, 1),
                      dilation=(1, 1), out=None) -> np.ndarray:
    """col2im in the fast "batch innermost" layout.

    cols         : (C, kH, kW, OH, OW, N)  (what W.T @ grad_output gives when grad_output
                   is laid out as (C_out, OH*OW*N))
    padded_shape : (C, Hp, Wp, N)
    out          : an array of padded_shape to write into (zeroed here), or None
    returns      : (C, Hp, Wp, N)

    Each tap's slice-add now runs over OW*N contiguous numbers instead of OW, which is about
    twice as fast as the same adds in NCHW order.
    """
    c, hp, wp, n = padded_shape
    _, kh, kw, oh, ow, _ = cols.shape
    out = zeroed(out, padded_shape, cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = tap_slice(i, j, (oh, ow), stride, dilation)
            out[:, rows, columns, :] += cols[:, i, j]
    return out
