"""MNIST and Fashion-MNIST: what they are (:class:`DatasetSpec`), and their loaders.

Where the data comes from, in order:

1. ``root`` if you pass one, then ``$CNNLAB_DATA/<dataset>`` (a shared, possibly read-only
   folder on JupyterHub) -- reading never writes anything;
2. the per-user cache ``~/.cache/cnnlab/<dataset>`` (``$XDG_CACHE_HOME`` is honoured);
3. for Fashion-MNIST, Debian's package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist``);
4. a download from a list of mirrors, each file checked against its published checksum,
   written to a temporary file and renamed into place only once verified. A read-only
   target falls back to the user cache. ``CNNLAB_OFFLINE=1`` never touches the network.

When nothing works, :class:`DatasetUnavailable` says what is missing, where it looked and
how to provide the files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from cnnlab import offline_mode
from cnnlab.data.download import download_file, mirrors_for
from cnnlab.data.errors import DatasetUnavailable
from cnnlab.data.folders import (download_dir, find_file, how_to_provide, lookup_dirs, say,
                                 user_cache_dir)
from cnnlab.data.idx import IDXFormatError, read_idx

__all__ = ["FileSpec", "DatasetSpec", "MNIST", "FASHION_MNIST", "load_dataset", "load_mnist",
           "load_fashion_mnist", "MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN",
           "FASHION_MNIST_STD", "FASHION_MNIST_CLASSES"]

#: Mean and standard deviation of the training pixels scaled to [0, 1] (the usual constants).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


# --------------------------------------------------------------------------------------
# Dataset descriptions
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileSpec:
    name: str                       # as distributed, e.g. "train-images-idx3-ubyte.gz"
    count: int                      # number of images / labels
    sha256: str | None = None       # published, of the .gz file as distributed
    md5: str | None = None          # published (torchvision's list), of the .gz file
    raw_sha256: str | None = None   # of the decompressed IDX content (accepts re-gzipped copies)
    size: int | None = None         # bytes of the .gz as distributed (progress bar only)

    @property
    def is_images(self) -> bool:
        return "images" in self.name

    @property
    def raw_name(self) -> str:
        return self.name[:-3] if self.name.endswith(".gz") else self.name


@dataclass(frozen=True)
class DatasetSpec:
    key: str                        # folder name: "mnist", "fashion-mnist"
    title: str                      # "MNIST"
    files: tuple                    # train images, train labels, test images, test labels
    mirrors: tuple
    mirrors_env: str
    system_dirs: tuple = ()         # (folder, description) read-only places to look in
    apt_package: str | None = None
    image_shape: tuple = (28, 28)
    num_classes: int = 10


def _published_files(key: str) -> tuple[FileSpec, ...]:
    """The four files of dataset ``key`` with their published checksums (checksums.json)."""
    table = json.loads(resources.files("cnnlab.data").joinpath("checksums.json").read_text())
    return tuple(FileSpec(name, **info) for name, info in table[key].items())


MNIST = DatasetSpec(
    key="mnist", title="MNIST", files=_published_files("mnist"),
    # The same two mirrors as torchvision, in its order.
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    mirrors_env="CNNLAB_MNIST_MIRRORS",
)

FASHION_MNIST = DatasetSpec(
    key="fashion-mnist", title="Fashion-MNIST", files=_published_files("fashion-mnist"),
    # Zalando Research's S3 bucket (as torchvision), then the same files in their GitHub repo.
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    mirrors_env="CNNLAB_FASHION_MNIST_MIRRORS",
    system_dirs=(("/usr/share/datasets/fashion-mnist",
                  "Debian package dataset-fashion-mnist"),),
    apt_package="dataset-fashion-mnist",
)


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def _check_array(arr: np.ndarray, path: Path, spec: FileSpec, ds: DatasetSpec) -> None:
    want = (spec.count, *ds.image_shape) if spec.is_images else (spec.count,)
    if arr.dtype != np.uint8 or arr.shape != want:
        what = "images" if spec.is_images else "labels"
        raise IDXFormatError(f"{path}: expected {ds.title} {what} of shape {want} uint8, "
                             f"found {arr.shape} {arr.dtype}.")
    if not spec.is_images and arr.size and int(arr.max()) >= ds.num_classes:
        raise IDXFormatError(f"{path}: labels must be < {ds.num_classes}, found {int(arr.max())}.")


def _download_missing(ds: DatasetSpec, missing: list[FileSpec], root, mirrors,
                      verbose: bool) -> dict[str, Path]:
    """Download the ``missing`` files (to root/$CNNLAB_DATA, else the user cache)."""
    mirror_list = mirrors_for(ds, mirrors)
    dest = download_dir(ds, root, verbose)
    paths = {}
    for spec in missing:
        try:
            paths[spec.name] = download_file(ds, spec, dest, mirror_list, verbose)
        except PermissionError:
            cache = user_cache_dir() / ds.key
            if dest == cache:
                raise
            say(f"cnnlab: cannot write to {dest}; downloading to {cache} instead.", verbose)
            dest = cache
            paths[spec.name] = download_file(ds, spec, dest, mirror_list, verbose)
    return paths


def load_dataset(ds: DatasetSpec, root=None, *, download: bool = True, mirrors=None,
                 verbose: bool = True):
    """``(x_train, y_train), (x_test, y_test)`` of ``ds``: found on disk, else downloaded."""
    dirs = lookup_dirs(ds, root)
    paths: dict[str, Path] = {}
    missing: list[FileSpec] = []
    for spec in ds.files:
        found = next((p for p in (find_file(folder, spec) for folder, _ in dirs) if p), None)
        if found is None:
            missing.append(spec)
        else:
            paths[spec.name] = found

    if missing:
        if offline_mode() or not download:
            where = "\n".join(f"  - {folder}  ({desc})" for folder, desc in dirs)
            names = ", ".join(s.name for s in missing)
            why = ("downloading is switched off (CNNLAB_OFFLINE=1)" if offline_mode()
                   else "download=False")
            raise DatasetUnavailable(
                f"{ds.title} is not available: missing {names}.\nLooked in:\n{where}\n"
                f"and {why}.\n{how_to_provide(ds)}")
        paths.update(_download_missing(ds, missing, root, mirrors, verbose))

    arrays = []
    for spec in ds.files:
        arr = read_idx(paths[spec.name])
        _check_array(arr, paths[spec.name], spec, ds)
        arrays.append(arr if spec.is_images else arr.astype(np.int64))
    x_train, y_train, x_test, y_test = arrays
    return (x_train, y_train), (x_test, y_test)


def _spec(name: str) -> DatasetSpec:
    """``cnnlab.data.MNIST`` or ``cnnlab.data.FASHION_MNIST`` as set on the package now (one
    may replace it there, e.g. with other ``system_dirs``)."""
    from cnnlab import data
    return getattr(data, name)


def load_mnist(root=None, *, download: bool = True, mirrors=None, verbose: bool = True):
    """MNIST as ``(x_train, y_train), (x_test, y_test)``, like ``keras.datasets.mnist.load_data()``.

    Images are uint8 arrays (N, 28, 28), labels int64 (N,): 60,000 training, 10,000 test.

    ``root``: a folder holding the four standard files (``train-images-idx3-ubyte.gz`` ...,
    compressed or not); default ``$CNNLAB_DATA/mnist``, then the user cache
    ``~/.cache/cnnlab/mnist``. Missing files are downloaded (unless ``download=False`` or
    ``CNNLAB_OFFLINE=1``) from ``mirrors`` (base URLs; default the environment variable
    ``CNNLAB_MNIST_MIRRORS``, else the mirrors torchvision uses), checked against the
    published checksums. Raises :class:`DatasetUnavailable` (a ``RuntimeError``) explaining
    how to provide the files when they cannot be found or fetched.
    """
    return load_dataset(_spec("MNIST"), root, download=download, mirrors=mirrors,
                        verbose=verbose)


def load_fashion_mnist(root=None, *, download: bool = True, mirrors=None, verbose: bool = True):
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``; see :func:`load_mnist`.

    Also looks in Debian's ``/usr/share/datasets/fashion-mnist`` (``apt-get install
    dataset-fashion-mnist``) before downloading. Mirrors: ``CNNLAB_FASHION_MNIST_MIRRORS``,
    else Zalando Research's S3 bucket and GitHub repository. Class names:
    :data:`FASHION_MNIST_CLASSES`.
    """
    return load_dataset(_spec("FASHION_MNIST"), root, download=download, mirrors=mirrors,
                        verbose=verbose)
