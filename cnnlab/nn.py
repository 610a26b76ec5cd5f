"""Layers with a forward and a backward, named and shaped like ``torch.nn``.

A layer here is a thin object around :mod:`cnnlab.functional`: ``forward`` calls the
functional op and keeps what ``backward`` will need (its input, the convolution's
columns, the max-pool winners); ``backward(grad_output)`` calls the matching functional
backward, ADDS the parameter gradients into ``param.grad`` (accumulating, like PyTorch, so
call ``zero_grad()`` between steps) and returns the gradient with respect to the input.
No layer does arithmetic of its own.

A training step therefore reads like PyTorch's, with the backward pass spelled out::

    logits = model(x)                    # forward, every layer caches what it needs
    loss = criterion(logits, y)
    optimizer.zero_grad()
    model.backward(criterion.backward()) # d loss / d logits, back through every layer
    optimizer.step()

Like PyTorch, where an input tensor does not ``require_grad``, a :class:`Sequential` does
not compute the gradient with respect to ITS input (that would be wasted work in training):
``model.backward(...)`` then returns ``None``. Set ``model.needs_input_grad = True`` when you
want it (saliency maps, gradient checks). A single layer used on its own always returns it.

Shapes: images are NCHW ``(N, C, H, W)``, signals NCL ``(N, C, L)``, conv weights
``(C_out, C_in, kH, kW)``, linear weights ``(out_features, in_features)``. Parameters are
float32 unless a layer is built with ``dtype=np.float64`` (gradient checks).
"""
from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from cnnlab import functional as F

__all__ = [
    "Parameter", "Module", "manual_seed", "get_rng",
    "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "LPPool2d",
    "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "SiLU", "Dropout", "Flatten", "Linear",
    "Sequential", "CrossEntropyLoss", "summary", "Summary", "SummaryRow",
]

# --------------------------------------------------------------------------- randomness

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the generator that parameter initialisation and Dropout draw from.

    Like ``torch.manual_seed``: after ``manual_seed(0)`` the same model built the same way
    gets the same weights, and Dropout draws the same masks. Returns the generator (the same
    object as :func:`get_rng`, re-seeded: ``np.random.default_rng(seed)`` would draw the
    same numbers).
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    # Re-seed the SAME generator object, so code that kept get_rng() sees the new seed.
    _rng.bit_generator.state = np.random.PCG64(int(seed)).state
    return _rng


def get_rng() -> np.random.Generator:
    """The module-level ``numpy.random.Generator`` used by initialisation and Dropout."""
    return _rng


# --------------------------------------------------------------------------- validation

