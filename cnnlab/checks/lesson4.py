"""Lesson 4 (channels): ``conv2d_forward`` and ``count_conv``."""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant
from cnnlab.checks.helpers import ceil_size, one_sided_padding, random_conv, randn, unless_equal
from cnnlab.kernels import CS231N_B, CS231N_W, CS231N_X

__all__ = ["EXERCISES", "COUNT_PARTS"]


def _conv_cases(rng):
    x = np.arange(18.0).reshape(1, 2, 3, 3)
    w = np.array([[[[0.0, 1.0], [2.0, 3.0]], [[1.0, 0.0], [0.0, -1.0]]]])
    cases = [Case("fixed: 1 image, 2 channels of 3x3, one 2x2 filter, bias 1 "
                  "(answer [[16, 22], [34, 40]])", (x, w, np.array([1.0])),
                  dict(stride=1, padding=0))]
    specs = [(2, 3, 4, (6, 7), (3, 3), 1, 1, np.float64), (2, 2, 3, (7, 7), (3, 3), 2, 0, np.float64),
             (1, 3, 2, (8, 6), (2, 3), 2, 1, np.float64), (3, 1, 2, (5, 5), (1, 1), 1, 0, np.float64),
             (2, 4, 3, (9, 8), (3, 3), 2, 1, np.float32), (1, 3, 3, (5, 6), (3, 2), 1, 2, np.float64)]
    cases.append(Case("fixed: CS231n demo (deck 002), 3 channels of 5x5, two 3x3x3 filters, "
                      "stride 2, padding 1 (answer [[7, 10, -1], [7, 14, 6], [3, 8, -1]] and "
                      "[[6, 3, 0], [-3, -1, -3], [-5, -7, -3]])",
                      (CS231N_X[None].copy(), CS231N_W.copy(), CS231N_B.copy()), dict(stride=2, padding=1)))
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


# =========================================================================== count_conv

def _count_cases(rng):
    fixed = [
        ((3, 32, 5, 32, 32, 1, 0), "deck 001: 32 filters of 5x5 on 32x32 RGB (answer (2432, 1881600, 28, 28))"),
        ((3, 64, 3, 224, 224, 1, 0), "deck 003's quiz: 64 filters of 3x3 on 224x224 RGB "
                                     "(answer (1792, 85162752, 222, 222))"),
        ((1, 6, 5, 28, 28, 1, 2), "LeNet-5's conv1 on 28x28, padding 2 (answer (156, 117600, 28, 28))"),
        ((6, 16, 5, 14, 14, 1, 0), "LeNet-5's conv2 (answer (2416, 240000, 10, 10))"),
        ((3, 2, 3, 5, 5, 2, 1), "CS231n demo: two 3x3x3 filters, stride 2, padding 1 (answer (56, 486, 3, 3))"),
        ((2, 4, 3, 7, 10, 3, 0), "7x10 input, stride 3 does not fit"),
    ]
    cases = [Case(f"fixed: {why}", a, {}) for a, why in fixed]
    for i in range(1, 4):
        k, s, p = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
        h, w = int(rng.integers(k + 2, 40)), int(rng.integers(k + 2, 40))
        ci, co = int(rng.integers(1, 65)), int(rng.integers(1, 129))
        cases.append(Case(f"random #{i}: C_in={ci}, C_out={co}, k={k}, {h}x{w}, stride {s}, padding {p}",
                          (ci, co, k, h, w, s, p), {}))
    return cases


COUNT_PARTS = ("parameters", "multiplications", "out_h", "out_w")


def _counts(c_in, c_out, k, h, w, stride=1, padding=0, bias=1, oh=None, ow=None,
            per_output=None, weights=None, mult_channels=None, positions=None):
    """(parameters, multiplications, out_h, out_w); the keyword arguments plant the usual slips."""
    oh = F.output_size(h, k, stride, padding) if oh is None else oh
    ow = F.output_size(w, k, stride, padding) if ow is None else ow
    per_output = k * k * c_in if per_output is None else per_output
    weights = k * k * c_in if weights is None else weights
    mult_channels = c_out if mult_channels is None else mult_channels
    positions = oh * ow if positions is None else positions
    return ((weights + bias) * c_out, positions * mult_channels * per_output, oh, ow)


def _same_size(h, w, k, s, p) -> bool:
    """Whether the output is as large as the input (the input size is then no mistake)."""
    return (F.output_size(h, k, s, p), F.output_size(w, k, s, p)) == (h, w)


def _count_reference(c_in, c_out, k, h, w, stride=1, padding=0):
    return _counts(c_in, c_out, k, h, w, stride, padding)


