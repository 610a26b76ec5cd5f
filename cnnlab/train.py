"""Training loops, evaluation, callbacks, saving models, and the ``cnnlab train`` command.

The loop is PyTorch's, written out once so the lessons can call it::

    for x, y in minibatches(x_train, y_train, batch_size, seed=...):
        logits = model(x)                    # forward (each layer keeps what backward needs)
        loss_value = loss(logits, y)
        optimizer.zero_grad()
        model.backward(loss.backward())      # d loss / d logits, back through every layer
        optimizer.step()

:func:`fit` adds what a course needs around it: per-epoch and per-step history, validation,
callbacks (a progress bar that is a widget in Jupyter and text on a terminal, a live plot),
train/eval modes switched properly, and a clear error when the loss becomes NaN or infinite.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnlab import data as _data

__all__ = [
    "fit", "evaluate", "predict", "predict_proba", "confusion_matrix", "History",
    "TrainingDiverged", "Callback", "ProgressBar", "LivePlot", "save_model", "load_model",
    "add_cli", "in_jupyter",
]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the learning rate is (almost always) too large."""


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def in_jupyter() -> bool:
    """True inside a running IPython kernel (Jupyter), without importing IPython."""
    ip = sys.modules.get("IPython")
    if ip is None:
        return False
    try:
        shell = ip.get_ipython()
    except Exception:  # pragma: no cover - exotic IPython states
        return False
    if shell is None:
        return False
    return type(shell).__name__ == "ZMQInteractiveShell" or "IPKernelApp" in getattr(
        shell, "config", {})


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
    if len(x) != len(y):
        raise ValueError(f"{what}: x and y must have the same length, got {len(x)} images "
                         f"and {len(y)} labels")
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
# History and callbacks
# --------------------------------------------------------------------------------------
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


class Callback:
    """Base class for things that watch training (like Keras callbacks).

    :func:`fit` sets ``self.model``, ``self.history`` and ``self.params`` (a dict with
    ``epochs``, ``steps`` per epoch, ``batch_size``, ``samples``, ``has_val``) and then calls
    the hooks below with a ``logs`` dict. Set ``self.stop_training = True`` in any hook to
    stop after the current batch.

    Batch logs: ``step`` (global, from 1), ``batch`` (within the epoch, from 1), ``epoch``
    (from 0), ``loss``, ``acc``, ``size``. Epoch logs: ``epoch``, ``train_loss``,
    ``train_acc``, ``val_loss``, ``val_acc``, ``time``.
    """

    model = None
    history: History | None = None
    params: dict = {}
    stop_training = False

    def set_context(self, model, history: History, params: dict) -> None:
        self.model, self.history, self.params = model, history, dict(params)
        self.stop_training = False

    def on_train_begin(self, logs=None): ...
    def on_epoch_begin(self, epoch: int, logs=None): ...
    def on_batch_end(self, step: int, logs=None): ...
    def on_epoch_end(self, epoch: int, logs=None): ...
    def on_train_end(self, logs=None): ...


def _pct(v: float) -> str:
    return "  n/a" if v is None or math.isnan(v) else f"{100 * v:5.1f}%"


def _epoch_summary(logs: dict, epochs: int) -> str:
    s = (f"Epoch {logs['epoch'] + 1}/{epochs} - {logs['time']:.1f}s - loss "
         f"{logs['train_loss']:.4f} - acc {_pct(logs['train_acc'])}")
    if not math.isnan(logs.get("val_loss", math.nan)) or not math.isnan(
            logs.get("val_acc", math.nan)):
        s += f" - val_loss {logs['val_loss']:.4f} - val_acc {_pct(logs['val_acc'])}"
    return s


