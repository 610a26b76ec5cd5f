"""`cnnlab train` run as a real subprocess (quick mode, offline)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed")

# `python -m cnnlab` also imports the grade/exercises sub-commands; until those modules
# exist, drive the same argparse wiring with only `train` registered.
_DRIVER = (
    "import argparse, sys\n"
    "from cnnlab import train\n"
    "p = argparse.ArgumentParser(prog='cnnlab')\n"
    "sub = p.add_subparsers(dest='command')\n"
    "train.add_cli(sub)\n"
    "a = p.parse_args(sys.argv[1:])\n"
    "sys.exit(int(a.func(a) or 0))\n"
)


def _command() -> list[str]:
    if all(importlib.util.find_spec(f"cnnlab.{m}") for m in ("grade", "exercises")):
        return [sys.executable, "-m", "cnnlab"]
    return [sys.executable, "-c", _DRIVER]


def run_cli(args, tmp_path, **env_extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNLAB_")}
    # one BLAS thread: small GEMMs stall when the shared machine is busy
    env.update(CNNLAB_QUICK="1", CNNLAB_OFFLINE="1", MPLBACKEND="Agg",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               XDG_CACHE_HOME=str(tmp_path / "cache"), **env_extra)
    return subprocess.run([*_command(), "train", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


@needs_fashion
def test_train_fashion_mnist_quick(tmp_path):
    out = tmp_path / "model.npz"
    proc = run_cli(["--dataset", "fashion-mnist", "--epochs", "5", "--seed", "1",
                    "--out", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "quick mode" in text and "4,000 images" in text
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "Epoch 3/" not in text
    assert "Time taken:" in text
    acc_line = next(line for line in text.splitlines() if line.startswith("Test accuracy:"))
    acc = float(acc_line.split()[2].rstrip("%"))
    assert acc > 35.0, text  # chance is 10%; 64 steps give 50-75%
    assert out.is_file()

    from cnnlab import models, train
    model = train.load_model(models.LeNet5("modern"), out)
    assert model.fc3.weight.data.shape == (10, 84)
    assert np.isfinite(model.conv1.weight.data).all()


@needs_fashion
def test_train_faithful_with_adam_quick(tmp_path):
    proc = run_cli(["--dataset", "fashion-mnist", "--epochs", "1", "--variant", "faithful",
                    "--optimizer", "adam", "--batch-size", "100"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "faithful" in proc.stdout and "adam lr=0.001" in proc.stdout
    assert "Test accuracy:" in proc.stdout


def test_missing_data_is_a_message_not_a_traceback(tmp_path):
    proc = run_cli(["--dataset", "mnist", "--data-root", str(tmp_path / "empty")], tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "MNIST is not available" in proc.stderr
    assert str(tmp_path / "empty") in proc.stderr and "CNNLAB_OFFLINE=1" in proc.stderr
    assert not (tmp_path / "empty").exists()
    if FASHION_DIR.is_dir():
        assert "--dataset fashion-mnist" in proc.stderr


def test_bad_arguments(tmp_path):
    proc = run_cli(["--epochs", "0"], tmp_path)
    assert proc.returncode == 1 and "--epochs" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["--dataset", "cifar"], tmp_path)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = run_cli(["--help"], tmp_path)
    assert proc.returncode == 0 and "--data-root" in proc.stdout and "--variant" in proc.stdout
