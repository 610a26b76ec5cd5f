"""Downloads, verification and caching, against a local HTTP server that the tests start.

Nothing here touches the internet: every mirror is http://127.0.0.1:<port>/... served by
``http.server`` in a thread (or a closed port). The server counts requests so that "once
cached, no network" is checked, not assumed.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cnnlab import data
from cnnlab.data import datasets, download, folders

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------
# A toy dataset in the real format, with its own checksums
# --------------------------------------------------------------------------------------
def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype("u1"): 0x08}[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def _make_toy(n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    blobs = {name: gzip.compress(_idx_bytes(a), mtime=0) for name, a in arrays.items()}
    files = tuple(
        datasets.FileSpec(name, len(arrays[name]),
                       sha256=hashlib.sha256(blob).hexdigest(),
                       md5=hashlib.md5(blob).hexdigest(),
                       raw_sha256=hashlib.sha256(gzip.decompress(blob)).hexdigest(),
                       size=len(blob))
        for name, blob in blobs.items())
    spec = datasets.DatasetSpec(key="toy", title="Toy", files=files, mirrors=(),
                             mirrors_env="CNNLAB_TOY_MIRRORS")
    return spec, arrays, blobs


# --------------------------------------------------------------------------------------
# The local server
# --------------------------------------------------------------------------------------
class Server:
    """Serves ``routes``: path -> bytes | ("short", bytes) | ("hang", seconds) | 404."""

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                route = server.routes.get(self.path, 404)
                if route == 404:
                    self.send_error(404, "Not Found")
                    return
                if isinstance(route, tuple) and route[0] == "hang":
                    time.sleep(route[1])
                    return
                short = isinstance(route, tuple) and route[0] == "short"
                body = route[1] if short else route
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if short:  # announce everything, send half, hang up
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                else:
                    self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def url(self, prefix: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{prefix}"

    def serve(self, prefix: str, blobs: dict):
        for name, blob in blobs.items():
            self.routes[f"/{prefix}{name}"] = blob

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def online(monkeypatch, tmp_path):
    """Network allowed (to 127.0.0.1 only), user cache in tmp, no proxies, no CNNLAB_DATA."""
    monkeypatch.setenv("CNNLAB_OFFLINE", "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return tmp_path


def _closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _assert_equal_dataset(result, arrays):
    (xtr, ytr), (xte, yte) = result
    np.testing.assert_array_equal(xtr, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(ytr, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(xte, arrays["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte.gz"])
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int64


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------
def test_download_verifies_caches_and_then_never_touches_the_network(online, server, capsys):
    spec, arrays, blobs = _make_toy()
    server.serve("a/", blobs)
    root = online / "root"
    result = datasets.load_dataset(spec, root, mirrors=[server.url("a/")])
    _assert_equal_dataset(result, arrays)
    assert len(server.requests) == 4
    assert _leftovers(root) == sorted(blobs)  # the four files, no temporary files
    for name, blob in blobs.items():
        assert (root / name).read_bytes() == blob
    assert "Toy" in capsys.readouterr().err  # says what it downloads

    # Cached: same result, zero requests, even with the server gone.
    server.close()
    again = datasets.load_dataset(spec, root, mirrors=[server.url("a/")])
    _assert_equal_dataset(again, arrays)
    assert len(server.requests) == 4


def test_cached_files_are_used_even_when_offline(online, server, monkeypatch):
    spec, arrays, blobs = _make_toy()
    server.serve("", blobs)
    datasets.load_dataset(spec, None, mirrors=[server.url()])  # into the user cache
    assert _leftovers(data.user_cache_dir() / "toy") == sorted(blobs)
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    _assert_equal_dataset(datasets.load_dataset(spec, None, mirrors=[server.url()]), arrays)
    assert len(server.requests) == 4


def test_wrong_checksum_raises_and_leaves_nothing(online, server):
    spec, arrays, blobs = _make_toy()
    bad = dict(blobs)
    bad["t10k-images-idx3-ubyte.gz"] = gzip.compress(b"\x00\x00\x08\x03" + b"\x01" * 40)
    server.serve("", bad)
    root = online / "root"
    with pytest.raises(data.ChecksumError) as info:
        datasets.load_dataset(spec, root, mirrors=[server.url()])
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and "checksum" in msg
    assert spec.files[2].sha256 in msg  # shows what was expected
    assert "t10k-images-idx3-ubyte.gz" not in _leftovers(root)
    assert not [n for n in _leftovers(root) if n.endswith(".part") or n.startswith(".")]
    assert isinstance(info.value, data.DatasetUnavailable)  # so the sample fallback applies


def test_cut_off_transfer_raises_and_leaves_nothing(online, server):
    spec, arrays, blobs = _make_toy()
    server.serve("", blobs)
    server.routes["/train-images-idx3-ubyte.gz"] = ("short", blobs["train-images-idx3-ubyte.gz"])
    root = online / "root"
    with pytest.raises(data.IncompleteDownload) as info:
        datasets.load_dataset(spec, root, mirrors=[server.url()])
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert "cut short" in str(info.value) or "broke off" in str(info.value)
    assert _leftovers(root) == []  # the first file failed: nothing at all in the cache


def test_bad_first_mirrors_fall_through_to_a_good_one(online, server):
    spec, arrays, blobs = _make_toy()
    server.serve("good/", blobs)
    # a closed port (connection refused), then a mirror answering 404
    mirrors = [_closed_port_url(), server.url("missing/"), server.url("good/")]
    root = online / "root"
    _assert_equal_dataset(datasets.load_dataset(spec, root, mirrors=mirrors), arrays)
    assert sum(r.startswith("/missing/") for r in server.requests) == 4
    assert sum(r.startswith("/good/") for r in server.requests) == 4
    assert _leftovers(root) == sorted(blobs)


def test_a_hanging_mirror_times_out_and_falls_through(online, server, monkeypatch):
    spec, arrays, blobs = _make_toy()
    server.serve("good/", blobs)
    for name in blobs:
        server.routes[f"/slow/{name}"] = ("hang", 3.0)
    monkeypatch.setattr(data, "CONNECT_TIMEOUT", 0.2)
    # one file is enough (and keeps the test short): fetch it directly
    path = download.download_file(spec, spec.files[1], online / "root",
                               [server.url("slow/"), server.url("good/")], verbose=False)
    assert path.read_bytes() == blobs["train-labels-idx1-ubyte.gz"]


def test_all_mirrors_dead_is_a_clear_dataset_unavailable(online, server):
    spec, _, _ = _make_toy()
    root = online / "root"
    with pytest.raises(data.DatasetUnavailable) as info:
        datasets.load_dataset(spec, root, mirrors=[_closed_port_url(), server.url("none/")])
    msg = str(info.value)
    assert "every mirror failed" in msg and "HTTP 404" in msg
    assert "CNNLAB_DATA" in msg
    assert _leftovers(root) == []


def test_offline_mode_never_touches_the_network(online, server, monkeypatch):
    spec, _, blobs = _make_toy()
    server.serve("", blobs)
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    with pytest.raises(data.DatasetUnavailable) as info:
        datasets.load_dataset(spec, online / "root", mirrors=[server.url()])
    msg = str(info.value)
    assert "CNNLAB_OFFLINE=1" in msg and "train-images-idx3-ubyte.gz" in msg
    assert str(online / "root") in msg  # where it looked
    assert server.requests == []
    with pytest.raises(data.DatasetUnavailable):
        monkeypatch.setenv("CNNLAB_OFFLINE", "0")
        datasets.load_dataset(spec, online / "root", download=False, mirrors=[server.url()])
    assert server.requests == []


def test_mirrors_from_the_environment(online, server, monkeypatch):
    spec, arrays, blobs = _make_toy()
    server.serve("env/", blobs)
    monkeypatch.setenv("CNNLAB_TOY_MIRRORS", f"{_closed_port_url()} , {server.url('env')}")
    _assert_equal_dataset(datasets.load_dataset(spec, online / "root"), arrays)
    assert len(server.requests) == 4


def test_cnnlab_data_is_read_first_and_downloaded_into(online, server, monkeypatch):
    spec, arrays, blobs = _make_toy()
    server.serve("", blobs)
    shared = online / "shared"
    monkeypatch.setenv("CNNLAB_DATA", str(shared))
    _assert_equal_dataset(datasets.load_dataset(spec, None, mirrors=[server.url()]), arrays)
    assert _leftovers(shared / "toy") == sorted(blobs)
    assert not (data.user_cache_dir() / "toy").exists()


def test_uncompressed_files_are_accepted(online):
    spec, arrays, blobs = _make_toy()
    root = online / "raw"
    root.mkdir()
    for name, blob in blobs.items():
        (root / name[:-3]).write_bytes(gzip.decompress(blob))
    _assert_equal_dataset(datasets.load_dataset(spec, root, download=False), arrays)


def test_recompressed_copy_is_accepted_by_content_hash(online, server):
    spec, arrays, blobs = _make_toy()
    other = {n: gzip.compress(gzip.decompress(b), compresslevel=1, mtime=12345)
             for n, b in blobs.items()}
    assert all(other[n] != blobs[n] for n in blobs)
    server.serve("", other)
    _assert_equal_dataset(datasets.load_dataset(spec, online / "r", mirrors=[server.url()]), arrays)


# --------------------------------------------------------------------------------------
# Read-only folders
# --------------------------------------------------------------------------------------
# The tests run as root, and root ignores permission bits (the capabilities
# CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH), so chmod alone cannot make a folder read-only for
# root; a read-only bind mount or chattr +i would need more privileges and a cooperative
# filesystem. Instead the scenario runs in a child process started through util-linux's
# `setpriv` with those two capabilities removed: still uid 0 (so it can run the interpreter
# under /root), but the kernel now enforces chmod 0555 exactly as for an ordinary user. The
# code under test runs unmodified, nothing is mocked. Not root: chmod suffices, no setpriv.
_CHILD = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {repo!r})
    sys.path.insert(0, {tests!r})
    from test_download import _make_toy
    from cnnlab import data
    from cnnlab.data import datasets
    spec, arrays, blobs = _make_toy()
    (xtr, ytr), (xte, yte) = datasets.load_dataset(spec, {root!r}, mirrors={mirrors!r})
    print(json.dumps({{"ok": bool((xtr == arrays["train-images-idx3-ubyte.gz"]).all()),
                       "cache": str(data.user_cache_dir())}}))
""")


