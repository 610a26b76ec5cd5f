"""Formulas: output size, parameter count, receptive field (numbers, not arrays).

These are the formulas of the lessons, one function each; the widgets and the checks call the
same functions, so every number on screen comes from here.
"""
from __future__ import annotations

import math

from cnnlab._args import check_kernel_size, check_layer, check_size_args, positive_int

__all__ = ["output_size", "output_size_exact", "conv_parameter_count", "receptive_field"]


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
    ks = check_kernel_size(kernel_size, fn)
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
    r, jump, out = 1, 1, []
    for idx, layer in enumerate(layers):
        k, s, d = check_layer(layer, idx, "receptive_field")
        r += d * (k - 1) * jump
        jump *= s
        out.append(int(r))
    return out
