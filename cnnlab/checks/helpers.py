"""Small helpers the lesson files use to write cases and planted mistakes."""
from __future__ import annotations

import math

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Variant, close, shape_str

__all__ = ["pair", "pool_windows", "pad_hw", "rand", "randn", "hw", "float32_note", "unless_equal",
           "ceil_size", "random_conv", "one_sided_padding"]


def pair(v) -> tuple[int, int]:
    """An int or a pair -> (height, width)."""
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def pool_windows(kernel_size, stride) -> tuple[tuple[int, int], tuple[int, int]]:
    """((kH, kW), (sH, sW)) of a pooling call; stride None means stride = kernel_size."""
    return pair(kernel_size), pair(stride if stride is not None else kernel_size)


def pad_hw(x, top, bottom, left, right, value=0.0):
    """Pad the last two axes (to build a planted mistake's input).

    x       : (..., H, W)
    returns : (..., top + H + bottom, left + W + right)
    """
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(x, widths, constant_values=value)


def rand(rng, shape, dtype=np.float64, low=-3, high=4):
    """Small integers as floats: results are exact and easy to read."""
    return rng.integers(low, high, size=shape).astype(dtype)


def randn(rng, shape, dtype=np.float64):
    """Standard normal values of the given dtype."""
    return rng.standard_normal(shape).astype(dtype)


def hw(a) -> str:
    """The spatial size of an array for a case name: "5x7"."""
    return "x".join(str(d) for d in a.shape[-2:])


def float32_note(dtype) -> str:
    """", float32" for a float32 case (its name says so), else ""."""
    return ", float32" if dtype == np.float32 else ""


def random_conv(rng, i: int, spec) -> tuple:
    """The input, weight and case name of random conv case #i.

    spec    : (N, C_in, C_out, (H, W), (kH, kW), stride, padding, dtype)
    returns : x (N, C_in, H, W), w (C_out, C_in, kH, kW), name
    """
    n, ci, co, hw, ks, s, p, dtype = spec
    x = randn(rng, (n, ci) + hw, dtype)
    w = randn(rng, (co, ci) + ks, dtype)
    name = (f"random #{i}: x {shape_str(x.shape)}, w {shape_str(w.shape)}, stride {s}, "
            f"padding {p}" + float32_note(dtype))
    return x, w, name


def unless_equal(a, b):
    """A planted mistake's value, or None when it coincides with the right answer."""
    return None if close(a, b) and np.shape(a) == np.shape(b) else a


def ceil_size(n, k, s, p, d):
    """The output size with ceil instead of floor (a window may run past the padded input)."""
    return math.ceil(F.output_size_exact(n, k, s, p, d) - 1) + 1


def one_sided_padding(run, every: str, all_of_it: str) -> tuple:
    """The four "padding on one side only" mistakes of a padded correlation.

    run       : the reference, called as run(x_padded, *args, padding=0, **kwargs)
    every     : how the fix is said, e.g. "pad p on every side"
    all_of_it : how 2p zeros are called, e.g. "all 2p rows/columns of zeros"
    """
    def padded(pad_fn):
        def fn(x, *args, padding=0, **kwargs):
            if padding == 0:
                return None
            return run(pad_fn(x, padding), *args, padding=0, **kwargs)
        return fn

    return (
        Variant("padding on one side only", f"you padded only the top/left; {every}",
                padded(lambda x, p: pad_hw(x, p, 0, p, 0))),
        Variant("padding on one side only", f"you padded only the bottom/right; {every}",
                padded(lambda x, p: pad_hw(x, 0, p, 0, p))),
        Variant("padding on one side only", f"you put {all_of_it} at the top/left; {every}",
                padded(lambda x, p: pad_hw(x, 2 * p, 0, 2 * p, 0))),
        Variant("padding on one side only", f"you put {all_of_it} at the bottom/right; {every}",
                padded(lambda x, p: pad_hw(x, 0, 2 * p, 0, 2 * p))),
    )
