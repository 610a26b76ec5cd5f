"""Update latency of the lesson 1-4 widgets: median milliseconds per control change.

Each measurement is what a student waits for after moving a control: the callback, the
functional calls, moving the artists, redrawing the frame and encoding the PNG that the
browser receives (kernel messaging excluded). Run:

    .venv/bin/python benchmarks/bench_widgets_convolution.py [--repeat 5] [--threads 1]

Target: well under 100 ms per change on lesson-sized inputs. Machines here are shared and
noisy: the wall-clock time includes waiting for a core, so the CPU time of this process is
printed too (what the update costs on an idle machine, as long as BLAS uses one thread).
``--threads`` sets ``cnnlab.set_num_threads`` (engine and BLAS; default 1, as these figures
were first taken; lesson-sized arrays are too small to be split over threads anyway).
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # lesson-sized arrays: threads only add noise

import numpy as np  # noqa: E402

from cnnlab.widgets import (channel_explorer, convolution_stepper,  # noqa: E402
                            kernel_playground, stride_explorer)
from _widget_timing import report, timed_changes  # noqa: E402  (benchmarks/ is on sys.path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="cnnlab.set_num_threads (engine and BLAS), default 1")
    args = parser.parse_args(argv)
    import cnnlab
    cnnlab.set_num_threads(args.threads)
    print(f"cnnlab threads: {cnnlab.get_num_threads()}")
    r = args.repeat
    results = {}

    app = convolution_stepper()
    changes = [(app.col, 1), (app.row, 1), (app.col, 0), (app.row, 0)]
    results["stepper 3x3 ⋆ 2x2: move the window"] = report("stepper 3x3 ⋆ 2x2: move the window",
                                                           timed_changes(changes, r))
    app = convolution_stepper(np.arange(36).reshape(6, 6) % 7, np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]]))
    changes = [(app.col, c) for c in (1, 2, 3, 0)] + [(app.row, c) for c in (1, 2, 3, 0)]
    results["stepper 6x6 ⋆ 3x3: move the window"] = report("stepper 6x6 ⋆ 3x3: move the window",
                                                           timed_changes(changes, r))
    changes = [(app.operation, "convolve"), (app.operation, "correlate")]
    results["stepper 6x6 ⋆ 3x3: switch operation"] = report("stepper 6x6 ⋆ 3x3: switch operation",
                                                            timed_changes(changes, r))

    app = kernel_playground()
    names = ["box blur", "Sobel x (vertical edges)", "sharpen", "edge detection (Laplacian)"]
    results["kernel playground (photo 300x256): preset"] = report(
        "kernel playground (photo 300x256): preset", timed_changes([(app.preset, n) for n in names], r))
    changes = [(app.weights[4], v) for v in (1.5, 2.0, 0.5, 1.0)]
    results["kernel playground: edit one weight"] = report("kernel playground: edit one weight",
                                                           timed_changes(changes, r))

    app = stride_explorer(7, 3, 1)
    changes = [(app.col, c) for c in (1, 2, 3, 4, 0)] + [(app.row, 1), (app.row, 0)]
    results["stride explorer: move the window"] = report("stride explorer: move the window",
                                                         timed_changes(changes, r))
    changes = [(app.s, 2), (app.s, 3), (app.p, 1), (app.p, 0), (app.n, 9), (app.n, 7),
               (app.d, 2), (app.d, 1), (app.f, 5), (app.f, 3)]
    results["stride explorer: change N, F, S, P, D"] = report("stride explorer: change N, F, S, P, D",
                                                              timed_changes(changes, r))

    app = channel_explorer()
    changes = [(app.out_channel, o) for o in (1, 2, 3, 0)]
    results["channel explorer (RGB 150x128): filter"] = report("channel explorer (RGB 150x128): filter",
                                                               timed_changes(changes, r))
    changes = [(app.bias, b) for b in (0.2, 0.4, -0.3, 0.0)]
    results["channel explorer: bias slider"] = report("channel explorer: bias slider",
                                                      timed_changes(changes, r))
    worst = max(results.values())
    print(f"worst median: {worst:.1f} ms ({'OK' if worst < 100 else 'SLOW'}: target < 100 ms)")
    return results


if __name__ == "__main__":
    main()
