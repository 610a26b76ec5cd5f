"""Lesson 7 (backpropagation): ``conv2d_backward``, ``max_pool2d_backward`` and
``avg_pool2d_backward``."""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant, shape_str
from cnnlab.checks.helpers import (float32_note, pad_hw, pair, pool_windows, rand,
                                   random_conv, randn, unless_equal)

__all__ = ["EXERCISES"]


# =========================================================================== conv2d_backward

def _conv_bwd_cases(rng):
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])
    dout = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])
    cases = [Case("fixed: 3x3 input, 2x2 kernel, dout = 1 at the top-left output only",
                  (dout, x, w), dict(stride=1, padding=0))]
    specs = [(2, 2, 3, (5, 5), (3, 3), 1, 0, np.float64), (2, 2, 3, (5, 6), (3, 3), 1, 1, np.float64),
             (2, 3, 2, (7, 7), (3, 3), 2, 1, np.float64), (3, 2, 2, (6, 6), (3, 3), 2, 0, np.float64),
             (2, 3, 4, (6, 5), (2, 3), 1, 1, np.float32)]
    for i, spec in enumerate(specs, 1):
        x, w, name = random_conv(rng, i, spec)
        s, p, dtype = spec[5:]
        out_hw = tuple(F.output_size(a, k, s, p) for a, k in zip(x.shape[2:], w.shape[2:]))
        dout = randn(rng, (x.shape[0], w.shape[0]) + out_hw, dtype)
        cases.append(Case(name, (dout, x, w), dict(stride=s, padding=p)))
    return cases


def _conv_bwd_reference(dout, x, w, stride=1, padding=0):
    return F.conv2d_backward(dout, x, w, stride=stride, padding=padding)


def _dw_unpadded(dout, x, w, s, p):
    """dw computed from the unpadded input: the windows of x are shifted by p."""
    xs = pad_hw(x, 0, 2 * p, 0, 2 * p)
    return F.conv2d_backward(dout, xs, w, stride=s, padding=0)[1]


def _conv_bwd_variants():
    def ref(dout, x, w, s, p):
        return F.conv2d_backward(dout, x, w, stride=s, padding=p)

    def v(part, cause, explain, fn):
        return Variant(cause, explain,
                       lambda dout, x, w, stride=1, padding=0: fn(dout, x, w, stride, padding), part)

    def last_sample(i):
        return lambda dout, x, w, s, p: None if x.shape[0] == 1 else ref(dout[-1:], x[-1:], w, s, p)[i]

    def first_sample(i):
        return lambda dout, x, w, s, p: None if x.shape[0] == 1 else ref(dout[:1], x[:1], w, s, p)[i]

    return (
        v("dx", "kernel rotated by 180°", "each dout[n, co, i, j] flows back into its window "
          "through w[co] AS IT IS (dxp[n, :, window] += dout[n, co, i, j] * w[co]), which is a "
          "full CONVOLUTION of dout with w; you computed a full cross-correlation (w rotated)",
          lambda dout, x, w, s, p: unless_equal(ref(dout, x, w[..., ::-1, ::-1].copy(), s, p)[0],
                                                ref(dout, x, w, s, p)[0])),
        v("dx", "padding not cropped", "dx must have the shape of x: compute the gradient of the "
          "padded input, then cut the padding off (dx_padded[:, :, p:-p, p:-p])",
          lambda dout, x, w, s, p: None if p == 0 else ref(dout, pad_hw(x, p, p, p, p), w, s, 0)[0]),
        v("dx", "dx summed over the batch", "each image gets its own gradient dx[n]",
          lambda dout, x, w, s, p: None if x.shape[0] == 1 else
          np.broadcast_to(ref(dout, x, w, s, p)[0].sum(0, keepdims=True), x.shape)),
        v("dx", "channels mixed up", "dx[n, ci] sums dout[n, co] spread through w[co, ci] over "
          "the OUTPUT channels co",
          lambda dout, x, w, s, p: None if w.shape[0] != w.shape[1] else
          unless_equal(ref(dout, x, w.transpose(1, 0, 2, 3).copy(), s, p)[0], ref(dout, x, w, s, p)[0])),
        v("dw", "dw not summed over the batch", "dw gets the contribution of EVERY image: "
          "sum over n (you kept only the last image's)", last_sample(1)),
        v("dw", "dw not summed over the batch", "dw gets the contribution of EVERY image: "
          "sum over n (you kept only the first image's)", first_sample(1)),
        v("dw", "dw averaged over the batch", "the gradient of a sum is the SUM of the per-image "
          "gradients; do not divide by N",
          lambda dout, x, w, s, p: None if x.shape[0] == 1 else ref(dout, x, w, s, p)[1] / x.shape[0]),
        v("dw", "dw rotated by 180°", "dw[co, ci, a, b] = sum over n, i, j of dout[n, co, i, j] * "
          "x_padded[n, ci, i*s + a, j*s + b]: the window of x times dout, with no flipping",
          lambda dout, x, w, s, p: unless_equal(ref(dout, x, w, s, p)[1][..., ::-1, ::-1],
                                                ref(dout, x, w, s, p)[1])),
        v("dw", "padding ignored", "dw uses the PADDED input, the one the forward pass saw",
          lambda dout, x, w, s, p: None if p == 0 else _dw_unpadded(dout, x, w, s, p)),
        v("db", "db not summed over the batch", "db[co] sums dout[:, co] over the batch AND "
          "space: dout.sum(axis=(0, 2, 3))",
          lambda dout, x, w, s, p: None if x.shape[0] == 1 else dout.sum(axis=(2, 3))),
        v("db", "db not summed over the batch", "db[co] sums dout[:, co] over the batch AND "
          "space (you kept only the last image's sum)",
          lambda dout, x, w, s, p: None if x.shape[0] == 1 else dout[-1].sum(axis=(1, 2))),
        v("db", "db averaged instead of summed", "db[co] is the SUM of dout[:, co] over the batch "
          "and space, not the mean", lambda dout, x, w, s, p: dout.mean(axis=(0, 2, 3))),
        v("db", "db summed over the wrong axes", "db has one value per output channel: "
          "dout.sum(axis=(0, 2, 3)), shape (C_out,)", lambda dout, x, w, s, p: dout.sum(axis=(0, 1))),
        v("db", "db summed over the wrong axes", "db has one value per output channel: "
          "dout.sum(axis=(0, 2, 3)), shape (C_out,)", lambda dout, x, w, s, p: np.asarray(dout.sum())),
    )


