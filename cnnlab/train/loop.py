"""The training loop (:func:`fit`), evaluation and prediction.

The loop is PyTorch's, written out once so the lessons can call it::

    for x, y in minibatches(x_train, y_train, batch_size, seed=...):
        logits = model(x)                    # forward (each layer keeps what backward needs)
        loss_value = loss(logits, y)
        optimizer.zero_grad()
        model.backward(loss.backward())      # d loss / d logits, back through every layer
        optimizer.step()

:func:`fit` adds what a course needs around it: per-epoch and per-step history, validation,
callbacks, train/eval modes switched properly, and a clear error when the loss becomes NaN
or infinite.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from cnnlab import data as _data
from cnnlab._args import check_same_length, positive_int
from cnnlab.functional import softmax
from cnnlab.train.callbacks import ProgressBar

__all__ = ["fit", "evaluate", "predict", "predict_proba", "History", "TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the learning rate is (almost always) too large."""


@dataclass
class History:
    """What :func:`fit` returns: one entry per epoch (and per step for ``step_loss``).

    ``train_loss``/``train_acc`` are averages over the epoch's batches (in training mode),
    ``val_loss``/``val_acc`` come from :func:`evaluate` after each epoch (NaN without
    validation data). Accuracies are fractions in [0, 1].
    """
    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    step_loss: list = field(default_factory=list)
    steps_per_epoch: int = 0

    def as_dict(self) -> dict:
        return {"epoch": list(self.epoch), "train_loss": list(self.train_loss),
                "train_acc": list(self.train_acc), "val_loss": list(self.val_loss),
                "val_acc": list(self.val_acc), "epoch_time": list(self.epoch_time),
                "step_loss": list(self.step_loss), "steps_per_epoch": self.steps_per_epoch}

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        last = (f"train_loss={self.train_loss[-1]:.4f}, train_acc={self.train_acc[-1]:.4f}")
        if not math.isnan(self.val_acc[-1]):
            last += f", val_loss={self.val_loss[-1]:.4f}, val_acc={self.val_acc[-1]:.4f}"
        return f"History({len(self.epoch)} epochs, last: {last})"


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def _param_dtype(model) -> np.dtype:
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)


