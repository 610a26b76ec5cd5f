"""Running one submission: the child process, its kernel (sandboxed), the timeouts, the kill.

The grader (``grader.Grader``) starts one child per submission, ``python -m cnnlab.grade
--_one WORKDIR`` in a process group of its own (``start_child``), and kills the child, the
kernel's process group and the kernel's sandbox when the child is done or the total timeout
runs out (``kill_tree``: it returns only once nothing of the sandbox is left). The child
(``run_one``) starts a fresh kernel in the scratch folder ``WORKDIR/box`` (in the sandbox, see
``sandbox``, the only folder it may write), runs the notebook's code cells (a cell over the
cell timeout is interrupted and the notebook goes on), then one extraction cell per exercise
(``kernel_side.extraction_cell``), and records what happened in ``WORKDIR/run.json``.

Files in WORKDIR (the grader's; the sandbox never sees them): ``job.json``, ``inputs.npz``,
``notebook.ipynb`` (written by the grader, read and deleted by the child before any student
code runs), ``run.json`` (the child's state), ``kernels/`` (the kernelspec), ``etc/`` (the
sandbox's synthetic passwd), ``sandbox-launch.json`` and ``sandbox.json`` (the launcher's),
``kernel.pid``, ``runner.log``; without the sandbox also ``tmp/`` (the kernel's TMPDIR) and
``ipython/`` (its IPYTHONDIR). In ``box/`` (the kernel's): a copy of the notebook, the
connection file, ``ipc/`` (the kernel's sockets), ``x<random>/`` (inputs and results of the
extraction), whatever the notebook writes.

The kernel is started by the command ``kernel_command`` returns: the sandbox's launcher, or
(``--sandbox off``) the kernel under the same limits but the process count.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cnnlab
from cnnlab import _files
from cnnlab.checks import compare
from cnnlab.grade import kernel_side, sandbox, wire

__all__ = ["KERNEL_NAME", "STATE_WAIT", "kernel_command", "child_env", "start_child",
           "kill_tree", "read_state", "log_tail", "run_one"]

KERNEL_NAME = "cnnlab-grader"
STATE_WAIT = 30.0   # seconds the child waits for the launcher's record of the sandbox


def _sandbox_of(job: dict) -> tuple[sandbox.Mode, sandbox.Limits]:
    cfg = job.get("sandbox") or {}
    return (sandbox.Mode(**cfg.get("mode", {"sandboxed": False})),
            sandbox.Limits(**cfg.get("limits", {})))


def kernel_command(workdir: Path, job: dict | None = None) -> list[str]:
    """The argv that starts the student's kernel (``{connection_file}`` is filled in by
    jupyter_client): the sandbox's launcher (``job["sandbox"]``), or the plain kernel under
    the limits (no sandbox); without a job, the plain kernel."""
    inner = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if job is None:
        return inner
    mode, limits = _sandbox_of(job)
    if mode.sandboxed:
        return sandbox.launcher_argv(workdir, workdir / "box", inner, limits, mode)
    return sandbox.wrap_limits(inner, limits)


def child_env(workdir: Path) -> dict[str, str]:
    """The environment of the child and so of the kernel."""
    env = dict(os.environ)
    # the kernel sees the same cnnlab as the grader, even from a source checkout
    root = str(Path(cnnlab.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("CNNLAB_QUICK", "1")       # graded functions are small; training scales down
    env.setdefault("CNNLAB_OFFLINE", "1")
    env["MPLBACKEND"] = "Agg"
    env["IPYTHONDIR"] = str(workdir / "ipython")  # no startup scripts from the grader's profile
    tmp = workdir / "tmp"                         # connection files and the notebook's temp
    tmp.mkdir(exist_ok=True)                      # files: removed with the workdir, even after
    env["TMPDIR"] = env["TEMP"] = env["TMP"] = str(tmp)   # a kill
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# =========================================================================== the grader's side

def start_child(workdir: Path, log) -> subprocess.Popen:
    """Start ``python -m cnnlab.grade --_one WORKDIR`` in its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "cnnlab.grade", "--_one", str(workdir)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        cwd=str(workdir), env=child_env(workdir), start_new_session=(os.name == "posix"))


def kill_tree(proc: subprocess.Popen, workdir: Path, wait: float = 120.0) -> tuple[bool, int]:
    """Kill the child's process group, the kernel's, and the kernel's sandbox; return once the
    sandbox's PID namespace is empty: (True, 0), or (False, processes left after ``wait`` s)."""
    if os.name == "posix":
        groups = [proc.pid]
        try:
            groups.append(int((workdir / "kernel.pid").read_text().strip()))
        except (OSError, ValueError):
            pass
        for pgid in groups:
            if pgid > 1:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError, OSError):
                    pass
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    return sandbox.stop(workdir, timeout=wait)


