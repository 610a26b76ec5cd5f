"""Update latency of the lesson 5-7 widgets: median milliseconds per control change.

Each measurement is what a student waits for after moving a control: the callback, the
cnnlab.functional (or model) calls, moving the artists, redrawing the frame and encoding the
PNG that the browser receives (kernel messaging excluded). Run:

    .venv/bin/python benchmarks/bench_widgets_networks.py [--repeat 5] [--threads 1]

Target: well under 100 ms per change on lesson-sized inputs. Machines here are shared and
noisy: the wall-clock time includes waiting for a core, so the CPU time of this process is
printed too (what the update costs on an idle machine, as long as BLAS uses one thread).
``--threads`` sets ``cnnlab.set_num_threads`` (engine and BLAS; default 1, as these figures
were first taken; lesson-sized arrays are too small to be split over threads anyway).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # lesson-sized arrays: threads only add noise
os.environ.setdefault("CNNLAB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import cnnlab  # noqa: E402
from cnnlab import data, models  # noqa: E402
from cnnlab.widgets import (backprop_explorer, feature_map_explorer,  # noqa: E402
                            pool_gradient_explorer, pooling_explorer)
from _widget_timing import report, timed_changes  # noqa: E402  (benchmarks/ is on sys.path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="cnnlab.set_num_threads (engine and BLAS), default 1")
    args = parser.parse_args(argv)
    cnnlab.set_num_threads(args.threads)
    print(f"cnnlab threads: {cnnlab.get_num_threads()}")
    r = args.repeat
    print(f"load average: {os.getloadavg()[0]:.2f} (2-core machine shared with others)")
    results = {}

    def run(name, changes):
        results[name] = report(name, timed_changes(changes, r))

    app = pooling_explorer()                     # 28x28 edge map of a digit
    run("pooling 28x28: move the output cell",
        [(app.col, c) for c in (3, 4, 5, 6)] + [(app.row, c) for c in (4, 5, 6, 7)])
    run("pooling 28x28: change the pooling type",
        [(app.kind, k) for k in ("avg", "sum", "l2", "max")])
    run("pooling 28x28: kernel size / stride",
        [(app.kernel_size, 3), (app.stride, 1), (app.stride, 2), (app.kernel_size, 2)])
    run("pooling 28x28: shift the input", [(app.shift, s) for s in (1, 2, 3, 0)])

    app = backprop_explorer()                    # 5x5 input, 3x3 kernel
    run("backprop 5x5 * 3x3: move the delta cell",
        [(app.col, c) for c in (1, 2, 0)] + [(app.row, c) for c in (1, 2, 0)])
    run("backprop: cell share / all cells", [(app.show, "all"), (app.show, "cell")])
    run("backprop: stride / padding",
        [(app.stride, 2), (app.padding, 1), (app.stride, 1), (app.padding, 0)])

    app = pool_gradient_explorer()               # 6x6 input
    run("pool gradient 6x6: move the delta cell",
        [(app.col, c) for c in (1, 2, 0)] + [(app.row, c) for c in (1, 2, 0)])
    run("pool gradient: max / average", [(app.kind, "avg"), (app.kind, "max")])
    run("pool gradient: kernel size / stride",
        [(app.kernel_size, 3), (app.stride, 1), (app.stride, 2), (app.kernel_size, 2)])

    cnnlab.manual_seed(0)
    model = models.LeNet5()                      # untrained: the cost is the same
    x, y = data.load_digits_sample()
    images = data.to_nchw(x[:50], data.MNIST_MEAN, data.MNIST_STD)
    app = feature_map_explorer(model, images, y[:50])
    run("feature maps (LeNet-5 forward + 22 maps): digit",
        [(app.index, i) for i in (1, 2, 3, 4, 5, 6, 7, 0)])

    worst = max(results.values())
    print(f"\nslowest median: {worst:.1f} ms (target: well under 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
