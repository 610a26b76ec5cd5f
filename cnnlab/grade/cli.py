"""``cnnlab grade`` and ``python -m cnnlab.grade``: the same options, the same exit codes."""
from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from pathlib import Path

from cnnlab.grade import sandbox
from cnnlab.grade.gradebook import format_table
from cnnlab.grade.grader import DEFAULT_CELL_TIMEOUT, DEFAULT_FRESH, DEFAULT_TIMEOUT, grade

__all__ = ["add_cli", "main"]


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _size(text: str) -> int:
    try:
        return sandbox.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _add_sandbox_options(p: argparse.ArgumentParser) -> None:
    default = sandbox.Limits()
    p.add_argument("--sandbox", choices=sandbox.MODES, default="auto",
                   help="run each kernel in a bubblewrap sandbox (own PID and network "
                        "namespaces, read-only except its scratch folder, limits): auto = "
                        "where it can start, with one warning where not (default); required "
                        "= refuse to grade without it; off = never")
    p.add_argument("--memory", type=_size, default=default.memory, metavar="SIZE",
                   help="address space per kernel process, e.g. 2G, 512M (default 2G)")
    p.add_argument("--processes", type=_count, default=default.processes, metavar="N",
                   help=f"processes and threads per sandbox (default {default.processes})")
    p.add_argument("--file-size", type=_size, default=default.file_size, metavar="SIZE",
                   help="largest file a kernel may write (default 256M)")
    p.add_argument("--cpu-time", type=_positive, default=None, metavar="SECONDS",
                   help="CPU seconds per kernel process (default: --timeout plus 60)")


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Register ``cnnlab grade`` on the CLI's sub-command parsers."""
    p = subparsers.add_parser(
        "grade", help="grade submitted notebooks into a CSV gradebook",
        description="Run each submitted notebook in its own fresh kernel, call the exercise "
                    "functions it defines on the grader's cases, score them outside the "
                    "notebook, and write a CSV gradebook (atomically). On Linux each kernel "
                    "runs in a sandbox (bubblewrap) by default; without it, student code runs "
                    "with YOUR privileges (see docs/grading.md).")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                   help=".ipynb files, or folders (every .ipynb below them, sorted)")
    p.add_argument("--out", required=True, metavar="CSV", help="the gradebook to write")
    p.add_argument("--timeout", type=_positive, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"total time per submission, kernel start included; the kernel is "
                        f"killed when it runs out (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--cell-timeout", type=_positive, default=DEFAULT_CELL_TIMEOUT,
                   metavar="SECONDS", help=f"time per cell (interrupted, then the notebook goes "
                                           f"on) and per graded call (default "
                                           f"{DEFAULT_CELL_TIMEOUT:g})")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="submissions graded in parallel (default 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for the fresh random cases (mixed with each file's hash)")
    p.add_argument("--fresh", type=int, default=DEFAULT_FRESH, metavar="N",
                   help=f"fresh random cases per exercise (default {DEFAULT_FRESH}; 0: none)")
    p.add_argument("--lesson", type=int, action="append", metavar="N",
                   help="only the exercises of lesson N (repeatable)")
    p.add_argument("--exercise", action="append", metavar="NAME",
                   help="only this exercise (repeatable)")
    p.add_argument("--details", metavar="JSON",
                   help="also write per-exercise feedback (check messages, flags) as JSON")
    _add_sandbox_options(p)
    p.set_defaults(func=_run)
    return p


def _usage_error(args) -> str | None:
    if args.jobs < 1:
        return "--jobs must be at least 1"
    out = Path(args.out)
    if out.is_dir():
        return f"--out {out} is a folder; give a file name"
    if not out.parent.exists():
        return f"the folder {out.parent} for --out does not exist"
    return None


def _run(args) -> int:
    problem = _usage_error(args)
    if problem:
        print(f"cnnlab grade: error: {problem}", file=sys.stderr)
        return 2

    def on_term(signum, frame):  # a scheduler's SIGTERM cleans up like Ctrl-C
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, on_term)
    cpu = args.cpu_time if args.cpu_time is not None else args.timeout + 60
    limits = sandbox.Limits(memory=args.memory, processes=args.processes,
                            file_size=args.file_size, cpu_seconds=int(math.ceil(cpu)))
    try:
        book = grade(args.submissions, args.out, timeout=args.timeout,
                     cell_timeout=args.cell_timeout, jobs=args.jobs, seed=args.seed,
                     exercises=args.exercise, lessons=args.lesson, fresh=max(0, args.fresh),
                     details=args.details, sandbox=args.sandbox, limits=limits)
    except (ValueError, sandbox.SandboxUnavailable) as exc:
        print(f"cnnlab grade: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"cnnlab grade: error: cannot load the exercise registry: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:   # a sandbox that would not stop: nothing was written
        print(f"cnnlab grade: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncnnlab grade: interrupted; no gradebook written", file=sys.stderr)
        return 130
    print()
    print(format_table(book))
    n = len(book.rows)
    print(f"\nwrote {Path(args.out)} ({n} submission{'s' if n != 1 else ''})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m cnnlab.grade``: the same as ``cnnlab grade`` (plus the child's ``--_one``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_one"] and len(argv) == 2:
        from cnnlab.grade.runner import run_one
        return run_one(Path(argv[1]))
    parser = argparse.ArgumentParser(prog="python -m cnnlab.grade")
    sub = parser.add_subparsers(dest="command")
    add_cli(sub)
    args = parser.parse_args(["grade", *argv])
    return int(args.func(args) or 0)
