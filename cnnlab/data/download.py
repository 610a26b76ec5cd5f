"""Downloading a dataset file from a list of mirrors, verified before it lands.

Each file streams into a temporary file next to its destination (``cnnlab._files.atomic_write``)
while its sha256 and md5 are computed; it is renamed into place only when every byte the server
announced arrived and the checksums are the published ones. A broken transfer or a wrong file
raises and leaves nothing behind; the next mirror is tried.

``ds`` below is a :class:`cnnlab.data.datasets.DatasetSpec`, ``spec`` one of its files
(``name``, ``size`` and the published ``sha256``/``md5``/``raw_sha256``).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
import zlib
from http.client import HTTPException
from pathlib import Path

from cnnlab._files import atomic_write
from cnnlab.data.errors import ChecksumError, DatasetUnavailable, IncompleteDownload
from cnnlab.data.folders import how_to_provide, say

__all__ = ["CONNECT_TIMEOUT", "READ_TIMEOUT", "download_file", "mirrors_for", "TextProgress"]

#: Seconds to wait for a connection (and the first response), then between two reads.
#: A download reads them from the package, so ``cnnlab.data.CONNECT_TIMEOUT = 20`` works.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
_CHUNK = 1 << 16


def _timeouts() -> tuple[float, float]:
    from cnnlab import data        # the values as set on the package now
    return data.CONNECT_TIMEOUT, data.READ_TIMEOUT


def mirrors_for(ds, mirrors) -> list[str]:
    """The base URLs to try: ``mirrors`` if given, else ``$<ds.mirrors_env>``, else the
    defaults in ``ds.mirrors``."""
    if mirrors is None:
        env = os.environ.get(ds.mirrors_env, "").strip()
        if env:
            mirrors = env.replace(",", " ").split()
        else:
            mirrors = ds.mirrors
    elif isinstance(mirrors, (str, os.PathLike)):
        mirrors = [os.fspath(mirrors)]
    return [str(m) for m in mirrors if str(m).strip()]


class TextProgress:
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


class _Digests:
    """The checksums of a file as its bytes arrive: sha256 and md5 of the bytes and, when the
    spec publishes ``raw_sha256``, sha256 of their gunzipped content (a mirror may re-compress
    the files, as Debian does: same content, other .gz bytes)."""

    def __init__(self, spec):
        self.spec = spec
        self.sha256, self.md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        self.raw = hashlib.sha256() if spec.raw_sha256 else None
        self._gunzip = zlib.decompressobj(wbits=31)      # 31: gzip container

    def update(self, block: bytes) -> None:
        self.sha256.update(block)
        self.md5.update(block)
        try:
            while self.raw is not None and block:        # a .gz may hold several members
                if self._gunzip.eof:
                    self._gunzip = zlib.decompressobj(wbits=31)
                self.raw.update(self._gunzip.decompress(block))
                block = self._gunzip.unused_data
        except zlib.error:
            self.raw = None                               # not gzip: no content to compare

    def problem(self) -> str | None:
        """None when the file is the published one; else a description of the mismatch."""
        spec = self.spec
        checks = [(alg, want, got.hexdigest()) for alg, want, got in
                  (("sha256", spec.sha256, self.sha256), ("md5", spec.md5, self.md5)) if want]
        if checks and all(want == got for _, want, got in checks):
            return None
        if self.raw is not None and self._gunzip.eof \
                and self.raw.hexdigest() == spec.raw_sha256:
            return None
        if not checks and not spec.raw_sha256:
            return None  # nothing published to check against
        return "; ".join(f"{alg} {got} (expected {want})" for alg, want, got in checks)


def _set_read_timeout(response, seconds: float) -> None:
    # urlopen's timeout covers the connection; loosen it for the body (best effort).
    with contextlib.suppress(Exception):
        response.fp.raw._sock.settimeout(seconds)


def _copy(response, out, digests: _Digests, progress: TextProgress, url: str,
          length: int | None) -> int:
    """Stream the response body into ``out``; returns the number of bytes received."""
    received = 0
    try:
        while block := response.read(_CHUNK):
            out.write(block)
            digests.update(block)
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
    return received


def _fetch_one(url: str, dest_dir: Path, spec, verbose: bool) -> Path:
    """Download ``url`` into ``dest_dir/spec.name``; verified and atomic, or raises.

    Raises OSError/URLError/HTTPException for an unreachable mirror (the caller tries the
    next one), IncompleteDownload / ChecksumError for a bad transfer (nothing is left behind).
    """
    connect_timeout, read_timeout = _timeouts()
    request = urllib.request.Request(url, headers={"User-Agent": "cnnlab"})
    with urllib.request.urlopen(request, timeout=connect_timeout) as response:
        _set_read_timeout(response, read_timeout)
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        final = Path(dest_dir) / spec.name
        progress = TextProgress(spec.name, length or spec.size, enabled=verbose)
        ok = False
        try:
            with atomic_write(final, "wb", make_dirs=True, suffix=".part") as out:
                digests = _Digests(spec)
                received = _copy(response, out, digests, progress, url, length)
                problem = digests.problem()
                if problem:     # raising here discards the temporary file
                    raise ChecksumError(
                        f"{url}: the downloaded {spec.name} ({received:,} bytes) does not "
                        f"match the published checksum: {problem}. The file was discarded.")
            ok = True
            return final
        finally:
            progress.close(ok)


def download_file(ds, spec, dest_dir: Path, mirrors: list[str], verbose: bool) -> Path:
    """Download one file of ``ds`` into ``dest_dir``, trying each mirror in turn.

    Returns the verified file's path. Raises the worst failure seen (ChecksumError, then
    IncompleteDownload, else DatasetUnavailable) with every mirror's story and how to
    provide the file; a PermissionError on ``dest_dir`` is raised as is (the caller may
    fall back to the user cache).
    """
    failures: list[str] = []
    worst: type[DatasetUnavailable] = DatasetUnavailable
    for base in mirrors:
        url = base.rstrip("/") + "/" + spec.name
        say(f"cnnlab: downloading {ds.title} {spec.name} from {url}", verbose)
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
            say(f"cnnlab:   failed ({failures[-1]}); trying the next mirror", verbose)
    detail = "\n  ".join(failures) if failures else "(no mirrors given)"
    raise worst(f"could not download {ds.title} {spec.name}; every mirror failed:\n  {detail}"
                + ("" if worst is DatasetUnavailable else "\nNothing was left in " + str(dest_dir))
                + "\n" + how_to_provide(ds))
