"""The sandbox (cnnlab.grade.sandbox) against planted attacks, with real bubblewrap and kernels.

One grading run (``cnnlab grade`` in a subprocess with the default ``--sandbox auto``, two jobs)
grades a folder of hostile notebooks and, last, an honest "victim"; every row must say it ran
in the sandbox. Every attack is aimed at files of
this test's own temporary "arena" only (a fake gradebook, a previous gradebook, the victim's
notebook, a copy of the cnnlab package the grader runs from, a new file in the course folder),
never at system paths, so a control run WITHOUT the sandbox (which must show the harmless
attacks succeed, so the test can fail) damages nothing but the arena. The attacks that would
hurt this machine without the sandbox (memory, fork bomb, gigabytes of output) check that they
run in a PID namespace under bwrap first and otherwise do nothing.

Each attack notebook also holds a correct ``output_size`` (its legitimate part: 2 points) and
reports what it saw through ``corr2d``, which raises ``RuntimeError("REPORT {...}")``: the
grader's details carry that message, so the test reads each attack's observations through the
grader's own channel.

The tests skip (with the reason) where the sandbox cannot start: no bubblewrap, no user
namespaces, not Linux. CI runs as root with Debian's bubblewrap (``.ci/run``).
"""
from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from cnnlab import grade
from cnnlab.checks import EXERCISES
from cnnlab.grade import sandbox

ROOT = Path(__file__).resolve().parents[1]
TOKEN = f"cnnlab-attack-{uuid.uuid4().hex[:12]}"   # in every daemon's command line
CELL_TIMEOUT = 15


@functools.lru_cache(maxsize=None)
def _mode() -> sandbox.Mode:
    return sandbox.choose("auto")


@pytest.fixture(scope="module")
def sandboxed():
    mode = _mode()
    if not mode.sandboxed:
        pytest.skip(f"the sandbox cannot start here: {mode.reason}")
    return mode


# =========================================================================== the attacks
PREAMBLE = """
import json, os
OBS = {{}}
SANDBOXED = os.getpid() == 2 and open("/proc/1/comm").read().strip() == "bwrap"
OBS["sandboxed"] = SANDBOXED
GRADEBOOK, OLD_GRADEBOOK, VICTIM = {gradebook!r}, {old!r}, {victim!r}
PACKAGE_FILE, COURSE, SOLUTIONS = {package_file!r}, {course!r}, {solutions!r}
PORT, ABSTRACT, TOKEN = {port}, {abstract!r}, {token!r}

def outcome(action):
    try:
        action()
        return "DONE"
    except BaseException as exc:
        return type(exc).__name__
"""

LEGIT = """
def output_size(n, f, s=1, p=0, d=1):
    return (n + 2 * p - d * (f - 1) - 1) // s + 1
"""

REPORT = """
def corr2d(x, k):
    raise RuntimeError("REPORT " + json.dumps(OBS))
"""

DAEMON = r"""
import subprocess, sys
code = r'''
import os, sys, time
mark = "# pwned by a daemon"
t0 = time.time()
while time.time() - t0 < 120:          # long after its kernel: the gradebook comes last
    for path in sys.argv[1:5]:         # gradebook, old gradebook, victim, package file
        try:
            if mark not in open(path).read():
                with open(path, "a") as fh:
                    fh.write(mark + "\n")
        except OSError:
            pass
    time.sleep(0.2)
'''
args = [GRADEBOOK, OLD_GRADEBOOK, VICTIM, PACKAGE_FILE, TOKEN]
# a double fork into a new session, the classic daemon ...
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", code, *args])
    os._exit(0)
os.wait()
# ... and one started the easy way
subprocess.Popen([sys.executable, "-c", code, *args], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
OBS["daemons"] = "started"
"""

WRITE = r"""
def append(path):
    def act():
        with open(path, "a") as fh:
            fh.write("# pwned\n")
    return act

OBS["gradebook"] = outcome(append(GRADEBOOK))
OBS["old gradebook"] = outcome(append(OLD_GRADEBOOK))
OBS["victim"] = outcome(append(VICTIM))
OBS["package"] = outcome(append(PACKAGE_FILE))
OBS["package chmod"] = outcome(lambda: os.chmod(PACKAGE_FILE, 0o666))
OBS["new course file"] = outcome(append(os.path.join(COURSE, "pwned.txt")))
OBS["grader's job file"] = outcome(append(os.path.join(os.getcwd(), "..", "job.json")))
OBS["scratch"] = outcome(append("mine.txt"))        # its own folder: allowed
"""

