"""Lesson 5 (pooling): ``max_pool2d`` and ``avg_pool2d``."""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant, shape_str
from cnnlab.checks.helpers import ceil_size, float32_note, pad_hw, pair, pool_windows, randn
from cnnlab.kernels import DECK003_POOL_QUIZ

__all__ = ["EXERCISES"]


def _pool_cases(answer, quiz, sliding):
    """The cases of a pooling exercise; ``answer``, ``quiz`` and ``sliding`` are the answers of
    the worked example, deck 003's quiz and deck 003's stride-1 example, for their names."""
    def make(rng):
        cases = [Case(f"fixed: 4x4 ramp 0..15, 2x2 windows (answer {answer})",
                      (np.arange(16.0).reshape(1, 1, 4, 4), 2), {}),
                 Case(f"fixed: deck 003's quiz, 2x2 windows (answer {quiz})",
                      (DECK003_POOL_QUIZ[None, None].copy(), 2), {}),
                 Case(f"fixed: 3x3 grid 0..8, 2x2 windows, stride 1 (answer {sliding})",
                      (np.arange(9.0).reshape(1, 1, 3, 3), 2), {"stride": 1})]
        specs = [((2, 3, 6, 6), 2, None, np.float64), ((2, 2, 7, 7), 3, 2, np.float64),
                 ((1, 2, 5, 7), 2, None, np.float64), ((1, 2, 6, 9), (2, 3), None, np.float64),
                 ((2, 1, 5, 5), 3, 1, np.float64), ((2, 3, 8, 6), 2, None, np.float32),
                 ((1, 1, 9, 8), (3, 2), (2, 2), np.float64)]
        for i, (shape, k, s, dtype) in enumerate(specs, 1):
            x = randn(rng, shape, dtype)
            kw = {} if s is None else {"stride": s}
            desc = f"random #{i}: x {shape_str(shape)}, kernel_size {k}, " + (
                "stride = kernel_size (default)" if s is None else f"stride {s}")
            cases.append(Case(desc + float32_note(dtype), (x, k), kw))
        return cases
    return make


