"""Lesson 1 (cross-correlation and convolution): ``corr2d`` and ``conv2d_true``."""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant
from cnnlab.checks.helpers import float32_note, hw, pad_hw, rand, randn, unless_equal
from cnnlab.kernels import DECK002_SOBEL_I, SOBEL_Y

__all__ = ["EXERCISES"]


def _corr2d_cases(rng):
    x = np.arange(9.0).reshape(3, 3)
    k = np.array([[0.0, 1.0], [2.0, 3.0]])
    cases = [Case("fixed: 3x3 worked example (answer [[19, 25], [37, 43]])", (x, k), {})]
    x = np.arange(24.0).reshape(4, 6)
    k = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    cases.append(Case("fixed: 4x6 input, asymmetric 2x3 kernel", (x, k), {}))
    x = rand(rng, (3, 4))
    cases.append(Case("fixed: kernel as large as the input (one output value)", (x, x[::-1].copy()), {}))
    for i, (xs, ks, dtype) in enumerate([((5, 7), (3, 3), np.float64), ((6, 5), (2, 4), np.float64),
                                         ((7, 6), (3, 2), np.float32), ((4, 8), (1, 3), np.float64)], 1):
        x, k = randn(rng, xs, dtype), randn(rng, ks, dtype)
        name = f"random #{i}: {hw(x)} input, {hw(k)} kernel" + float32_note(dtype)
        cases.append(Case(name, (x, k), {}))
    return cases


def _corr2d_reference(x, k):
    return F.correlate2d(x, k, mode="valid")


_CORR2D_VARIANTS = (
    Variant("kernel flipped", "your result is the CONVOLUTION (kernel rotated by 180°); "
            "cross-correlation uses the kernel as it is: out[i, j] = sum(x[i:i+kH, j:j+kW] * k)",
            lambda x, k: unless_equal(F.convolve2d(x, k, "valid"), F.correlate2d(x, k, "valid"))),
    Variant("kernel transposed", "you used k.T; keep the kernel's rows as rows",
            lambda x, k: F.correlate2d(x, k.T, "valid") if k.T.shape <= x.shape else None),
    Variant("output too small (missing +1)", "the output size is H - kH + 1 by W - kW + 1: the "
            "window fits H - kH + 1 times, including the first and the last position",
            lambda x, k: F.correlate2d(x, k, "valid")[:-1, :-1]),
    Variant("output too small (missing +1)", "the output size is H - kH + 1 (rows): the window "
            "fits H - kH + 1 times, including the first and the last position",
            lambda x, k: F.correlate2d(x, k, "valid")[:-1, :]),
    Variant("output too small (missing +1)", "the output size is W - kW + 1 (columns): the "
            "window fits W - kW + 1 times, including the first and the last position",
            lambda x, k: F.correlate2d(x, k, "valid")[:, :-1]),
    Variant("output has the input's shape", "a valid cross-correlation is (H - kH + 1, W - kW + 1); "
            "your extra rows/columns are zeros",
            lambda x, k: pad_hw(F.correlate2d(x, k, "valid"), 0, k.shape[0] - 1, 0, k.shape[1] - 1)),
    Variant("zero padding used ('full' mode)", "valid cross-correlation only uses windows that fit "
            "entirely inside the input, no padding", lambda x, k: F.correlate2d(x, k, "full")),
    Variant("zero padding used ('same' mode)", "valid cross-correlation only uses windows that fit "
            "entirely inside the input, no padding", lambda x, k: F.correlate2d(x, k, "same")),
)


# =========================================================================== conv2d_true

def _true_cases(rng):
    sobel_in = pad_hw(DECK002_SOBEL_I.astype(np.float64), 1, 1, 1, 1)
    cases = [
        Case("fixed: 3x3 worked example (answer [[5, 11], [23, 29]])",
             (np.arange(9.0).reshape(3, 3), np.array([[0.0, 1.0], [2.0, 3.0]])), {}),
        Case("fixed: deck 002's Sobel, image 1..9 with a ring of zeros "
             "(answer [[-13, -20, -17], [-18, -24, -18], [13, 20, 17]])", (sobel_in, SOBEL_Y.copy()), {}),
        Case("fixed: 4x6 input, asymmetric 2x3 kernel",
             (np.arange(24.0).reshape(4, 6), np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])), {}),
    ]
    for i, (xs, ks, dtype) in enumerate([((5, 7), (3, 3), np.float64), ((6, 5), (2, 4), np.float64),
                                         ((7, 6), (3, 2), np.float32), ((4, 8), (1, 3), np.float64)], 1):
        x, k = rand(rng, xs, dtype), randn(rng, ks, dtype)
        cases.append(Case(f"random #{i}: {hw(x)} input, {hw(k)} kernel" + float32_note(dtype), (x, k), {}))
    return cases


def _true_reference(x, k):
    return F.convolve2d(x, k, mode="valid")


_TRUE_VARIANTS = (
    Variant("kernel not flipped", "that is the CROSS-CORRELATION of exercise 1.1 (on deck 002's "
            "Sobel case every sign is reversed: [[13, 20, 17], ...]); a true convolution rotates "
            "the kernel by 180° first: k[::-1, ::-1], both axes",
            lambda x, k: unless_equal(F.correlate2d(x, k, "valid"), F.convolve2d(x, k, "valid"))),
    Variant("kernel flipped along one axis only", "you flipped the rows (up-down) but not the "
            "columns; rotate by 180°: k[::-1, ::-1]",
            lambda x, k: unless_equal(F.correlate2d(x, k[::-1, :].copy(), "valid"),
                                      F.convolve2d(x, k, "valid"))),
    Variant("kernel flipped along one axis only", "you flipped the columns (left-right) but not "
            "the rows; rotate by 180°: k[::-1, ::-1]",
            lambda x, k: unless_equal(F.correlate2d(x, k[:, ::-1].copy(), "valid"),
                                      F.convolve2d(x, k, "valid"))),
    Variant("kernel transposed instead of rotated", "k.T mirrors the kernel along its diagonal; "
            "the flip of a convolution is a 180° rotation: k[::-1, ::-1]",
            lambda x, k: unless_equal(F.correlate2d(x, k.T.copy(), "valid"), F.convolve2d(x, k, "valid"))
            if k.T.shape <= x.shape else None),
    Variant("zero padding used ('full' mode)", "this exercise wants the valid part only: windows "
            "that fit entirely inside x, (H - kH + 1, W - kW + 1)", lambda x, k: F.convolve2d(x, k, "full")),
    Variant("zero padding used ('same' mode)", "this exercise wants the valid part only: windows "
            "that fit entirely inside x, (H - kH + 1, W - kW + 1)", lambda x, k: F.convolve2d(x, k, "same")),
    Variant("output too small (missing +1)", "the output size is H - kH + 1 by W - kW + 1",
            lambda x, k: F.convolve2d(x, k, "valid")[:-1, :-1]),
)

EXERCISES = (
    Exercise("corr2d", 1, "corr2d", 3, "single-channel valid cross-correlation",
             "corr2d(x, k)", _corr2d_cases, _corr2d_reference, _CORR2D_VARIANTS),
    Exercise("conv2d_true", 1, "conv2d_true", 2, "a true 2-D convolution (with the flip), valid mode",
             "conv2d_true(x, k)", _true_cases, _true_reference, _TRUE_VARIANTS),
)