def _check_int(value, name: str, layer: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _ntuple(value, n: int, name: str, layer: str, minimum: int) -> tuple[int, ...]:
    """An int or an n-sequence of ints, each >= minimum, as an n-tuple (torch's _pair)."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(
                f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        return tuple(_check_int(v, name, layer, minimum) for v in value)
    v = _check_int(value, name, layer, minimum)
    return (v,) * n


def _padding_arg(value, n: int, layer: str, stride: tuple[int, ...]):
    if isinstance(value, str):
        if value not in ("valid", "same"):
            raise ValueError(
                f"{layer}: padding must be an int, a tuple, 'valid' or 'same', got {value!r}")
        if value == "same" and any(s != 1 for s in stride):
            raise ValueError(
                f"{layer}: padding='same' is not supported for strided convolutions "
                f"(stride={stride}); use stride=1 or give the padding as a number")
        return value
    return _ntuple(value, n, "padding", layer, minimum=0)


def _dtype_arg(dtype, layer: str) -> np.dtype:
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating type such as np.float32, got {dt}")
    return dt


def _pool_arg(value, n: int, name: str, layer: str, minimum: int):
    """Pools keep kernel_size/stride/padding as given (int or tuple), as torch does."""
    if isinstance(value, (tuple, list)):
        return tuple(_ntuple(value, n, name, layer, minimum))
    return _check_int(value, name, layer, minimum)


def _as_tuple(value, n: int) -> tuple:
    return tuple(value) if isinstance(value, tuple) else (value,) * n


def _check_input(x, ndim: int, layer: str, layout: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}: input must be a numpy array of shape {layout}, "
                        f"got {type(x).__name__}")
    if x.ndim != ndim:
        hint = ""
        if x.ndim == ndim - 1:
            hint = " (a single example? add the batch axis with x[None])"
        raise ValueError(f"{layer}: expected a {ndim}-D input {layout}, "
                         f"got shape {tuple(x.shape)}{hint}")


def _accumulate(param: "Parameter", grad: np.ndarray) -> None:
    """param.grad += grad, like torch's accumulation (the first one is kept as is)."""
    if grad.dtype != param.data.dtype:
        grad = grad.astype(param.data.dtype)
    if param.grad is None:
        param.grad = grad
    else:
        param.grad += grad


# --------------------------------------------------------------------------- Parameter

class Parameter:
    """A learnable array: ``.data`` (the values) and ``.grad`` (None until a backward).

    Optimizers update ``.data`` in place; layers add into ``.grad``.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data):
        data = np.asarray(data)
        if data.dtype.kind != "f":
            data = data.astype(np.float32)
        self.data: np.ndarray = data
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def zero_grad(self, set_to_none: bool = True) -> None:
        if set_to_none or self.grad is None:
            self.grad = None
        else:
            self.grad.fill(0)

    def __array__(self, dtype=None, copy=None):
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.data.copy() if copy else self.data
        return self.data.astype(dtype)

    def __repr__(self) -> str:
        return f"Parameter containing:\n{self.data!r}"


# --------------------------------------------------------------------------- Module

class Module:
    """Base class of every layer and model (like ``torch.nn.Module``).

    Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers it, so
    ``parameters()``, ``named_parameters()`` (dotted names such as ``"conv1.weight"``),
    ``children()``, ``state_dict()``, ``train()``/``eval()`` and ``zero_grad()`` find it.

    Subclasses implement ``forward(*inputs)`` (keeping in ``self._ctx`` what backward needs)
    and ``backward(grad_output) -> grad_input``.
    """

    _ctx: Any = None

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        self.needs_input_grad = True
        self._ctx = None

    # ---- attribute registration (as torch) ----
    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() was called: "
                f"call super().__init__() first in {type(self).__name__}.__init__")
        params, modules = d["_parameters"], d["_modules"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            d.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            d.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(a Parameter or None is expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"{name!r} (a Module or None is expected)")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        if "_parameters" in d and name in d["_parameters"]:
            return d["_parameters"][name]
        if "_modules" in d and name in d["_modules"]:
            return d["_modules"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name: str, param: "Parameter | None") -> None:
        if param is None:
            self._modules.pop(name, None)
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: "Module | None") -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"module name must be a non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{name!r}: {type(module).__name__} is not a Module")
        if module is None:
            self._modules[name] = None
        else:
            setattr(self, name, module)

    # ---- running ----
    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def __call__(self, *inputs, **kwargs):
        return self.forward(*inputs, **kwargs)

    def _saved(self):
        """What forward kept for backward; RuntimeError naming the layer if nothing."""
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: run the layer "
                f"(or the model) on an input first, then call backward")
        return ctx

    def clear_cache(self) -> None:
        """Forget every array kept for backward (in this module and below)."""
        for m in self.modules():
            object.__setattr__(m, "_ctx", None)

    # ---- walking the tree ----
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "", _memo=None) -> Iterator[tuple[str, "Module"]]:
        memo = set() if _memo is None else _memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def num_parameters(self) -> int:
        """Total number of learnable numbers (shared parameters counted once)."""
        return sum(p.data.size for p in self.parameters())

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad`` (to None, or to zeros with set_to_none=False)."""
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def train(self, mode: bool = True) -> "Module":
        """Training mode (Dropout active) for this module and all below; returns self."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        mode = bool(mode)
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode (Dropout off), recursively; returns self."""
        return self.train(False)

    # ---- saving and loading ----
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Name -> a COPY of each parameter's values (a snapshot, safe to keep)."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from ``state_dict`` into the parameters (in place, keeping dtype).

        With ``strict=True`` (the default) missing or unexpected names are an error; a
        shape mismatch is always an error. All problems are listed in one RuntimeError.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict expects a mapping name -> array, "
                            f"got {type(state_dict).__name__}")
        own = OrderedDict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append("Missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: "
                            + ", ".join(map(repr, unexpected)))
        values = {}
        for name, p in own.items():
            if name not in state_dict:
                continue
            v = np.asarray(state_dict[name])
            if v.shape != p.data.shape:
                problems.append(f"size mismatch for {name}: copying an array of shape "
                                f"{tuple(v.shape)} from the state_dict, the shape in the "
                                f"current model is {tuple(p.data.shape)}")
            else:
                values[name] = v
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(problems))
        for name, v in values.items():
            np.copyto(own[name].data, v, casting="same_kind")
        return missing, unexpected

    # ---- printing ----
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules))


