"""The sandbox around a student's kernel (Linux): bubblewrap, namespaces and resource limits.

``cnnlab grade --sandbox auto`` (the default) runs each submission's kernel inside ``bwrap``
(Debian/Ubuntu/Fedora package ``bubblewrap``; no daemon, no root needed where user namespaces
are allowed):

* its own **user, PID, network, IPC, UTS and mount namespaces**: nothing it starts outlives it
  (killing the namespace's first process kills them all), no network at all (its loopback is
  its own), and a file system that is read-only except a private **scratch folder** holding a
  copy of its own notebook (``WORKDIR/box``). It sees the Python installation, the ``cnnlab``
  package folder (not the repository: no ``solutions/``), a synthetic ``/etc/passwd``, a
  private ``/tmp``; never the other submissions, the gradebook, the grader's files or ``$HOME``;
* **limits** (``Limits``): address space (``--memory``, default 2 GiB) per process, number of
  processes/threads, CPU seconds, size of a written file, open files; small RAM-backed ``/tmp``
  and ``/dev/shm``; the OOM killer picks the sandbox first;
* no capabilities; for a root grader the kernel runs as an unused unprivileged uid ("drop"
  mode: the grader writes the namespace's uid map itself), so the process limit holds.

The kernel talks to the grader over jupyter_client's ``ipc`` transport: Unix sockets in the
scratch folder (TCP cannot cross the network namespace).

How a kernel starts: the kernelspec's argv is this file run as a script, ``python -I -S -B
sandbox.py launch LAUNCH.json {connection_file}`` (standard library only): the *launcher*
starts ``bwrap`` with ``--info-fd`` (and ``--userns-block-fd`` in drop mode, then writes the uid
map), records the namespace's first process and its PID-namespace in ``WORKDIR/sandbox.json``
and waits. Inside, ``LIMITS_WRAPPER`` sets the limits (and drops to the unprivileged uid) and
execs the kernel. Afterwards ``stop`` kills that first process and waits until the PID namespace
is empty: only then does the grader read what the kernel wrote and write the gradebook.

``choose(mode)`` decides per run: ``required`` refuses (``SandboxUnavailable``) when the sandbox
cannot start here, ``auto`` falls back to no sandbox with one reason (``probe``), ``off`` never
sandboxes. Without the sandbox the kernel still gets the memory, CPU-time and file-size limits
(``wrap_limits``), but runs as the grader's user.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

__all__ = ["MODES", "BWRAP_ENV", "STATE_FILE", "Limits", "Mode", "SandboxUnavailable",
           "parse_size", "probe", "choose", "python_roots", "make_box", "bwrap_argv",
           "launcher_argv", "wrap_limits", "sandbox_env", "namespace_members", "stop",
           "write_new", "read_regular", "LIMITS_WRAPPER"]

MODES = ("auto", "required", "off")
BWRAP_ENV = "CNNLAB_BWRAP"          # which bwrap to run (default: the one on PATH)
STATE_FILE = "sandbox.json"         # WORKDIR/sandbox.json, written by the launcher
LAUNCH_FILE = "sandbox-launch.json"
SANDBOX_UID = SANDBOX_GID = 1000    # the kernel's uid and gid inside
GiB, MiB = 2**30, 2**20

# Runs inside the sandbox as ``python -I -S -c LIMITS_WRAPPER CONFIG argv...``: the limits
# (never above a hard limit already lower; in the sandbox a limit that cannot be set stops the
# start, without it the limits are best effort), the OOM score, (drop mode) leaving
# namespace-root for the unprivileged uid, then the kernel.
LIMITS_WRAPPER = r"""
import os, sys, json, resource
cfg = json.loads(sys.argv[1])
for name, value in cfg["rlimits"].items():
    which = getattr(resource, name, None)
    try:
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    except (TypeError, ValueError, OSError):
        if cfg.get("strict", True):
            raise
try:
    with open("/proc/self/oom_score_adj", "w") as fh:
        fh.write("1000")
except OSError:
    pass
if cfg.get("uid") is not None:
    os.setgroups([])
    os.setgid(cfg["gid"])
    os.setuid(cfg["uid"])
