"""LeNet-5 on MNIST (lesson 9): live training curves, feature maps, digits, mistakes, kernels,
confusion, histories.

:class:`LivePlot` is a ``cnnlab.train`` callback drawing the loss and accuracy while ``fit`` runs.
:func:`feature_map_facts` runs the model (``model.features``, ``F.softmax``) on one digit;
:class:`FeatureMapView` draws its conv1 and conv2 maps. The ``plot_*`` functions draw the
results of training (numbers computed by ``cnnlab.train`` / ``cnnlab.nn``).
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
from matplotlib.patches import Rectangle

from cnnlab import functional as F
from cnnlab.train import Callback, in_jupyter, moving_average
from cnnlab.viz.render import View, figure_png
from cnnlab.viz.style import (ERRORS_CMAP, HISTORY_COLOURS, IMAGE_CMAP, NUMBERS_CMAP, SIGNED_CMAP,
                              bare, new_figure, signed_limit)

__all__ = ["LivePlot", "FeatureMapFacts", "feature_map_facts", "FeatureMapView",
           "static_feature_maps",
           "plot_digits", "plot_mistakes", "plot_kernels", "plot_confusion_matrix",
           "plot_histories", "plot_lenet_architecture"]


class LivePlot(Callback):
    """Loss and accuracy curves that move while the model trains (a ``cnnlab.train`` callback).

    ``train.fit(..., callbacks=[viz.LivePlot()])``. The figure is redrawn after every epoch
    and, during an epoch, at most every ``update_every`` seconds, so even a one-epoch run (quick
    mode) shows its curves growing. Faint lines are per-step values (``train.moving_average``
    over ``smooth`` steps); dots are epoch averages and, with validation data, validation
    results. Axes are fixed from the start (x from 0 to the number of epochs, accuracy 0-100 %)
    so nothing jumps as points arrive.

    In Jupyter the figure is shown once and updated in place (a display handle); elsewhere it is
    only kept up to date in ``self.figure`` (a matplotlib ``Figure``, no GUI needed), e.g. to
    save it with ``live.figure.savefig(...)``.
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
        self.figure = new_figure(self.figsize, layout="constrained")
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
        return Image(data=figure_png(self.figure), format="png")

    def _draw(self):
        h, ax, bx = self.history, self._ax_loss, self._ax_acc
        for a, title in ((ax, "loss"), (bx, "accuracy")):
            a.clear()
            a.set_title(title)
            a.set_xlabel("epoch")
            a.grid(alpha=0.3)
        params = getattr(self, "params", None) or {}
        epochs = max(1, int(params.get("epochs") or (len(h.epoch) if h is not None else 1) or 1))
        spe = (h.steps_per_epoch if h is not None else 0) or params.get("steps") or 0
        blue, orange = HISTORY_COLOURS[:2]
        if h is not None and h.step_loss and self.show_steps and spe:
            steps = np.arange(1, len(h.step_loss) + 1) / spe
            ax.plot(steps, moving_average(h.step_loss, self.smooth), color=blue, alpha=0.45,
                    lw=1.0, label="train (per step)")
            if self._step_acc:
                s_acc = np.arange(1, len(self._step_acc) + 1) / spe
                bx.plot(s_acc, 100 * moving_average(self._step_acc, self.smooth), color=blue,
                        alpha=0.45, lw=1.0, label="train (per step)")
        if h is not None and h.epoch:
            ep = np.asarray(h.epoch) + 1
            ax.plot(ep, h.train_loss, "o-", color=blue, label="train (epoch)")
            bx.plot(ep, 100 * np.asarray(h.train_acc), "o-", color=blue, label="train (epoch)")
            if not all(math.isnan(v) for v in h.val_loss):
                ax.plot(ep, h.val_loss, "s-", color=orange, label="validation")
                bx.plot(ep, 100 * np.asarray(h.val_acc), "s-", color=orange, label="validation")
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


@dataclass
class FeatureMapFacts:
    """One digit and what LeNet-5 makes of it."""
    index: int
    image: np.ndarray            # (H, W) the digit as the model sees it
    conv1: np.ndarray            # (6, 28, 28) conv1's maps (before ReLU), model.features
    conv2: np.ndarray            # (16, 10, 10) conv2's maps
    probabilities: np.ndarray | None = None    # F.softmax of the logits
    prediction: int | None = None
    label: int | None = None
    title: str = ""
    text: str = ""


def _nchw(images) -> np.ndarray:
    images = np.asarray(images)
    return images[:, None] if images.ndim == 3 else images