class ProgressBar(Callback):
    """Training progress: an ipywidgets bar and label in Jupyter, text on a terminal.

    ``mode``: "auto" (widget in a running Jupyter kernel, else text), "widget" or "text".
    Text mode writes to ``file`` (default ``sys.stdout``): on a terminal the current line is
    rewritten with carriage returns (at most every ``refresh`` seconds); when the output is
    not a terminal (a log file, a pipe, CI) it prints one line per epoch.

    Widget mode prints nothing: the bar shows the running epoch, and one line per finished
    epoch is added below it, with the epoch's time split into training and validation
    (``train 0.7 s + eval 0.6 s``); the total is ``History.epoch_time``. ``times`` holds
    ``(train_seconds, eval_seconds)`` per finished epoch, in both modes.
    """

    def __init__(self, mode: str = "auto", file=None, refresh: float = 0.1):
        if mode not in ("auto", "widget", "text"):
            raise ValueError(f"ProgressBar: mode must be 'auto', 'widget' or 'text', "
                             f"got {mode!r}")
        self.mode, self.file, self.refresh = mode, file, float(refresh)
        self.widget = None
        self.times = []
        self._last = 0.0
        self._t_batch = None

    # -- shared --
    def _use_widget(self) -> bool:
        if self.mode == "text":
            return False
        if self.mode == "widget":
            return True
        if not in_jupyter():
            return False
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return False
        return True

    @property
    def _stream(self):
        return self.file if self.file is not None else sys.stdout

    def on_train_begin(self, logs=None):
        self.times = []
        self._widget_mode = self._use_widget()
        self._tty = (not self._widget_mode) and bool(
            getattr(self._stream, "isatty", lambda: False)())
        if self._widget_mode:
            import ipywidgets as w
            self._bar = w.IntProgress(min=0, max=max(self.params.get("steps", 1), 1),
                                      description="Epoch 1", bar_style="info",
                                      layout=w.Layout(width="50%"))
            self._label = w.HTML("starting...")
            self._log = w.HTML("")
            self.widget = w.VBox([w.HBox([self._bar, self._label]), self._log])
            if in_jupyter():
                with contextlib.suppress(Exception):
                    from IPython.display import display
                    display(self.widget)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._t_batch = None
        self._last = 0.0
        if self._widget_mode:
            self._bar.value = 0
            self._bar.description = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}"

    def _running_line(self, logs) -> str:
        steps = self.params.get("steps", 0)
        done = logs["batch"]
        width = 25
        filled = int(width * done / steps) if steps else 0
        bar = ("=" * filled + (">" if filled < width else ""))[:width]
        elapsed = time.perf_counter() - self._epoch_start
        return (f"Epoch {logs['epoch'] + 1}/{self.params.get('epochs', '?')} "
                f"[{bar:<{width}}] {done}/{steps} - {elapsed:.1f}s - loss "
                f"{logs['avg_loss']:.4f} - acc {_pct(logs['avg_acc'])}")

    def on_batch_end(self, step, logs=None):
        now = self._t_batch = time.perf_counter()     # the end of training, at the last batch
        last_batch = logs["batch"] == self.params.get("steps")
        if now - self._last < self.refresh and not last_batch:
            return
        self._last = now
        if self._widget_mode:
            self._bar.value = logs["batch"]
            self._label.value = (f"{logs['batch']}/{self.params.get('steps')} &middot; loss "
                                 f"{logs['avg_loss']:.4f} &middot; acc {_pct(logs['avg_acc'])}")
        elif self._tty:
            line = self._running_line(logs)
            self._stream.write("\r" + line + "\x1b[K")
            self._stream.flush()

    def _split_time(self, total: float):
        """(train, eval) seconds of the epoch that just ended; they add up to ``total``."""
        if self._t_batch is None:
            return total, 0.0
        train_s = min(max(self._t_batch - self._epoch_start, 0.0), total)
        return train_s, total - train_s

    def _widget_line(self, logs, train_s, eval_s) -> str:
        t = f"{logs['time']:.1f} s"
        if self.params.get("has_val"):
            t += f" (train {train_s:.1f} s + eval {eval_s:.1f} s)"
        s = (f"<b>Epoch {logs['epoch'] + 1}/{self.params.get('epochs', '?')}</b> &middot; {t} "
             f"&middot; loss {logs['train_loss']:.4f} &middot; acc "
             f"{_pct(logs['train_acc']).strip()}")
        if not math.isnan(logs.get("val_loss", math.nan)) or not math.isnan(
                logs.get("val_acc", math.nan)):
            s += (f" &middot; val_loss {logs['val_loss']:.4f} &middot; val_acc "
                  f"{_pct(logs['val_acc']).strip()}")
        return s

    def on_epoch_end(self, epoch, logs=None):
        line = _epoch_summary(logs, self.params.get("epochs", 0))
        train_s, eval_s = self._split_time(logs["time"])
        self.times.append((train_s, eval_s))
        if self._widget_mode:
            # the bar's label says the epoch is done; its numbers are on the line below
            # (once: no second, plain-text copy of them)
            steps = self.params.get("steps")
            self._bar.value = self._bar.max
            self._label.value = f"{steps}/{steps} batches, done"
            self._log.value += f"<div>{self._widget_line(logs, train_s, eval_s)}</div>"
        elif self._tty:
            self._stream.write("\r" + line + "\x1b[K\n")
            self._stream.flush()
        else:
            print(line, file=self._stream, flush=True)

    def on_train_end(self, logs=None):
        if self._widget_mode:
            self._bar.bar_style = "danger" if logs and logs.get("error") else "success"
        elif self._tty and logs and logs.get("error"):
            self._stream.write("\n")
            self._stream.flush()