_DROP = "-dac_override,-dac_read_search"


def _unprivileged_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without util-linux setpriv: cannot make chmod bite")
    return [setpriv, f"--inh-caps={_DROP}", f"--bounding-set={_DROP}", "--"]


def _run_unprivileged(script: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*_unprivileged_prefix(), sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def world_tmp(tmp_path):
    yield tmp_path
    for p in [tmp_path, *tmp_path.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)


def _child_env(world_tmp: Path) -> dict:
    cache = world_tmp / "cache"
    cache.mkdir()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(XDG_CACHE_HOME=str(cache), HOME=str(cache), CNNLAB_OFFLINE="0",
               no_proxy="127.0.0.1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("CNNLAB_DATA", None)
    return env


def _snapshot(folder: Path):
    return sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()), \
        folder.stat().st_mtime_ns


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_root_with_the_files_is_read_without_writing(world_tmp, server):
    spec, arrays, blobs = _make_toy()
    root = world_tmp / "shared"
    root.mkdir()
    for name, blob in blobs.items():
        (root / name).write_bytes(blob)
        (root / name).chmod(0o444)
    root.chmod(0o555)
    before = _snapshot(root)
    script = _CHILD.format(repo=str(REPO), tests=str(REPO / "tests"), root=str(root),
                           mirrors=[server.url()])
    proc = _run_unprivileged(script, _child_env(world_tmp))
    assert proc.returncode == 0, proc.stderr
    assert '"ok": true' in proc.stdout
    assert _snapshot(root) == before
    assert server.requests == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_root_missing_files_downloads_to_user_cache(world_tmp, server):
    spec, arrays, blobs = _make_toy()
    server.serve("", blobs)
    root = world_tmp / "shared"
    root.mkdir()
    root.chmod(0o555)
    before = _snapshot(root)
    env = _child_env(world_tmp)
    script = _CHILD.format(repo=str(REPO), tests=str(REPO / "tests"), root=str(root),
                           mirrors=[server.url()])
    proc = _run_unprivileged(script, env)
    assert proc.returncode == 0, proc.stderr
    assert '"ok": true' in proc.stdout
    assert "read-only" in proc.stderr and "user cache" in proc.stderr
    assert _snapshot(root) == before
    assert _leftovers(Path(env["XDG_CACHE_HOME"]) / "cnnlab" / "toy") == sorted(blobs)
    assert len(server.requests) == 4


def test_writable_check_never_creates_anything(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    assert folders.is_writable_dir(target)
    assert not (tmp_path / "a").exists()


# --------------------------------------------------------------------------------------
# The real checksums
# --------------------------------------------------------------------------------------
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist not installed")
def test_real_fashion_mnist_files_pass_the_published_checksums(online, server, monkeypatch):
    """Serve Debian's files and download them through the real Fashion-MNIST description.

    Debian re-gzipped the files, so their .gz bytes differ from upstream's published md5/
    sha256 and they are accepted through the hash of their decompressed content.
    """
    blobs = {p.name: p.read_bytes() for p in FASHION_DIR.glob("*-ubyte.gz")}
    assert len(blobs) == 4
    server.serve("fm/", blobs)
    monkeypatch.setattr(data, "FASHION_MNIST",
                        dataclasses.replace(data.FASHION_MNIST, system_dirs=()))
    root = online / "fm"
    (xtr, ytr), (xte, yte) = data.load_fashion_mnist(root, mirrors=[server.url("fm/")],
                                                     verbose=False)
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert np.bincount(ytr).tolist() == [6000] * 10
    assert _leftovers(root) == sorted(blobs)


def test_real_mnist_description_rejects_a_foreign_file(online, server):
    fake = gzip.compress(_idx_bytes(np.zeros(10, np.uint8)))
    server.routes["/m/train-images-idx3-ubyte.gz"] = fake
    with pytest.raises(data.ChecksumError) as info:
        data.load_mnist(online / "m", mirrors=[server.url("m/")], verbose=False)
    assert "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609" in str(info.value)
    assert _leftovers(online / "m") == []


def test_published_checksums_are_well_formed():
    for ds in (data.MNIST, data.FASHION_MNIST):
        assert len(ds.files) == 4
        for f in ds.files:
            assert len(f.sha256) == 64 and len(f.md5) == 32 and len(f.raw_sha256) == 64
            int(f.sha256, 16), int(f.md5, 16), int(f.raw_sha256, 16)


def test_download_progress_bar_text():
    import io

    class TTY(io.StringIO):
        def isatty(self):
            return True

    tty = TTY()
    bar = download.TextProgress("f.gz", 1000, stream=tty)
    for _ in range(10):
        bar._last = 0.0
        bar.update(100)
    bar.close()
    text = tty.getvalue()
    assert text.count("\r") >= 10 and "100%" in text and "f.gz" in text
    assert text.endswith("\n") and text.count("\n") == 1

    pipe = io.StringIO()  # not a terminal: a single line at the end
    bar = download.TextProgress("f.gz", 1000, stream=pipe)
    bar.update(1000)
    bar.close()
    assert "\r" not in pipe.getvalue() and pipe.getvalue().count("\n") == 1