def _neg_inf_pad_max(x, kernel_size, stride):
    (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
    xp = pad_hw(x, 0, sh - 1, 0, sw - 1, value=-np.inf)
    out = F.max_pool2d(xp, (kh, kw), (sh, sw))
    return None if out.shape == F.max_pool2d(x, (kh, kw), (sh, sw)).shape else out


def _partial_avg(x, kernel_size, stride):
    """Average over the partial windows a ceil-mode loop would see (mean of what is there)."""
    (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
    sums = F.avg_pool2d(pad_hw(x, 0, sh - 1, 0, sw - 1), (kh, kw), (sh, sw)) * (kh * kw)
    counts = F.avg_pool2d(pad_hw(np.ones_like(x), 0, sh - 1, 0, sw - 1), (kh, kw), (sh, sw)) * (kh * kw)
    out = (sums / counts).astype(x.dtype)
    return None if out.shape == F.avg_pool2d(x, (kh, kw), (sh, sw)).shape else out


def _swapped_kernel(pool):
    def fn(x, kernel_size, stride=None):
        (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
        if (kh, sh) == (kw, sw):
            return None
        return pool(x, (kw, kh), (sw, sh))
    return fn


def _pool_common(pool):
    return (
        Variant("stride defaulted to 1", "stride=None means stride = kernel_size (as in PyTorch): "
                "the windows tile the image without overlapping",
                lambda x, kernel_size, stride=None:
                    pool(x, kernel_size, 1) if stride is None and kernel_size != 1 else None),
        Variant("stride ignored", "the windows start every `stride` pixels: window (i, j) starts "
                "at row i*sH, column j*sW",
                lambda x, kernel_size, stride=None:
                    None if stride is None or pair(stride) == pair(kernel_size)
                    else pool(x, kernel_size, kernel_size)),
        Variant("stride ignored", "the windows start every `stride` pixels, not every pixel",
                lambda x, kernel_size, stride=None:
                    None if stride is None or pair(stride) == (1, 1) else pool(x, kernel_size, 1)),
        Variant("H and W swapped", "kernel_size/stride pairs are (height, width): kH goes with "
                "the rows (axis 2), kW with the columns (axis 3)", _swapped_kernel(pool)),
        Variant("output too small (missing +1)", "the size is floor((H - kH)/sH) + 1",
                lambda x, kernel_size, stride=None: pool(x, kernel_size, stride)[..., :-1, :-1]),
    )


_MAX_POOL_VARIANTS = _pool_common(F.max_pool2d) + (
    Variant("average instead of maximum", "max pooling keeps the LARGEST value of each window "
            "(np.max), not the mean",
            lambda x, kernel_size, stride=None: F.avg_pool2d(x, kernel_size, stride)),
    Variant("minimum instead of maximum", "max pooling keeps the LARGEST value of each window",
            lambda x, kernel_size, stride=None: -F.max_pool2d(-x, kernel_size, stride)),
    Variant("partial windows kept (ceil instead of floor)", "a window that runs past the edge is "
            "dropped: the size is floor((H - kH)/sH) + 1",
            lambda x, kernel_size, stride=None: _neg_inf_pad_max(x, kernel_size, stride)),
)


def _avg_divided_by(count_fn):
    """avg_pool2d divided by ``count_fn(kH, kW, sH, sW)`` instead of kH*kW (None if the same)."""
    def fn(x, kernel_size, stride=None):
        (kh, kw), (sh, sw) = pool_windows(kernel_size, stride)
        count = count_fn(kh, kw, sh, sw)
        if count == kh * kw:
            return None
        return F.avg_pool2d(x, kernel_size, stride) * (kh * kw) / count
    return fn


_AVG_POOL_VARIANTS = _pool_common(F.avg_pool2d) + (
    Variant("sum instead of average", "divide each window's sum by the number of values in it, "
            "kH*kW", _avg_divided_by(lambda kh, kw, sh, sw: 1)),
    Variant("divided by the wrong count", "you divided by kH (the window's height); divide by "
            "the number of values in the window, kH*kW", _avg_divided_by(lambda kh, kw, sh, sw: kh)),
    Variant("divided by the wrong count", "you divided by kW (the window's width); divide by "
            "the number of values in the window, kH*kW", _avg_divided_by(lambda kh, kw, sh, sw: kw)),
    Variant("divided by the wrong count", "you divided by the stride's area sH*sW; divide by "
            "the number of values in the window, kH*kW",
            _avg_divided_by(lambda kh, kw, sh, sw: sh * sw)),
    Variant("divided by the wrong count", "you divided twice by kH*kW; the average divides the "
            "window's sum once", _avg_divided_by(lambda kh, kw, sh, sw: (kh * kw) ** 2)),
    Variant("maximum instead of average", "average pooling keeps the MEAN of each window",
            lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, stride)),
    Variant("partial windows kept (ceil instead of floor)", "a window that runs past the edge is "
            "dropped: the size is floor((H - kH)/sH) + 1",
            lambda x, kernel_size, stride=None: _partial_avg(x, kernel_size, stride)),
)


def _pool_size(fn):
    def shape(x, kernel_size, stride=None):
        k, s = pool_windows(kernel_size, stride)
        return tuple(x.shape[:2]) + tuple(fn(n, kk, ss, 0, 1) for n, kk, ss in zip(x.shape[2:], k, s))
    return shape


_POOL_SHAPES = (
    Variant("that is the size with ceil instead of floor: a window that runs past the edge is "
            "dropped", "", _pool_size(ceil_size)),
    Variant("that is the size with stride 1; stride=None means stride = kernel_size", "",
            _pool_size(lambda n, k, s, p, d: F.output_size(n, k, 1))),
)

EXERCISES = (
    Exercise("max_pool2d", 5, "max_pool2d", 2, "max pooling forward",
             "max_pool2d(x, kernel_size, stride=None)",
             _pool_cases("[[5, 7], [13, 15]]", "[[20, 30], [70, 90]]", "[[4, 5], [7, 8]]"),
             lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, stride),
             _MAX_POOL_VARIANTS, shape_variants=_POOL_SHAPES),
    Exercise("avg_pool2d", 5, "avg_pool2d", 2, "average pooling forward",
             "avg_pool2d(x, kernel_size, stride=None)",
             _pool_cases("[[2.5, 4.5], [10.5, 12.5]]", "[[16, 8], [20, 25]]", "[[2, 3], [5, 6]]"),
             lambda x, kernel_size, stride=None: F.avg_pool2d(x, kernel_size, stride),
             _AVG_POOL_VARIANTS, shape_variants=_POOL_SHAPES),
)
