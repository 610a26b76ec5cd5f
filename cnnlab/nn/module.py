"""The base of every layer: :class:`Parameter`, :class:`Module`, and the random generator.

``Module`` registers the Parameters and Modules assigned to its attributes (as
``torch.nn.Module`` does), so ``parameters()``, ``named_parameters()``, ``state_dict()``,
``train()``/``eval()`` and ``zero_grad()`` find them. The layers in the other files of this
package subclass it (those without parameters through :class:`ParameterFreeLayer`) and use the
two helpers at the end: :func:`init_uniform` (torch's default initialisation) and
:func:`accumulate_grad` (``param.grad += grad``, as torch accumulates).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Iterator

import numpy as np

from cnnlab._args import check_bool, positive_int

# --------------------------------------------------------------------------- randomness

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the generator that parameter initialisation and Dropout draw from.

    Like ``torch.manual_seed``: after ``manual_seed(0)`` the same model built the same way
    gets the same weights, and Dropout draws the same masks. Returns the generator (the same
    object as :func:`get_rng`, re-seeded: ``np.random.default_rng(seed)`` would draw the
    same numbers).
    """
    seed = positive_int(seed, "seed", "manual_seed", minimum=0, noun="integer")
    # Re-seed the SAME generator object, so code that kept get_rng() sees the new seed.
    _rng.bit_generator.state = np.random.PCG64(seed).state
    return _rng


def get_rng() -> np.random.Generator:
    """The module-level ``numpy.random.Generator`` used by initialisation and Dropout."""
    return _rng


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
        mode = check_bool(mode, "mode", "train(mode)")
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


class ParameterFreeLayer(Module):
    """A layer without parameters (activations, pooling, Flatten, Dropout): its backward has
    only the input gradient to compute, and skips even that when ``needs_input_grad`` is False
    (the first layer of a Sequential).

    A subclass's ``forward`` keeps a tuple in ``self._ctx``; ``_input_grad(grad_output, *ctx)``
    returns d loss / d input.
    """

    def backward(self, grad_output):
        saved = self._saved()
        if not self.needs_input_grad:
            return None
        return self._input_grad(grad_output, *saved)

    def _input_grad(self, grad_output, *saved):  # pragma: no cover - overridden
        raise NotImplementedError(f"{type(self).__name__} must implement _input_grad()")


# --------------------------------------------------------------------------- helpers for layers

def init_uniform(shape, fan_in: int, dtype: np.dtype) -> Parameter:
    """A new Parameter drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (the bound of torch's
    ``kaiming_uniform_(a=sqrt(5))``, its default for Conv and Linear weights and biases)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return Parameter(_rng.uniform(-bound, bound, size=shape).astype(dtype))


def accumulate_grad(param: "Parameter", grad: np.ndarray) -> None:
    """param.grad += grad, like torch's accumulation (the first one is kept as is)."""
    if grad.dtype != param.data.dtype:
        grad = grad.astype(param.data.dtype)
    if param.grad is None:
        param.grad = grad
    else:
        param.grad += grad