READ = r"""
import glob
def read(path):
    def act():
        with open(path) as fh:
            OBS.setdefault("read", {})[path] = len(fh.read())
    return act

OBS["victim"] = outcome(read(VICTIM))
OBS["solutions"] = outcome(read(os.path.join(SOLUTIONS, "01_cross_correlation.ipynb")))
OBS["listing"] = outcome(lambda: os.listdir(COURSE))
# what a cheat would do with it: take the victim's corr2d as its own
try:
    src = json.JSONDecoder().raw_decode(open(VICTIM).read())[0]["cells"][0]["source"]
    exec("".join(src))
    OBS["stolen"] = True
except Exception as exc:
    OBS["stolen"] = type(exc).__name__
"""

NETWORK = r"""
import socket
def connect(family, address):
    def act():
        s = socket.socket(family)
        s.settimeout(5)
        try:
            s.connect(address)
            s.sendall(b"pwned")
        finally:
            s.close()
    return act

OBS["tcp to the grader's machine"] = outcome(connect(socket.AF_INET, ("127.0.0.1", PORT)))
OBS["abstract unix socket"] = outcome(connect(socket.AF_UNIX, "\0" + ABSTRACT))
OBS["interfaces"] = [name for _, name in socket.if_nameindex()]
if SANDBOXED:   # never from this machine's real network
    OBS["outside"] = outcome(connect(socket.AF_INET, ("192.0.2.1", 80)))
    OBS["dns"] = outcome(lambda: socket.getaddrinfo("pypi.org", 443))
"""

MEMORY = r"""
import subprocess, sys
import numpy as np
if SANDBOXED:
    OBS["8 GiB at once"] = outcome(lambda: np.empty(2**30, dtype=np.float64))
    chunks = []
    def grab():
        for _ in range(32):                       # 16 GiB in 512 MiB pieces
            chunks.append(np.ones(2**26))
    OBS["512 MiB pieces"] = outcome(grab)
    OBS["got MiB"] = len(chunks) * 512
    del chunks
    child = subprocess.run([sys.executable, "-c", "bytearray(3 * 2**30)"],
                           capture_output=True, text=True)
    OBS["child 3 GiB"] = child.returncode != 0 and "MemoryError" in child.stderr
"""

FORK_BOMB = r"""
import time
if SANDBOXED:
    children, error = [], None
    for _ in range(1000):                        # bounded: at most 1000 sleeping children
        try:
            pid = os.fork()
        except OSError as exc:
            error = type(exc).__name__
            break
        if pid == 0:
            time.sleep(300)
            os._exit(0)
        children.append(pid)
    OBS["forked"], OBS["then"] = len(children), error
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
"""

FLOOD = r"""
import time
if SANDBOXED:
    OBS["flood"] = "started"
    line = "x" * 2**20
    t0 = time.time()
    for _ in range(4096):                        # 4 GiB, unless the cell timeout stops it
        print(line)
    OBS["flood"] = f"printed 4 GiB in {time.time() - t0:.0f} s"
"""

FLOOD_RAW = r"""
if SANDBOXED:
    for _ in range(1024):                        # 1 GiB straight to file descriptor 1
        os.write(1, b"y" * 2**20)
    OBS["raw"] = "done"
"""

ATTACKS = {   # name -> the attack's cells (between the preamble and the legitimate part)
    "a_daemon": [DAEMON],
    "b_write": [WRITE],
    "c_read": [READ],
    "d_network": [NETWORK],
    "e_memory": [MEMORY],
    "f_fork_bomb": [FORK_BOMB],
    "g_flood": [FLOOD, FLOOD_RAW],
}
HARMLESS = ("a_daemon", "b_write", "c_read", "d_network")   # also run without the sandbox



