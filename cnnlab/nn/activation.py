"""Activation layers: ReLU, LeakyReLU, SiLU, Sigmoid and Tanh (elementwise, any shape).

Each calls the functional op and its ``<name>_backward``; Sigmoid and Tanh keep their output,
from which their derivative is cheapest (``output=``).
"""
from __future__ import annotations

from cnnlab import functional as F
from cnnlab._args_pending import check_real
from cnnlab.nn.module import Module

__all__ = ["ReLU", "LeakyReLU", "SiLU", "Sigmoid", "Tanh"]


class _Activation(Module):
    """Elementwise y = f(x); backward calls ``F.<name>_backward(grad_output, x)``.

    ``inplace=True`` is accepted so torch code runs unchanged, but cnnlab never overwrites the
    input (backward needs it); the flag only shows in the repr.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""

    def _fn(self, x):  # pragma: no cover - overridden
        raise NotImplementedError

    def _grad(self, g, x):  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, input):
        self._ctx = input
        return self._fn(input)

    def backward(self, grad_output):
        input = self._saved()
        if not self.needs_input_grad:
            return None
        return self._grad(grad_output, input)


class ReLU(_Activation):
    """max(0, x)."""

    def _fn(self, x):
        return F.relu(x)

    def _grad(self, g, x):
        return F.relu_backward(g, x)


class _OutputActivation(_Activation):
    """An activation whose derivative is cheapest from its output: forward keeps both."""

    def forward(self, input):
        out = self._fn(input)
        self._ctx = (input, out)
        return out

    def backward(self, grad_output):
        input, out = self._saved()
        if not self.needs_input_grad:
            return None
        return self._grad(grad_output, input, output=out)


class Sigmoid(_OutputActivation):
    """1 / (1 + exp(-x)). Keeps its output: the derivative is s * (1 - s)."""

    def _fn(self, x):
        return F.sigmoid(x)

    def _grad(self, g, x, output):
        return F.sigmoid_backward(g, x, output=output)


class Tanh(_OutputActivation):
    """tanh(x), the activation of the 1998 LeNet. Keeps its output: d/dx = 1 - tanh(x)**2."""

    def _fn(self, x):
        return F.tanh(x)

    def _grad(self, g, x, output):
        return F.tanh_backward(g, x, output=output)


class SiLU(_Activation):
    """x * sigmoid(x) (also called swish)."""

    def _fn(self, x):
        return F.silu(x)

    def _grad(self, g, x):
        return F.silu_backward(g, x)


class LeakyReLU(_Activation):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(inplace)
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU")

    def _fn(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def _grad(self, g, x):
        return F.leaky_relu_backward(g, x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")
