"""Pooling layers: max, average and power-average (Lp) pooling over NCHW images and NCL signals.

As in torch, ``stride`` defaults to ``kernel_size`` and the sizes are kept as given (an int
stays an int, a tuple a tuple), except AvgPool1d which keeps 1-tuples, as torch does. Padding
may be at most half the kernel (torch's rule). Max pooling sends each gradient to the first
maximum of its window, as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from cnnlab import functional as F
from cnnlab._args import check_batched_input, check_norm_type, check_pool_padding, int_tuple
from cnnlab.nn.module import ParameterFreeLayer

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "LPPool2d"]


def _size(value, n: int, name: str, layer: str, minimum: int = 1):
    """An int (kept as an int) or an n-tuple of ints, each >= minimum."""
    sizes = int_tuple(value, n, name, layer, minimum)
    return sizes if isinstance(value, (tuple, list)) else sizes[0]


def _as_tuple(value, n: int) -> tuple:
    return tuple(value) if isinstance(value, tuple) else (value,) * n


class _PoolNd(ParameterFreeLayer):
    """What the max and average pools share: the window arguments and the input check.
    A subclass sets ``_nd`` (1 or 2)."""

    _nd = 2

    def _set_window(self, kernel_size, stride, padding) -> None:
        layer, n = type(self).__name__, self._nd
        self.kernel_size = _size(kernel_size, n, "kernel_size", layer)
        self.stride = self.kernel_size if stride is None else _size(stride, n, "stride", layer)
        self.padding = _size(padding, n, "padding", layer, minimum=0)
        check_pool_padding(_as_tuple(self.kernel_size, n), _as_tuple(self.padding, n), layer,
                           self.padding, self.kernel_size)

    def _check(self, input) -> np.ndarray:
        return check_batched_input(input, type(self).__name__, self._nd)


# --------------------------------------------------------------------------- max

class _MaxPoolNd(_PoolNd):
    """Max pooling; a subclass sets ``_ops`` (the functional forward, forward-with-cache and
    backward). In training mode forward keeps which tap of each window won (the cache), and
    backward sends each gradient to its winner; after an eval-mode forward the backward finds
    the winners again."""

    _ops: tuple = ()

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices=False, ceil_mode=False):
        super().__init__()
        if return_indices or ceil_mode:
            raise ValueError(f"{type(self).__name__}: return_indices=True and ceil_mode=True "
                             f"are not supported by cnnlab (leave them False)")
        self._set_window(kernel_size, stride, padding)
        self.dilation = _size(dilation, self._nd, "dilation", type(self).__name__)
        self.return_indices = False
        self.ceil_mode = False

    def forward(self, input):
        input = self._check(input)
        plain, with_cache, _ = self._ops
        window = (self.kernel_size, self.stride, self.padding, self.dilation)
        if self.training:
            out, cache = with_cache(input, *window)
        else:
            out, cache = plain(input, *window), None
        self._ctx = (input, cache)
        return out

    def _input_grad(self, grad_output, input, cache):
        return self._ops[2](grad_output, input, self.kernel_size, self.stride, self.padding,
                            self.dilation, cache=cache)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, ceil_mode=False")


class MaxPool2d(_MaxPoolNd):
    """Max pooling over NCHW; stride defaults to kernel_size; ties go to the first maximum.

    input  : (N, C, H, W)
    returns (N, C, OH, OW)
    """

    _nd = 2
    _ops = (F.max_pool2d, F.max_pool2d_with_cache, F.max_pool2d_backward)


class MaxPool1d(_MaxPoolNd):
    """Max pooling over NCL signals.

    input  : (N, C, L)
    returns (N, C, OL)
    """

    _nd = 1
    _ops = (F.max_pool1d, F.max_pool1d_with_cache, F.max_pool1d_backward)


# --------------------------------------------------------------------------- average

class _AvgPoolNd(_PoolNd):
    """Average pooling; a subclass sets ``_ops`` (the functional forward and backward)."""

    _ops: tuple = ()

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        if ceil_mode:
            raise ValueError(f"{type(self).__name__}: ceil_mode=True is not supported by cnnlab")
        self._set_window(kernel_size, stride, padding)
        self.ceil_mode = False
        self.count_include_pad = bool(count_include_pad)

    def forward(self, input):
        input = self._check(input)
        self._ctx = (input,)
        return self._ops[0](input, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)

    def _input_grad(self, grad_output, input):
        return self._ops[1](grad_output, input, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Average pooling over NCHW (the 1998 LeNet's subsampling, without its trainable
    coefficient); stride defaults to kernel_size.

    input  : (N, C, H, W)
    returns (N, C, OH, OW)
    """

    _nd = 2
    _ops = (F.avg_pool2d, F.avg_pool2d_backward)


class AvgPool1d(_AvgPoolNd):
    """Average pooling over NCL signals.

    input  : (N, C, L)
    returns (N, C, OL)
    """

    _nd = 1
    _ops = (F.avg_pool1d, F.avg_pool1d_backward)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # torch keeps AvgPool1d's sizes as 1-tuples (its MaxPool1d keeps them as given)
        self.kernel_size = _as_tuple(self.kernel_size, 1)
        self.stride = _as_tuple(self.stride, 1)
        self.padding = _as_tuple(self.padding, 1)


# --------------------------------------------------------------------------- power average

class LPPool2d(_PoolNd):
    """Power-average pooling (sum over the window of x**p) ** (1/p); p=2 is L2 pooling.

    ``LPPool2d(norm_type, kernel_size, stride=None)``

    input  : (N, C, H, W)
    returns (N, C, OH, OW)
    """

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        if ceil_mode:
            raise ValueError("LPPool2d: ceil_mode=True is not supported by cnnlab")
        check_norm_type(norm_type, "LPPool2d")
        self.norm_type = norm_type          # kept as given: the repr shows norm_type=2
        self.kernel_size = _size(kernel_size, 2, "kernel_size", "LPPool2d")
        self.stride = None if stride is None else _size(stride, 2, "stride", "LPPool2d")
        self.ceil_mode = False

    def forward(self, input):
        input = self._check(input)
        self._ctx = (input,)
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride)

    def _input_grad(self, grad_output, input):
        return F.lp_pool2d_backward(grad_output, input, self.norm_type, self.kernel_size,
                                    self.stride)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode=False")