def _count_slip(unless=None, **slip):
    """The counts with ``slip``'s values (each computed from the case's arguments), or None
    when ``unless(case arguments)`` says the slip changes nothing."""
    def fn(ci, co, k, h, w, s=1, p=0):
        if unless is not None and unless(ci, co, k, h, w, s, p):
            return None
        return _counts(ci, co, k, h, w, s, p, **{key: f(ci, co, k, h, w, s, p)
                                                 for key, f in slip.items()})
    return fn


def _sizes(size):
    """The slip that computes out_h and out_w with ``size(n, k, s, p)``."""
    return dict(oh=lambda ci, co, k, h, w, s, p: size(h, k, s, p),
                ow=lambda ci, co, k, h, w, s, p: size(w, k, s, p))


_COUNT_VARIANTS = (
    Variant("bias forgotten", "each filter has k*k*c_in weights AND one bias: "
            "parameters = (k*k*c_in + 1) * c_out", _count_slip(bias=lambda *a: 0)),
    Variant("c_in forgotten in the parameters", "a filter spans all input channels: it has "
            "k*k*c_in weights (+ 1 bias)", _count_slip(lambda ci, *a: ci == 1,
                                                       weights=lambda ci, co, k, *a: k * k)),
    Variant("c_in forgotten in the multiplications", "a filter spans all input channels: each "
            "output value costs k*k*c_in products",
            _count_slip(lambda ci, *a: ci == 1, per_output=lambda ci, co, k, *a: k * k)),
    Variant("input size used instead of the output size", "there is one output value per "
            "position of the window: out_h = (h + 2p - k) // stride + 1 (likewise out_w), and "
            "multiplications = out_h * out_w * c_out * k*k*c_in",
            _count_slip(lambda ci, co, k, h, w, s, p: _same_size(h, w, k, s, p),
                        **_sizes(lambda n, k, s, p: n))),
    Variant("input size used instead of the output size", "multiplications = out_h * out_w * "
            "c_out * k*k*c_in, with out_h, out_w the OUTPUT size (as you computed them)",
            _count_slip(lambda ci, co, k, h, w, s, p: _same_size(h, w, k, s, p),
                        positions=lambda ci, co, k, h, w, s, p: h * w)),
    Variant("bias counted as a multiplication", "adding the bias is an addition: each output "
            "value costs k*k*c_in multiplications",
            _count_slip(per_output=lambda ci, co, k, *a: k * k * ci + 1)),
    Variant("c_out forgotten in the multiplications", "every output channel is computed: "
            "multiplications = out_h * out_w * c_out * k*k*c_in",
            _count_slip(lambda ci, co, *a: co == 1, mult_channels=lambda *a: 1)),
    Variant("stride ignored", "the output size divides by the stride: (h + 2p - k) // stride + 1",
            lambda ci, co, k, h, w, s=1, p=0: None if s == 1 else _counts(ci, co, k, h, w, 1, p)),
    Variant("padding ignored", "padding adds p rows/columns on EACH side: (h + 2p - k) // stride + 1",
            lambda ci, co, k, h, w, s=1, p=0: None if p == 0 else _counts(ci, co, k, h, w, s, 0)),
    Variant("padding counted once", "padding adds p rows/columns on EACH side: h + 2p",
            _count_slip(lambda ci, co, k, h, w, s, p: p == 0,
                        **_sizes(lambda n, k, s, p: (n + p - k) // s + 1))),
    Variant("ceil instead of floor", "a window that would run past the padded input does not "
            "count: (h + 2p - k) // stride + 1", _count_slip(**_sizes(
                lambda n, k, s, p: ceil_size(n, k, s, p, 1)))),
    Variant("/ instead of //", "a window either fits or it does not: the output size is "
            "floored, (h + 2p - k) // stride + 1, a whole number",
            _count_slip(**_sizes(lambda n, k, s, p: (n + 2 * p - k) / s + 1))),
    Variant("output size without the + 1", "the window fits at positions 0, stride, ..., so "
            "the size is (h + 2p - k) // stride + 1", _count_slip(**_sizes(
                lambda n, k, s, p: (n + 2 * p - k) // s))),
)

EXERCISES = (
    Exercise("conv2d_forward", 4, "conv2d_forward", 4,
             "multi-channel NCHW convolution with stride, padding and bias",
             "conv2d_forward(x, w, b, stride, padding)", _conv_cases, _conv_reference,
             _CONV_VARIANTS, shape_variants=_CONV_SHAPES),
    Exercise("count_conv", 4, "count_conv", 2, "parameters, multiplications and output size of a layer",
             "count_conv(c_in, c_out, k, h, w, stride, padding)", _count_cases, _count_reference,
             _COUNT_VARIANTS, kind="ints", parts=COUNT_PARTS),
)