os.execv(sys.argv[2], sys.argv[2:])
"""


class SandboxUnavailable(RuntimeError):
    """``--sandbox required`` where the sandbox cannot start; the message says why."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission's kernel may use.

    memory      : bytes of address space per process (RLIMIT_AS): a bigger allocation raises
                  MemoryError. Per process: all its processes together may use up to
                  ``processes`` times this (bound it on the host with cgroups if that matters)
    processes   : processes and threads of the sandbox (RLIMIT_NPROC; sandbox only)
    cpu_seconds : CPU seconds per process (RLIMIT_CPU); the kernel is killed after them
    file_size   : bytes of one file written (RLIMIT_FSIZE): "File too large" beyond
    open_files  : file descriptors per process (RLIMIT_NOFILE)
    tmp_size, shm_size : bytes of the sandbox's private /tmp and /dev/shm (in RAM)
    """
    memory: int = 2 * GiB
    processes: int = 128
    cpu_seconds: int = 900
    file_size: int = 256 * MiB
    open_files: int = 1024
    tmp_size: int = 512 * MiB
    shm_size: int = 64 * MiB

    def rlimits(self, processes: bool) -> dict[str, int]:
        limits = {"RLIMIT_AS": self.memory, "RLIMIT_CPU": self.cpu_seconds,
                  "RLIMIT_FSIZE": self.file_size, "RLIMIT_NOFILE": self.open_files,
                  "RLIMIT_CORE": 0}
        if processes:
            limits["RLIMIT_NPROC"] = self.processes
        return limits


def parse_size(text) -> int:
    """"2G", "512M", "1.5GiB", "100000" (bytes) -> bytes; ValueError naming the format."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.I)
    if not m:
        raise ValueError(f"expected a size like 2G, 512M or a number of bytes, got {text!r}")
    value = float(m.group(1)) * 1024 ** "bkmgt".index((m.group(2) or "b").lower())
    if value < 1:
        raise ValueError(f"a size must be positive, got {text!r}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class Mode:
    """How a grading run starts kernels.

    sandboxed : the kernel runs in bwrap
    reason    : why not, when ``auto`` fell back (shown once, and kept in the details)
    uidmode   : "plain" (an unprivileged grader: the sandbox's uid is the grader's) or "drop"
                (a root grader: the kernel runs as ``host_uid``, an unused unprivileged uid)
    """
    sandboxed: bool
    reason: str = ""
    uidmode: str = "plain"
    host_uid: int | None = None

    @property
    def label(self) -> str:
        """What the gradebook's ``sandbox`` column says: "bwrap" or "none"."""
        return "bwrap" if self.sandboxed else "none"


def bwrap_path() -> str | None:
    path = os.environ.get(BWRAP_ENV) or shutil.which("bwrap")
    return path if path and os.access(path, os.X_OK) else None


def _free_uid() -> int:
    """An unprivileged uid no account uses (drop mode)."""
    import pwd   # POSIX only; imported here so the grader loads on any system

    for uid in range(1_999_999, 1_899_999, -1):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
    raise SandboxUnavailable("found no unused uid for the sandbox")


def choose(requested: str = "auto", *, timeout: float = 60) -> Mode:
    """The mode of a run: ``probe`` once; ``required`` raises SandboxUnavailable when the
    sandbox cannot start, ``auto`` falls back to no sandbox (``Mode.reason`` says why)."""
    if requested not in MODES:
        raise ValueError(f"sandbox must be one of {', '.join(MODES)}, got {requested!r}")
    if requested == "off":
        return Mode(False, "switched off (--sandbox off)")
    uidmode = "drop" if hasattr(os, "geteuid") and os.geteuid() == 0 else "plain"
    mode = Mode(True, uidmode=uidmode, host_uid=_free_uid() if uidmode == "drop" else None)
    ok, why = probe(mode, timeout=timeout)
    if ok:
        return mode
    if requested == "required":
        raise SandboxUnavailable(f"--sandbox required, but the sandbox cannot start here: {why}")
    return Mode(False, why)


def probe(mode: Mode, timeout: float = 60) -> tuple[bool, str]:
    """(True, "") when a sandbox of ``mode`` starts here and its Python imports cnnlab's
    wire codec (NumPy); else (False, one clear reason)."""
    if not sys.platform.startswith("linux"):
        return False, f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    if bwrap_path() is None:
        return False, ("bubblewrap is not installed (apt-get install bubblewrap, or dnf "
                       "install bubblewrap)")
    with tempfile.TemporaryDirectory(prefix="cnnlab-probe-") as tmp:
        work = Path(tmp)
        box = make_box(work, mode)
        inner = [sys.executable, "-c", "import cnnlab.grade.wire"]
        argv = bwrap_argv(work, box, inner, Limits(), mode)
        err = work / "stderr"
        rc = None
        try:
            with open(err, "wb") as fh:
                proc = _spawn(argv, mode, None, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=fh)
            rc = proc.wait(timeout=timeout)
        except OSError as exc:
            return False, f"bubblewrap could not be run: {exc}"
        except ValueError:
            pass                                  # bwrap failed early: its stderr says why
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return False, f"bubblewrap did not finish a trial run in {timeout:g} s"
        if rc == 0:
            return True, ""
        lines = err.read_text(errors="replace").strip().splitlines()
        return False, _explain(lines[-1] if lines else f"exit status {rc}")


def _explain(message: str) -> str:
    low = message.lower()
    if "namespace" in low and ("permission" in low or "not permitted" in low
                               or "no permissions" in low):
        return (f"bubblewrap failed: {message} -- user namespaces look disabled "
                "(sysctl kernel.unprivileged_userns_clone=0 or user.max_user_namespaces=0, "
                "AppArmor's kernel.apparmor_restrict_unprivileged_userns=1 on Ubuntu 24.04+), "
                "or a container forbids them (docker: --security-opt seccomp=unconfined)")
    if "no space left" in low or "max_user_namespaces" in low or "nesting depth" in low:
        return f"bubblewrap failed: {message} -- user.max_user_namespaces is 0 or too low"
    return f"bubblewrap failed: {message}"


# =========================================================================== the command line

def python_roots() -> list[str]:
    """The folders the kernel's Python needs (read-only), computed in the grader's Python:
    the interpreter, the standard library, the virtual environment; nested ones and /usr
    (bound anyway) left out."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  str(Path(os.path.realpath(sys.executable)).parent.parent)}
    candidates.update(p for p in sysconfig.get_paths().values() if p)
    real = sorted({os.path.realpath(p) for p in candidates if os.path.isdir(p)})
    roots: list[str] = []
    for p in real:
        if p != "/usr" and not p.startswith("/usr/") and \
                not any(p == q or p.startswith(q + "/") for q in roots):
            roots.append(p)
    return roots


def _package() -> tuple[list[str], str | None]:
    """(folders to bind for ``cnnlab``, PYTHONPATH inside): nothing when cnnlab is installed in
    the environment; else only the package folder, never the repository around it."""
    pkg = Path(__file__).resolve().parents[1]
    if any(str(pkg).startswith(root + "/") for root in python_roots()):
        return [], None
    return [str(pkg)], str(pkg.parent)


def sandbox_env(box: Path, pythonpath: str | None) -> dict[str, str]:
    """The kernel's whole environment in the sandbox (nothing else of the grader's)."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "HOME": str(box), "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8",
           "TMPDIR": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib",
           "IPYTHONDIR": "/tmp/ipython", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           "CNNLAB_QUICK": os.environ.get("CNNLAB_QUICK", "1"),
           "CNNLAB_OFFLINE": os.environ.get("CNNLAB_OFFLINE", "1"),
           # one BLAS thread: fewer tasks against the process limit, less address space
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):   # a machine's NumPy may need them
        if key in os.environ:
            env[key] = os.environ[key]
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def _synthetic_etc(workdir: Path) -> dict[str, Path]:
    """passwd, group, hosts for the sandbox: never the host's /etc."""
    etc = workdir / "etc"
    etc.mkdir(exist_ok=True)
    texts = {"passwd": f"root:x:0:0:root:/root:/bin/sh\nstudent:x:{SANDBOX_UID}:{SANDBOX_GID}:"
                       f"student:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
             "group": f"root:x:0:\nstudent:x:{SANDBOX_GID}:\nnogroup:x:65534:\n",
             "hosts": "127.0.0.1 localhost\n::1 localhost\n",
             "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n"}
    for name, text in texts.items():
        (etc / name).write_text(text, encoding="utf-8")
    return {name: etc / name for name in texts}