def _init_uniform(shape, fan_in: int, dtype: np.dtype) -> Parameter:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch's kaiming_uniform_(a=sqrt(5)) bound."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return Parameter(_rng.uniform(-bound, bound, size=shape).astype(dtype))


# --------------------------------------------------------------------------- convolutions

class _ConvNd(Module):
    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, bias=True, *, dtype=None):
        super().__init__()
        layer, n = type(self).__name__, self._nd
        self.in_channels = _check_int(in_channels, "in_channels", layer)
        self.out_channels = _check_int(out_channels, "out_channels", layer)
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", layer, 1)
        self.stride = _ntuple(stride, n, "stride", layer, 1)
        self.padding = _padding_arg(padding, n, layer, self.stride)
        self.dilation = _ntuple(dilation, n, "dilation", layer, 1)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"{layer}: bias must be True or False, got {bias!r}")
        dt = _dtype_arg(dtype, layer)
        fan_in = self.in_channels * math.prod(self.kernel_size)
        self.weight = _init_uniform((self.out_channels, self.in_channels, *self.kernel_size),
                                    fan_in, dt)
        if bias:
            self.bias = _init_uniform((self.out_channels,), fan_in, dt)
        else:
            self.register_parameter("bias", None)

    def _check(self, x, layout: str) -> None:
        layer = type(self).__name__
        _check_input(x, self._nd + 2, layer, layout)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{layer}: expected input with in_channels={self.in_channels} channels "
                f"(axis 1 of {layout}), got shape {tuple(x.shape)} with {x.shape[1]}")

    def forward(self, input):
        self._check(input, self._layout)
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
        _accumulate(self.weight, gw)
        if self.bias is not None:
            _accumulate(self.bias, gb)
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
        zero = (0,) * self._nd
        if self.padding != zero:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in every framework) over NCHW images.

    ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    bias=True, dtype=np.float32)``; ``weight`` (C_out, C_in, kH, kW), ``bias`` (C_out,).
    input (N, C_in, H, W) -> output (N, C_out, OH, OW) with
    OH = floor((H + 2*pad - dilation*(kH-1) - 1)/stride) + 1 (``cnnlab.output_size``).
    """

    _nd = 2
    _layout = "(N, C, H, W)"
    _ops = (F.conv2d, F.conv2d_with_cache, F.conv2d_backward)


class Conv1d(_ConvNd):
    """1-D convolution over NCL signals: weight (C_out, C_in, k), input (N, C_in, L)."""

    _nd = 1
    _layout = "(N, C, L)"
    _ops = (F.conv1d, F.conv1d_with_cache, F.conv1d_backward)


# --------------------------------------------------------------------------- pooling

class _MaxPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices=False, ceil_mode=False):
        super().__init__()
        layer, n = type(self).__name__, self._nd
        if return_indices or ceil_mode:
            raise ValueError(f"{layer}: return_indices=True and ceil_mode=True are not "
                             f"supported by cnnlab (leave them False)")
        self.kernel_size = _pool_arg(kernel_size, n, "kernel_size", layer, 1)
        self.stride = self.kernel_size if stride is None else _pool_arg(
            stride, n, "stride", layer, 1)
        self.padding = _pool_arg(padding, n, "padding", layer, 0)
        self.dilation = _pool_arg(dilation, n, "dilation", layer, 1)
        k, p = _as_tuple(self.kernel_size, n), _as_tuple(self.padding, n)
        if any(2 * pi > ki for pi, ki in zip(p, k)):
            raise ValueError(f"{layer}: padding={self.padding} must be at most half of "
                             f"kernel_size={self.kernel_size}")
        self.return_indices = False
        self.ceil_mode = False

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, ceil_mode=False")


class MaxPool2d(_MaxPoolNd):
    """Max pooling over NCHW; stride defaults to kernel_size; ties go to the first maximum.

    Forward keeps which tap of each window won (small ints, cheaper than PyTorch-style flat
    indices), backward sends each gradient to its winner.
    """

    _nd = 2

    def forward(self, input):
        _check_input(input, 4, "MaxPool2d", "(N, C, H, W)")
        if self.training:
            out, cache = F.max_pool2d_with_cache(input, self.kernel_size, self.stride,
                                                 self.padding, self.dilation)
        else:
            out = F.max_pool2d(input, self.kernel_size, self.stride, self.padding,
                               self.dilation)
            cache = None
        self._ctx = (input, cache)
        return out

    def backward(self, grad_output):
        input, cache = self._saved()
        if not self.needs_input_grad:
            return None
        # without a cache (forward ran in eval mode) the backward finds the winners again
        return F.max_pool2d_backward(grad_output, input, self.kernel_size, self.stride,
                                     self.padding, self.dilation, cache=cache)


class MaxPool1d(_MaxPoolNd):
    """Max pooling over NCL signals."""

    _nd = 1

    def forward(self, input):
        _check_input(input, 3, "MaxPool1d", "(N, C, L)")
        if self.training:
            out, idx = F.max_pool1d(input, self.kernel_size, self.stride, self.padding,
                                    self.dilation, return_indices=True)
        else:
            out = F.max_pool1d(input, self.kernel_size, self.stride, self.padding,
                               self.dilation)
            idx = None
        self._ctx = (input, idx)
        return out

    def backward(self, grad_output):
        input, idx = self._saved()
        if not self.needs_input_grad:
            return None
        return F.max_pool1d_backward(grad_output, input, self.kernel_size, self.stride,
                                     self.padding, self.dilation, indices=idx)


class _AvgPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        layer, n = type(self).__name__, self._nd
        if ceil_mode:
            raise ValueError(f"{layer}: ceil_mode=True is not supported by cnnlab")
        self.kernel_size = _pool_arg(kernel_size, n, "kernel_size", layer, 1)
        self.stride = self.kernel_size if stride is None else _pool_arg(
            stride, n, "stride", layer, 1)
        self.padding = _pool_arg(padding, n, "padding", layer, 0)
        k, p = _as_tuple(self.kernel_size, n), _as_tuple(self.padding, n)
        if any(2 * pi > ki for pi, ki in zip(p, k)):
            raise ValueError(f"{layer}: padding={self.padding} must be at most half of "
                             f"kernel_size={self.kernel_size}")
        self.ceil_mode = False
        self.count_include_pad = bool(count_include_pad)

    def forward(self, input):
        _check_input(input, self._nd + 2, type(self).__name__, self._layout)
        self._ctx = input
        return self._ops[0](input, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)

    def backward(self, grad_output):
        input = self._saved()
        if not self.needs_input_grad:
            return None
        return self._ops[1](grad_output, input, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Average pooling over NCHW (the 1998 LeNet's subsampling, without its trainable
    coefficient); stride defaults to kernel_size."""

    _nd = 2
    _layout = "(N, C, H, W)"
    _ops = (F.avg_pool2d, F.avg_pool2d_backward)


