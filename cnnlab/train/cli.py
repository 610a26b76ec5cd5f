"""The command ``cnnlab train``: LeNet-5 on MNIST or Fashion-MNIST, from the command line."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from cnnlab import data, models, nn, optim, quick_mode
from cnnlab.train.callbacks import ProgressBar
from cnnlab.train.loop import TrainingDiverged, evaluate, fit
from cnnlab.train.saving import save_model

__all__ = ["add_cli"]

_QUICK_TRAIN, _QUICK_TEST, _QUICK_EPOCHS = 4000, 1000, 2
_DATASETS = {   # --dataset: (loader, mean, std)
    "mnist": (data.load_mnist, data.MNIST_MEAN, data.MNIST_STD),
    "fashion-mnist": (data.load_fashion_mnist, data.FASHION_MNIST_MEAN,
                      data.FASHION_MNIST_STD),
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
        data.load_fashion_mnist(download=False, verbose=False)
    except (data.DatasetUnavailable, data.IDXFormatError):
        return False
    return True


def _fail(msg: str) -> int:
    print(f"cnnlab train: error: {msg}", file=sys.stderr)
    return 1


def _load(args, epochs: int):
    """``(x_train, y_train), (x_test, y_test), epochs``: normalised float32 NCHW images, on a
    random subset and for at most 2 epochs in quick mode. Raises DatasetUnavailable or
    IDXFormatError when the dataset cannot be read."""
    loader, mean, std = _DATASETS[args.dataset]
    (x_train, y_train), (x_test, y_test) = loader(args.data_root)
    if quick_mode():
        rng = np.random.default_rng(args.seed)
        tr = rng.permutation(len(x_train))[:_QUICK_TRAIN]
        te = rng.permutation(len(x_test))[:_QUICK_TEST]
        x_train, y_train, x_test, y_test = x_train[tr], y_train[tr], x_test[te], y_test[te]
        epochs = min(epochs, _QUICK_EPOCHS)
        print(f"CNNLAB_QUICK=1: quick mode, training on {len(x_train):,} images for {epochs} "
              f"epoch(s) and testing on {len(x_test):,} (unset CNNLAB_QUICK for the full run).")
    return ((data.to_nchw(x_train, mean, std), y_train),
            (data.to_nchw(x_test, mean, std), y_test), epochs)


def _optimizer(args, model):
    """SGD with momentum 0.9 (lr 0.05) or Adam (lr 0.001), unless --lr is given."""
    if args.optimizer == "sgd":
        lr = 0.05 if args.lr is None else args.lr
        return optim.SGD(model.parameters(), lr=lr, momentum=0.9), lr
    lr = 1e-3 if args.lr is None else args.lr
    return optim.Adam(model.parameters(), lr=lr), lr


def _cli_train(args) -> int:
    if args.epochs < 1:
        return _fail(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        return _fail(f"--batch-size must be at least 1, got {args.batch_size}")
    t_start = time.perf_counter()
    try:
        (xtr, y_train), (xte, y_test), epochs = _load(args, args.epochs)
    except (data.DatasetUnavailable, data.IDXFormatError) as exc:
        hint = ""
        if args.dataset == "mnist" and _fashion_available():
            hint = "\nHint: Fashion-MNIST is available on this machine: --dataset fashion-mnist"
        return _fail(str(exc) + hint)

    nn.manual_seed(args.seed)
    model = models.LeNet5(args.variant)
    opt, lr = _optimizer(args, model)
    print(f"Training LeNet-5 ({args.variant}) on {args.dataset}: {len(xtr):,} images, "
          f"{epochs} epoch(s), batch {args.batch_size}, {args.optimizer} lr={lr:g}, "
          f"seed {args.seed}", flush=True)
    criterion = nn.CrossEntropyLoss()
    try:
        fit(model, criterion, opt, (xtr, y_train), epochs, args.batch_size,
            val_data=(xte, y_test), seed=args.seed, callbacks=[ProgressBar("text")])
    except TrainingDiverged as exc:
        return _fail(str(exc))
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
            return _fail(f"cannot save the model to {args.out}: {exc}")
        print(f"Saved the model to {saved}")
    return 0
