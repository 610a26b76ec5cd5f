"""The IDX file format of LeCun's MNIST files: :func:`read_idx` and :class:`IDXFormatError`."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDXFormatError", "read_idx"]


class IDXFormatError(ValueError):
    """A file is not a well-formed IDX file (foreign, truncated, wrong shape)."""


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