def feature_map_facts(model, images, labels=None, index: int = 0) -> FeatureMapFacts:
    """Digit ``index`` of ``images`` ((N, 28, 28) or (N, 1, 28, 28), normalised the way the
    model was trained): its conv1 / conv2 maps from ``model.features``, the probabilities
    ``F.softmax(model(x))`` and the prediction."""
    images = _nchw(images)
    i = int(index)
    x = images[i:i + 1]
    feats = model.features(x)
    logits = np.asarray(model(x))
    p = F.softmax(logits.astype(np.float64), dim=-1)[0]
    prediction = int(np.argmax(p))
    label = None if labels is None else int(np.asarray(labels)[i])
    title = f"#{i}" + (f", label {label}" if label is not None else "")
    verdict = "" if label is None else (" **correct**" if prediction == label else " **wrong**")
    top = np.argsort(p)[::-1][:3]
    text = (f"digit #{i}" + (f", label **{label}**" if label is not None else "")
            + f"; the model predicts **{prediction}**{verdict}. Top 3: "
            + ", ".join(f"{int(j)}: {100 * p[j]:.1f}%" for j in top))
    return FeatureMapFacts(i, images[i, 0], np.asarray(feats["conv1"])[0],
                           np.asarray(feats["conv2"])[0], p, prediction, label, title, text)