# =========================================================================== max_pool2d_backward

def _pool_bwd_cases(rng):
    x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 6.0],
                    [0.0, 2.0, 1.0, 1.0], [7.0, 1.0, 1.0, 3.0]]]])
    cases = [Case("fixed: 4x4 input, 2x2 windows, distinct maxima",
                  (np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), x, 2), {})]
    ties = np.array([[[[2.0, 2.0, 0.0, 1.0], [2.0, 1.0, 1.0, 1.0],
                       [5.0, 5.0, 3.0, 0.0], [5.0, 5.0, 0.0, 3.0]]]])
    cases.append(Case("fixed: 4x4 input, 2x2 windows, TIED maxima (the first one wins)",
                      (np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), ties, 2), {}))
    specs = [((2, 2, 6, 6), 2, None, np.float64, True), ((1, 2, 7, 7), 3, 2, np.float64, False),
             ((2, 1, 5, 5), 2, 1, np.float64, True), ((1, 2, 7, 9), (3, 3), (2, 2), np.float64, True),
             ((2, 2, 6, 8), 2, None, np.float32, False), ((1, 1, 6, 7), (2, 3), None, np.float64, False)]
    return cases + _random_pool_bwd_cases(rng, specs)


def _random_pool_bwd_cases(rng, specs):
    """Random pooling-backward cases, one per (shape, kernel_size, stride, dtype, tied) spec
    (tied: small integers, so windows have tied maxima)."""
    cases = []
    for i, (shape, k, s, dtype, tied) in enumerate(specs, 1):
        x = rand(rng, shape, dtype, 0, 3) if tied else randn(rng, shape, dtype)
        oh, ow = (F.output_size(n, kk, ss) for n, kk, ss in zip(shape[2:], *pool_windows(k, s)))
        dout = rand(rng, shape[:2] + (oh, ow), dtype, 1, 10)
        kw = {} if s is None else {"stride": s}
        desc = (f"random #{i}: x {shape_str(shape)}{' with ties' if tied else ''}, kernel_size {k}, "
                + ("stride = kernel_size (default)" if s is None else f"stride {s}")
                + float32_note(dtype))
        cases.append(Case(desc, (dout, x, k), kw))
    return cases


def _pool_bwd_reference(dout, x, kernel_size, stride=None):
    return F.max_pool2d_backward(dout, x, kernel_size, stride)


