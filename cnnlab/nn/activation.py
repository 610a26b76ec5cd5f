"""Activation layers: ReLU, LeakyReLU, SiLU, Sigmoid and Tanh (elementwise, any shape).

Each calls the functional op and its ``<name>_backward``. Forward keeps its input and its
output (the next layer holds that output anyway): Sigmoid's and Tanh's derivatives are cheapest
from the output (``output=``).
"""
from __future__ import annotations

from cnnlab import functional as F
from cnnlab._args import real_number
from cnnlab.nn.module import ParameterFreeLayer

__all__ = ["ReLU", "LeakyReLU", "SiLU", "Sigmoid", "Tanh"]


class _Activation(ParameterFreeLayer):
    """Elementwise y = f(x) with ``_ops = (F.<name>, F.<name>_backward)``; with
    ``_grad_from_output`` the functional backward is given the forward's output (``output=``).

    ``inplace=True`` is accepted so torch code runs unchanged, but cnnlab never overwrites the
    input (backward needs it); the flag only shows in the repr.
    """

    _ops: tuple = ()
    _grad_from_output = False

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""

    def _fn(self, x):
        return self._ops[0](x)

    def _input_grad(self, g, x, out):
        if self._grad_from_output:
            return self._ops[1](g, x, output=out)
        return self._ops[1](g, x)

    def forward(self, input):
        out = self._fn(input)
        self._ctx = (input, out)
        return out


class ReLU(_Activation):
    """max(0, x)."""

    _ops = (F.relu, F.relu_backward)


class LeakyReLU(_Activation):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(inplace)
        self.negative_slope = real_number(negative_slope, "negative_slope", "LeakyReLU")

    def _fn(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def _input_grad(self, g, x, out):
        return F.leaky_relu_backward(g, x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class SiLU(_Activation):
    """x * sigmoid(x) (also called swish)."""

    _ops = (F.silu, F.silu_backward)


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)). The derivative comes from the output: s * (1 - s)."""

    _ops = (F.sigmoid, F.sigmoid_backward)
    _grad_from_output = True


class Tanh(_Activation):
    """tanh(x), the activation of the 1998 LeNet. The derivative comes from the output:
    1 - tanh(x)**2."""

    _ops = (F.tanh, F.tanh_backward)
    _grad_from_output = True