def _solution(grade_id: str) -> str:
    """The source of a solution cell of lesson 1 (``corr2d-impl``)."""
    nb = nbformat.read(ROOT / "solutions" / "01_cross_correlation.ipynb", as_version=4)
    return next(c.source for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


VICTIM_CODE = "import numpy as np\n\n" + _solution("corr2d-impl")   # the honest classmate


def _write_nb(path: Path, cells: list[str]) -> None:
    # fixed cell ids: the same file every run, so the same fresh cases (seeded by its hash)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c, id=f"cell-{i}")
                                         for i, c in enumerate(cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))


class Listener:
    """The machine's services an attack may try to reach: TCP on 127.0.0.1 and an abstract
    Unix socket, both in this (the grader's) network namespace."""

    def __init__(self):
        self.hits: list[str] = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.abstract = f"cnnlab-test-{uuid.uuid4().hex[:8]}"
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind("\0" + self.abstract)
        self.unix.listen(8)
        for sock, label in ((self.tcp, "tcp"), (self.unix, "unix")):
            threading.Thread(target=self._accept, args=(sock, label), daemon=True).start()

    def _accept(self, sock, label):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self.hits.append(label)
            conn.close()

    def close(self):
        for sock in (self.tcp, self.unix):
            sock.close()


def _snapshot(folder: Path, skip: set) -> dict:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mode)
            for p in sorted(folder.rglob("*")) if p.is_file() and p not in skip}


