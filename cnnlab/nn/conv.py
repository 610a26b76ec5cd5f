"""Convolution layers: :class:`Conv2d` over NCHW images and :class:`Conv1d` over NCL signals.

Each is a thin object around :mod:`cnnlab.functional`: in training mode forward keeps the
im2col columns (``F.conv2d_with_cache``) so that backward (``F.conv2d_backward(...,
cache=)``) does not rebuild them.
"""
from __future__ import annotations

import math

from cnnlab import functional as F
from cnnlab._args import (check_batched_input, check_bool, conv_padding, float_dtype,
                          int_at_least, int_tuple)
from cnnlab.nn.module import Module, accumulate_grad, init_uniform

__all__ = ["Conv1d", "Conv2d"]


class _ConvNd(Module):
    """What Conv1d and Conv2d share; a subclass sets ``_nd``, ``_layout`` and ``_ops``
    (the functional forward, forward-with-cache and backward)."""

    _nd = 2
    _layout = "(N, C, H, W)"
    _ops: tuple = ()

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, bias=True, *, dtype=None):
        super().__init__()
        layer, n = type(self).__name__, self._nd
        self.in_channels = int_at_least(in_channels, "in_channels", layer, 1)
        self.out_channels = int_at_least(out_channels, "out_channels", layer, 1)
        self.kernel_size = int_tuple(kernel_size, n, "kernel_size", layer, 1)
        self.stride = int_tuple(stride, n, "stride", layer, 1)
        self.dilation = int_tuple(dilation, n, "dilation", layer, 1)
        conv_padding(padding, n, self.kernel_size, self.dilation, self.stride, layer)  # checks
        # kept as torch keeps it: "same"/"valid", or a tuple of ints
        self.padding = padding if isinstance(padding, str) else int_tuple(
            padding, n, "padding", layer, 0)
        bias = check_bool(bias, "bias", layer)
        dt = float_dtype(dtype, layer)
        fan_in = self.in_channels * math.prod(self.kernel_size)
        self.weight = init_uniform((self.out_channels, self.in_channels, *self.kernel_size),
                                   fan_in, dt)
        if bias:
            self.bias = init_uniform((self.out_channels,), fan_in, dt)
        else:
            self.register_parameter("bias", None)

    def _check(self, x):
        layer = type(self).__name__
        x = check_batched_input(x, layer, self._nd)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{layer}: expected input with in_channels={self.in_channels} channels "
                f"(axis 1 of {self._layout}), got shape {tuple(x.shape)} with {x.shape[1]}")
        return x

    def forward(self, input):
        input = self._check(input)
        plain, with_cache, _ = self._ops
        w = self.weight.data
        b = None if self.bias is None else self.bias.data
        if self.training:            # keep the im2col columns for the backward
            out, cache = with_cache(input, w, b, self.stride, self.padding, self.dilation)
        else:
            out, cache = plain(input, w, b, self.stride, self.padding, self.dilation), None
        self._ctx = (input, cache)
        return out

    def backward(self, grad_output):
        input, cache = self._saved()
        gi, gw, gb = self._ops[2](grad_output, input, self.weight.data, self.stride,
                                  self.padding, self.dilation,
                                  needs_input_grad=self.needs_input_grad, cache=cache)
        accumulate_grad(self.weight, gw)
        if self.bias is not None:
            accumulate_grad(self.bias, gb)
        return gi

    def parameter_formula(self) -> str:
        """The parameter count written out, e.g. ``(5*5*1+1)*6 = 156``."""
        k = "*".join(str(v) for v in self.kernel_size)
        plus = "+1" if self.bias is not None else ""
        n = F.conv_parameter_count(self.in_channels, self.out_channels,
                                   self.kernel_size, bias=self.bias is not None)
        return f"({k}*{self.in_channels}{plus})*{self.out_channels} = {n:,}"

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in every framework) over NCHW images.

    ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    bias=True, dtype=np.float32)``

    weight : (C_out, C_in, kH, kW)
    bias   : (C_out,) or None (bias=False)
    input  : (N, C_in, H, W)
    returns (N, C_out, OH, OW), OH = floor((H + 2*pad - dilation*(kH-1) - 1)/stride) + 1
    (``cnnlab.output_size``), likewise OW.
    """

    _nd = 2
    _layout = "(N, C, H, W)"
    _ops = (F.conv2d, F.conv2d_with_cache, F.conv2d_backward)


class Conv1d(_ConvNd):
    """1-D convolution over NCL signals, arguments as :class:`Conv2d`.

    weight : (C_out, C_in, k)
    input  : (N, C_in, L)
    returns (N, C_out, OL)
    """

    _nd = 1
    _layout = "(N, C, L)"
    _ops = (F.conv1d, F.conv1d_with_cache, F.conv1d_backward)