class FeatureMapView(View):
    """One digit and what LeNet-5's two convolutions make of it.

    Left: the digit. Middle: conv1's maps (6 × 28×28). Right: conv2's maps (16 × 10×10).
    The maps are shown before ReLU with a diverging colour map centred at zero, each on its
    own symmetric scale (red = positive response, blue = negative; ReLU keeps only the red).
    A new digit changes every panel: every frame is a full draw.
    """

    def __init__(self, shapes=((1, 28, 28), (6, 28, 28), (16, 10, 10)), width=9.0, height=4.4):
        super().__init__((width, height))
        fig = self.figure
        (_, H, W), (c1, h1, w1), (c2, h2, w2) = shapes
        self.ax_img = fig.add_axes([0.01, 0.2, 0.2, 0.56])
        self.im_img = self.ax_img.imshow(np.zeros((H, W)), cmap=IMAGE_CMAP, vmin=0, vmax=1,
                                         interpolation="nearest")
        bare(self.ax_img)
        self.title_img = self.ax_img.set_title("", fontsize=10)
        self.ax1, self.im1 = self._maps(c1, 0.25, 0.5, 2, h1, w1)
        self.ax2, self.im2 = self._maps(c2, 0.55, 0.99, 4, h2, w2)
        self.head1 = fig.text(0.375, 0.93, f"conv1: {c1} maps {h1}×{w1}", ha="center",
                              fontsize=10)
        self.head2 = fig.text(0.77, 0.93, f"conv2: {c2} maps {h2}×{w2}", ha="center",
                              fontsize=10)
        self.note = fig.text(0.11, 0.1, "before ReLU, each map\non its own scale:\n"
                             "red +, blue −, white 0", ha="center", fontsize=9, color="0.3")

    def _maps(self, n, left, right, ncols, h, w):
        """n small map axes in a grid of ncols columns between ``left`` and ``right``."""
        fig = self.figure
        nrows = int(np.ceil(n / ncols))
        sub = fig.add_gridspec(nrows, ncols, left=left, right=right, top=0.86, bottom=0.04,
                               wspace=0.06, hspace=0.06)
        axes, ims = [], []
        for i in range(n):
            ax = fig.add_subplot(sub[i // ncols, i % ncols])
            ims.append(ax.imshow(np.zeros((h, w)), cmap=SIGNED_CMAP, vmin=-1, vmax=1,
                                 interpolation="nearest"))
            bare(ax)
            axes.append(ax)
        return axes, ims

    def facts(self, model, images, labels=None, index=0) -> FeatureMapFacts:
        """See :func:`feature_map_facts`."""
        return feature_map_facts(model, images, labels, index)

    def draw(self, facts: FeatureMapFacts) -> None:
        self.changed("static", (facts.image, facts.conv1, facts.conv2, facts.title))
        self.im_img.set_data(facts.image)
        self.im_img.set_clim(0, max(float(np.max(facts.image)), 1e-6))
        self.title_img.set_text(facts.title)
        for ims, maps in ((self.im1, facts.conv1), (self.im2, facts.conv2)):
            for im, m in zip(ims, maps):
                lim = signed_limit(m)
                im.set_data(m)
                im.set_clim(-lim, lim)   # each map on its own scale, zero = white


def static_feature_maps(image, conv1, conv2, title=""):
    """Static fallback of the feature-map explorer for one digit.

    ``conv1`` (6, 28, 28) and ``conv2`` (16, 10, 10) are the model's own conv outputs
    (e.g. from ``model.features(x)``).
    """
    image, conv1, conv2 = (np.asarray(a) for a in (image, conv1, conv2))
    view = FeatureMapView(((1,) + image.shape, conv1.shape, conv2.shape))
    view.draw(FeatureMapFacts(0, image, conv1, conv2, title=title))
    return view.figure


def plot_digits(images, labels=None, predictions=None, ncols=10, title=None, size=0.9):
    """A grid of digits; with predictions, wrong ones get a red 'true→predicted' caption."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, int(np.ceil(n / ncols)))
    fig = new_figure((size * ncols, size * nrows * 1.15 + (0.35 if title else 0.05)))
    top = 1 - 0.35 / fig.get_figheight() if title else 0.98
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False,
                                      gridspec_kw=dict(wspace=0.1, hspace=0.35, left=0.01,
                                                       right=0.99, top=top, bottom=0.01)))
    for i, ax in enumerate(axes.ravel()):
        bare(ax)
        for side in ax.spines.values():
            side.set_visible(False)
        if i >= n:
            ax.set_visible(False)
            continue
        ax.imshow(images[i], cmap=IMAGE_CMAP, interpolation="nearest")
        if predictions is not None:
            ok = labels is not None and labels[i] == predictions[i]
            text = f"{labels[i]}→{predictions[i]}" if labels is not None else f"{predictions[i]}"
            ax.set_title(text, fontsize=9, color="black" if ok else "crimson", pad=2)
        elif labels is not None:
            ax.set_title(f"{labels[i]}", fontsize=9, pad=2)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_mistakes(images, labels, predictions, max_images=20, ncols=10):
    """The misclassified digits, captioned 'true→predicted'."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    wrong = np.flatnonzero(labels != predictions)[:max_images]
    title = f"{len(np.flatnonzero(labels != predictions))} mistakes; first {len(wrong)} shown " \
            "(true→predicted)"
    if len(wrong) == 0:
        fig = new_figure((4, 1))
        fig.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        return fig
    return plot_digits(np.asarray(images)[wrong], labels[wrong], predictions[wrong],
                       ncols=ncols, title=title)


def plot_kernels(weight, title=None, size=1.3):
    """Conv kernels (C_out, C_in, kH, kW) as images, one shared diverging scale centred at 0."""
    w = np.asarray(weight)
    c_out, c_in = w.shape[:2]
    m = signed_limit(w)
    fig = new_figure((size * c_out + 0.8, size * c_in + 0.55))
    axes = fig.subplots(c_in, c_out, squeeze=False,
                        gridspec_kw=dict(wspace=0.08, hspace=0.08, left=0.02,
                                         right=1 - 0.75 / fig.get_figwidth(),
                                         top=1 - 0.45 / fig.get_figheight(), bottom=0.03))
    im = None
    for o in range(c_out):
        for i in range(c_in):
            ax = axes[i, o]
            im = ax.imshow(w[o, i], cmap=SIGNED_CMAP, vmin=-m, vmax=m,
                           interpolation="nearest")
            bare(ax)
            if i == 0:
                ax.set_title(f"{o}", fontsize=9, pad=2)
    cax = fig.add_axes([1 - 0.6 / fig.get_figwidth(), 0.1, 0.15 / fig.get_figwidth(), 0.7])
    fig.colorbar(im, cax=cax).ax.tick_params(labelsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_confusion_matrix(cm, class_names=None, title="confusion matrix"):
    """Counts (rows = true class, columns = predicted), every count written in its cell.

    Two colour scales, so that a handful of mistakes is as visible as 95 correct answers:
    the diagonal (correct) in blue by the share of its row; the off-diagonal cells (mistakes)
    in red by their count relative to the most frequent mistake. Zero cells stay white.
    """
    cm = np.asarray(cm)
    n = cm.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    rows = cm.sum(axis=1, keepdims=True)
    share = cm / np.maximum(rows, 1)
    diag = np.eye(n, dtype=bool)
    off_max = max(int(cm[~diag].max()) if n > 1 else 0, 1)
    fig = new_figure((6.0, 5.9))
    ax = fig.add_axes([0.12, 0.15, 0.8, 0.75])
    correct = np.ma.masked_where(~diag, share)
    wrong = np.ma.masked_where(diag | (cm == 0), cm / off_max)
    ax.imshow(correct, cmap=NUMBERS_CMAP, vmin=0, vmax=1.15, interpolation="nearest")
    ax.imshow(wrong, cmap=ERRORS_CMAP, vmin=-0.15, vmax=1, interpolation="nearest")
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    fontsize = 11 if n <= 10 else 8
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                dark = (share[i, j] > 0.6) if i == j else (cm[i, j] / off_max > 0.55)
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=fontsize,
                        fontweight="bold" if i != j else "normal",
                        color="white" if dark else ("#8b0000" if i != j else "black"))
    ax.set_xticks(range(n), names, fontsize=10)
    ax.set_yticks(range(n), names, fontsize=10)
    ax.set_xlabel("predicted", fontsize=11)
    ax.set_ylabel("true", fontsize=11)
    ax.set_title(title, fontsize=12)
    fig.text(0.52, 0.015, "blue diagonal: correct answers, shaded by the share of the row\n"
             f"red: mistakes, shaded by count (darkest = {off_max})", ha="center", fontsize=9.5,
             color="0.3", linespacing=1.4)
    return fig


def _curve(history, key):
    """A metric's values from a History (attribute, dict-like or ``as_dict()``)."""
    if isinstance(history, dict):
        return list(history.get(key, []) or [])
    if hasattr(history, "as_dict"):
        return list(history.as_dict().get(key, []) or [])
    value = getattr(history, key, None)
    return list(value) if value is not None else []


def plot_histories(histories, smooth=20):
    """Compare training runs, e.g. ``{"modern": h1, "faithful": h2}`` (``train.History``).

    Left: the training loss of every step (faint) with its ``smooth``-step moving average, so
    even a one-epoch run shows how learning went. Right: the validation accuracy after each
    epoch, each value written next to its point.
    """
    fig = new_figure((8.6, 3.2))
    ax, bx = fig.subplots(1, 2, gridspec_kw=dict(wspace=0.25, left=0.07, right=0.98,
                                                 top=0.9, bottom=0.16))
    colors = HISTORY_COLOURS
    n_epochs = 1
    for color, (name, h) in zip(colors, histories.items()):
        steps = np.asarray(_curve(h, "step_loss"), dtype=float)
        if steps.size:
            x = np.arange(1, steps.size + 1)
            ax.plot(x, steps, color=color, alpha=0.25, lw=0.8)
            ax.plot(x, moving_average(steps, smooth), color=color, lw=2, label=name)
        acc = np.asarray(_curve(h, "val_acc"), dtype=float)
        if acc.size and np.isfinite(acc).any():
            ep = np.arange(1, acc.size + 1)
            n_epochs = max(n_epochs, acc.size)
            bx.plot(ep, 100 * acc, "o-", color=color, label=name)
            bx.annotate(f"{100 * acc[-1]:.1f}%", (ep[-1], 100 * acc[-1]),
                        textcoords="offset points", xytext=(8, -3), fontsize=9, color=color)
    ax.set_title(f"training loss per step (bold: {smooth}-step average)", fontsize=10)
    ax.set_xlabel("step (minibatch)", fontsize=10)
    bx.set_title("test accuracy after each epoch (%)", fontsize=10)
    bx.set_xlabel("epoch", fontsize=10)
    bx.set_xlim(0.5, n_epochs + 0.5 + 0.12 * max(n_epochs, 3))   # room for the labels
    bx.set_xticks(range(1, n_epochs + 1))
    for a in (ax, bx):
        a.tick_params(labelsize=9)
        a.grid(alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=9, loc="best")
    return fig


def plot_lenet_architecture(rows, input_shape=(1, 28, 28)):
    """LeNet-5 as a row of blocks, one per layer that changes the shape.

    ``rows``: sequence of ``(name, output_shape)``, e.g. from ``cnnlab.nn.summary(...).rows``
    (the caller extracts names and shapes). Block height follows the spatial size, width the
    number of channels, so the funnel 28 → 14 → 10 → 5 → 400 → 120 → 84 → 10 shows.
    """
    blocks = [("input", tuple(input_shape))] + [(n, tuple(s)) for n, s in rows]
    fig = new_figure((9.0, 2.4))
    ax = fig.add_axes([0.0, 0.0, 1.0, 1.0])
    ax.set_xlim(0, len(blocks))
    ax.set_ylim(-0.12, 1.0)
    ax.axis("off")
    for i, (name, shape) in enumerate(blocks):
        if len(shape) == 3:
            c, h, w = shape
            height = 0.15 + 0.75 * h / 28
            depth = 0.1 + 0.4 * min(c, 16) / 16
            label = f"{c}@{h}×{w}"
            color = "#9ecae1" if "pool" not in name.lower() else "#c7e9c0"
        else:
            n = int(np.prod(shape))
            height = 0.15 + 0.75 * min(n, 400) / 400
            depth = 0.12
            label = f"{n}"
            color = "#fdd0a2"
        x0 = i + 0.5 - depth / 2
        ax.add_patch(Rectangle((x0, 0.5 - height / 2), depth, height, facecolor=color,
                               edgecolor="0.3"))
        ax.text(i + 0.5, 0.5 + height / 2 + 0.04, label, ha="center", va="bottom", fontsize=8.5)
        ax.text(i + 0.5, 0.02, name, ha="center", va="top", fontsize=9)
        if i:
            ax.annotate("", xy=(x0 - 0.02, 0.5), xytext=(i - 0.5 + 0.3, 0.5),
                        arrowprops=dict(arrowstyle="->", color="0.4"))
    return fig
