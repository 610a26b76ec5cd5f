"""cnnlab._files: the one atomic writer (a reader never sees half a file)."""
from __future__ import annotations

import pytest

from cnnlab._files import atomic_write, write_bytes_atomic, write_text_atomic


def test_writes_then_replaces(tmp_path):
    target = tmp_path / "book.csv"
    target.write_text("old\n")
    write_text_atomic(target, "a,b\r\n1,2\r\n")
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"          # newlines kept as given
    assert write_bytes_atomic(target, b"\x00\x01") == target
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.csv"]   # no temporary left


def test_an_error_inside_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="checksum"):
        with atomic_write(target, suffix=".part") as fh:
            fh.write(b"half of a new fi")
            raise RuntimeError("checksum mismatch")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_make_dirs_and_bad_mode(tmp_path):
    write_text_atomic(tmp_path / "a" / "b" / "c.txt", "x", make_dirs=True)
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "x"
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "x", "a"):
            pass
