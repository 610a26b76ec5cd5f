"""What the grader's sandbox costs: seconds per submission with and without it.

    .venv/bin/python benchmarks/bench_grade.py [--rounds 3] [--jobs 1 2]

Grades the seven solution notebooks (``solutions/*.ipynb``, all exercises selected, the
defaults otherwise) with ``--sandbox required`` and ``--sandbox off``, for each ``--jobs``
value. The configurations are interleaved round after round, and within a round the two
modes run back to back, so a change in the machine's load hits both alike. Per configuration
it prints the wall time of the whole run divided by the number of submissions, the median of
the rows' own times (``SubmissionGrade.seconds``: a row's time from reading the file to its
score, kernel start included), and per ``--jobs`` value the cost of the sandbox: the median
over the rounds of (sandboxed - unsandboxed) seconds per submission, with the load average
before each run. It also compares the two gradebooks of each round (scores and status; the
``sandbox`` column differs by design). Nothing is asserted: the figures go into
``benchmarks/results-grade.txt`` and docs/grading.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnnlab import grade  # noqa: E402
from cnnlab.grade import sandbox  # noqa: E402


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run_once(subs: Path, out: Path, mode: str, jobs: int) -> dict:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    book = grade.grade([subs], out, sandbox=mode, jobs=jobs, echo=None, warn=None)
    wall = time.perf_counter() - t0
    return {"wall": wall, "rows": [r.seconds for r in book.rows], "load": load,
            "grades": {r.submission: (r.scores, r.status) for r in book.rows},
            "bad": [f"{r.submission}: {r.status}" for r in book.rows if r.status != "ok"]}


def _header(n: int, rounds: int) -> None:
    bwrap = sandbox.bwrap_path()
    version = subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout.strip() \
        if bwrap else "bwrap missing"
    mode = sandbox.choose("auto")
    print(f"# bench_grade  {time.strftime('%Y-%m-%d %H:%M:%S')}  python "
          f"{platform.python_version()}  {version}  {os.cpu_count()} cores  uid {os.geteuid()}"
          f" (sandbox uid mode: {mode.uidmode if mode.sandboxed else 'unavailable'})")
    print(f"# {n} solution notebooks, all exercises, defaults (--fresh 2, cell timeout "
          f"{grade.DEFAULT_CELL_TIMEOUT:g} s); {rounds} round(s), interleaved; "
          f"load average {_load()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    subs = work / "subs"
    subs.mkdir()
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        shutil.copy(path, subs / path.name)
    n = len(list(subs.glob("*.ipynb")))
    _header(n, args.rounds)
    results: dict = {(mode, jobs): [] for jobs in args.jobs for mode in ("required", "off")}
    same = []
    for r in range(args.rounds):
        for jobs in args.jobs:
            # alternate which mode goes first, so neither always follows the other
            order = ("required", "off") if r % 2 == 0 else ("off", "required")
            got = {}
            for mode in order:
                res = got[mode] = run_once(subs, work / "g.csv", mode, jobs)
                results[(mode, jobs)].append(res)
                print(f"round {r + 1}: sandbox {'on ' if mode == 'required' else 'off'} jobs {jobs}:"
                      f" {res['wall'] / n:5.2f} s per submission (wall {res['wall']:5.1f} s), "
                      f"median row {statistics.median(res['rows']):5.2f} s  [load "
                      f"{res['load']:.2f}]" + (f"  NOT OK: {res['bad']}" if res["bad"] else ""),
                      flush=True)
            same.append(got["required"]["grades"] == got["off"]["grades"])
    print("\nconfiguration        s/submission, median (min-max)   median row time   load")
    for (mode, jobs), runs in results.items():
        per = [x["wall"] / n for x in runs]
        rows = [s for x in runs for s in x["rows"]]
        loads = [x["load"] for x in runs]
        label = f"sandbox {'on ' if mode == 'required' else 'off'}, jobs {jobs}"
        print(f"{label:20s} {statistics.median(per):6.2f} ({min(per):.2f}-{max(per):.2f})"
              f"            {statistics.median(rows):6.2f}          "
              f"{min(loads):.1f}-{max(loads):.1f}")
    print("\ncost of the sandbox (sandboxed - unsandboxed, same round), seconds per submission:")
    for jobs in args.jobs:
        diffs = [(a["wall"] - b["wall"]) / n for a, b in
                 zip(results[("required", jobs)], results[("off", jobs)])]
        print(f"jobs {jobs}: median {statistics.median(diffs):+.2f} s  (rounds: "
              f"{', '.join(f'{d:+.2f}' for d in diffs)})")
    print(f"\ngradebooks with and without the sandbox equal (scores, status): "
          f"{sum(same)} of {len(same)} runs")
    print(f"# load average at end {_load()}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
