"""Why a dataset could not be loaded: the exceptions the loaders raise.

``DatasetUnavailable`` (a ``RuntimeError``) is the one to catch; the download errors are
kinds of it.
"""
from __future__ import annotations

__all__ = ["DatasetUnavailable", "DownloadError", "ChecksumError", "IncompleteDownload"]


class DatasetUnavailable(RuntimeError):
    """The dataset is neither on disk nor downloadable right now (offline, mirrors down...)."""


class DownloadError(DatasetUnavailable):
    """A download went wrong; nothing was left in the cache."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the published checksum."""


class IncompleteDownload(DownloadError):
    """The transfer stopped before the announced number of bytes arrived."""
