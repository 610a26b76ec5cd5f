"""``summary(model, input_size)``: a table of every layer's output shape and parameter count.

Convolutions and Linear layers show how their count adds up, e.g. ``(5*5*1+1)*6 = 156``
(their ``parameter_formula()``).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from cnnlab.nn.module import Module

__all__ = ["summary", "Summary", "SummaryRow"]


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
