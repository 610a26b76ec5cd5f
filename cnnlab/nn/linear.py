"""Fully connected layers and their companions: :class:`Linear`, :class:`Flatten` (the bridge
from feature maps to a Linear layer) and :class:`Dropout`.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import functional as F
from cnnlab._args import (check_bool, check_probability, float_array, float_dtype, int_at_least,
                          int_value)
from cnnlab.nn.module import Module, ParameterFreeLayer, accumulate_grad, get_rng, init_uniform

__all__ = ["Linear", "Flatten", "Dropout"]


class Linear(Module):
    """Fully connected layer y = x @ weight.T + bias.

    ``Linear(in_features, out_features, bias=True, dtype=np.float32)``

    weight : (out_features, in_features)
    bias   : (out_features,) or None (bias=False)
    input  : (N, in_features), or (*, in_features): leading axes are kept, as torch
    returns (N, out_features)
    """

    def __init__(self, in_features, out_features, bias=True, *, dtype=None):
        super().__init__()
        self.in_features = int_at_least(in_features, "in_features", "Linear", 1)
        self.out_features = int_at_least(out_features, "out_features", "Linear", 1)
        bias = check_bool(bias, "bias", "Linear")
        dt = float_dtype(dtype, "Linear")
        self.weight = init_uniform((self.out_features, self.in_features), self.in_features, dt)
        if bias:
            self.bias = init_uniform((self.out_features,), self.in_features, dt)
        else:
            self.register_parameter("bias", None)

    def _check(self, x) -> np.ndarray:
        x = float_array(x, "input", "Linear")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            got = tuple(x.shape)
            msg = (f"Linear(in_features={self.in_features}, out_features={self.out_features}) "
                   f"expects input of shape (N, {self.in_features}), got {got}")
            if x.ndim >= 3:
                feats = math.prod(got[1:])
                msg += (f". The input is {x.ndim}-D: add nn.Flatten() before this layer to "
                        f"turn it into (N, {'*'.join(map(str, got[1:]))}) = (N, {feats})")
                if feats != self.in_features:
                    msg += f", and build this layer with in_features={feats}"
            elif x.ndim == 2:
                msg += f": build it with in_features={x.shape[1]} or fix the previous layer"
            raise ValueError(msg)
        return x

    def forward(self, input):
        input = self._check(input)
        self._ctx = input
        b = self.bias
        return F.linear(input, self.weight.data, None if b is None else b.data)

    def backward(self, grad_output):
        input = self._saved()
        gi, gw, gb = F.linear_backward(grad_output, input, self.weight.data)
        accumulate_grad(self.weight, gw)
        if self.bias is not None:
            accumulate_grad(self.bias, gb)
        return gi if self.needs_input_grad else None

    def parameter_formula(self) -> str:
        """The parameter count written out, e.g. ``(400+1)*120 = 48,120``."""
        plus = "+1" if self.bias is not None else ""
        n = (self.in_features + (1 if self.bias is not None else 0)) * self.out_features
        return f"({self.in_features}{plus})*{self.out_features} = {n:,}"

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(ParameterFreeLayer):
    """Flatten axes start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = int_value(start_dim, "start_dim", "Flatten")
        self.end_dim = int_value(end_dim, "end_dim", "Flatten")

    def forward(self, input):
        self._ctx = (np.shape(input),)
        return F.flatten(input, self.start_dim, self.end_dim)

    def _input_grad(self, grad_output, shape):
        return F.flatten_backward(grad_output, shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(ParameterFreeLayer):
    """Zero each element with probability p during training and scale the survivors by
    1/(1-p) ("inverted dropout", as torch), so evaluation needs no rescaling: in eval mode
    the layer is the identity. Masks come from :func:`get_rng` (seed: ``manual_seed``);
    forward keeps the boolean mask for backward."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = check_probability(p, "Dropout")      # the probability of zeroing an element
        self.inplace = bool(inplace)   # accepted for torch code; the input is never overwritten

    def forward(self, input):
        if not self.training or self.p == 0.0:
            self._ctx = (None,)
            return input
        out, mask = F.dropout(input, self.p, True, get_rng(), return_mask=True)
        self._ctx = (mask,)
        return out

    def _input_grad(self, grad_output, mask):
        if mask is None:  # identity (eval mode or p == 0)
            return grad_output
        return F.dropout_backward(grad_output, mask, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