def read_state(workdir: Path) -> dict:
    """The child's run.json ({"state": "not started"} when there is none)."""
    try:
        state = json.loads((workdir / "run.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict):
            raise ValueError
    except (OSError, ValueError):
        state = {"state": "not started"}
    return state


def log_tail(workdir: Path, n: int = 200) -> str:
    """The last meaningful line of the child's log."""
    try:
        lines = [ln for ln in (workdir / "runner.log").read_text(errors="replace").splitlines()
                 if ln.strip() and "WARNING" not in ln]
        return lines[-1][-n:] if lines else "no output"
    except OSError:
        return "no output"


# =========================================================================== the child

def _save(workdir: Path, state: dict) -> None:
    _files.write_text_atomic(workdir / "run.json", json.dumps(state))


def _write_kernelspec(workdir: Path, job: dict) -> Path:
    kernels = workdir / "kernels" / KERNEL_NAME
    kernels.mkdir(parents=True)
    # in the sandbox, interrupts are messages: a SIGINT would stop the launcher, not the kernel
    interrupt = "message" if _sandbox_of(job)[0].sandboxed else "signal"
    _files.write_text_atomic(kernels / "kernel.json", json.dumps({
        "argv": kernel_command(workdir, job), "display_name": "cnnlab grader",
        "language": "python", "interrupt_mode": interrupt}))
    return kernels.parent


def _owner(job: dict) -> int | None:
    """The host uid the kernel runs as, when the grader must hand it files (drop mode)."""
    mode = _sandbox_of(job)[0]
    return mode.host_uid if mode.sandboxed and mode.uidmode == "drop" else None


def _kernel_manager(workdir: Path, job: dict):
    """An AsyncKernelManager (nbclient needs the async one); in the sandbox it talks to the
    kernel over Unix sockets in ``box/ipc``, and in drop mode hands the kernel its files."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    owner = _owner(job)

    class Manager(AsyncKernelManager):
        def write_connection_file(self, **kwargs):
            super().write_connection_file(**kwargs)
            if owner is not None:
                os.chown(self.connection_file, owner, owner)

    km = Manager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(
        kernel_dirs=[str(_write_kernelspec(workdir, job))]))
    if _sandbox_of(job)[0].sandboxed:
        box = workdir / "box"
        (box / "ipc").mkdir(mode=0o700)
        if owner is not None:
            os.chown(box / "ipc", owner, owner)
        km.transport = "ipc"
        km.connection_file = str(box / "kernel.json")   # before ``ip`` is first read
        km.ip = str(box / "ipc" / "kernel")
    return km


def _make_client(nb, job: dict, state: dict, workdir: Path):
    """An nbclient NotebookClient that keeps no output and records errors and timeouts."""
    from nbclient import NotebookClient

    class GraderClient(NotebookClient):
        current_kind = "cell"     # "cell": the student's; "extract": the grader's
        current_index = -1

        def output(self, outs, msg, display_id, cell_index):
            return None  # the grader keeps no output: it reads nothing the notebook prints

        async def _async_handle_timeout(self, timeout, cell=None):
            bucket = state["cell_timeouts"] if self.current_kind == "cell" else \
                state["extraction"].setdefault("timeouts", [])
            if self.current_index not in bucket:
                bucket.append(self.current_index)
            _save(workdir, state)
            return await super()._async_handle_timeout(timeout, cell)

    def on_cell_error(cell, cell_index, execute_reply):
        if client.current_kind == "cell" and cell_index not in state["cell_errors"]:
            state["cell_errors"].append(cell_index)
        elif client.current_kind == "extract":
            content = execute_reply.get("content", {})
            state["extraction"].setdefault("errors", {})[str(client.current_index)] = (
                f"{content.get('ename')}: {content.get('evalue')}"[:300])

    km = _kernel_manager(workdir, job)
    client = GraderClient(nb, km=km, timeout=max(1, int(math.ceil(job["cell_timeout"]))),
                          allow_errors=True, interrupt_on_timeout=True,
                          shutdown_kernel="immediate",
                          startup_timeout=max(60, int(job["cell_timeout"])),
                          record_timing=False, on_cell_error=on_cell_error)
    return client


def _run_cells(client, nb, state: dict) -> bool:
    """Run the notebook's code cells in order; False when the kernel died."""
    from nbclient.exceptions import DeadKernelError

    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        client.current_index = index
        try:
            client.execute_cell(cell, index, execution_count=state["cells"] + 1)
        except DeadKernelError:
            state["state"] = "kernel died"
            state["died_at"] = f"cell {index + 1}"
            return False
        state["cells"] += 1
    return True


def _extract(client, nb, job: dict, state: dict, workdir: Path, inputs: bytes) -> None:
    """Run one extraction cell per exercise; the inputs reach the disk only now."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    # into the kernel's folder, while its processes live: a new folder, a new file, no link
    # followed (sandbox.write_new)
    xdir = workdir / "box" / f"x{secrets.token_hex(8)}"
    sandbox.write_new(xdir, "inputs.npz", inputs, owner=_owner(job))
    state["xdir"] = str(xdir)
    _save(workdir, state)
    client.current_kind = "extract"
    modules = {"kernel_side": kernel_side.__file__, "wire": wire.__file__,
               "files": _files.__file__, "compare": compare.__file__}
    for i, item in enumerate(job["extract"]):
        client.current_index = i
        cell = nbformat.v4.new_code_cell(kernel_side.extraction_cell({
            **item, "xdir": str(xdir), "index": i, "call_timeout": float(job["cell_timeout"]),
            "max_bytes": int(job["max_bytes"]), "flagged": job["flagged"], "modules": modules}))
        nb.cells.append(cell)  # nbclient stores the executed cell by its index
        # backstop only: each call has its own alarm of cell_timeout seconds
        client.timeout = int(math.ceil(job["cell_timeout"] * (len(item["cases"]) + 1))) + 30
        try:
            client.execute_cell(cell, len(nb.cells) - 1, store_history=False)
        except DeadKernelError:
            state["state"] = "kernel died"
            state["died_at"] = f"grading {item['name']}"
            return
        state["extraction"].setdefault("done", []).append(i)
        _save(workdir, state)
    state["state"] = "ok"


def _prepare_box(workdir: Path, job: dict, nb) -> Path:
    """The kernel's scratch folder, holding a copy of its notebook."""
    import nbformat

    box = sandbox.make_box(workdir, _sandbox_of(job)[0])
    owner = _owner(job)
    nbformat.write(nb, str(box / "notebook.ipynb"))
    if owner is not None:
        os.chown(box / "notebook.ipynb", owner, owner)
    return box


def _sandbox_started(workdir: Path, job: dict) -> None:
    """In the sandbox: wait until the launcher has recorded the namespace (so ``kill_tree``
    can wait for it to empty), then (drop mode) take the socket folder back from the kernel,
    so nothing in the sandbox can swap the sockets the child reconnects to."""
    if not _sandbox_of(job)[0].sandboxed:
        return
    deadline = time.monotonic() + STATE_WAIT
    while not (workdir / sandbox.STATE_FILE).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the sandbox's launcher did not record the sandbox")
        time.sleep(0.02)
    if _owner(job) is not None:
        os.chown(workdir / "box" / "ipc", 0, 0)
        os.chmod(workdir / "box" / "ipc", 0o755)


def run_one(workdir: Path) -> int:  # pragma: no cover - exercised through subprocesses
    """The child: one fresh kernel, the student's cells, then the extraction cells."""
    # nbformat imports jsonschema, which imports rfc3987_syntax (an optional checker of IRIs,
    # which no notebook needs) when it is installed: building its grammar costs seconds per
    # child, more than the sandbox. Never imported here, the checker is simply not registered.
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbformat
    from nbclient.exceptions import DeadKernelError

    job = json.loads((workdir / "job.json").read_text(encoding="utf-8"))
    # The inputs live only in this process's memory until the extraction starts: the
    # student's cells run while they are nowhere on disk.
    inputs = (workdir / "inputs.npz").read_bytes()
    (workdir / "inputs.npz").unlink()
    nb = nbformat.read(str(workdir / "notebook.ipynb"), as_version=4)
    (workdir / "notebook.ipynb").unlink()
    state: dict[str, Any] = {"state": "running", "cells": 0, "cell_errors": [],
                             "cell_timeouts": [], "extraction": {}, "xdir": None}
    _save(workdir, state)
    box = _prepare_box(workdir, job, nb)
    client = _make_client(nb, job, state, workdir)
    try:
        # the kernel's raw stdout/stderr go nowhere: it could otherwise fill a log file
        with client.setup_kernel(cwd=str(box), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            pid = getattr(client.km.provisioner, "pid", None) if client.km.provisioner else None
            if pid:
                _files.write_text_atomic(workdir / "kernel.pid", str(pid))
            _sandbox_started(workdir, job)
            if _run_cells(client, nb, state):
                _extract(client, nb, job, state, workdir, inputs)
    except DeadKernelError:
        state["state"] = "kernel died"
    except Exception as exc:
        state["state"] = "error"
        state["detail"] = f"{type(exc).__name__}: {exc}"[:300]
    _save(workdir, state)
    return 0