class AvgPool1d(_AvgPoolNd):
    """Average pooling over NCL signals."""

    _nd = 1
    _layout = "(N, C, L)"
    _ops = (F.avg_pool1d, F.avg_pool1d_backward)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # torch keeps AvgPool1d's sizes as 1-tuples (its MaxPool1d keeps them as given)
        self.kernel_size = _as_tuple(self.kernel_size, 1)
        self.stride = _as_tuple(self.stride, 1)
        self.padding = _as_tuple(self.padding, 1)


class LPPool2d(Module):
    """Power-average pooling (sum over the window of x**p) ** (1/p); p=2 is L2 pooling."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        if ceil_mode:
            raise ValueError("LPPool2d: ceil_mode=True is not supported by cnnlab")
        if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) \
                or not norm_type > 0:
            raise ValueError(f"LPPool2d: norm_type must be a positive number, got {norm_type!r}")
        self.norm_type = norm_type
        self.kernel_size = _pool_arg(kernel_size, 2, "kernel_size", "LPPool2d", 1)
        self.stride = None if stride is None else _pool_arg(stride, 2, "stride", "LPPool2d", 1)
        self.ceil_mode = False

    def forward(self, input):
        _check_input(input, 4, "LPPool2d", "(N, C, H, W)")
        self._ctx = input
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride)

    def backward(self, grad_output):
        input = self._saved()
        if not self.needs_input_grad:
            return None
        return F.lp_pool2d_backward(grad_output, input, self.norm_type, self.kernel_size,
                                    self.stride)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode=False")


# --------------------------------------------------------------------------- activations

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
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, "
                            f"got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def _fn(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def _grad(self, g, x):
        return F.leaky_relu_backward(g, x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


# --------------------------------------------------------------------------- others

class Dropout(Module):
    """Zero each element with probability p during training and scale the survivors by
    1/(1-p) ("inverted dropout", as torch), so evaluation needs no rescaling: in eval mode
    the layer is the identity. Masks come from :func:`get_rng` (seed: ``manual_seed``);
    forward keeps the boolean mask for backward."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p (the probability of zeroing an element) must be "
                             f"between 0 and 1, got {p!r}")
        self.p = float(p)
        self.inplace = bool(inplace)   # accepted for torch code; the input is never overwritten

    def forward(self, input):
        if not self.training or self.p == 0.0:
            self._ctx = (None,)
            return input
        out, mask = F.dropout(input, self.p, True, _rng, return_mask=True)
        self._ctx = (mask,)
        return out

    def backward(self, grad_output):
        (mask,) = self._saved()
        if not self.needs_input_grad:
            return None
        if mask is None:  # identity (eval mode or p == 0)
            return grad_output
        return F.dropout_backward(grad_output, mask, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Flatten(Module):
    """Flatten axes start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for name, v in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"Flatten: {name} must be an integer, got {v!r}")
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, input):
        self._ctx = np.shape(input)
        return F.flatten(input, self.start_dim, self.end_dim)

    def backward(self, grad_output):
        shape = self._saved()
        if not self.needs_input_grad:
            return None
        return F.flatten_backward(grad_output, shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Linear(Module):
    """Fully connected layer y = x @ weight.T + bias.

    ``Linear(in_features, out_features, bias=True, dtype=np.float32)``; weight
    (out_features, in_features); input (N, in_features) -> output (N, out_features)
    (any leading axes are allowed, as in torch: (*, in_features) -> (*, out_features)).
    """

    def __init__(self, in_features, out_features, bias=True, *, dtype=None):
        super().__init__()
        self.in_features = _check_int(in_features, "in_features", "Linear")
        self.out_features = _check_int(out_features, "out_features", "Linear")
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"Linear: bias must be True or False, got {bias!r}")
        dt = _dtype_arg(dtype, "Linear")
        self.weight = _init_uniform((self.out_features, self.in_features),
                                    self.in_features, dt)
        if bias:
            self.bias = _init_uniform((self.out_features,), self.in_features, dt)
        else:
            self.register_parameter("bias", None)

    def _check(self, x) -> None:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"Linear: input must be a numpy array of shape (N, in_features), "
                            f"got {type(x).__name__}")
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

    def forward(self, input):
        self._check(input)
        self._ctx = input
        b = self.bias
        return F.linear(input, self.weight.data, None if b is None else b.data)

    def backward(self, grad_output):
        input = self._saved()
        gi, gw, gb = F.linear_backward(grad_output, input, self.weight.data)
        _accumulate(self.weight, gw)
        if self.bias is not None:
            _accumulate(self.bias, gb)
        return gi if self.needs_input_grad else None

    def parameter_formula(self) -> str:
        """The parameter count written out, e.g. ``(400+1)*120 = 48,120``."""
        plus = "+1" if self.bias is not None else ""
        n = (self.in_features + (1 if self.bias is not None else 0)) * self.out_features
        return f"({self.in_features}{plus})*{self.out_features} = {n:,}"

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


# --------------------------------------------------------------------------- containers

class Sequential(Module):
    """Layers applied in order; ``backward`` runs them in reverse.

    ``Sequential(layer, layer, ...)`` names the children "0", "1", ...;
    ``Sequential(OrderedDict([("conv1", ...), ...]))`` uses the given names (so
    ``state_dict`` keys read "conv1.weight"). Indexing, slicing, ``len`` and iteration work
    as in torch.

    ``needs_input_grad`` (default False, as a torch input does not require grad) says
    whether ``backward`` computes the gradient with respect to the Sequential's input; when
    False the first layer skips that work and ``backward`` returns None.
    """

    def __init__(self, *args):
        super().__init__()
        object.__setattr__(self, "_needs_input_grad", False)
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self._add(str(name), m)
        else:
            for i, m in enumerate(args):
                self._add(str(i), m)
        self._sync_input_grad()

    def _add(self, name: str, m) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: {name!r} is a {type(m).__name__}, not a Module "
                            f"(did you forget the parentheses, e.g. nn.ReLU()?)")
        self.add_module(name, m)

    # needs_input_grad is a property here: it is forwarded to the first layer.
    @property
    def needs_input_grad(self) -> bool:
        return self._needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        object.__setattr__(self, "_needs_input_grad", bool(value))
        if "_modules" in self.__dict__:
            self._sync_input_grad()

    def _sync_input_grad(self) -> None:
        layers = [m for m in self._modules.values() if m is not None]
        for i, m in enumerate(layers):
            m.needs_input_grad = self._needs_input_grad if i == 0 else True

    def forward(self, input):
        for m in self._modules.values():
            if m is not None:
                input = m(input)
        return input

    def backward(self, grad_output):
        for m in reversed(self._modules.values()):
            if grad_output is None:
                break
            if m is not None:
                grad_output = m.backward(grad_output)
        return grad_output

    def append(self, module: Module) -> "Sequential":
        self._add(str(len(self._modules)), module)
        self._sync_input_grad()
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def _key(self, idx: int) -> str:
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a Sequential of {n} layers")
        return list(self._modules)[idx % n]

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            items = list(self._modules.items())[idx]
            return Sequential(OrderedDict(items))
        if isinstance(idx, str):
            return self._modules[idx]
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module) -> None:
        key = idx if isinstance(idx, str) else self._key(idx)
        self._add(key, module)
        self._sync_input_grad()

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)[idx] if isinstance(idx, slice) else [self._key(idx)]
        for k in keys:
            del self._modules[k]
        self._sync_input_grad()


# --------------------------------------------------------------------------- losses

class CrossEntropyLoss(Module):
    """Softmax + negative log-likelihood of the true class, from raw logits.

    ``loss = crit(logits, target)`` with logits (N, C) and integer labels (N,);
    ``crit.backward()`` returns d loss / d logits (N, C). reduction: "mean" (default),
    "sum" or "none" (then backward takes grad_output of shape (N,), default ones).
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', "
                             f"got {reduction!r}")
        self.reduction = reduction

    def forward(self, input, target):
        loss = F.cross_entropy(input, target, reduction=self.reduction)
        self._ctx = (input, target)
        return loss

    def backward(self, grad_output=None):
        input, target = self._saved()
        if grad_output is None:
            shape = (input.shape[0],) if self.reduction == "none" else ()
            grad_output = np.ones(shape, dtype=input.dtype)
        return F.cross_entropy_backward(grad_output, input, target, self.reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


# --------------------------------------------------------------------------- summary

@dataclass(frozen=True)
class SummaryRow:
    """One layer of a :class:`Summary`."""
    name: str                      # dotted name, e.g. "conv1" or "0"
    type: str                      # class name, e.g. "Conv2d"
    output_shape: tuple[int, ...]
    num_params: int
    formula: str                   # e.g. "(5*5*1+1)*6 = 156", "" for layers without weights


class Summary:
    """Per-layer table of a model: output shape and parameter count (with its formula).

    ``str(s)`` is the table; ``s.rows`` (list of :class:`SummaryRow`), ``s.total_params``,
    ``s.input_size`` and ``s.output_shape`` hold the numbers. Displays as HTML in Jupyter.
    """

    def __init__(self, model_name: str, input_size: tuple[int, ...], rows: list[SummaryRow],
                 total_params: int):
        self.model_name = model_name
        self.input_size = tuple(input_size)
        self.rows = rows
        self.total_params = total_params

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.rows[-1].output_shape if self.rows else self.input_size

    def _table(self) -> tuple[list[str], list[list[str]]]:
        head = ["Layer (type)", "Output shape", "Param #", "How the parameters add up"]
        body = [[f"{r.name} ({r.type})", str(r.output_shape), f"{r.num_params:,}", r.formula]
                for r in self.rows]
        return head, body

    def __str__(self) -> str:
        head, body = self._table()
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        rule = "=" * (sum(widths) + 2 * (len(widths) - 1))
        lines = [f"{self.model_name}, input {self.input_size}", rule,
                 fmt.format(*head).rstrip(), rule]
        lines += [fmt.format(*r).rstrip() for r in body]
        lines += [rule, f"Total parameters: {self.total_params:,}"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html
        head, body = self._table()
        th = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in head)
        trs = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>"
                                       for c in r) + "</tr>" for r in body)
        return (f"<div><b>{html.escape(self.model_name)}</b>, input "
                f"{html.escape(str(self.input_size))}<table><thead><tr>{th}</tr></thead>"
                f"<tbody>{trs}</tbody></table><b>Total parameters: "
                f"{self.total_params:,}</b></div>")