def _tap_weights(x, kernel_size, stride, rule):
    """Which pixel of each window a mistaken backward sends the gradient to.

    x       : (N, C, H, W)
    rule    : "ties" (every tied maximum), "last" (the last tied maximum in row-major order),
              "all" (every pixel of the window) or "top-left" (the window's first pixel)
    returns : one (rows, cols, weight) per kernel tap, in row-major tap order: x[:, :, rows, cols]
              is what that tap sees in every window, weight (N, C, OH, OW) its 0/1 share
    """
    (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
    best = F.max_pool2d(x, (kh, kw), (sh, sw))
    oh, ow = best.shape[2:]
    taps = [(slice(a, a + sh * (oh - 1) + 1, sh), slice(b, b + sw * (ow - 1) + 1, sw))
            for a in range(kh) for b in range(kw)]
    taken = np.zeros(best.shape, dtype=bool)
    weights = []
    for t, (rows, cols) in enumerate(taps[::-1] if rule == "last" else taps):
        if rule == "all" or (rule == "top-left" and t == 0):
            weight = np.ones(best.shape, dtype=bool)
        elif rule == "ties":
            weight = x[:, :, rows, cols] == best
        elif rule == "last":
            weight = (x[:, :, rows, cols] == best) & ~taken
            taken |= weight
        else:
            weight = np.zeros(best.shape, dtype=bool)
        weights.append(weight)
    if rule == "last":
        weights = weights[::-1]
    return [(rows, cols, w) for (rows, cols), w in zip(taps, weights)]


def _routed(rule):
    """The backward that routes each dout value by ``rule`` (see ``_tap_weights``), adding up
    where windows overlap."""
    def fn(dout, x, kernel_size, stride=None):
        dx = np.zeros(x.shape, dtype=np.result_type(x.dtype, dout.dtype))
        for rows, cols, weight in _tap_weights(x, kernel_size, stride, rule):
            dx[:, :, rows, cols] += dout * weight.astype(x.dtype)
        return dx
    return fn


def _overwrite(dout, x, kernel_size, stride=None):
    """dx[argmax] = dout (assignment, windows in row-major order: the last window wins)."""
    (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
    if sh >= kh and sw >= kw:
        return None  # windows never overlap: the same as accumulating
    _, idx = F.max_pool2d(x, (kh, kw), (sh, sw), return_indices=True)
    n, c, h, w = x.shape
    targets = (np.arange(n * c).reshape(n, c, 1, 1) * (h * w) + idx).ravel()
    last, where = np.unique(targets[::-1], return_index=True)   # the last window of each pixel
    dx = np.zeros(n * c * h * w, dtype=x.dtype)
    dx[last] = dout.ravel()[::-1][where]
    return dx.reshape(x.shape)


def _swapped_pool_bwd(dout, x, kernel_size, stride):
    (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
    return F.max_pool2d_backward(dout, x, (kw, kh), (sw, sh))


_POOL_BWD_VARIANTS = (
    Variant("gradient sent to every tied maximum", "when several values of a window equal its "
            "maximum, only the FIRST one (row-major order, as np.argmax and PyTorch) won the "
            "forward pass and gets the gradient", _routed("ties")),
    Variant("gradient sent to the LAST tied maximum", "on ties the FIRST maximum in row-major "
            "order wins (as np.argmax and PyTorch)", _routed("last")),
    Variant("overlapping windows overwrite instead of add", "where windows overlap, one input "
            "pixel can win several windows: ADD their gradients (dx[...] += dout[...])", _overwrite),
    Variant("gradient spread evenly over the window", "that is average pooling's backward; in "
            "max pooling only the maximum of each window affected the output, so only it gets "
            "the gradient", lambda dout, x, kernel_size, stride=None:
                F.avg_pool2d_backward(dout, x, kernel_size, stride)),
    Variant("gradient copied to every pixel of the window", "only the maximum of each window "
            "affected the output, so only it gets the gradient", _routed("all")),
    Variant("gradient sent to the window's top-left pixel", "send it to the position of the "
            "window's maximum (np.argmax of the flattened window, then np.unravel_index)",
            _routed("top-left")),
    Variant("H and W swapped", "kernel_size/stride pairs are (height, width)",
            lambda dout, x, kernel_size, stride=None:
                None if pair(kernel_size)[0] == pair(kernel_size)[1] else
                _swapped_pool_bwd(dout, x, kernel_size, stride)),
)

_POOL_BWD_SHAPES = (
    Variant("that is the shape of dout; dx has the shape of the INPUT x: one gradient per "
            "input pixel", "", lambda dout, x, kernel_size, stride=None: dout.shape),
)

# =========================================================================== avg_pool2d_backward

def _avg_bwd_cases(rng):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    cases = [Case("fixed: 4x4 input, 2x2 windows, dout [[4, 8], [12, 16]]",
                  (np.array([[[[4.0, 8.0], [12.0, 16.0]]]]), x, 2), {}),
             Case("fixed: 4x4 input, 3x3 windows, stride 1 (overlapping), dout all 9",
                  (np.full((1, 1, 2, 2), 9.0), x, 3), {"stride": 1})]
    specs = [((2, 2, 6, 6), 2, None, np.float64, False), ((1, 2, 7, 7), 3, 2, np.float64, False),
             ((2, 1, 5, 5), 2, 1, np.float64, False), ((1, 2, 7, 9), (3, 2), (2, 2), np.float64, False),
             ((2, 2, 6, 8), 2, None, np.float32, False), ((1, 1, 6, 7), (2, 3), None, np.float64, False)]
    return cases + _random_pool_bwd_cases(rng, specs)


def _avg_bwd_reference(dout, x, kernel_size, stride=None):
    return F.avg_pool2d_backward(dout, x, kernel_size, stride)


def _avg_bwd_divided_by(count_fn):
    """The backward with dout divided by ``count_fn(kH, kW)`` instead of kH*kW."""
    def fn(dout, x, kernel_size, stride=None):
        (kh, kw), _ = pool_windows(kernel_size, stride)
        if count_fn(kh, kw) == kh * kw:
            return None
        return F.avg_pool2d_backward(dout, x, kernel_size, stride) * (kh * kw) / count_fn(kh, kw)
    return fn


def _avg_bwd_overwrite(dout, x, kernel_size, stride=None):
    """dx[window] = dout / (kH*kW) by assignment, windows in row-major order (the last wins)."""
    (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
    if sh >= kh and sw >= kw:
        return None  # windows never overlap: the same as accumulating
    dx = np.zeros(x.shape, dtype=np.result_type(x.dtype, dout.dtype))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] = dout[:, :, i:i + 1, j:j + 1] / (kh * kw)
    return dx


def _swapped_avg_bwd(dout, x, kernel_size, stride=None):
    (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
    if kh == kw and sh == sw:
        return None
    if (F.output_size(x.shape[2], kw, sw), F.output_size(x.shape[3], kh, sh)) != dout.shape[2:]:
        return None
    return F.avg_pool2d_backward(dout, x, (kw, kh), (sw, sh))


_AVG_BWD_VARIANTS = (
    Variant("not divided by the window size", "each input of a window contributed 1/(kH*kW) of "
            "its average, so it gets dout / (kH*kW) (undivided is SUM pooling's backward)",
            _avg_bwd_divided_by(lambda kh, kw: 1)),
    Variant("divided by the wrong count", "you divided by kH (the window's height); divide by "
            "the number of values in the window, kH*kW", _avg_bwd_divided_by(lambda kh, kw: kh)),
    Variant("divided by the wrong count", "you divided by kW (the window's width); divide by "
            "the number of values in the window, kH*kW", _avg_bwd_divided_by(lambda kh, kw: kw)),
    Variant("divided twice by the window size", "the average divides once: each input gets "
            "dout / (kH*kW)", _avg_bwd_divided_by(lambda kh, kw: (kh * kw) ** 2)),
    Variant("overlapping windows overwrite instead of add", "where windows overlap, one input "
            "pixel belongs to several windows: ADD their shares (dx[...] += ...)",
            _avg_bwd_overwrite),
    Variant("gradient sent to the maximum only", "that is max pooling's backward; in average "
            "pooling every input of the window contributed equally",
            lambda dout, x, kernel_size, stride=None:
                F.max_pool2d_backward(dout, x, kernel_size, stride)),
    Variant("H and W swapped", "kernel_size/stride pairs are (height, width)", _swapped_avg_bwd),
)


EXERCISES = (
    Exercise("conv2d_backward", 7, "conv2d_backward", 4, "convolution backward (dx, dw, db)",
             "conv2d_backward(dout, x, w, stride, padding)", _conv_bwd_cases,
             _conv_bwd_reference, _conv_bwd_variants(), kind="tuple", parts=("dx", "dw", "db")),
    Exercise("max_pool2d_backward", 7, "max_pool2d_backward", 3, "max pooling backward",
             "max_pool2d_backward(dout, x, kernel_size, stride=None)", _pool_bwd_cases,
             _pool_bwd_reference, _POOL_BWD_VARIANTS, shape_variants=_POOL_BWD_SHAPES),
    Exercise("avg_pool2d_backward", 7, "avg_pool2d_backward", 2, "average pooling backward",
             "avg_pool2d_backward(dout, x, kernel_size, stride=None)", _avg_bwd_cases,
             _avg_bwd_reference, _AVG_BWD_VARIANTS, shape_variants=_POOL_BWD_SHAPES),
)