def make_box(workdir: Path, mode: Mode) -> Path:
    """The scratch folder. Drop mode: root-owned and sticky (1777), so the kernel may add files
    but never rename or delete the grader's (the socket folder, the extraction folders)."""
    box = workdir / "box"
    box.mkdir(mode=0o700)
    if mode.sandboxed and mode.uidmode == "drop":
        os.chmod(box, 0o1777)
    return box


def bwrap_argv(workdir: Path, box: Path, inner: list[str], limits: Limits, mode: Mode) -> list[str]:
    """The whole bwrap command line; ``inner`` is the command run in it (the kernel)."""
    argv = [bwrap_path() or "bwrap", "--unshare-all", "--unshare-user", "--die-with-parent",
            "--new-session", "--hostname", "sandbox", "--clearenv"]
    if mode.uidmode == "plain":      # drop mode: the wrapper drops uid (and so capabilities)
        argv += ["--disable-userns", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
                 "--cap-drop", "ALL"]
    argv += ["--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
             "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
             "--symlink", "usr/sbin", "/sbin", "--perms", "0755", "--dir", "/etc"]
    for name in ("ld.so.cache", "localtime", "fonts", "alternatives", "mime.types"):
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for name, path in _synthetic_etc(workdir).items():
        argv += ["--ro-bind", str(path), f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(limits.shm_size), "--perms", "1777", "--tmpfs", "/dev/shm",
             "--size", str(limits.tmp_size), "--perms", "1777", "--tmpfs", "/tmp"]
    package, pythonpath = _package()
    readonly = [*python_roots(), *package]
    # every parent of a mount point, made 0755 first (bwrap makes them 0700 as namespace-root,
    # which the dropped uid could not cross), after /tmp's tmpfs (it would hide them)
    parents = sorted({str(q) for p in [*readonly, str(box)] for q in Path(p).parents
                      if str(q) != "/"}, key=lambda q: (q.count("/"), q))
    for folder in parents:
        argv += ["--perms", "0755", "--dir", folder]
    for folder in readonly:
        argv += ["--ro-bind", folder, folder]
    argv += ["--bind", str(box), str(box), "--chdir", str(box), "--remount-ro", "/"]
    for key, value in sandbox_env(box, pythonpath).items():
        argv += ["--setenv", key, value]
    config = {"rlimits": limits.rlimits(processes=True)}
    if mode.uidmode == "drop":
        config.update(uid=SANDBOX_UID, gid=SANDBOX_GID)
    return [*argv, "--", os.path.realpath(sys.executable), "-I", "-S", "-c", LIMITS_WRAPPER,
            json.dumps(config), *inner]


