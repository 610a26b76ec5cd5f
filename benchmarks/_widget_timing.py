"""Timing helpers shared by the widget-latency benchmarks (bench_widgets_*.py)."""
from __future__ import annotations

import statistics
import time

import numpy as np


def timed_changes(changes, repeat):
    """changes: list of (control, value). Returns per-change (wall ms, CPU ms) pairs."""
    times = []
    for _ in range(repeat):
        for control, value in changes:
            t0, c0 = time.perf_counter(), time.process_time()
            control.value = value
            times.append(((time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3))
    return times


def report(name, times, width=46):
    """Print the median/p90 wall time and median CPU time of ``times``; return the median."""
    wall = [t[0] for t in times]
    cpu = [t[1] for t in times]
    med = statistics.median(wall)
    print(f"{name:<{width}} wall median {med:6.1f} ms  p90 {np.percentile(wall, 90):6.1f} ms"
          f"   CPU median {statistics.median(cpu):6.1f} ms  ({len(times)} changes)")
    return med