_EXPECTED_NDIM = {"Conv2d": 4, "MaxPool2d": 4, "AvgPool2d": 4, "LPPool2d": 4,
                  "Conv1d": 3, "MaxPool1d": 3, "AvgPool1d": 3, "Linear": 2}


def summary(model: Module, input_size, dtype=np.float32) -> Summary:
    """Run one forward pass on zeros of ``input_size`` and tabulate every layer.

    ``input_size`` may include the batch axis, ``(1, 1, 28, 28)``, or leave it out,
    ``(1, 28, 28)`` (then a batch of 1 is assumed). Each leaf layer gets a row with its
    output shape and its parameter count; convolutions show (kH*kW*C_in+1)*C_out with the
    numbers, e.g. ``(5*5*1+1)*6 = 156``. The model's mode, caches and random state are left
    as they were.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a cnnlab.nn.Module, got {type(model).__name__}")
    try:
        size = tuple(int(s) for s in input_size)
    except TypeError:
        raise TypeError(f"summary: input_size must be a tuple of ints such as (1, 28, 28), "
                        f"got {input_size!r}") from None
    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    first = next((type(m).__name__ for _, m in leaves if type(m).__name__ in _EXPECTED_NDIM),
                 None)
    if first is not None and len(size) == _EXPECTED_NDIM[first] - 1:
        size = (1,) + size

    outputs: dict[int, tuple[int, ...]] = {}

    def recorder(m):
        fwd = m.forward

        def forward(*args, **kwargs):
            out = fwd(*args, **kwargs)
            outputs[id(m)] = tuple(np.shape(out))
            return out
        return forward

    modes = {id(m): m.training for m in model.modules()}
    try:
        for _, m in leaves:
            object.__setattr__(m, "forward", recorder(m))
        model.eval()
        model(np.zeros(size, dtype=dtype))
    finally:
        for _, m in leaves:
            m.__dict__.pop("forward", None)
        for m in model.modules():
            object.__setattr__(m, "training", modes[id(m)])
        model.clear_cache()

    rows = []
    for name, m in leaves:
        if id(m) not in outputs:
            continue  # a layer the forward pass did not use
        n = sum(p.data.size for p in m.parameters())
        formula = m.parameter_formula() if hasattr(m, "parameter_formula") else ""
        rows.append(SummaryRow(name or type(m).__name__, type(m).__name__, outputs[id(m)],
                               n, formula))
    return Summary(type(model).__name__, size, rows, model.num_parameters())