def wrap_limits(inner: list[str], limits: Limits) -> list[str]:
    """Without the sandbox: the same limits but the process count (RLIMIT_NPROC would count
    every process of the grader's user), as far as the system allows, then ``inner``;
    ``inner`` alone where there are no such limits (Windows)."""
    if os.name != "posix":
        return inner
    return [os.path.realpath(sys.executable), "-I", "-S", "-c", LIMITS_WRAPPER,
            json.dumps({"rlimits": limits.rlimits(processes=False), "strict": False}), *inner]


def launcher_argv(workdir: Path, box: Path, inner: list[str], limits: Limits, mode: Mode) -> list[str]:
    """The kernelspec's argv in the sandbox: this file as a script (the launcher), its
    configuration in ``WORKDIR/sandbox-launch.json``; ``{connection_file}`` stays a
    placeholder for jupyter_client."""
    config = {"argv": bwrap_argv(workdir, box, inner, limits, mode), "uidmode": mode.uidmode,
              "host_uid": mode.host_uid, "state": str(workdir / STATE_FILE),
              "files": str(Path(__file__).resolve().parents[1] / "_files.py")}
    path = workdir / LAUNCH_FILE
    path.write_text(json.dumps(config), encoding="utf-8")
    return [os.path.realpath(sys.executable), "-I", "-S", "-B", str(Path(__file__).resolve()),
            "launch", str(path), "{connection_file}"]


# =========================================================================== starting bwrap

def _spawn(argv: list[str], mode: Mode, record, **popen) -> subprocess.Popen:
    """Start bwrap with ``--info-fd`` (drop mode: also ``--userns-block-fd``, then write the uid
    and gid maps and let it go on); ``record(first_pid, pidns)`` before any sandboxed code runs
    in drop mode, right after bwrap reports its first process in plain mode."""
    info_r, info_w = os.pipe()
    fds, extra = [info_w], ["--info-fd", str(info_w)]
    block_r = block_w = None
    if mode.uidmode == "drop":
        block_r, block_w = os.pipe()
        fds.append(block_r)
        extra += ["--userns-block-fd", str(block_r)]
    at = argv.index("--unshare-user") + 1
    try:
        proc = subprocess.Popen([*argv[:at], *extra, *argv[at:]], pass_fds=fds, **popen)
    except OSError:
        for fd in (info_r, block_w):
            if fd is not None:
                os.close(fd)
        raise
    finally:
        for fd in fds:
            os.close(fd)
    try:
        with os.fdopen(info_r, "rb") as fh:
            info = json.loads(fh.read().decode() or "{}")
        first = int(info["child-pid"])
        if mode.uidmode == "drop":
            for kind, host in (("uid", mode.host_uid), ("gid", mode.host_uid)):
                with open(f"/proc/{first}/{kind}_map", "w") as fh:
                    fh.write(f"0 0 1\n{SANDBOX_UID} {host} 1\n")
        pidns = os.readlink(f"/proc/{first}/ns/pid")
        if pidns == os.readlink("/proc/self/ns/pid"):   # gone, and its pid already reused
            raise ValueError(f"the sandbox's first process {first} is not in a new PID namespace")
        if record is not None:
            record(first, pidns)
        if block_w is not None:
            os.write(block_w, b"1")
    except (OSError, ValueError, KeyError) as exc:
        proc.kill()
        proc.wait()
        raise ValueError(f"bwrap did not start: {type(exc).__name__}: {exc}") from None
    finally:
        if block_w is not None:
            os.close(block_w)
    return proc


