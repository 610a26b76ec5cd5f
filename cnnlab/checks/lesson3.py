"""Lesson 3 (stride, padding, dilation): ``output_size`` and ``corr2d_strided``."""
from __future__ import annotations

import math

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant
from cnnlab.checks.helpers import (ceil_size, float32_note, hw, one_sided_padding, randn,
                                   unless_equal)
from cnnlab.kernels import DECK000_K, DECK000_X

__all__ = ["EXERCISES"]


# =========================================================================== output_size

def _output_size_cases(rng):
    fixed = [
        ((5, 3, 1, 0, 1), "no stride, padding or dilation"),
        ((7, 3, 2, 0, 1), "stride 2"),
        ((7, 3, 3, 0, 1), "stride 3 does not fit: (7-3)/3 + 1 = 2.33"),
        ((28, 5, 1, 2, 1), "LeNet's conv1: 'same' padding 2"),
        ((10, 3, 1, 0, 2), "dilation 2"),
        ((32, 3, 2, 1, 1), "stride 2, padding 1, does not fit"),
        ((11, 3, 2, 1, 2), "stride, padding and dilation"),
        ((6, 2, 2, 0, 1), "stride 2 fits exactly"),
    ]
    cases = [Case(f"fixed: n={a[0]}, f={a[1]}, s={a[2]}, p={a[3]}, d={a[4]} ({why})", a, {})
             for a, why in fixed]
    made = 0
    while made < 4:
        n, f = int(rng.integers(5, 40)), int(rng.integers(1, 8))
        s, p, d = int(rng.integers(1, 5)), int(rng.integers(0, 4)), int(rng.integers(1, 4))
        if d * (f - 1) + 1 > n + 2 * p:
            continue
        made += 1
        cases.append(Case(f"random #{made}: n={n}, f={f}, s={s}, p={p}, d={d}", (n, f, s, p, d), {}))
    return cases


def _output_size_reference(n, f, s=1, p=0, d=1):
    return F.output_size(n, f, s, p, d)


def _exact(n, f, s=1, p=0, d=1):
    return F.output_size_exact(n, f, s, p, d)


