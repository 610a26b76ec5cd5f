"""Where datasets are looked for and downloaded to, and what to say when they are missing.

Reading looks in, in order: ``root`` (if given), ``$CNNLAB_DATA/<dataset>``, the user cache
(``$XDG_CACHE_HOME/cnnlab/<dataset>`` or ``~/.cache/cnnlab/<dataset>``), then the dataset's
system folders (Debian's ``/usr/share/datasets/fashion-mnist``). Reading never writes.
Downloads go to ``root`` or ``$CNNLAB_DATA/<dataset>`` when writable, else the user cache.

``ds`` below is a :class:`cnnlab.data.datasets.DatasetSpec`, ``spec`` one of its files.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from cnnlab import DATA_ENV

__all__ = ["user_cache_dir", "lookup_dirs", "download_dir", "find_file", "is_writable_dir",
           "how_to_provide", "say"]


def user_cache_dir() -> Path:
    """The per-user cache folder for datasets: ``$XDG_CACHE_HOME/cnnlab`` or ``~/.cache/cnnlab``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "cnnlab"


def say(msg: str, verbose: bool = True) -> None:
    """Print ``msg`` on stderr (where cnnlab reports what it fetches), if ``verbose``."""
    if verbose:
        print(msg, file=sys.stderr, flush=True)


def is_writable_dir(path: Path) -> bool:
    """Could we create files in ``path`` (creating it if needed)? Never creates anything."""
    p = Path(path)
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    return p.is_dir() and os.access(p, os.W_OK | os.X_OK)


def find_file(folder: Path, spec) -> Path | None:
    """``folder/<name>.gz`` or the uncompressed ``folder/<name>``, whichever exists."""
    for name in (spec.name, spec.raw_name):
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def lookup_dirs(ds, root) -> list[tuple[Path, str]]:
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


def download_dir(ds, root, verbose: bool) -> Path:
    """Where to download ``ds``: ``root`` or ``$CNNLAB_DATA/<key>`` if writable, else the
    user cache (announced on stderr)."""
    if root is not None:
        preferred, what = Path(root).expanduser(), str(Path(root).expanduser())
    else:
        env = os.environ.get(DATA_ENV, "").strip()
        preferred = Path(env).expanduser() / ds.key if env else None
        what = f"${DATA_ENV}/{ds.key} = {preferred}"
    cache = user_cache_dir() / ds.key
    if preferred is None or preferred == cache:
        return cache
    if is_writable_dir(preferred):
        return preferred
    say(f"cnnlab: {what} is read-only; downloading {ds.title} to your user cache {cache} "
         f"instead.", verbose)
    return cache


def how_to_provide(ds) -> str:
    """The ways to make ``ds`` available, for the message of a DatasetUnavailable."""
    cache = user_cache_dir() / ds.key
    lines = [f"To provide {ds.title}, any of:",
             f"  - copy the four files ({', '.join(f.name for f in ds.files)}) into {cache}",
             f"  - or put them in a shared folder DIR/{ds.key} and set {DATA_ENV}=DIR "
             f"(it may be read-only)",
             "  - or pass root=<folder holding the files> (cnnlab train --data-root <folder>)"]
    if ds.apt_package:
        lines.append(f"  - or install Debian's package: sudo apt-get install {ds.apt_package}")
    lines.append(f"  - or allow downloads (unset CNNLAB_OFFLINE; mirrors can be set with "
                 f"{ds.mirrors_env}=URL1,URL2)")
    return "\n".join(lines)
