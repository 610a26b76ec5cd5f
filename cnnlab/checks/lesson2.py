"""Lesson 2 (image kernels): ``correlate_same`` and ``sobel_magnitude``."""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant
from cnnlab.checks.helpers import float32_note, hw, pad_hw, randn, unless_equal
from cnnlab.kernels import IMAGE_KERNELS, SOBEL_X, SOBEL_Y

__all__ = ["EXERCISES"]


# =========================================================================== correlate_same

def _same_cases(rng):
    cases = [Case("fixed: box blur of a 5x5 image of ones (corners 4/9, edges 6/9, inside 1)",
                  (np.ones((5, 5)), IMAGE_KERNELS["box blur"].copy()), {})]
    img = np.arange(20.0).reshape(4, 5)
    cases.append(Case("fixed: 4x5 ramp, Sobel x", (img, SOBEL_X.copy()), {}))
    asym = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, -1.0], [3.0, 0.0, 0.0]])
    cases.append(Case("fixed: 4x5 ramp, asymmetric kernel", (img, asym), {}))
    for i, (shape, dtype) in enumerate([((6, 8), np.float64), ((7, 5), np.float64),
                                        ((5, 9), np.float32)], 1):
        x, k = randn(rng, shape, dtype), randn(rng, (3, 3), dtype)
        cases.append(Case(f"random #{i}: {hw(x)} image, random 3x3 kernel" + float32_note(dtype),
                          (x, k), {}))
    return cases


def _same_reference(image, kernel):
    return F.correlate2d(image, kernel, mode="same")


def _valid_of_padded(image, kernel, top, bottom, left, right, mode="constant"):
    if mode == "constant":
        xp = pad_hw(image, top, bottom, left, right)
    else:
        xp = np.pad(image, ((top, bottom), (left, right)), mode=mode)
    return F.correlate2d(xp, kernel, "valid")


_SAME_VARIANTS = (
    Variant("kernel flipped", "your result is a CONVOLUTION (kernel rotated by 180°); apply the "
            "kernel as it is (cross-correlation), as CNN layers do",
            lambda x, k: unless_equal(F.convolve2d(x, k, "same"), F.correlate2d(x, k, "same"))),
    Variant("no padding", "your output is (H-2, W-2), the 'valid' part; pad the image with one "
            "row/column of zeros on EVERY side first, so the output keeps the image's shape",
            lambda x, k: F.correlate2d(x, k, "valid")),
    Variant("padding on one side only", "you put two rows/columns of zeros at the top/left; "
            "'same' padding puts one on each side",
            lambda x, k: _valid_of_padded(x, k, 2, 0, 2, 0)),
    Variant("padding on one side only", "you put two rows/columns of zeros at the bottom/right; "
            "'same' padding puts one on each side",
            lambda x, k: _valid_of_padded(x, k, 0, 2, 0, 2)),
    Variant("padding on one side only", "you padded one row/column at the top/left only; 'same' "
            "padding puts one on each side", lambda x, k: _valid_of_padded(x, k, 1, 0, 1, 0)),
    Variant("padding on one side only", "you padded one row/column at the bottom/right only; "
            "'same' padding puts one on each side", lambda x, k: _valid_of_padded(x, k, 0, 1, 0, 1)),
    Variant("edge values used as padding", "you padded with copies of the border pixels "
            "(np.pad mode 'edge'); this exercise pads with zeros",
            lambda x, k: _valid_of_padded(x, k, 1, 1, 1, 1, mode="edge")),
    Variant("reflected padding", "you padded by reflection; this exercise pads with zeros",
            lambda x, k: _valid_of_padded(x, k, 1, 1, 1, 1, mode="reflect")),
    Variant("padded but not cropped ('full' mode)", "with one zero row/column on each side a 3x3 "
            "kernel gives an output of the image's shape; you padded by 2",
            lambda x, k: F.correlate2d(x, k, "full")),
)


# =========================================================================== sobel_magnitude

def _sobel_parts(image, padding="zeros"):
    """(Gx, Gy) of ``image``; padding "zeros" (as correlate_same), "edge" or "none"."""
    sx, sy = SOBEL_X.astype(image.dtype), SOBEL_Y.astype(image.dtype)
    if padding == "zeros":
        return F.correlate2d(image, sx, mode="same"), F.correlate2d(image, sy, mode="same")
    xp = np.pad(image, 1, mode="edge") if padding == "edge" else image
    return F.correlate2d(xp, sx, "valid"), F.correlate2d(xp, sy, "valid")


def _magnitude(gx, gy):
    return np.sqrt(gx * gx + gy * gy)


def _sobel_cases(rng):
    step = np.zeros((5, 6))
    step[:, 3:] = 1.0
    cases = [Case("fixed: 5x6 vertical step edge", (step,), {})]
    sq = np.zeros((6, 6))
    sq[2:4, 2:4] = 1.0
    cases.append(Case("fixed: 6x6 image with a bright 2x2 square", (sq,), {}))
    cases.append(Case("fixed: 4x5 diagonal ramp", (np.add.outer(np.arange(4.0), 2 * np.arange(5.0)),), {}))
    cases.append(Case("fixed: 4x4 blank image (no edges: all zeros, no NaN)", (np.zeros((4, 4)),), {}))
    for i, (shape, dtype) in enumerate([((7, 9), np.float64), ((8, 6), np.float32)], 1):
        x = rng.random(shape).astype(dtype)
        cases.append(Case(f"random #{i}: {hw(x)} image" + float32_note(dtype), (x,), {}))
    return cases


def _sobel_reference(image):
    return _magnitude(*_sobel_parts(image))


_SOBEL_VARIANTS = (
    Variant("only the x gradient", "you returned |Gx|; the magnitude combines both directions: "
            "sqrt(Gx**2 + Gy**2)", lambda x: unless_equal(np.abs(_sobel_parts(x)[0]), _sobel_reference(x))),
    Variant("only the y gradient", "you returned |Gy|; the magnitude combines both directions: "
            "sqrt(Gx**2 + Gy**2)", lambda x: unless_equal(np.abs(_sobel_parts(x)[1]), _sobel_reference(x))),
    Variant("square root missing", "you returned Gx**2 + Gy**2; the magnitude is its square root",
            lambda x: sum(g * g for g in _sobel_parts(x))),
    Variant("|Gx| + |Gy| instead of the Euclidean magnitude", "use sqrt(Gx**2 + Gy**2)",
            lambda x: sum(np.abs(g) for g in _sobel_parts(x))),
    Variant("Gx + Gy added without squaring", "use sqrt(Gx**2 + Gy**2)",
            lambda x: sum(_sobel_parts(x))),
    Variant("edge values used as padding", "you padded with copies of the border pixels; this "
            "exercise pads with zeros (as correlate_same)",
            lambda x: _magnitude(*_sobel_parts(x, "edge"))),
    Variant("no padding", "your output is (H-2, W-2); pad with one row/column of zeros on every "
            "side (use your correlate_same), so the output keeps the image's shape",
            lambda x: _magnitude(*_sobel_parts(x, "none"))),
)

EXERCISES = (
    Exercise("correlate_same", 2, "correlate_same", 2, "a 3x3 kernel with 'same' zero padding",
             "correlate_same(image, kernel)", _same_cases, _same_reference, _SAME_VARIANTS),
    Exercise("sobel_magnitude", 2, "sobel_magnitude", 2, "Sobel gradient magnitude",
             "sobel_magnitude(image)", _sobel_cases, _sobel_reference, _SOBEL_VARIANTS),
)
