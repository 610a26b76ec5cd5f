"""Containers: :class:`Sequential`, layers applied in order (and backward in reverse)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from cnnlab.nn.module import Module

__all__ = ["Sequential"]


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
