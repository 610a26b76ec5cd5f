"""cnnlab.viz.LivePlot: the training callback that draws loss and accuracy while fit runs,
and train.moving_average, the one smoothing of a curve (LivePlot and plot_histories)."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab import train, viz


def test_live_plot_outside_jupyter_keeps_the_figure(fit_lenet):
    live = viz.LivePlot()
    fit_lenet(100, 2, 50, val=50, callbacks=[live], verbose=False)
    ax_loss, ax_acc = live.figure.axes
    # per-step (smoothed), epoch averages, validation: on both panels
    assert len(ax_loss.lines) == 3 and len(ax_acc.lines) == 3
    np.testing.assert_allclose(ax_loss.lines[1].get_xdata(), [1, 2])
    assert len(ax_acc.lines[0].get_xdata()) == 4          # 2 epochs x 2 steps
    # fixed axes, so the plot does not jump as points arrive
    assert ax_acc.get_ylim() == (0, 100) and ax_loss.get_xlim()[1] == pytest.approx(2.05)


def test_live_plot_redraws_during_a_single_epoch(fit_lenet):
    live = viz.LivePlot(update_every=0.0)             # redraw after every batch
    draws = []
    original = live._draw
    live._draw = lambda: (draws.append(len(live.history.step_loss)), original())[1]
    fit_lenet(100, 1, 25, callbacks=[live], verbose=False)
    assert draws[:5] == [0, 1, 2, 3, 4]                 # the curve grows within the epoch
    ax_loss, ax_acc = live.figure.axes
    assert ax_acc.get_xlim()[1] == pytest.approx(1.05) and ax_acc.get_ylim() == (0, 100)


def test_moving_average_grows_then_slides():
    np.testing.assert_allclose(train.moving_average([2, 4, 6, 8], 2), [2, 3, 5, 7])
    np.testing.assert_allclose(train.moving_average([1, 2, 3], 5), [1, 1.5, 2])   # window > T
    np.testing.assert_allclose(train.moving_average([5, 7], 1), [5, 7])
    assert train.moving_average([], 3).shape == (0,)


def test_plot_histories_draws_the_same_smoothing():
    h = train.History()
    h.step_loss = [3.0, 1.0, 2.0, 0.0, 1.0]
    fig = viz.plot_histories({"run": h}, smooth=2)
    bold = fig.axes[0].lines[1]
    np.testing.assert_allclose(bold.get_ydata(), train.moving_average(h.step_loss, 2))
