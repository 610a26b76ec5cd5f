"""A grading run: each submission end to end (read, plan, run the child in its sandbox, wait
until nothing of it is left, score), several in parallel, and ``grade()``, the function behind
``cnnlab grade``: the gradebook is written by this process alone, after every kernel is gone."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from cnnlab import _files
from cnnlab.grade import cases, runner, scoring, wire
from cnnlab.grade import sandbox as sandboxing
from cnnlab.grade.gradebook import (Gradebook, SubmissionGrade, fmt_points, write_details,
                                    write_gradebook)
from cnnlab.grade.submission import NotGradable, find_submissions, read_notebook

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_CELL_TIMEOUT", "DEFAULT_FRESH", "Grader", "grade"]

DEFAULT_TIMEOUT = 600.0        # seconds per submission, everything included (kernel start too)
DEFAULT_CELL_TIMEOUT = 120.0   # seconds per cell, and per call of a graded function
DEFAULT_FRESH = 2              # fresh random cases per exercise, drawn per submission


class Grader:
    """Grades submissions against the exercises ``names`` of ``registry``.

    timeout      : seconds per submission (the child and its kernel are killed after it)
    cell_timeout : seconds per notebook cell and per call of a graded function
    seed, fresh  : the fresh cases: seed (mixed with each file's hash) and how many per exercise
    echo         : called with one progress line per submission (None: quiet)
    mode, limits : the sandbox (``sandboxing.choose``) and the kernel's limits
    """

    def __init__(self, registry, names, *, timeout, cell_timeout, seed, fresh, echo,
                 mode: sandboxing.Mode | None = None, limits: sandboxing.Limits | None = None):
        self.registry = registry
        self.names = names
        self.timeout = float(timeout)
        self.cell_timeout = float(cell_timeout)
        self.seed = int(seed)
        self.fresh = int(fresh)
        self.echo = echo
        self.exercises = {n: registry.EXERCISES[n] for n in names}
        self.points = {n: float(getattr(e, "points", 1)) for n, e in self.exercises.items()}
        self.cases = {n: list(e.cases()) for n, e in self.exercises.items()}
        self.mode = mode or sandboxing.Mode(False, "not requested")
        self.limits = limits or sandboxing.Limits()
        self._running: dict[int, tuple[subprocess.Popen, Path]] = {}
        self._lock = threading.Lock()
        self._cancelled = False
        self.unstopped: list[Path] = []   # sandboxes that did not empty in time (kept)

    # ---- one submission ------------------------------------------------------------------
    def grade_one(self, name: str, path: Path) -> SubmissionGrade:
        """The row of one submission; a notebook's failure is its status, never an exception."""
        t0 = time.monotonic()
        row = SubmissionGrade(submission=name, path=str(path),
                              scores={n: 0.0 for n in self.names},
                              max_total=sum(self.points.values()), status=scoring.STATUS_OK)
        try:
            nb, raw = read_notebook(path)
        except NotGradable as exc:
            row.status = exc.status
        except OSError as exc:
            row.status = f"not a notebook: cannot read ({exc.strerror or exc})"
        else:
            workdir = Path(tempfile.mkdtemp(prefix="cnnlab-grade-"))
            row.sandbox = self.mode.label
            try:
                self._grade_notebook(row, nb, raw, workdir)
            except Exception as exc:  # a grader bug must not stop the run
                row.status = f"error: {type(exc).__name__}: {exc}"[:300]
            finally:
                if workdir in self.unstopped:
                    pass                    # its sandbox's record is needed before the write
                elif not os.environ.get("CNNLAB_GRADE_KEEP"):
                    shutil.rmtree(workdir, ignore_errors=True)
        row.seconds = time.monotonic() - t0
        return row

    def _grade_notebook(self, row: SubmissionGrade, nb, raw: bytes, workdir: Path) -> None:
        plans = self._prepare(nb, raw, workdir)
        timed_out, (stopped, left) = self._run_child(workdir)
        if not stopped:   # never read what a still running sandbox may be writing
            self.unstopped.append(workdir)
            row.status = (f"error: the sandbox did not stop ({left} processes left); its "
                          "results were not read")
            return
        state = runner.read_state(workdir)
        scores, details, flags, problems = scoring.score_submission(
            self.registry, plans, state, workdir, self.points)
        row.scores.update(scores)
        row.details.update(details)
        row.status = scoring.status_text(
            state, timed_out=timed_out, timeout=self.timeout, cell_timeout=self.cell_timeout,
            problems=problems, flags=flags, log_tail=lambda: runner.log_tail(workdir))

    def _prepare(self, nb, raw: bytes, workdir: Path) -> list:
        """Draw this submission's fresh cases, write the job, the inputs and the notebook."""
        import nbformat

        digest = hashlib.sha256(raw).digest()
        rng = np.random.default_rng([self.seed, *digest[:16]])
        arrays: dict[str, np.ndarray] = {}
        plans = []
        for i, name in enumerate(self.names):
            exercise, base = self.exercises[name], self.cases[name]
            fresh = cases.fresh_cases(exercise, base, rng, self.fresh, self.registry)
            plans.append(cases.plan_exercise(i, name, exercise, base, fresh, arrays))
        _files.write_bytes_atomic(workdir / "inputs.npz", wire.npz_bytes(arrays))
        nbformat.write(nb, str(workdir / "notebook.ipynb"))
        _files.write_text_atomic(workdir / "job.json", json.dumps({
            "sandbox": {"mode": dataclasses.asdict(self.mode),
                        "limits": dataclasses.asdict(self.limits)},
            "cell_timeout": self.cell_timeout, "max_bytes": wire.MAX_ARRAY_BYTES,
            "flagged": list(cases.FLAGGED_MODULES),
            "extract": [{"name": p.name, "function_name": p.function_name, "cases": p.specs,
                         "allowed": p.allowed, "allowed_modules": p.allowed_modules,
                         "driver": p.driver, "keep_inputs": p.keep_inputs}
                        for p in plans]}))
        return plans

    def _run_child(self, workdir: Path) -> tuple[bool, tuple[bool, int]]:
        """Run the child under the total timeout, then kill what is left of it and wait until
        its sandbox is empty: (killed at the timeout, (sandbox gone, processes left))."""
        with open(workdir / "runner.log", "wb") as log:
            proc = runner.start_child(workdir, log)
            with self._lock:
                self._running[proc.pid] = (proc, workdir)
                cancelled = self._cancelled
            timed_out = False
            try:
                if cancelled:
                    raise KeyboardInterrupt
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                stopped = runner.kill_tree(proc, workdir)
                with self._lock:
                    self._running.pop(proc.pid, None)
            if self._cancelled:
                raise KeyboardInterrupt
        return timed_out, stopped

    # ---- many submissions ------------------------------------------------------------------
    def run(self, submissions: list[tuple[str, Path]], jobs: int = 1) -> list[SubmissionGrade]:
        """Grade every submission (``jobs`` at a time); rows in the order given. Ctrl-C kills
        every running child and re-raises."""
        lock = threading.Lock()
        total = len(submissions)
        done = [0]

        def work(item):
            name, path = item
            row = self.grade_one(name, path)
            with lock:
                done[0] += 1
                if self.echo:
                    self.echo(f"[{done[0]}/{total}] {name}: {fmt_points(row.total)}/"
                              f"{fmt_points(row.max_total)}  {row.status}  ({row.seconds:.1f} s)")
            return row

        if jobs <= 1:
            return [work(item) for item in submissions]
        pool = ThreadPoolExecutor(max_workers=jobs)
        try:
            return list(pool.map(work, submissions))
        except KeyboardInterrupt:  # Ctrl-C: stop everything now, write nothing
            with self._lock:
                self._cancelled = True
                running = list(self._running.values())
            for proc, workdir in running:
                runner.kill_tree(proc, workdir)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def grade(submissions: Iterable[str | os.PathLike], out: str | os.PathLike | None = None, *,
          timeout: float = DEFAULT_TIMEOUT, cell_timeout: float = DEFAULT_CELL_TIMEOUT,
          jobs: int = 1, seed: int = 0, exercises: Iterable[str] | None = None,
          lessons: Iterable[int] | None = None, fresh: int = DEFAULT_FRESH,
          details: str | os.PathLike | None = None, registry=None,
          echo: Callable[[str], Any] | None = print, sandbox: str = "auto",
          limits: sandboxing.Limits | None = None,
          warn: Callable[[str], Any] | None = _stderr) -> Gradebook:
    """Grade notebooks (files and/or folders); write the CSV gradebook to ``out`` atomically.

    ``sandbox`` "auto" (sandbox where it can start; else one warning through ``warn``),
    "required" (``sandboxing.SandboxUnavailable`` where it cannot) or "off"; ``limits`` default
    to ``sandboxing.Limits()`` with the CPU time of ``timeout``. ``registry`` defaults to
    :mod:`cnnlab.checks` (anything with ``EXERCISES``, ``evaluate_outputs``, ``ErrorResult``
    and ``Case`` works, which is how tests inject one).
    """
    if timeout <= 0 or cell_timeout <= 0:
        raise ValueError("timeout and cell_timeout must be positive numbers of seconds")
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    reg = cases.load_registry(registry)
    names = cases.select_exercises(reg, list(exercises) if exercises else None,
                                   set(lessons) if lessons else None)
    found = find_submissions(submissions)
    if not found:
        raise ValueError("no submissions: give .ipynb files or folders containing them")
    mode = sandboxing.choose(sandbox)
    if not mode.sandboxed and sandbox == "auto" and warn is not None:
        warn(f"cnnlab grade: WARNING: grading WITHOUT a sandbox: {mode.reason}")
    limits = limits or sandboxing.Limits(cpu_seconds=int(math.ceil(timeout)) + 60)
    grader = Grader(reg, names, timeout=timeout, cell_timeout=cell_timeout, seed=seed,
                    fresh=fresh, echo=echo, mode=mode, limits=limits)
    book = Gradebook(exercises=names, points=grader.points, rows=grader.run(found, jobs=jobs),
                     sandbox=mode)
    _wait_for_stragglers(grader)
    if out is not None:
        write_gradebook(book, out)
    if details is not None:
        write_details(book, details)
    return book


def _wait_for_stragglers(grader: Grader, wait: float = 600.0) -> None:
    """Before anything is written: every sandbox must be gone (a row whose sandbox did not
    empty in time gets one more, longer wait); RuntimeError when one still is not."""
    for workdir in grader.unstopped:
        gone, left = sandboxing.stop(workdir, timeout=wait)
        if not gone:
            raise RuntimeError(f"{left} processes of a sandbox are still running after "
                               f"{wait:g} s; no gradebook written")
        if not os.environ.get("CNNLAB_GRADE_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
