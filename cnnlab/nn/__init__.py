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

One concept a file: ``module.py`` (Parameter, Module, manual_seed), ``conv.py``,
``pooling.py``, ``activation.py``, ``linear.py`` (Linear, Flatten, Dropout), ``container.py``
(Sequential), ``loss.py`` (CrossEntropyLoss), ``summarize.py`` (summary). Import everything from
``cnnlab.nn``.
"""
from __future__ import annotations

from cnnlab.nn.activation import LeakyReLU, ReLU, Sigmoid, SiLU, Tanh
from cnnlab.nn.container import Sequential
from cnnlab.nn.conv import Conv1d, Conv2d
from cnnlab.nn.linear import Dropout, Flatten, Linear
from cnnlab.nn.loss import CrossEntropyLoss
from cnnlab.nn.module import Module, Parameter, get_rng, manual_seed
from cnnlab.nn.pooling import AvgPool1d, AvgPool2d, LPPool2d, MaxPool1d, MaxPool2d
from cnnlab.nn.summarize import Summary, SummaryRow, summary

__all__ = [
    "Parameter", "Module", "manual_seed", "get_rng",
    "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "LPPool2d",
    "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "SiLU", "Dropout", "Flatten", "Linear",
    "Sequential", "CrossEntropyLoss", "summary", "Summary", "SummaryRow",
]