def _prepare_x(model, x) -> np.ndarray:
    """uint8 images -> float (N, 1, H, W) in [0, 1]; floats get a channel axis if needed."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        x = _data.to_nchw(x)
    elif x.ndim == 3 and np.issubdtype(x.dtype, np.floating):
        x = x[:, None]
    dtype = _param_dtype(model)
    if np.issubdtype(x.dtype, np.floating) and x.dtype != dtype:
        x = x.astype(dtype)
    return x


def _split_xy(data, what: str):
    try:
        x, y = data
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a pair (x, y) of images and labels, "
                        f"got {type(data).__name__}") from None
    x, y = np.asarray(x), np.asarray(y)
    check_same_length(x, y, what)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{what}: labels must be integers (class indices), got dtype {y.dtype}")
    return x, y.astype(np.int64, copy=False)


def _lr_of(optimizer) -> float | None:
    with contextlib.suppress(Exception):
        return float(optimizer.param_groups[0]["lr"])
    return None


@contextlib.contextmanager
def _mode(model, training: bool):
    """Switch train/eval for a block, then restore the mode the model was in."""
    before = bool(getattr(model, "training", True))
    model.train(training)
    try:
        yield model
    finally:
        model.train(before)


# --------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------
def _diverged(value: float, epoch: int, batch: int, step: int, lr) -> TrainingDiverged:
    hint = (f"the learning rate (lr={lr:g}) is probably too large: try a lower one, e.g. "
            f"lr={lr / 10:g}" if lr else "try a lower learning rate")
    return TrainingDiverged(
        f"training diverged: the loss became {value} at epoch {epoch + 1}, batch {batch} "
        f"(step {step}); {hint}, or check the input scaling (images in [0, 1] or normalised).")


def _train_epoch(model, loss, optimizer, batches, epoch: int, history: History,
                 callbacks: list) -> tuple[float, float, bool]:
    """One pass over ``batches``: ``(mean loss, accuracy, stop requested by a callback)``."""
    lr = _lr_of(optimizer)
    sum_loss, correct, seen = 0.0, 0, 0
    for batch, (xb, yb) in enumerate(batches, start=1):
        step = len(history.step_loss) + 1              # global, from 1
        logits = model(xb)
        value = float(loss(logits, yb))
        if not math.isfinite(value):
            raise _diverged(value, epoch, batch, step, lr)
        optimizer.zero_grad()
        model.backward(loss.backward())
        optimizer.step()
        n = len(yb)
        hits = int((np.argmax(logits, axis=1) == yb).sum())
        sum_loss += value * n
        correct += hits
        seen += n
        history.step_loss.append(value)
        logs = {"step": step, "batch": batch, "epoch": epoch, "loss": value, "acc": hits / n,
                "size": n, "avg_loss": sum_loss / seen, "avg_acc": correct / seen}
        for cb in callbacks:
            cb.on_batch_end(step, logs)
        if any(cb.stop_training for cb in callbacks):
            return sum_loss / seen, correct / seen, True
    return sum_loss / max(seen, 1), correct / max(seen, 1), False


def _end_epoch(model, loss, val, epoch: int, train: tuple[float, float], t0: float,
               history: History, callbacks: list) -> None:
    """Validate (if ``val``), record the epoch in ``history`` and tell the callbacks."""
    v_loss, v_acc = evaluate(model, loss, val) if val is not None else (math.nan, math.nan)
    elapsed = time.perf_counter() - t0
    history.epoch.append(epoch)
    history.train_loss.append(train[0])
    history.train_acc.append(train[1])
    history.val_loss.append(v_loss)
    history.val_acc.append(v_acc)
    history.epoch_time.append(elapsed)
    logs = {"epoch": epoch, "train_loss": train[0], "train_acc": train[1], "val_loss": v_loss,
            "val_acc": v_acc, "time": elapsed}
    for cb in callbacks:
        cb.on_epoch_end(epoch, logs)


def fit(model, loss, optimizer, train_data, epochs: int, batch_size: int, val_data=None,
        callbacks=None, seed=None, verbose: bool = True) -> History:
    """Train ``model`` with ``loss`` (e.g. ``nn.CrossEntropyLoss()``) and ``optimizer``.

    ``train_data``/``val_data``: pairs ``(x, y)``; uint8 images (N, 28, 28) are converted with
    :func:`cnnlab.data.to_nchw` (scaled to [0, 1]); float images are used as given. Each
    epoch visits every example once in a shuffled order (``seed`` makes it reproducible;
    without it the order comes from ``cnnlab.manual_seed``'s generator). ``verbose=True``
    adds a :class:`ProgressBar` unless ``callbacks`` already holds one.

    The model is in training mode while training and evaluation mode while validating; on
    return it is in the mode it had before. Raises :class:`TrainingDiverged` when the loss
    becomes NaN or infinite.
    """
    epochs = positive_int(epochs, "epochs", minimum=0, noun="integer")
    batch_size = positive_int(batch_size, "batch_size", noun="integer")
    x, y = _split_xy(train_data, "train_data")
    if len(x) == 0:
        raise ValueError("train_data is empty")
    x = _prepare_x(model, x)
    val = None
    if val_data is not None:
        xv, yv = _split_xy(val_data, "val_data")
        val = (_prepare_x(model, xv), yv)
    callbacks = list(callbacks or [])
    if verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.insert(0, ProgressBar())
    rng = np.random.default_rng(seed) if seed is not None else None
    history = History(steps_per_epoch=-(-len(x) // batch_size))
    params = {"epochs": epochs, "steps": history.steps_per_epoch, "batch_size": batch_size,
              "samples": len(x), "has_val": val is not None}
    for cb in callbacks:
        cb.set_context(model, history, params)

    with _mode(model, True):
        try:
            for cb in callbacks:
                cb.on_train_begin({})
            for epoch in range(epochs):
                model.train()
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, {"epoch": epoch})
                t0 = time.perf_counter()
                batches = _data.minibatches(x, y, batch_size, shuffle=True, seed=rng)
                train_loss, train_acc, stop = _train_epoch(model, loss, optimizer, batches,
                                                           epoch, history, callbacks)
                _end_epoch(model, loss, val, epoch, (train_loss, train_acc), t0, history,
                           callbacks)
                if stop or any(cb.stop_training for cb in callbacks):
                    break
        except BaseException as exc:
            for cb in callbacks:
                with contextlib.suppress(Exception):
                    cb.on_train_end({"error": exc})
            raise
        for cb in callbacks:
            cb.on_train_end({})
    return history


# --------------------------------------------------------------------------------------
# evaluate / predict
# --------------------------------------------------------------------------------------
def evaluate(model, loss, data, batch_size: int = 1000):
    """``(mean loss, accuracy)`` of ``model`` on ``data = (x, y)``, in evaluation mode.

    ``loss`` may be None (the loss is then NaN). Accuracy is a fraction in [0, 1].
    """
    x, y = _split_xy(data, "data")
    if len(x) == 0:
        raise ValueError("data is empty")
    x = _prepare_x(model, x)
    total, correct = 0.0, 0
    with _mode(model, False):
        for start in range(0, len(x), int(batch_size)):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            logits = model(xb)
            if loss is not None:
                total += float(loss(logits, yb)) * len(yb)
            correct += int((np.argmax(logits, axis=1) == yb).sum())
    mean_loss = total / len(x) if loss is not None else math.nan
    return mean_loss, correct / len(x)


def _logits(model, x, batch_size: int) -> np.ndarray:
    x = _prepare_x(model, x)
    with _mode(model, False):
        outs = [np.asarray(model(x[s:s + batch_size])) for s in range(0, len(x), int(batch_size))]
    return np.concatenate(outs) if outs else np.zeros((0, 0))


def predict(model, x, batch_size: int = 1000) -> np.ndarray:
    """Predicted class indices (int64, shape (N,)), in evaluation mode."""
    return np.argmax(_logits(model, x, batch_size), axis=1).astype(np.int64)


def predict_proba(model, x, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (softmax of the logits), shape (N, num_classes)."""
    return softmax(_logits(model, x, batch_size), dim=1)
