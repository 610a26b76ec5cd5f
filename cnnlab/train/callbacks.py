"""Callbacks: things that watch :func:`cnnlab.train.fit` (like Keras callbacks).

:class:`ProgressBar` (an ipywidgets bar in Jupyter, text on a terminal). Write your own by
subclassing :class:`Callback` and overriding any of its hooks; ``cnnlab.viz.LivePlot`` (loss and
accuracy curves that move while the model trains) is one, drawn where the figures live.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from typing import TYPE_CHECKING

from cnnlab._args import check_choice

if TYPE_CHECKING:
    from cnnlab.train.loop import History

__all__ = ["Callback", "ProgressBar", "in_jupyter"]


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