def _pids_with(token: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if token.encode() in (p / "cmdline").read_bytes():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


def _kill_tokens(token: str) -> None:
    for pid in _pids_with(token):
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def _arena(base: Path, names, listener: Listener) -> dict:
    """A course folder, a copy of the cnnlab package the grader runs from, the submissions."""
    pkg = base / "pkg"
    shutil.copytree(ROOT / "cnnlab", pkg / "cnnlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    course = base / "course"
    subs = course / "submissions"
    subs.mkdir(parents=True)
    old = course / "last_week.csv"
    old.write_text("submission,total\nalice,29\n")
    paths = {"gradebook": str(course / "grades.csv"), "old": str(old),
             "victim": str(subs / "z_victim.ipynb"),
             "package_file": str(pkg / "cnnlab" / "checks" / "engine.py"),
             "course": str(course), "solutions": str(ROOT / "solutions"),
             "port": listener.port, "abstract": listener.abstract, "token": TOKEN}
    for name in names:
        _write_nb(subs / f"{name}.ipynb",
                  [PREAMBLE.format(**paths), *ATTACKS[name], LEGIT, REPORT])
    _write_nb(subs / "z_victim.ipynb", [VICTIM_CODE, LEGIT])
    return {"base": base, "pkg": pkg, "course": course, "subs": subs, **paths,
            "out": course / "grades.csv", "details": course / "details.json"}


def _grade(arena: dict, mode: str) -> subprocess.CompletedProcess:
    # the grader runs the copy (and writes no bytecode into it: the snapshot is of attacks)
    env = dict(os.environ, PYTHONPATH=str(arena["pkg"]), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "cnnlab", "grade", str(arena["subs"]), "--out", str(arena["out"]),
         "--details", str(arena["details"]), "--sandbox", mode, "--jobs", "2",
         "--timeout", "240", "--cell-timeout", str(CELL_TIMEOUT),
         "--exercise", "corr2d", "--exercise", "output_size"],
        capture_output=True, text=True, cwd=str(arena["base"]), env=env, timeout=900)


def _observations(details: dict, name: str) -> dict:
    message = " ".join(details[f"{name}.ipynb"]["exercises"]["corr2d"]["messages"])
    start = message.index("REPORT ") + len("REPORT ")
    return json.JSONDecoder().raw_decode(message[start:])[0]


# =========================================================================== the sandboxed run
@pytest.fixture(scope="module")
def attacked(sandboxed, tmp_path_factory):
    listener = Listener()
    arena = _arena(tmp_path_factory.mktemp("arena"), list(ATTACKS), listener)
    skip = {arena["out"], arena["details"]}
    before = _snapshot(arena["base"], skip)
    solutions_before = _snapshot(ROOT / "solutions", set())
    t0 = time.monotonic()
    try:
        proc = _grade(arena, "auto")                   # the default; the rows say "bwrap"
        seconds = time.monotonic() - t0
        left_right_after = _pids_with(TOKEN)
        time.sleep(3)                                  # time for a surviving daemon to act
        after = _snapshot(arena["base"], skip)
        out_text = arena["out"].read_text() if arena["out"].exists() else ""
    finally:
        listener.close()
        _kill_tokens(TOKEN)
    details = json.loads(arena["details"].read_text()) if arena["details"].exists() else {}
    rows = {r["submission"]: r for r in csv.DictReader(out_text.splitlines())}
    return {"proc": proc, "rows": rows, "details": details, "before": before, "after": after,
            "left": left_right_after, "hits": list(listener.hits), "seconds": seconds,
            "out_text": out_text, "solutions": (solutions_before, _snapshot(ROOT / "solutions", set())),
            "arena": arena}


def test_the_grader_survives_and_grades_everyone(attacked):
    proc = attacked["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = attacked["rows"]
    assert sorted(rows) == sorted([f"{n}.ipynb" for n in ATTACKS] + ["z_victim.ipynb"])
    assert all(r["sandbox"] == "bwrap" for r in rows.values())
    victim = rows["z_victim.ipynb"]                  # the honest one, graded last
    assert (victim["corr2d"], victim["output_size"], victim["status"]) == ("3", "2", "ok")


def test_each_attack_earns_only_its_legitimate_part(attacked):
    for name in ATTACKS:
        row = attacked["rows"][f"{name}.ipynb"]
        assert (row["corr2d"], row["output_size"]) == ("0", "2"), (name, row)
        obs = _observations(attacked["details"], name)
        assert obs["sandboxed"] is True, (name, obs)


def test_no_file_outside_the_scratch_folders_changed(attacked):
    before, after = attacked["before"], attacked["after"]
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert changed == []
    assert attacked["solutions"][0] == attacked["solutions"][1]
    assert "pwned" not in attacked["out_text"]
    assert not (Path(attacked["arena"]["course"]) / "pwned.txt").exists()


def test_a_daemon_dies_with_its_kernel(attacked):
    assert _observations(attacked["details"], "a_daemon")["daemons"] == "started"
    assert attacked["left"] == [], "a daemon outlived the grading run"


def test_writes_outside_the_scratch_folder_fail(attacked):
    obs = _observations(attacked["details"], "b_write")
    assert obs["scratch"] == "DONE"                   # its own folder is writable
    for target in ("gradebook", "old gradebook", "victim", "new course file",
                   "grader's job file", "package", "package chmod"):
        assert obs[target] != "DONE", (target, obs)
    # the course and the grader's folder are not even there; the package is read-only
    assert obs["gradebook"] == obs["victim"] == "FileNotFoundError", obs
    assert obs["package"] in ("OSError", "PermissionError"), obs


def test_other_submissions_and_the_solutions_are_invisible(attacked):
    obs = _observations(attacked["details"], "c_read")
    assert obs["victim"] == obs["solutions"] == obs["listing"] == "FileNotFoundError", obs
    assert obs["stolen"] == "FileNotFoundError" and "read" not in obs


def test_no_network(attacked):
    obs = _observations(attacked["details"], "d_network")
    assert obs["interfaces"] == ["lo"]
    assert obs["tcp to the grader's machine"] == "ConnectionRefusedError", obs
    assert obs["abstract unix socket"] == "ConnectionRefusedError", obs
    assert obs["outside"] == "OSError" and obs["dns"] == "gaierror", obs
    assert attacked["hits"] == []


def test_memory_far_past_the_limit_fails_inside(attacked):
    obs = _observations(attacked["details"], "e_memory")
    assert obs["8 GiB at once"] == "MemoryError" and obs["512 MiB pieces"] == "MemoryError"
    assert obs["got MiB"] < 2048                      # the default limit: 2 GiB
    assert obs["child 3 GiB"] is True


def test_a_fork_bomb_hits_the_process_limit(attacked):
    obs = _observations(attacked["details"], "f_fork_bomb")
    assert obs["then"] == "BlockingIOError", obs      # EAGAIN: the limit, not the bound of 1000
    assert obs["forked"] < sandbox.Limits().processes


def test_gigabytes_of_output_cost_the_grader_nothing(attacked):
    """The grader keeps no output; whatever the flood did (ran, was interrupted, or ran out of
    memory in the kernel's output buffer), the notebook's later cells ran and were graded."""
    obs = _observations(attacked["details"], "g_flood")
    assert "flood" in obs, obs
    assert attacked["rows"]["g_flood.ipynb"]["output_size"] == "2"


# =========================================================================== honest work
HONEST_MISTAKES = ["""
import os, tempfile
import numpy as np
import matplotlib.pyplot as plt
with open("notes.txt", "w") as fh:                 # its own working folder
    fh.write("scratch")
assert open("notes.txt").read() == "scratch"
with tempfile.NamedTemporaryFile() as fh:          # temporary files
    fh.write(b"x" * 2**20)
plt.plot([1, 2, 3])
plt.savefig("plot.png")
print("HOME", os.path.expanduser("~") != "")
""",
    VICTIM_CODE.replace("* k)", "* k[::-1, ::-1])"),   # a convolution: the kernel flipped
    LEGIT.replace("d * (f - 1)", "(f - 1)"),            # dilation forgotten
    "1 / 0"]


def test_honest_work_gets_the_same_gradebook_with_and_without_the_sandbox(sandboxed, tmp_path):
    """The solution notebooks (full marks; lesson 9 trains a small network, and the capstone's
    check trains the student's own, driven in the kernel) and honest mistakes (a wrong answer,
    partial credit, a cell that raises, files written in its own folder and in /tmp, a plot):
    the same scores and status in every row, sandboxed or not."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        shutil.copy(path, subs / path.name)
    _write_nb(subs / "zz_honest_mistakes.ipynb", HONEST_MISTAKES)
    tables = {}
    for mode in ("auto", "off"):
        book = grade.grade([subs], tmp_path / f"{mode}.csv", sandbox=mode, jobs=2, echo=None,
                           warn=None)
        assert {r.sandbox for r in book.rows} == {"bwrap" if mode == "auto" else "none"}
        with open(tmp_path / f"{mode}.csv", newline="") as fh:
            table = list(csv.reader(fh))
        assert table[0][-1] == "sandbox"
        tables[mode] = [row[:-1] for row in table]   # all but the sandbox column
    assert tables["auto"] == tables["off"]
    rows = {r[0]: dict(zip(tables["auto"][0], r)) for r in tables["auto"][1:]}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):   # the solutions: full marks
        row = rows[path.name]
        graded = [c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(path, as_version=4).cells
                  if c.metadata.get("nbgrader", {}).get("grade")]   # lesson 9 has two notebooks
        assert row["status"] == "ok", row
        assert all(float(row[name]) == EXERCISES[name].points for name in graded), row
        assert float(row["total"]) == sum(EXERCISES[name].points for name in graded), row
    mistakes = rows["zz_honest_mistakes.ipynb"]
    assert mistakes["corr2d"] == "0" and mistakes["output_size"] == "1", mistakes   # 1 of 2
    assert mistakes["status"] == "ok; errors in 1 cell", mistakes   # 1 / 0 only


# =========================================================================== without the sandbox
@pytest.fixture(scope="module")
def unprotected(sandboxed, tmp_path_factory):
    """The control: the harmless attacks, graded with --sandbox off, do what they try."""
    listener = Listener()
    token_before = _pids_with(TOKEN)
    arena = _arena(tmp_path_factory.mktemp("control"), HARMLESS, listener)
    try:
        proc = _grade(arena, "off")
        deadline = time.monotonic() + 20              # the daemon appends within 0.2 s
        while "pwned" not in arena["out"].read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = [p for p in _pids_with(TOKEN) if p not in token_before]
        out_text = arena["out"].read_text()
    finally:
        listener.close()
        _kill_tokens(TOKEN)
    return {"proc": proc, "arena": arena, "alive": alive, "out_text": out_text,
            "hits": list(listener.hits),
            "details": json.loads(arena["details"].read_text())}


def test_without_the_sandbox_the_attacks_succeed(unprotected):
    """So the checks above can fail: unsandboxed, the daemon outlives the run and edits the
    gradebook, the writes land, the reads and the connections succeed."""
    assert unprotected["proc"].returncode == 0, unprotected["proc"].stderr[-2000:]
    assert "none" in unprotected["out_text"]
    assert unprotected["alive"], "the daemon should survive an unsandboxed run"
    assert "# pwned by a daemon" in unprotected["out_text"]
    arena = unprotected["arena"]
    assert "pwned" in Path(arena["old"]).read_text()
    assert "pwned" in Path(arena["package_file"]).read_text()
    assert (Path(arena["course"]) / "pwned.txt").exists()
    obs = _observations(unprotected["details"], "c_read")
    assert obs["victim"] == obs["solutions"] == "DONE" and obs["stolen"] is True
    assert unprotected["details"]["c_read.ipynb"]["exercises"]["corr2d"]["points"] == 0  # raised
    assert {"tcp", "unix"} <= set(unprotected["hits"])


# =========================================================================== the modes
def test_auto_falls_back_with_one_warning_and_required_refuses(tmp_path):
    """Where bubblewrap is missing (CNNLAB_BWRAP points at nothing): auto grades without the
    sandbox and says so once; required refuses before grading anything."""
    _write_nb(tmp_path / "a.ipynb", [LEGIT])
    _write_nb(tmp_path / "b.ipynb", [LEGIT])
    env = dict(os.environ, CNNLAB_BWRAP=str(tmp_path / "no-bwrap"), PYTHONPATH=str(ROOT))
    base = [sys.executable, "-m", "cnnlab", "grade", str(tmp_path / "a.ipynb"),
            str(tmp_path / "b.ipynb"), "--exercise", "output_size", "--timeout", "120"]
    reason = ("bubblewrap is not installed (apt-get install bubblewrap, or dnf install "
              "bubblewrap)") if sys.platform.startswith("linux") else \
        f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    proc = subprocess.run([*base, "--out", str(tmp_path / "auto.csv")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln]
    assert warnings == [f"cnnlab grade: WARNING: grading WITHOUT a sandbox: {reason}"]
    rows = list(csv.DictReader((tmp_path / "auto.csv").read_text().splitlines()))
    assert [(r["output_size"], r["sandbox"]) for r in rows] == [("2", "none"), ("2", "none")]
    proc = subprocess.run([*base, "--out", str(tmp_path / "req.csv"), "--sandbox", "required"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    assert f"--sandbox required, but the sandbox cannot start here: {reason}" in proc.stderr
    assert not (tmp_path / "req.csv").exists()


def test_probe_explains_disabled_user_namespaces(sandboxed):
    """Inside a sandbox that forbids user namespaces (as Docker's seccomp profile or a sysctl
    does), the probe says why it cannot start one."""
    code = "from cnnlab.grade import sandbox; print(sandbox.choose('auto').reason)"
    proc = subprocess.run(
        [sandbox.bwrap_path(), "--unshare-user", "--disable-userns", "--dev-bind", "/", "/",
         "--proc", "/proc", "--", sys.executable, "-c", code],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("bubblewrap failed: bwrap: Creating new namespace failed")
    assert "user.max_user_namespaces is 0 or too low" in proc.stdout


def test_sizes_and_limits():
    assert sandbox.parse_size("2G") == sandbox.parse_size("2GiB") == 2**31
    assert sandbox.parse_size("512m") == 512 * 2**20 and sandbox.parse_size("1.5K") == 1536
    assert sandbox.parse_size("4096") == 4096
    for bad in ("two gigs", "-1G", "0", "1X"):
        with pytest.raises(ValueError, match="size"):
            sandbox.parse_size(bad)
    limits = sandbox.Limits(memory=2**30)
    assert limits.rlimits(processes=True)["RLIMIT_AS"] == 2**30
    assert "RLIMIT_NPROC" not in limits.rlimits(processes=False)
    with pytest.raises(ValueError, match="auto, required, off"):
        sandbox.choose("sometimes")


@pytest.mark.skipif(os.name != "posix", reason="resource limits are POSIX")
@pytest.mark.parametrize("strict", [True, False])
def test_a_lower_hard_limit_is_kept_not_an_error(strict):
    """A grader started with a hard limit below the kernel's (``ulimit -n 512``) still starts
    kernels, under the lower limit: the wrapper never tries to raise a hard limit."""
    import resource

    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))
    config = {"rlimits": sandbox.Limits().rlimits(processes=False), "strict": strict}
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[1], " \
           "resource.getrlimit(resource.RLIMIT_AS)[1])"
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", sandbox.LIMITS_WRAPPER,
                           json.dumps(config), sys.executable, "-c", code],
                          capture_output=True, text=True, preexec_fn=lower, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["512", str(sandbox.Limits().memory)]


def test_cli_rejects_bad_limits(tmp_path):
    _write_nb(tmp_path / "a.ipynb", [LEGIT])
    for args, message in ((["--memory", "lots"], "expected a size like 2G"),
                          (["--processes", "0"], "must be at least 1"),
                          (["--sandbox", "maybe"], "invalid choice")):
        proc = subprocess.run([sys.executable, "-m", "cnnlab", "grade", str(tmp_path / "a.ipynb"),
                               "--out", str(tmp_path / "g.csv"), *args],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)


def test_writing_into_the_kernels_folder_follows_no_link(tmp_path):
    """While the kernel runs, the grader adds the extraction's inputs to the kernel's folder:
    a folder or file the kernel planted there (or a link to elsewhere) is never used."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    box = tmp_path / "box"
    box.mkdir()
    (box / "xlink").symlink_to(target)
    with pytest.raises(FileExistsError):
        sandbox.write_new(box / "xlink", "inputs.npz", b"data")
    assert list(target.iterdir()) == []
    sandbox.write_new(box / "xnew", "inputs.npz", b"data")
    assert (box / "xnew" / "inputs.npz").read_bytes() == b"data"
    assert (box / "xnew").stat().st_mode & 0o777 == 0o700


def test_reading_what_the_kernel_wrote(tmp_path):
    box = tmp_path / "box"
    (box / "x").mkdir(parents=True)
    (box / "x" / "ok.json").write_text("{}")
    assert sandbox.read_regular(box / "x", "ok.json", 100) == b"{}"
    assert sandbox.read_regular(box / "x", "missing.json", 100) is None
    assert sandbox.read_regular(box / "gone", "ok.json", 100) is None
    with pytest.raises(ValueError, match="larger than 1 bytes"):
        sandbox.read_regular(box / "x", "ok.json", 1)
    os.mkfifo(box / "x" / "fifo")                    # would block a naive reader forever
    with pytest.raises(ValueError, match="not a regular file"):
        sandbox.read_regular(box / "x", "fifo", 100)
    (tmp_path / "secret").write_text("secret")
    (box / "x" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(OSError):
        sandbox.read_regular(box / "x", "link", 100)


def test_stop_waits_until_the_namespace_is_empty(sandboxed, tmp_path):
    """A sandbox whose processes ignore everything but SIGKILL, stopped from outside: stop()
    returns only when none of them is left."""
    work = tmp_path / "work"
    work.mkdir()
    box = sandbox.make_box(work, sandboxed)
    code = ("import os, signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "for _ in range(20):\n"
            "    if os.fork() == 0:\n"
            "        os.setsid(); time.sleep(300)\n"
            f"time.sleep(300)  # {TOKEN}\n")
    argv = sandbox.launcher_argv(work, box, [sys.executable, "-c", code, TOKEN],
                                 sandbox.Limits(), sandboxed)
    launcher = subprocess.Popen([a for a in argv if a != "{connection_file}"] + ["unused"],
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        state = work / sandbox.STATE_FILE
        while (not state.exists() or len(_pids_with(TOKEN)) < 21) and time.monotonic() < deadline:
            time.sleep(0.1)
        pidns = json.loads(state.read_text())["pidns"]
        assert len(sandbox.namespace_members(pidns)) >= 21
        assert sandbox.stop(work, timeout=60) == (True, 0)
        assert sandbox.namespace_members(pidns) == [] and _pids_with(TOKEN) == []
        assert launcher.wait(timeout=30) != 0
    finally:
        launcher.kill()
        _kill_tokens(TOKEN)


def test_ci_installs_bubblewrap_and_nbgrader():
    """So these tests and the nbgrader ones run in CI rather than skip."""
    script = (ROOT / ".ci" / "run").read_text()
    apt = next(line for line in script.splitlines() if "apt-get install" in line)
    assert "bubblewrap" in apt.split()
    assert re.search(r"\.venv/bin/pip install .*\bnbgrader==", script)