class LivePlot(Callback):
    """Loss and accuracy curves that move while the model trains.

    The figure is redrawn after every epoch and, during an epoch, at most every
    ``update_every`` seconds, so even a one-epoch run (quick mode) shows its curves growing.
    Faint lines are per-step values (smoothed over ``smooth`` steps); dots are epoch averages
    and, with validation data, validation results. Axes are fixed from the start (x from 0 to
    the number of epochs, accuracy 0-100 %) so nothing jumps as points arrive.

    In Jupyter the figure is shown once and updated in place (a display handle); elsewhere
    it is only kept up to date in ``self.figure`` (a matplotlib ``Figure``, no GUI needed),
    e.g. to save it with ``live.figure.savefig(...)``.
    """

    def __init__(self, figsize=(9.0, 3.4), show_steps: bool = True, update_every: float = 1.0,
                 smooth: int = 20):
        self.figsize, self.show_steps = figsize, show_steps
        self.update_every, self.smooth = float(update_every), max(1, int(smooth))
        self.figure = None
        self._handle = None
        self._step_acc: list = []
        self._last_draw = 0.0

    def on_train_begin(self, logs=None):
        from matplotlib.figure import Figure
        self.figure = Figure(figsize=self.figsize, layout="constrained")
        self._ax_loss, self._ax_acc = self.figure.subplots(1, 2)
        self._step_acc = []
        self._draw()
        if in_jupyter():
            with contextlib.suppress(Exception):
                from IPython.display import display
                self._handle = display(self._png(), display_id=True)
        self._last_draw = time.perf_counter()

    def _png(self):
        from IPython.display import Image
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=90)
        return Image(data=buf.getvalue(), format="png")

    def _smoothed(self, values):
        v = np.asarray(values, dtype=float)
        k = min(self.smooth, len(v))
        if k <= 1:
            return v
        c = np.cumsum(np.insert(v, 0, 0.0))
        head = c[1:k] / np.arange(1, k)                  # growing window at the start
        return np.concatenate([head, (c[k:] - c[:-k]) / k])

    def _draw(self):
        h = self.history
        ax, bx = self._ax_loss, self._ax_acc
        ax.clear()
        bx.clear()
        ax.set_title("loss")
        bx.set_title("accuracy")
        for a in (ax, bx):
            a.set_xlabel("epoch")
            a.grid(alpha=0.3)
        params = getattr(self, "params", None) or {}
        epochs = max(1, int(params.get("epochs") or (len(h.epoch) if h is not None else 1) or 1))
        spe = (h.steps_per_epoch if h is not None else 0) or params.get("steps") or 0
        if h is not None and h.step_loss and self.show_steps and spe:
            steps = np.arange(1, len(h.step_loss) + 1) / spe
            ax.plot(steps, self._smoothed(h.step_loss), color="C0", alpha=0.45, lw=1.0,
                    label="train (per step)")
            if self._step_acc:
                s_acc = np.arange(1, len(self._step_acc) + 1) / spe
                bx.plot(s_acc, 100 * self._smoothed(self._step_acc), color="C0", alpha=0.45,
                        lw=1.0, label="train (per step)")
        if h is not None and h.epoch:
            ep = np.asarray(h.epoch) + 1
            ax.plot(ep, h.train_loss, "o-", color="C0", label="train (epoch)")
            bx.plot(ep, 100 * np.asarray(h.train_acc), "o-", color="C0", label="train (epoch)")
            if not all(math.isnan(v) for v in h.val_loss):
                ax.plot(ep, h.val_loss, "s-", color="C1", label="validation")
                bx.plot(ep, 100 * np.asarray(h.val_acc), "s-", color="C1", label="validation")
        ax.set_xlim(0, epochs + 0.05)
        bx.set_xlim(0, epochs + 0.05)
        ax.set_ylim(bottom=0)
        bx.set_ylim(0, 100)
        bx.set_ylabel("%")
        if ax.lines:
            ax.legend(loc="upper right", fontsize=8)
            bx.legend(loc="lower right", fontsize=8)

    def _refresh(self):
        self._draw()
        if self._handle is not None:
            with contextlib.suppress(Exception):
                self._handle.update(self._png())
        self._last_draw = time.perf_counter()

    def on_batch_end(self, step, logs=None):
        if logs and "acc" in logs:
            self._step_acc.append(float(logs["acc"]))
        if self.figure is not None and time.perf_counter() - self._last_draw >= self.update_every:
            self._refresh()

    def on_epoch_end(self, epoch, logs=None):
        self._refresh()

    def on_train_end(self, logs=None):
        self._refresh()


