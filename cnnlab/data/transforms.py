"""Array helpers between a dataset and a network: scaling, layout, one-hot labels, minibatches."""
from __future__ import annotations

import numpy as np

from cnnlab._args import check_labels, check_same_length, positive_int
from cnnlab.nn import get_rng

__all__ = ["normalize", "to_nchw", "one_hot", "minibatches"]


def _as_float01(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be uint8 (0..255) or floating point, got dtype {x.dtype}.")
    return x.astype(np.float32, copy=False)


def normalize(x, mean=None, std=None) -> np.ndarray:
    """``(x - mean) / std`` as float32; uint8 images are first scaled to [0, 1].

    ``mean``/``std`` default to the array's own mean and standard deviation (compute them
    on the training set and pass the same values for the test set, e.g.
    :data:`cnnlab.data.MNIST_MEAN`, :data:`cnnlab.data.MNIST_STD`).
    """
    x = _as_float01(x)
    mean = float(x.mean()) if mean is None else float(mean)
    std = float(x.std()) if std is None else float(std)
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std} (a constant image has std 0: pass std=1).")
    return (x - np.float32(mean)) / np.float32(std)


def to_nchw(x, mean=None, std=None) -> np.ndarray:
    """Images for a CNN: uint8 (N, 28, 28) → float32 (N, 1, 28, 28) scaled to [0, 1].

    x : (N, H, W), (N, H, W, C) with C 1 or 3, or (N, C, H, W); uint8 (0..255) or floats
    returns (N, C, H, W) float32; with ``mean`` (and ``std``, default 1) also normalised:
    ``(x / 255 - mean) / std``.
    """
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, None, :, :]
    elif x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = np.moveaxis(x, -1, 1)
    elif x.ndim != 4:
        raise ValueError(f"x must be images (N, H, W) or (N, C, H, W), got shape {x.shape}.")
    out = np.ascontiguousarray(_as_float01(x))
    if mean is not None or std is not None:
        out = normalize(out, 0.0 if mean is None else mean, 1.0 if std is None else std)
    return out


def one_hot(y, num_classes: int | None = None, dtype=np.int64) -> np.ndarray:
    """One-hot rows for integer labels, like ``torch.nn.functional.one_hot`` (int64 by default).

    ``num_classes`` defaults to ``max(y) + 1``.
    """
    y = np.asarray(y)
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}.")
    y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    check_labels(y, num_classes, "y")
    out = np.zeros((*y.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def minibatches(x, y, batch_size: int, shuffle: bool = True, seed=None):
    """Yield ``(x_batch, y_batch)`` pairs covering the data once (one epoch).

    Shuffled unless ``shuffle=False``; ``seed`` (an int or a ``numpy.random.Generator``)
    makes the order reproducible; without it the order comes from ``cnnlab.manual_seed``'s
    generator (like PyTorch's DataLoader and the global seed). The last, smaller batch is
    kept (``drop_last=False``).
    """
    x = np.asarray(x)
    y = np.asarray(y)
    check_same_length(x, y)
    batch_size = positive_int(batch_size, "batch_size", noun="integer")
    n = len(x)
    if shuffle:
        if isinstance(seed, np.random.Generator):
            rng = seed
        elif seed is not None:
            rng = np.random.default_rng(seed)
        else:
            rng = get_rng()
        order = rng.permutation(n)
    else:
        order = None
    for start in range(0, n, batch_size):
        if order is None:
            yield x[start:start + batch_size], y[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]