def _launch(config_path: str, connection_file: str) -> int:
    """The launcher (the kernel process jupyter_client sees): start bwrap, record its first
    process and PID namespace in STATE_FILE, wait for it and exit with its status."""
    import importlib.util

    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    spec = importlib.util.spec_from_file_location("cnnlab_launcher_files", config["files"])
    files = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(files)
    argv = [connection_file if a == "{connection_file}" else a for a in config["argv"]]
    mode = Mode(True, uidmode=config["uidmode"], host_uid=config["host_uid"])

    def record(first: int, pidns: str) -> None:
        files.write_text_atomic(config["state"], json.dumps(
            {"first": first, "pidns": pidns, "launcher": os.getpid()}))
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # interrupts arrive as messages
    proc = _spawn(argv, mode, record)
    rc = proc.wait()
    return rc if rc >= 0 else 128 - rc


# =========================================================================== stopping it

def namespace_members(pidns: str) -> list[int]:
    """Host pids of the live processes in PID namespace ``pidns`` ("pid:[4026532...]").
    Zombies do not count: they run no code and hold no memory or files (an orphaned one waits
    for the host's init to collect it, which may take a second or two)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != pidns:
                    continue
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    state = fh.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                found.append(int(entry))
    return found


def stop(workdir: Path, timeout: float = 120.0) -> tuple[bool, int]:
    """Kill the sandbox of ``workdir`` (its namespace's first process: the kernel takes every
    other process of the namespace with it) and wait until the namespace is empty.

    returns : (True, 0) when nothing of it is left (or it never started), else (False, how many
              processes are still there after ``timeout`` seconds)
    """
    try:
        state = json.loads((Path(workdir) / STATE_FILE).read_text(encoding="utf-8"))
        first, pidns = int(state["first"]), str(state["pidns"])
    except (OSError, ValueError, KeyError, TypeError):
        return True, 0
    if pidns == os.readlink("/proc/self/ns/pid"):
        return True, 0     # never a sandbox (``_spawn`` refuses to record it): kill nothing
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.readlink(f"/proc/{first}/ns/pid") == pidns:   # not a reused pid
                os.kill(first, signal.SIGKILL)
        except OSError:
            pass
        left = namespace_members(pidns)
        if not left:
            return True, 0
        if time.monotonic() > deadline:
            return False, len(left)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


# =========================================================================== its files

def write_new(folder: Path, name: str, data: bytes, owner: int | None = None) -> None:
    """Make the new folder ``folder`` and in it the new file ``name`` holding ``data``, in a
    folder the kernel may write while it runs: no link it planted is followed (O_NOFOLLOW,
    O_EXCL, through the folder's descriptor). ``owner``: hand both to that uid (drop mode)."""
    os.mkdir(folder, 0o700)
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if owner is not None:
            os.fchown(dfd, owner, owner)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                     dir_fd=dfd)
        with os.fdopen(fd, "wb") as fh:
            if owner is not None:
                os.fchown(fh.fileno(), owner, owner)
            fh.write(data)
    finally:
        os.close(dfd)


def read_regular(folder: Path, name: str, max_bytes: int) -> bytes | None:
    """The bytes of the regular file ``folder/name`` the kernel wrote, or None when it (or the
    folder) does not exist. Neither ``folder`` nor ``name`` may be a link (a link planted to
    the grader's or the system's files is refused: OSError), nor a FIFO or device (ValueError),
    nor larger than ``max_bytes`` (ValueError). Read it after the sandbox is gone."""
    folder = Path(folder)
    parent = os.open(folder.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        dfd = os.open(folder.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except FileNotFoundError:
        return None
    finally:
        os.close(parent)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{name} is not a regular file")
            data = fh.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise ValueError(f"{name} is larger than {max_bytes} bytes")
            return data
    finally:
        os.close(dfd)


if __name__ == "__main__":
    if sys.argv[1:2] == ["launch"] and len(sys.argv) == 4:
        sys.exit(_launch(sys.argv[2], sys.argv[3]))
    sys.exit("usage: python -I -S sandbox.py launch LAUNCH.json CONNECTION_FILE")
