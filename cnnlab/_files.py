"""Atomic file writes: the one way cnnlab writes a file that someone else may be reading.

A file is written to a temporary name in the same folder, flushed to disk, then renamed over
the target with ``os.replace`` (atomic on POSIX and Windows). A reader sees the old file or
the new one, never half of one; if anything fails on the way (including a check the caller
makes before the rename), the temporary file is removed and the target is left untouched.

Used for models (``train.save_model``), datasets (``data``: a download is verified before it is
renamed into place), generated notebooks (``exercises``) and gradebooks (``grade``).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "write_bytes_atomic", "write_text_atomic"]


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", *, encoding: str = "utf-8", make_dirs: bool = False,
                 suffix: str = ".tmp"):
    """Open a temporary file next to ``path``; on a clean exit, rename it to ``path``.

    mode      : "wb" (bytes) or "w" (text, ``encoding``, newlines written as given)
    make_dirs : create the folder first
    suffix    : of the temporary name (".part" for downloads)

    Yields the open file object. Raise inside the ``with`` block to abandon the write: the
    temporary file is deleted and ``path`` is not touched.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if make_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=str(folder))
    try:
        if mode == "wb":
            fh = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline="")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path, data: bytes, *, make_dirs: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb", make_dirs=make_dirs) as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path, text: str, *, encoding: str = "utf-8", make_dirs: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically (newlines as given); returns the path."""
    with atomic_write(path, "w", encoding=encoding, make_dirs=make_dirs) as fh:
        fh.write(text)
    return Path(path)