# --------------------------------------------------------------------------------------
# fit / evaluate / predict
# --------------------------------------------------------------------------------------
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
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    x, y = _split_xy(train_data, "train_data")
    if len(x) == 0:
        raise ValueError("train_data is empty")
    x = _prepare_x(model, x)
    if val_data is not None:
        xv, yv = _split_xy(val_data, "val_data")
        xv = _prepare_x(model, xv)
    callbacks = list(callbacks or [])
    if verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.insert(0, ProgressBar())
    rng = np.random.default_rng(seed) if seed is not None else None
    steps = -(-len(x) // int(batch_size))
    history = History(steps_per_epoch=steps)
    params = {"epochs": int(epochs), "steps": steps, "batch_size": int(batch_size),
              "samples": len(x), "has_val": val_data is not None}
    for cb in callbacks:
        cb.set_context(model, history, params)

    lr = _lr_of(optimizer)
    global_step = 0
    with _mode(model, True):
        try:
            for cb in callbacks:
                cb.on_train_begin({})
            for epoch in range(int(epochs)):
                model.train()
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, {"epoch": epoch})
                t0 = time.perf_counter()
                sum_loss, correct, seen = 0.0, 0, 0
                stop = False
                batches = _data.minibatches(x, y, int(batch_size), shuffle=True, seed=rng)
                for batch, (xb, yb) in enumerate(batches, start=1):
                    global_step += 1
                    logits = model(xb)
                    value = float(loss(logits, yb))
                    if not math.isfinite(value):
                        hint = (f"the learning rate (lr={lr:g}) is probably too large: try a "
                                f"lower one, e.g. lr={lr / 10:g}" if lr else
                                "try a lower learning rate")
                        raise TrainingDiverged(
                            f"training diverged: the loss became {value} at epoch {epoch + 1}, "
                            f"batch {batch} (step {global_step}); {hint}, or check the input "
                            f"scaling (images in [0, 1] or normalised).")
                    optimizer.zero_grad()
                    model.backward(loss.backward())
                    optimizer.step()
                    n = len(yb)
                    hits = int((np.argmax(logits, axis=1) == yb).sum())
                    sum_loss += value * n
                    correct += hits
                    seen += n
                    history.step_loss.append(value)
                    logs = {"step": global_step, "batch": batch, "epoch": epoch, "loss": value,
                            "acc": hits / n, "size": n, "avg_loss": sum_loss / seen,
                            "avg_acc": correct / seen}
                    for cb in callbacks:
                        cb.on_batch_end(global_step, logs)
                    if any(cb.stop_training for cb in callbacks):
                        stop = True
                        break
                if val_data is not None:
                    v_loss, v_acc = evaluate(model, loss, (xv, yv), batch_size=1000)
                else:
                    v_loss = v_acc = math.nan
                elapsed = time.perf_counter() - t0
                history.epoch.append(epoch)
                history.train_loss.append(sum_loss / max(seen, 1))
                history.train_acc.append(correct / max(seen, 1))
                history.val_loss.append(v_loss)
                history.val_acc.append(v_acc)
                history.epoch_time.append(elapsed)
                logs = {"epoch": epoch, "train_loss": history.train_loss[-1],
                        "train_acc": history.train_acc[-1], "val_loss": v_loss,
                        "val_acc": v_acc, "time": elapsed}
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
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
    from cnnlab.functional import softmax
    return softmax(_logits(model, x, batch_size), dim=1)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of examples of true class ``i`` predicted as ``j`` (int64)."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} "
                         f"and {len(y_pred)}")
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(f"{name} must be in [0, num_classes) = [0, {num_classes}), found "
                             f"values from {v.min()} to {v.max()}")
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


