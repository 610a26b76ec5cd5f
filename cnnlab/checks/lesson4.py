"""Lesson 4 (channels): ``conv2d_forward``."""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant
from cnnlab.checks.helpers import ceil_size, one_sided_padding, random_conv, randn, unless_equal

__all__ = ["EXERCISES"]


def _conv_cases(rng):
    x = np.arange(18.0).reshape(1, 2, 3, 3)
    w = np.array([[[[0.0, 1.0], [2.0, 3.0]], [[1.0, 0.0], [0.0, -1.0]]]])
    cases = [Case("fixed: 1 image, 2 channels of 3x3, one 2x2 filter, bias 1 "
                  "(answer [[16, 22], [34, 40]])", (x, w, np.array([1.0])),
                  dict(stride=1, padding=0))]
    specs = [(2, 3, 4, (6, 7), (3, 3), 1, 1, np.float64), (2, 2, 3, (7, 7), (3, 3), 2, 0, np.float64),
             (1, 3, 2, (8, 6), (2, 3), 2, 1, np.float64), (3, 1, 2, (5, 5), (1, 1), 1, 0, np.float64),
             (2, 4, 3, (9, 8), (3, 3), 2, 1, np.float32), (1, 3, 3, (5, 6), (3, 2), 1, 2, np.float64)]
    for i, spec in enumerate(specs, 1):
        x, w, name = random_conv(rng, i, spec)
        b = randn(rng, (w.shape[0],), spec[-1])
        cases.append(Case(name, (x, w, b), dict(stride=spec[5], padding=spec[6])))
    return cases


def _conv_reference(x, w, b, stride=1, padding=0):
    return F.conv2d(x, w, b, stride=stride, padding=padding)


_CONV_VARIANTS = (
    Variant("bias missing", "add b[c_out] to every output value of channel c_out",
            lambda x, w, b, stride=1, padding=0:
                None if not np.any(b) else F.conv2d(x, w, None, stride=stride, padding=padding)),
    Variant("bias added twice", "add b[c_out] once per output value",
            lambda x, w, b, stride=1, padding=0:
                F.conv2d(x, w, b, stride=stride, padding=padding) + b[:, None, None]),
    Variant("bias added once per input channel", "add the bias once, after summing over the "
            "input channels, not inside that loop",
            lambda x, w, b, stride=1, padding=0:
                None if x.shape[1] == 1 else F.conv2d(x, w, b * x.shape[1], stride=stride, padding=padding)),
    Variant("channels not summed", "only the LAST input channel reached the output (did you "
            "write out = ... instead of out += ... in the loop over input channels?); a filter "
            "sums its correlations over ALL input channels",
            lambda x, w, b, stride=1, padding=0:
                None if x.shape[1] == 1 else
                F.conv2d(x[:, -1:], w[:, -1:], b, stride=stride, padding=padding)),
    Variant("channels not summed", "only the FIRST input channel reached the output; a filter "
            "sums its correlations over ALL input channels",
            lambda x, w, b, stride=1, padding=0:
                None if x.shape[1] == 1 else F.conv2d(x[:, :1], w[:, :1], b, stride=stride, padding=padding)),
    Variant("channels averaged instead of summed", "a filter SUMS its correlations over the "
            "input channels",
            lambda x, w, b, stride=1, padding=0:
                None if x.shape[1] == 1 else
                F.conv2d(x, w, None, stride=stride, padding=padding) / x.shape[1] + b[:, None, None]),
    Variant("stride ignored", "move the window `stride` pixels at a time: out[n, co, i, j] "
            "uses the window starting at row i*stride, column j*stride",
            lambda x, w, b, stride=1, padding=0:
                None if stride == 1 else F.conv2d(x, w, b, stride=1, padding=padding)),
    Variant("padding ignored", "pad every input channel with `padding` zeros on every side first",
            lambda x, w, b, stride=1, padding=0:
                None if padding == 0 else F.conv2d(x, w, b, stride=stride, padding=0)),
    *one_sided_padding(_conv_reference, "pad on every side", "all 2*padding zeros"),
    Variant("kernel flipped", "your result is a convolution (each kernel rotated by 180°); "
            "conv2d in CNNs is a cross-correlation: use w as it is",
            lambda x, w, b, stride=1, padding=0:
                unless_equal(F.conv2d(x, w[..., ::-1, ::-1].copy(), b, stride=stride, padding=padding),
                             F.conv2d(x, w, b, stride=stride, padding=padding))),
    Variant("weight axes swapped", "w has shape (C_out, C_in, kH, kW): w[co, ci] is the kernel "
            "that connects input channel ci to output channel co",
            lambda x, w, b, stride=1, padding=0:
                None if w.shape[0] != w.shape[1] else
                unless_equal(F.conv2d(x, w.transpose(1, 0, 2, 3).copy(), b, stride=stride, padding=padding),
                             F.conv2d(x, w, b, stride=stride, padding=padding))),
    Variant("output too small (missing +1)", "the size is floor((H + 2p - kH)/stride) + 1",
            lambda x, w, b, **kw: F.conv2d(x, w, b, **kw)[..., :-1, :-1]),
)


def _conv_size(fn):
    def shape(x, w, b, stride=1, padding=0):
        return (x.shape[0], w.shape[0]) + tuple(
            fn(n, k, stride, padding, 1) for n, k in zip(x.shape[2:], w.shape[2:]))
    return shape


_CONV_SHAPES = (
    Variant("that is the size with ceil instead of floor: a window that runs past the padded "
            "input does not count", "", _conv_size(ceil_size)),
    Variant("H and W swapped: that is the output size with height and width exchanged", "",
            lambda x, w, b, stride=1, padding=0: (x.shape[0], w.shape[0]) + tuple(
                F.output_size(n, k, stride, padding) for n, k in
                zip(x.shape[2:], w.shape[2:]))[::-1]),
    Variant("channels not summed: one output per input channel; a filter sums over all input "
            "channels", "",
            lambda x, w, b, stride=1, padding=0:
                F.conv2d(x, w, b, stride=stride, padding=padding).shape[:2] + (x.shape[1],)
                + F.conv2d(x, w, b, stride=stride, padding=padding).shape[2:]),
)

EXERCISES = (
    Exercise("conv2d_forward", 4, "conv2d_forward", 4,
             "multi-channel NCHW convolution with stride, padding and bias",
             "conv2d_forward(x, w, b, stride, padding)", _conv_cases, _conv_reference,
             _CONV_VARIANTS, shape_variants=_CONV_SHAPES),
)