_OUTPUT_SIZE_VARIANTS = (
    Variant("ceil instead of floor", "a window that would run past the (padded) input does not "
            "count; floor the division: (n + 2p - d(f-1) - 1) // s + 1",
            lambda n, f, s, p, d: math.ceil(_exact(n, f, s, p, d) - 1) + 1),
    Variant("missing +1", "the window also sits at the first position: "
            "floor((n + 2p - d(f-1) - 1)/s) + 1", lambda n, f, s, p, d: F.output_size(n, f, s, p, d) - 1),
    Variant("stride ignored", "divide by the stride s: floor((n + 2p - d(f-1) - 1)/s) + 1",
            lambda n, f, s, p, d: F.output_size(n, f, 1, p, d)),
    Variant("dilation ignored", "a dilated kernel spans d(f-1) + 1 pixels: "
            "floor((n + 2p - d(f-1) - 1)/s) + 1", lambda n, f, s, p, d: F.output_size(n, f, s, p, 1)),
    Variant("padding counted once", "padding p is added on BOTH sides: n + 2p",
            lambda n, f, s, p, d: F.output_size(n + p, f, s, 0, d)),
    Variant("dilated kernel size d*f", "a dilated kernel spans d(f-1) + 1 pixels, not d*f",
            lambda n, f, s, p, d: F.output_size(n - (d - 1), f, s, p, d)),
    Variant("+1 missing inside (n + 2p - f)/s", "the formula is floor((n + 2p - d(f-1) - 1)/s) + 1",
            lambda n, f, s, p, d: (n + 2 * p - d * (f - 1)) // s + 1),
    Variant("rounded instead of floored", "use floor division //",
            lambda n, f, s, p, d: math.floor(_exact(n, f, s, p, d) - 1 + 0.5) + 1),
)


# =========================================================================== corr2d_strided

def _strided_cases(rng):
    x5 = np.arange(25.0).reshape(5, 5)
    ones = np.ones((3, 3))
    cases = [
        Case("fixed: 5x5 ramp, 3x3 ones, stride 2 (answer [[54, 72], [144, 162]])",
             (x5, ones), dict(stride=2, padding=0, dilation=1)),
        Case("fixed: 5x5 ramp, 3x3 ones, padding 1", (x5, ones), dict(stride=1, padding=1, dilation=1)),
        Case("fixed: 7x7 ramp, 3x3 ones, dilation 2", (np.arange(49.0).reshape(7, 7), ones),
             dict(stride=1, padding=0, dilation=2)),
        Case("fixed: 7x7 ramp, 3x3 ones, stride 3 does not fit (floor: 2x2)",
             (np.arange(49.0).reshape(7, 7), ones), dict(stride=3, padding=0, dilation=1)),
        Case("fixed: deck 000's 5x5, kernel [[0, 1], [2, 0]], stride 2 (answer [[20, 6], [0, 9]])",
             (DECK000_X.astype(np.float64), DECK000_K.astype(np.float64)),
             dict(stride=2, padding=0, dilation=1)),
    ]
    specs = [((6, 8), (3, 2), 2, 1, 1, np.float64), ((9, 7), (3, 3), 1, 2, 2, np.float64),
             ((8, 9), (2, 3), 3, 1, 1, np.float64), ((10, 8), (3, 3), 2, 1, 2, np.float32)]
    for i, (xs, ks, s, p, d, dtype) in enumerate(specs, 1):
        x, k = randn(rng, xs, dtype), randn(rng, ks, dtype)
        cases.append(Case(f"random #{i}: {hw(x)} input, {hw(k)} kernel, stride {s}, padding {p}, "
                          f"dilation {d}" + float32_note(dtype),
                          (x, k), dict(stride=s, padding=p, dilation=d)))
    return cases


def _strided(x, k, stride=1, padding=0, dilation=1):
    """One image, one kernel: conv2d on a batch of one single-channel image."""
    return F.conv2d(x[None, None], k[None, None], stride=stride, padding=padding,
                    dilation=dilation)[0, 0]


def _strided_size(fn):
    """Shape the output would have under a different size formula (to explain a wrong shape)."""
    def shape(x, k, stride=1, padding=0, dilation=1):
        return tuple(fn(n, kk, stride, padding, dilation) for n, kk in zip(x.shape, k.shape))
    return shape


_STRIDED_VARIANTS = (
    Variant("stride ignored", "move the window s pixels at a time: out[i, j] reads the window "
            "that starts at row i*s, column j*s (of the padded input)",
            lambda x, k, stride=1, padding=0, dilation=1:
                None if stride == 1 else _strided(x, k, 1, padding, dilation)),
    Variant("padding ignored", "pad the input with p rows/columns of zeros on every side first",
            lambda x, k, stride=1, padding=0, dilation=1:
                None if padding == 0 else _strided(x, k, stride, 0, dilation)),
    Variant("dilation ignored", "with dilation d the kernel taps are d pixels apart: tap (a, b) "
            "reads x[i*s + a*d, j*s + b*d]",
            lambda x, k, stride=1, padding=0, dilation=1:
                None if dilation == 1 else _strided(x, k, stride, padding, 1)),
    Variant("dilation off by one", "dilation d puts d-1 gaps between the taps (d = 1 is an "
            "ordinary kernel): tap (a, b) reads x[i*s + a*d, j*s + b*d]",
            lambda x, k, stride=1, padding=0, dilation=1: _strided(x, k, stride, padding, dilation + 1)),
    Variant("stride and dilation swapped", "the stride moves the window; the dilation spreads "
            "the kernel taps",
            lambda x, k, stride=1, padding=0, dilation=1:
                None if stride == dilation else _strided(x, k, dilation, padding, stride)),
    *one_sided_padding(_strided, "pad p on every side", "all 2p rows/columns of zeros"),
    Variant("kernel flipped", "your result is a convolution (kernel rotated by 180°); CNN "
            "layers cross-correlate: use the kernel as it is",
            lambda x, k, stride=1, padding=0, dilation=1:
                unless_equal(_strided(x, k[::-1, ::-1].copy(), stride, padding, dilation),
                             _strided(x, k, stride, padding, dilation))),
    Variant("output too small (missing +1)", "the size is floor((n + 2p - d(f-1) - 1)/s) + 1",
            lambda x, k, **kw: _strided(x, k, **kw)[:-1, :-1]),
)

_STRIDED_SHAPES = (
    Variant("that is the size with ceil instead of floor: a window that runs past the padded "
            "input does not count", "", _strided_size(ceil_size)),
    Variant("that is the size without the +1 of floor((n + 2p - d(f-1) - 1)/s) + 1", "",
            _strided_size(lambda n, k, s, p, d: F.output_size(n, k, s, p, d) - 1)),
)

EXERCISES = (
    Exercise("output_size", 3, "output_size", 2, "the output-size formula",
             "output_size(n, f, s, p, d)", _output_size_cases, _output_size_reference,
             _OUTPUT_SIZE_VARIANTS, kind="int", exact=_exact),
    Exercise("corr2d_strided", 3, "corr2d_strided", 3,
             "cross-correlation with stride, padding and dilation",
             "corr2d_strided(x, k, stride, padding, dilation)", _strided_cases,
             _strided, _STRIDED_VARIANTS, shape_variants=_STRIDED_SHAPES),
)