# --------------------------------------------------------------------------------------
# Saving and loading
# --------------------------------------------------------------------------------------
_FORMAT = "cnnlab.model"


def _describe(model) -> dict:
    return {"format": _FORMAT, "version": 1, "class": type(model).__name__,
            "module": type(model).__module__, "variant": getattr(model, "variant", None),
            "num_classes": getattr(model, "num_classes", None),
            "parameters": {name: {"shape": list(p.data.shape), "dtype": str(p.data.dtype)}
                           for name, p in model.named_parameters()}}


def _arch(meta: dict) -> str:
    s = meta.get("class", "?")
    if meta.get("variant") is not None:
        s += f"(variant={meta['variant']!r})"
    return s


def save_model(model, path) -> Path:
    """Save ``model``'s parameters and a description of its architecture to ``path`` (.npz).

    The file holds ``state_dict()`` plus the class name, variant and parameter shapes, so
    :func:`load_model` can say clearly when it does not fit. Written atomically (a temporary
    file renamed into place). Returns the path.
    """
    path = Path(path)
    meta = _describe(model)
    arrays = {f"state/{name}": value for name, value in model.state_dict().items()}
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, __meta__=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def load_model(model, path):
    """Load parameters saved by :func:`save_model` into ``model`` (in place); returns it.

    Raises ``ValueError`` naming both architectures when the file was saved from a different
    class, variant or parameter shapes (build the same architecture first).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_model: no such file: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"load_model: {path} is not a model file saved by "
                         f"cnnlab.train.save_model ({exc})") from exc
    with archive:
        if "__meta__" not in archive.files:
            raise ValueError(f"load_model: {path} is not a model file saved by "
                             f"cnnlab.train.save_model (no architecture description inside)")
        meta = json.loads(str(archive["__meta__"]))
        state = {k[len("state/"):]: archive[k] for k in archive.files if k.startswith("state/")}
    mine = _describe(model)
    problems = []
    if meta.get("class") != mine["class"] or meta.get("variant") != mine["variant"]:
        problems.append(f"the file holds a {_arch(meta)}, the model is a {_arch(mine)}")
    saved, own = meta.get("parameters", {}), mine["parameters"]
    for name in own:
        if name not in saved:
            problems.append(f"parameter {name!r} {tuple(own[name]['shape'])} is not in the file")
        elif saved[name]["shape"] != own[name]["shape"]:
            problems.append(f"parameter {name!r}: shape {tuple(saved[name]['shape'])} in the "
                            f"file, {tuple(own[name]['shape'])} in the model")
    for name in saved:
        if name not in own:
            problems.append(f"the file has parameter {name!r} that the model does not have")
    if problems:
        hint = f"build a {_arch(meta)} and load into it" if meta.get("class") else ""
        raise ValueError(f"load_model: {path} does not match this model's architecture:\n  - "
                         + "\n  - ".join(problems) + (f"\n({hint})" if hint else ""))
    model.load_state_dict(state)
    return model


# --------------------------------------------------------------------------------------
# Command line: cnnlab train
# --------------------------------------------------------------------------------------
_QUICK_TRAIN, _QUICK_TEST, _QUICK_EPOCHS = 4000, 1000, 2
_DATASETS = {
    "mnist": ("load_mnist", "MNIST_MEAN", "MNIST_STD"),
    "fashion-mnist": ("load_fashion_mnist", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD"),
}


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Register ``cnnlab train`` on an argparse sub-parsers object."""
    p = subparsers.add_parser(
        "train", help="train LeNet-5 on MNIST or Fashion-MNIST",
        description="Train LeNet-5 on MNIST or Fashion-MNIST and report the test accuracy. "
                    "With CNNLAB_QUICK=1 it trains on a small subset (for tests and CI).")
    p.add_argument("--dataset", choices=sorted(_DATASETS), default="mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                   help="SGD with momentum 0.9 (default) or Adam")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default 0.05 for SGD, 0.001 for Adam)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variant", choices=("modern", "faithful"), default="modern")
    p.add_argument("--out", default=None, help="save the trained model here (.npz)")
    p.add_argument("--data-root", default=None,
                   help="folder holding the dataset's four IDX files (default: $CNNLAB_DATA/"
                        "<dataset>, then ~/.cache/cnnlab/<dataset>)")
    p.set_defaults(func=_cli_train)
    return p


