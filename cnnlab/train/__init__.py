"""Training loops, evaluation, callbacks, saving models, and the ``cnnlab train`` command.

:func:`fit` is PyTorch's training loop written out once (forward, loss, ``zero_grad``,
backward, ``step`` for every minibatch), with what a course needs around it: per-epoch and
per-step history, validation, callbacks (a progress bar that is a widget in Jupyter and text on
a terminal; ``cnnlab.viz.LivePlot`` draws live curves), train/eval modes switched properly, and a clear error when the loss
becomes NaN or infinite.

One concept a file: ``loop.py`` (fit, evaluate, predict, History, TrainingDiverged),
``callbacks.py`` (Callback, ProgressBar), ``metrics.py`` (confusion_matrix, moving_average),
``saving.py`` (save_model, load_model), ``cli.py`` (``cnnlab train``). Import everything from
``cnnlab.train``.
"""
from __future__ import annotations

from cnnlab.train.callbacks import Callback, ProgressBar, in_jupyter
from cnnlab.train.cli import add_cli
from cnnlab.train.loop import (History, TrainingDiverged, evaluate, fit, predict,
                              predict_proba)
from cnnlab.train.metrics import confusion_matrix, moving_average
from cnnlab.train.saving import load_model, save_model

__all__ = [
    "fit", "evaluate", "predict", "predict_proba", "confusion_matrix", "moving_average", "History",
    "TrainingDiverged", "Callback", "ProgressBar", "save_model", "load_model",
    "add_cli", "in_jupyter",
]
