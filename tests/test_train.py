"""cnnlab.train: fit / evaluate / predict, callbacks, divergence, saving and loading."""
from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pytest

import cnnlab
from cnnlab import data, models, nn, optim, train


def _model(variant="modern", seed=0):
    cnnlab.manual_seed(seed)
    return models.LeNet5(variant)


def test_fit_reduces_the_loss_and_learns(digits):
    (xtr, ytr), (xte, yte) = digits
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    loss0, acc0 = train.evaluate(model, crit, (xte, yte))
    hist = train.fit(model, crit, opt, (xtr, ytr), epochs=3, batch_size=64,
                     val_data=(xte, yte), seed=0, verbose=False)
    assert len(hist) == 3 and hist.epoch == [0, 1, 2]
    assert hist.steps_per_epoch == 19 and len(hist.step_loss) == 3 * 19
    assert hist.train_loss[-1] < 0.6 * hist.train_loss[0]
    assert hist.val_loss[-1] < loss0
    assert hist.val_acc[-1] > 0.7 and hist.val_acc[-1] > acc0 + 0.4  # chance is 0.1
    loss, acc = train.evaluate(model, crit, (xte, yte))
    assert acc == pytest.approx(hist.val_acc[-1]) and loss == pytest.approx(hist.val_loss[-1])
    d = hist.as_dict()
    assert set(d) >= {"train_loss", "train_acc", "val_loss", "val_acc", "step_loss", "epoch"}
    assert all(len(d[k]) == 3 for k in ("train_loss", "train_acc", "val_loss", "val_acc"))
    assert "3 epochs" in repr(hist)


def test_fit_is_reproducible_with_a_seed(digits):
    (xtr, ytr), _ = digits
    runs = []
    for _ in range(2):
        model = _model(seed=1)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        runs.append(train.fit(model, nn.CrossEntropyLoss(), opt, (xtr[:256], ytr[:256]), 1,
                              32, seed=5, verbose=False).step_loss)
    assert runs[0] == runs[1]


def test_fit_accepts_uint8_images_and_no_validation():
    x, y = data.load_digits_sample()
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.01)
    hist = train.fit(model, nn.CrossEntropyLoss(), opt, (x[::50], y[::50]), 1, 25,
                     verbose=False)
    assert math.isnan(hist.val_loss[0]) and math.isnan(hist.val_acc[0])
    assert np.isfinite(hist.train_loss[0])