def _fashion_available() -> bool:
    try:
        _data.load_fashion_mnist(download=False, verbose=False)
    except (_data.DatasetUnavailable, _data.IDXFormatError):
        return False
    return True


def _cli_train(args) -> int:
    from cnnlab import models, nn, optim, quick_mode

    def fail(msg: str) -> int:
        print(f"cnnlab train: error: {msg}", file=sys.stderr)
        return 1

    if args.epochs < 1:
        return fail(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        return fail(f"--batch-size must be at least 1, got {args.batch_size}")
    loader_name, mean_name, std_name = _DATASETS[args.dataset]
    t_start = time.perf_counter()
    try:
        (x_train, y_train), (x_test, y_test) = getattr(_data, loader_name)(args.data_root)
    except (_data.DatasetUnavailable, _data.IDXFormatError) as exc:
        hint = ""
        if args.dataset == "mnist" and _fashion_available():
            hint = "\nHint: Fashion-MNIST is available on this machine: --dataset fashion-mnist"
        return fail(str(exc) + hint)
    epochs = args.epochs
    if quick_mode():
        rng = np.random.default_rng(args.seed)
        tr = rng.permutation(len(x_train))[:_QUICK_TRAIN]
        te = rng.permutation(len(x_test))[:_QUICK_TEST]
        x_train, y_train, x_test, y_test = x_train[tr], y_train[tr], x_test[te], y_test[te]
        epochs = min(epochs, _QUICK_EPOCHS)
        print(f"CNNLAB_QUICK=1: quick mode, training on {len(x_train):,} images for {epochs} "
              f"epoch(s) and testing on {len(x_test):,} (unset CNNLAB_QUICK for the full run).")
    mean, std = getattr(_data, mean_name), getattr(_data, std_name)
    xtr = _data.to_nchw(x_train, mean, std)
    xte = _data.to_nchw(x_test, mean, std)

    nn.manual_seed(args.seed)
    model = models.LeNet5(args.variant)
    if args.optimizer == "sgd":
        lr = 0.05 if args.lr is None else args.lr
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        lr = 1e-3 if args.lr is None else args.lr
        opt = optim.Adam(model.parameters(), lr=lr)
    print(f"Training LeNet-5 ({args.variant}) on {args.dataset}: {len(x_train):,} images, "
          f"{epochs} epoch(s), batch {args.batch_size}, {args.optimizer} lr={lr:g}, "
          f"seed {args.seed}", flush=True)
    criterion = nn.CrossEntropyLoss()
    try:
        fit(model, criterion, opt, (xtr, y_train), epochs, args.batch_size,
            val_data=(xte, y_test), seed=args.seed, callbacks=[ProgressBar("text")])
    except TrainingDiverged as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    test_loss, test_acc = evaluate(model, criterion, (xte, y_test))
    elapsed = time.perf_counter() - t_start
    print(f"Test accuracy: {100 * test_acc:.2f}% ({round(test_acc * len(y_test)):,}/"
          f"{len(y_test):,}), test loss {test_loss:.4f}")
    print(f"Time taken: {elapsed:.1f} s")
    if args.out:
        try:
            saved = save_model(model, args.out)
        except OSError as exc:
            return fail(f"cannot save the model to {args.out}: {exc}")
        print(f"Saved the model to {saved}")
    return 0
