"""Callbacks: things that watch :func:`cnnlab.train.loop` (like Keras callbacks).

:class:`ProgressBar` (an ipywidgets bar in Jupyter, text on a terminal) and :class:`LivePlot`
(loss and accuracy curves that move while the model trains). Write your own by subclassing
:class:`Callback` and overriding any of its hooks.
"""
from __future__ import annotations

import contextlib
import io
import math
import sys
import time
from typing import TYPE_CHECKING

import numpy as np

from cnnlab._args import check_choice

if TYPE_CHECKING:
    from cnnlab.train.loop import History

__all__ = ["Callback", "ProgressBar", "LivePlot", "in_jupyter"]


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


class Callback:
    """Base class for things that watch training (like Keras callbacks).

    :func:`cnnlab.train.fit` sets ``self.model``, ``self.history`` and ``self.params`` (a
    dict with ``epochs``, ``steps`` per epoch, ``batch_size``, ``samples``, ``has_val``) and
    then calls the hooks below with a ``logs`` dict. Set ``self.stop_training = True`` in any hook to
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
        self.mode = check_choice(mode, ("auto", "widget", "text"), "mode", "ProgressBar")
        self.file, self.refresh = file, float(refresh)
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
