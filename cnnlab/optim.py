"""Optimizers with PyTorch's names, arguments and exact update equations.

An optimizer holds a list of :class:`cnnlab.nn.Parameter` and, at each ``step()``, changes
every ``param.data`` IN PLACE using ``param.grad`` (parameters whose grad is None are
skipped). ``zero_grad()`` clears the gradients, which otherwise accumulate::

    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        loss = crit(model(x), y)
        opt.zero_grad()
        model.backward(crit.backward())
        opt.step()

Parameters keep their dtype (float32 stays float32): hyperparameters are held as Python
floats, which NumPy 2 does not let upcast a float32 array.

As in torch, ``params`` may also be a list of dicts ("parameter groups"), each with a
``"params"`` list and optional overrides such as ``"lr"``; ``optimizer.param_groups[i]["lr"]``
may be changed between steps (learning-rate schedules).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnlab._args import finite_number
from cnnlab.nn import Module, Parameter

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``state_dict``/``load_state_dict``."""

    def __init__(self, params, defaults: dict[str, Any]):
        name = type(self).__name__
        if isinstance(params, Module):
            raise TypeError(f"{name}: pass model.parameters(), not the model itself")
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(f"{name}: params must be an iterable of Parameters, such as "
                            f"model.parameters(), got a single {type(params).__name__}")
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of Parameters "
                            f"(model.parameters()), got {type(params).__name__}") from None
        if not params:
            raise ValueError(f"{name} got an empty parameter list: pass model.parameters() "
                             f"of a model that has parameters (is the generator used up?)")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}   # keyed by id(param)
        seen: set[int] = set()
        for group in params:
            self.add_param_group(group, _seen=seen)

    def add_param_group(self, group: dict, _seen: set[int] | None = None) -> None:
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' list")
        plist = group["params"]
        plist = [plist] if isinstance(plist, Parameter) else list(plist)
        for p in plist:
            if not isinstance(p, Parameter):
                raise TypeError(f"{name} can only optimize cnnlab.nn.Parameter objects, got "
                                f"{type(p).__name__} (pass model.parameters())")
        seen = _seen if _seen is not None else {
            id(p) for g in self.param_groups for p in g["params"]}
        for p in plist:
            if id(p) in seen:
                raise ValueError(f"{name}: a parameter appears in more than one group")
            seen.add(id(p))
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._validate(full)
        full["params"] = plist
        self.param_groups.append(full)

    def _validate(self, group: dict) -> None:
        raise NotImplementedError

    @property
    def params(self) -> list[Parameter]:
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (None, or zeros with set_to_none=False)."""
        for p in self.params:
            p.zero_grad(set_to_none)

    def step(self) -> None:
        raise NotImplementedError

    # ---- saving and loading (torch's layout: parameters referred to by position) ----
    def state_dict(self) -> dict[str, Any]:
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {index[pid]: {k: (v.copy() if isinstance(v, np.ndarray) else v)
                              for k, v in s.items()}
                 for pid, s in self.state.items() if pid in index}
        groups = [{**{k: v for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        name = type(self).__name__
        try:
            groups, state = state_dict["param_groups"], state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups' (from optimizer.state_dict())") from None
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the saved state has {len(groups)} "
                             f"parameter group(s), this optimizer has {len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameters in the saved state and "
                                 f"{len(own['params'])} here")
        new_state: dict[int, dict[str, Any]] = {}
        for saved, own in zip(groups, self.param_groups):
            for si, p in zip(saved["params"], own["params"]):
                if si not in state:
                    continue
                entry = {}
                for k, v in state[si].items():
                    if k != "step" and (isinstance(v, np.ndarray) or hasattr(v, "__array__")):
                        v = np.asarray(v)
                        if v.shape != p.data.shape:
                            raise ValueError(
                                f"{name}.load_state_dict: state {k!r} of parameter {si} has "
                                f"shape {v.shape}, the parameter has shape {p.data.shape}")
                        v = v.astype(p.data.dtype, copy=True)
                    entry[k] = v
                new_state[id(p)] = entry
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = v
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD``.

    For each parameter p with gradient g (torch's equations)::

        g = g + weight_decay * p                       (if weight_decay != 0)
        b = g                  on the first step       (if momentum != 0)
        b = momentum * b + (1 - dampening) * g   later
        g = g + momentum * b   if nesterov else   g = b
        p = p - lr * g
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _validate(self, g: dict) -> None:
        for k in ("lr", "momentum", "dampening", "weight_decay"):
            g[k] = finite_number(g[k], k, "SGD")
        if g["lr"] < 0:
            raise ValueError(f"SGD: invalid learning rate lr={g['lr']} (it must be >= 0; "
                             f"typical values are 0.001 to 0.1)")
        if g["momentum"] < 0:
            raise ValueError(f"SGD: invalid momentum={g['momentum']} (it must be >= 0; 0.9 is "
                             f"typical)")
        if g["weight_decay"] < 0:
            raise ValueError(f"SGD: invalid weight_decay={g['weight_decay']} (it must be >= 0)")
        g["nesterov"] = bool(g["nesterov"])
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("SGD: nesterov=True requires momentum > 0 and dampening = 0")

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            wd = float(group["weight_decay"])
            nesterov = group["nesterov"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if wd != 0:
                    g = g + wd * p.data
                if momentum != 0:
                    state = self.state.setdefault(id(p), {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = np.array(g, dtype=p.data.dtype, copy=True)
                        state["momentum_buffer"] = buf
                    else:
                        buf *= momentum
                        if dampening == 0:
                            buf += g
                        else:
                            buf += (1.0 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                p.data -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with torch's exact equations (``torch.optim.Adam``).

    At step t, for each parameter p with gradient g::

        g = g + weight_decay * p                      (if weight_decay != 0: L2, not AdamW)
        m = beta1 * m + (1 - beta1) * g               (first moment, m0 = 0)
        v = beta2 * v + (1 - beta2) * g * g           (second moment, v0 = 0)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _validate(self, g: dict) -> None:
        for k in ("lr", "eps", "weight_decay"):
            g[k] = finite_number(g[k], k, "Adam")
        if g["lr"] < 0:
            raise ValueError(f"Adam: invalid learning rate lr={g['lr']} (it must be >= 0; "
                             f"1e-3 is the usual default)")
        if g["eps"] < 0:
            raise ValueError(f"Adam: invalid eps={g['eps']} (it must be >= 0)")
        if g["weight_decay"] < 0:
            raise ValueError(f"Adam: invalid weight_decay={g['weight_decay']} (must be >= 0)")
        betas = g["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2) such as (0.9, 0.999), "
                             f"got {betas!r}")
        b1, b2 = (finite_number(b, "betas", "Adam") for b in betas)
        for i, b in enumerate((b1, b2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Adam: invalid beta parameter at index {i}: {b} (each beta "
                                 f"must be in [0, 1); the defaults are (0.9, 0.999))")
        g["betas"] = (b1, b2)

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                state = self.state.get(id(p))
                if state is None:
                    state = self.state[id(p)] = {
                        "step": 0,
                        "exp_avg": np.zeros_like(p.data),
                        "exp_avg_sq": np.zeros_like(p.data),
                    }
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                if wd != 0:
                    g = g + wd * p.data
                m += (1.0 - beta1) * (g - m)          # torch: exp_avg.lerp_(g, 1 - beta1)
                v *= beta2
                v += (1.0 - beta2) * (g * g)          # torch: exp_avg_sq.mul_().addcmul_()
                bias_correction1 = 1.0 - beta1 ** t
                bias_correction2 = 1.0 - beta2 ** t
                step_size = lr / bias_correction1
                denom = np.sqrt(v)
                denom /= math.sqrt(bias_correction2)
                denom += eps
                p.data -= step_size * (m / denom)