class _ModeSpy(nn.Module):
    """Wraps a model and records the training flag at every forward."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, self.inner.training))
        return self.inner(x)

    def backward(self, g):
        return self.inner.backward(g)


def test_train_and_eval_modes_are_switched_and_restored(digits):
    (xtr, ytr), (xte, yte) = digits
    spy = _ModeSpy(_model())
    opt = optim.SGD(spy.parameters(), lr=0.01)
    spy.eval()
    train.fit(spy, nn.CrossEntropyLoss(), opt, (xtr[:100], ytr[:100]), 1, 50,
              val_data=(xte[:100], yte[:100]), verbose=False)
    assert spy.seen[:2] == [(True, True), (True, True)]  # training batches
    assert spy.seen[2:] == [(False, False)]              # validation (one batch of 100)
    assert spy.training is False                         # restored
    spy.train()
    spy.seen.clear()
    train.predict(spy, xte[:10])
    train.evaluate(spy, None, (xte[:10], yte[:10]))
    assert spy.seen == [(False, False)] * 2 and spy.training is True


def test_divergence_is_a_clear_error(digits):
    (xtr, ytr), _ = digits
    model = _model()
    opt = optim.SGD(model.parameters(), lr=1e8, momentum=0.9)
    out = io.StringIO()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(train.TrainingDiverged) as info:
            train.fit(model, nn.CrossEntropyLoss(), opt, (xtr, ytr), 2, 64, seed=0,
                      callbacks=[train.ProgressBar("text", file=out)])
    msg = str(info.value)
    assert "nan" in msg or "inf" in msg
    assert "step" in msg and "lr=1e+08" in msg and "lower" in msg
    assert isinstance(info.value, RuntimeError)


class _Recorder(train.Callback):
    def __init__(self, stop_at=None):
        self.events, self.stop_at = [], stop_at

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", self.params["steps"], self.params["epochs"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_batch_end(self, step, logs=None):
        self.events.append(("batch", step, logs["batch"]))
        assert np.isfinite(logs["loss"]) and 0 <= logs["acc"] <= 1
        if step == self.stop_at:
            self.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, round(logs["train_acc"], 6)))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))


def test_callbacks_are_called_in_order_and_can_stop(digits):
    (xtr, ytr), _ = digits
    rec = _Recorder()
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.01)
    hist = train.fit(model, nn.CrossEntropyLoss(), opt, (xtr[:90], ytr[:90]), 2, 40,
                     callbacks=[rec], verbose=False)
    kinds = [e[0] for e in rec.events]
    assert kinds == ["train_begin", "epoch_begin", "batch", "batch", "batch", "epoch_end",
                     "epoch_begin", "batch", "batch", "batch", "epoch_end", "train_end"]
    assert rec.events[0] == ("train_begin", 3, 2)
    assert [e[1] for e in rec.events if e[0] == "batch"] == [1, 2, 3, 4, 5, 6]
    assert rec.events[5][2] == round(hist.train_acc[0], 6)
    assert rec.model is model and rec.history is hist

    stopper = _Recorder(stop_at=2)
    hist = train.fit(_model(), nn.CrossEntropyLoss(),
                     optim.SGD(_model().parameters(), lr=0.01), (xtr[:90], ytr[:90]), 5, 40,
                     callbacks=[stopper], verbose=False)
    assert len(hist) == 1 and len(hist.step_loss) == 2


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_text_mode_without_a_terminal(fit_lenet):
    out = io.StringIO()
    fit_lenet(100, 2, 50, val=50, callbacks=[train.ProgressBar("text", file=out)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("Epoch 1/2") and lines[1].startswith("Epoch 2/2")
    assert "loss" in lines[1] and "val_acc" in lines[1]


def test_progress_bar_text_mode_on_a_terminal(fit_lenet):
    out = _FakeTTY()
    fit_lenet(150, 1, 50, callbacks=[train.ProgressBar("text", file=out, refresh=0.0)])
    text = out.getvalue()
    assert text.count("\r") >= 3 and "[" in text and "3/3" in text
    assert text.endswith("\n") and text.count("\n") == 1


def test_verbose_adds_a_progress_bar(digits, capsys):
    (xtr, ytr), _ = digits
    model = _model()
    train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01),
              (xtr[:50], ytr[:50]), 1, 50)
    assert "Epoch 1/1" in capsys.readouterr().out
    train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01),
              (xtr[:50], ytr[:50]), 1, 50, verbose=False)
    assert capsys.readouterr().out == ""


def test_progress_bar_widget_mode_builds_a_widget(fit_lenet):
    bar = train.ProgressBar("widget")
    fit_lenet(100, 2, 50, callbacks=[bar])
    assert bar.widget is not None
    assert bar._bar.value == bar._bar.max == 2 and bar._bar.bar_style == "success"
    assert "Epoch 2/2" in bar._log.value
    assert not train.in_jupyter()
    with pytest.raises(ValueError, match="mode"):
        train.ProgressBar("fancy")


def test_predict_and_predict_proba(digits):
    _, (xte, yte) = digits
    model = _model()
    proba = train.predict_proba(model, xte[:37], batch_size=10)
    assert proba.shape == (37, 10)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    pred = train.predict(model, xte[:37], batch_size=10)
    assert pred.dtype == np.int64 and pred.shape == (37,)
    np.testing.assert_array_equal(pred, proba.argmax(1))
    _, acc = train.evaluate(model, None, (xte[:37], yte[:37]), batch_size=8)
    assert acc == pytest.approx(np.mean(pred == yte[:37]))


def test_confusion_matrix():
    y_true = np.array([0, 1, 2, 2, 1, 0, 2])
    y_pred = np.array([0, 2, 2, 1, 1, 0, 2])
    cm = train.confusion_matrix(y_true, y_pred, 3)
    expected = np.zeros((3, 3), int)
    for t, p in zip(y_true, y_pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(cm, expected)
    assert cm.sum() == 7 and np.trace(cm) == 5 and cm.dtype == np.int64
    assert train.confusion_matrix(y_true, y_pred).shape == (3, 3)
    assert train.confusion_matrix([0], [0], 10).shape == (10, 10)
    with pytest.raises(ValueError, match="y_pred"):
        train.confusion_matrix([0, 1], [0, 5], 3)
    with pytest.raises(ValueError, match="length"):
        train.confusion_matrix([0, 1], [0], 3)


def test_fit_argument_errors(digits):
    (xtr, ytr), _ = digits
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.01)
    crit = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="batch_size"):
        train.fit(model, crit, opt, (xtr, ytr), 1, 0)
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, crit, opt, (xtr, ytr), -1, 10)
    with pytest.raises(ValueError, match="same length"):
        train.fit(model, crit, opt, (xtr, ytr[:5]), 1, 10)
    with pytest.raises(TypeError, match="pair"):
        train.fit(model, crit, opt, xtr, 1, 10)


# --------------------------------------------------------------------------------------
# Saving and loading
# --------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path, digits):
    _, (xte, _) = digits
    model = _model(seed=3)
    path = train.save_model(model, tmp_path / "lenet.npz")
    assert path == tmp_path / "lenet.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.npz"]  # no temp files left
    other = _model(seed=4)
    assert not np.array_equal(train.predict_proba(other, xte[:20]),
                              train.predict_proba(model, xte[:20]))
    assert train.load_model(other, path) is other
    np.testing.assert_array_equal(train.predict_proba(other, xte[:20]),
                                  train.predict_proba(model, xte[:20]))
    for (n1, a), (n2, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert n1 == n2 and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_load_into_a_different_architecture_is_a_clear_error(tmp_path):
    path = train.save_model(_model("faithful"), tmp_path / "f.npz")
    with pytest.raises(ValueError) as info:
        train.load_model(_model("modern"), path)
    msg = str(info.value)
    assert "variant='faithful'" in msg and "variant='modern'" in msg and "LeNet5" in msg

    cnnlab.manual_seed(0)
    eleven = models.LeNet5(num_classes=11)
    with pytest.raises(ValueError, match=r"fc3.weight.*\(10, 84\).*\(11, 84\)"):
        train.load_model(eleven, train.save_model(_model(), tmp_path / "m.npz"))

    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a model file"):
        train.load_model(_model(), tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        train.load_model(_model(), tmp_path / "missing.npz")


@pytest.mark.slow
def test_progress_bar_and_live_plot_in_a_real_kernel():
    """In a Jupyter kernel the bar is an ipywidgets widget and the plot a display handle."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = (
        "import numpy as np, cnnlab\n"
        "from cnnlab import data, models, nn, optim, train, viz\n"
        "x, y = data.load_digits_sample()\n"
        "cnnlab.manual_seed(0)\n"
        "m = models.LeNet5()\n"
        "bar, live = train.ProgressBar(), viz.LivePlot()\n"
        "h = train.fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.01),\n"
        "              (x[::50], y[::50]), 2, 50, callbacks=[bar, live])\n"
        "print(train.in_jupyter(), bar._widget_mode, len(h))\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3")
    client.execute()
    outputs = nb.cells[0].outputs
    kinds = [o.get("output_type") for o in outputs]
    mimes = [set(o.get("data", {})) for o in outputs]
    assert any("application/vnd.jupyter.widget-view+json" in m for m in mimes), outputs
    assert any("image/png" in m for m in mimes)
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "True True 2" in text
    assert "error" not in kinds
