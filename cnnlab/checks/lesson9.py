"""Lesson 9 (LeNet-5): ``lenet5_forward``."""
from __future__ import annotations

import copy
import math

import numpy as np

from cnnlab import functional as F
from cnnlab.checks.engine import Case, Exercise, Variant, shape_str

__all__ = ["EXERCISES", "LENET_KEYS"]

LENET_KEYS = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
              "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias")


def _lenet_model(dtype):
    """A modern LeNet5 of the given dtype, built without touching the student's random stream."""
    from cnnlab import models, nn
    rng = nn.get_rng()
    state = copy.deepcopy(rng.bit_generator.state)
    try:
        return models.LeNet5("modern", dtype=dtype)
    finally:
        rng.bit_generator.state = state


_LENET_SHAPES: dict = {}


def _lenet_shapes():
    if not _LENET_SHAPES:
        _LENET_SHAPES.update({k: v.shape for k, v in _lenet_model(np.float64).state_dict().items()})
    return _LENET_SHAPES


def _lenet_params(rng, dtype):
    params = {}
    for key, shape in _lenet_shapes().items():
        fan_in = int(np.prod(_lenet_shapes()[key.split(".")[0] + ".weight"][1:]))
        bound = 1.0 / math.sqrt(fan_in)
        params[key] = rng.uniform(-bound, bound, size=shape).astype(dtype)
    return params


def _lenet_cases(rng):
    cases = []
    specs = [(1, np.float32, "one image"), (3, np.float32, "a batch of 3"),
             (2, np.float64, "a batch of 2, float64")]
    for i, (n, dtype, what) in enumerate(specs, 1):
        params = _lenet_params(rng, dtype)
        x = rng.random((n, 1, 28, 28)).astype(dtype)
        cases.append(Case(f"random #{i}: {what}, x {shape_str(x.shape)}, random weights", (x, params), {}))
    params = _lenet_params(rng, np.float32)
    x = np.zeros((2, 1, 28, 28), dtype=np.float32)
    x[:, :, 8:20, 12:16] = 1.0
    cases.insert(0, Case("fixed: two images of a bar, x (2, 1, 28, 28)", (x, params), {}))
    return cases


def _lenet_reference(x, params):
    model = _lenet_model(x.dtype)
    model.load_state_dict(params)
    model.eval()
    return model(x)


def _lenet_forward_variant(x, params, act=F.relu, pool="max", flatten="nchw", relu_fc=True,
                           relu_conv=True, relu_last=False, bias=True, softmax=False):
    """LeNet-5 forward with one thing changed (a planted mistake), composed from cnnlab.functional."""
    b = (lambda key: params[key]) if bias else (lambda key: None)
    pool_fn = F.max_pool2d if pool == "max" else F.avg_pool2d
    h = F.conv2d(x, params["conv1.weight"], b("conv1.bias"), padding=2)
    h = pool_fn(act(h) if relu_conv else h, 2)
    h = F.conv2d(h, params["conv2.weight"], b("conv2.bias"))
    h = pool_fn(act(h) if relu_conv else h, 2)
    h = h.transpose(0, 2, 3, 1).reshape(len(h), -1) if flatten == "nhwc" else F.flatten(h)
    h = F.linear(h, params["fc1.weight"], b("fc1.bias"))
    h = act(h) if relu_fc else h
    h = F.linear(h, params["fc2.weight"], b("fc2.bias"))
    h = act(h) if relu_fc else h
    h = F.linear(h, params["fc3.weight"], b("fc3.bias"))
    if relu_last:
        h = act(h)
    if softmax:
        h = F.softmax(h, dim=1)
    return h


def _lv(**changes):
    return lambda x, params: _lenet_forward_variant(x, params, **changes)


_LENET_VARIANTS = (
    Variant("softmax applied", "return the LOGITS (the output of fc3); the softmax belongs to "
            "the loss (cross_entropy), not to the forward pass", _lv(softmax=True)),
    Variant("ReLU after the last layer", "fc3 gives the logits directly, with no activation",
            _lv(relu_last=True)),
    Variant("ReLU missing after the fully connected layers", "fc1 and fc2 are each followed by a "
            "ReLU", _lv(relu_fc=False)),
    Variant("ReLU missing after the convolutions", "conv1 and conv2 are each followed by a ReLU, "
            "then the max pooling", _lv(relu_conv=False)),
    Variant("average pooling instead of max pooling", "the modern LeNet-5 uses max pooling 2x2 "
            "(the 1998 original averaged)", _lv(pool="avg")),
    Variant("tanh instead of ReLU", "the modern LeNet-5 uses ReLU (the 1998 original used tanh)",
            _lv(act=F.tanh)),
    Variant("flattened in the wrong order", "flatten (N, 16, 5, 5) as it is, channel first "
            "(x.reshape(N, -1)); you moved the channels last before flattening", _lv(flatten="nhwc")),
    Variant("biases missing", "every conv and linear layer adds its bias", _lv(bias=False)),
)


EXERCISES = (
    Exercise("lenet5_forward", 9, "lenet5_forward", 3, "a LeNet-5 forward pass from a dict of weights",
             "lenet5_forward(x, params)", _lenet_cases, _lenet_reference, _LENET_VARIANTS,
             allowed_modules=("cnnlab.functional",)),
)
