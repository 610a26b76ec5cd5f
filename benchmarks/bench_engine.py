"""Benchmark the cnnlab engine against PyTorch CPU, both measured in the same run.

    .venv/bin/python benchmarks/bench_engine.py            # full run (a few minutes)
    .venv/bin/python benchmarks/bench_engine.py --quick    # a short run
    .venv/bin/python benchmarks/bench_engine.py --only LeNet
    .venv/bin/python benchmarks/bench_engine.py --threads 1          # one thread count only
    .venv/bin/python benchmarks/bench_engine.py --openblas-coretype Haswell

By default every case is measured on 1 thread and on all the cores available (the default of
``cnnlab.get_num_threads()``), and each row ends with the speed-up from 1 to all threads of
each library and their quotient (cnnlab's speed-up / torch's). ``cnnlab.set_num_threads``
sets cnnlab's threads and BLAS's, ``torch.set_num_threads`` torch's: the same number on both
sides. Each figure is the median over repeats, in milliseconds, float32, measured in three
alternating phases per library (the median of the phase medians), and the thread counts take
turns twice.

The header names the CPU and the OpenBLAS core type (the kernels OpenBLAS picked, or the one
forced by ``--openblas-coretype``, which re-runs the script with OPENBLAS_CORETYPE set: it must
be set before NumPy loads OpenBLAS). OpenBLAS 0.3.31 picks "Haswell" (AVX2) kernels on AMD Zen
and "SkylakeX" (AVX-512) on CPUs that have AVX-512; forcing SkylakeX on a CPU without it would
crash, so the script refuses. Comparing core types shows whether the engine's layout choices
hold beyond one CPU.

The machines this runs on are shared and noisy: compare the ratios within one run, and look at
the load average printed at the top and the end; thread speed-ups mean nothing while another
process holds a core.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

if "--openblas-coretype" in sys.argv[:-1]:          # must happen before NumPy is imported
    _core = sys.argv[sys.argv.index("--openblas-coretype") + 1]
    if os.environ.get("OPENBLAS_CORETYPE") != _core:
        _info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        if _core.lower() in {"skylakex", "cooperlake", "sapphirerapids"} and _info and \
                " avx512f" not in _info:
            sys.exit(f"bench_engine: OPENBLAS_CORETYPE={_core} needs AVX-512, which this CPU "
                     "does not have (OpenBLAS would stop with 'Illegal instruction'); try "
                     "Haswell, Zen or SandyBridge here, or run on a CPU with AVX-512")
        os.environ["OPENBLAS_CORETYPE"] = _core
        os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnlab import functional as F  # noqa: E402


def median_ms(fn, repeats: int, warmup: int = 2, min_time: float = 0.0) -> float:
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start) < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 10 * repeats:
            break
    return 1000.0 * statistics.median(times)


# ---------------------------------------------------------------------------------------------
# cases: each returns (cnnlab_fn, torch_fn or None)
# ---------------------------------------------------------------------------------------------

def conv_case(torch, n, cin, cout, hw, k, pad, backward, needs_input_grad=True):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, cin, hw, hw)).astype(np.float32)
    w = (rng.normal(size=(cout, cin, k, k)) * 0.1).astype(np.float32)
    b = np.zeros(cout, np.float32)
    out, cache = F.conv2d_with_cache(x, w, b, padding=pad)
    go = rng.normal(size=out.shape).astype(np.float32)
    if backward:
        def ours():
            F.conv2d_backward(go, x, w, padding=pad, needs_input_grad=needs_input_grad,
                              cache=cache)
    else:
        def ours():
            F.conv2d_with_cache(x, w, b, padding=pad)
    if torch is None:
        return ours, None
    X, W, B, G = (torch.from_numpy(a) for a in (x, w, b, go))
    if backward:
        mask = [needs_input_grad, True, True]

        def theirs():
            torch.ops.aten.convolution_backward(G, X, W, [cout], [1, 1], [pad, pad], [1, 1],
                                                False, [0, 0], 1, mask)
    else:
        def theirs():
            torch.nn.functional.conv2d(X, W, B, padding=pad)
    return ours, theirs


def pool_case(torch, kind, backward, shape=(128, 6, 28, 28)):
    rng = np.random.default_rng(1)
    x = np.maximum(rng.normal(size=shape), 0).astype(np.float32)
    if kind == "max":
        out, idx = F.max_pool2d(x, 2, return_indices=True)
        go = rng.normal(size=out.shape).astype(np.float32)
        ours = (lambda: F.max_pool2d_backward(go, x, 2, indices=idx)) if backward else \
            (lambda: F.max_pool2d(x, 2, return_indices=True))
    else:
        out = F.avg_pool2d(x, 2)
        go = rng.normal(size=out.shape).astype(np.float32)
        ours = (lambda: F.avg_pool2d_backward(go, x, 2)) if backward else \
            (lambda: F.avg_pool2d(x, 2))
    if torch is None:
        return ours, None
    X, G = torch.from_numpy(x), torch.from_numpy(go)
    if kind == "max":
        _, I = torch.nn.functional.max_pool2d(X, 2, return_indices=True)
        theirs = (lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            G, X, [2, 2], [2, 2], [0, 0], [1, 1], False, I)) if backward else \
            (lambda: torch.nn.functional.max_pool2d(X, 2, return_indices=True))
    else:
        theirs = (lambda: torch.ops.aten.avg_pool2d_backward(
            G, X, [2, 2], [2, 2], [0, 0], False, True, None)) if backward else \
            (lambda: torch.nn.functional.avg_pool2d(X, 2))
    return ours, theirs


def lenet_batch(n=128):
    rng = np.random.default_rng(2)
    x = rng.random(size=(n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    return x, y


def torch_lenet_step(torch, x, y):
    tnn = torch.nn
    torch.manual_seed(0)
    model = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = tnn.CrossEntropyLoss()
    X, Y = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = crit(model(X), Y)
        loss.backward()
        opt.step()
    return step


def cnnlab_lenet_step(x, y):
    """The real thing: cnnlab.models.LeNet5 + nn.CrossEntropyLoss + optim.SGD."""
    from cnnlab import models, nn, optim
    if hasattr(nn, "manual_seed"):
        nn.manual_seed(0)
    model = models.LeNet5()
    crit = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = crit(model(x), y)
        model.backward(crit.backward())
        opt.step()
        return loss
    return step


def functional_lenet_step(x, y):
    """The same step composed directly from cnnlab.functional (no nn/optim layers)."""
    rng = np.random.default_rng(0)

    def init(*shape):
        fan_in = int(np.prod(shape[1:]))
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    P = {"c1w": init(6, 1, 5, 5), "c1b": np.zeros(6, np.float32),
         "c2w": init(16, 6, 5, 5), "c2b": np.zeros(16, np.float32),
         "f1w": init(120, 400), "f1b": np.zeros(120, np.float32),
         "f2w": init(84, 120), "f2b": np.zeros(84, np.float32),
         "f3w": init(10, 84), "f3b": np.zeros(10, np.float32)}
    M = {k: np.zeros_like(v) for k, v in P.items()}
    lr, mom = 0.01, 0.9

    def step():
        c1, k1 = F.conv2d_with_cache(x, P["c1w"], P["c1b"], padding=2)
        r1 = F.relu(c1)
        p1, i1 = F.max_pool2d(r1, 2, return_indices=True)
        c2, k2 = F.conv2d_with_cache(p1, P["c2w"], P["c2b"])
        r2 = F.relu(c2)
        p2, i2 = F.max_pool2d(r2, 2, return_indices=True)
        fl = F.flatten(p2)
        h1 = F.linear(fl, P["f1w"], P["f1b"])
        a1 = F.relu(h1)
        h2 = F.linear(a1, P["f2w"], P["f2b"])
        a2 = F.relu(h2)
        logits = F.linear(a2, P["f3w"], P["f3b"])
        loss = F.cross_entropy(logits, y)
        G = {}
        g = F.cross_entropy_backward(1.0, logits, y)
        g, G["f3w"], G["f3b"] = F.linear_backward(g, a2, P["f3w"])
        g = F.relu_backward(g, h2)
        g, G["f2w"], G["f2b"] = F.linear_backward(g, a1, P["f2w"])
        g = F.relu_backward(g, h1)
        g, G["f1w"], G["f1b"] = F.linear_backward(g, fl, P["f1w"])
        g = F.flatten_backward(g, p2)
        g = F.max_pool2d_backward(g, r2, 2, indices=i2)
        g = F.relu_backward(g, c2)
        g, G["c2w"], G["c2b"] = F.conv2d_backward(g, p1, P["c2w"], cache=k2)
        g = F.max_pool2d_backward(g, r1, 2, indices=i1)
        g = F.relu_backward(g, c1)
        _, G["c1w"], G["c1b"] = F.conv2d_backward(g, x, P["c1w"], padding=2,
                                                  needs_input_grad=False, cache=k1)
        for k in P:
            M[k] *= mom
            M[k] += G[k]
            P[k] -= lr * M[k]
        # keep this step's arrays alive until the next step, as layers keep their caches:
        # freeing ~30 MB at once lets malloc hand it back to the OS, and the next step then
        # pays page faults to get it again
        kept[:] = [c1, k1, r1, p1, i1, c2, k2, r2, p2, h1, a1, h2, a2, logits, G]
        return loss
    kept = []
    return step


# ---------------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def blas_description() -> str:
    """e.g. 'OpenBLAS 0.3.31 core type Haswell (OPENBLAS_CORETYPE unset)'."""
    core = os.environ.get("OPENBLAS_CORETYPE")
    forced = f"OPENBLAS_CORETYPE={core}" if core else "OPENBLAS_CORETYPE unset"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"BLAS unknown (threadpoolctl not installed), {forced}"
    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not info:
        return f"BLAS not found, {forced}"
    i = info[0]
    name = {"openblas": "OpenBLAS"}.get(i.get("internal_api"), i.get("internal_api"))
    return f"{name} {i.get('version')} core type {i.get('architecture')} ({forced})"


def measure(ours, theirs, rounds, repeats, min_time):
    """Median ms of each side, alternating phases (cnnlab, torch, cnnlab, ...): a busy spell of
    the shared machine then lands on both sides; each phase is long enough for the other
    library's idle threads to settle. The median over the phases."""
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        t_ours.append(median_ms(ours, repeats, min_time=min_time))
        if theirs:
            t_theirs.append(median_ms(theirs, repeats, min_time=min_time))
    return statistics.median(t_ours), statistics.median(t_theirs) if theirs else float("nan")


def set_threads(torch, n):
    """cnnlab's engine and BLAS (cnnlab.set_num_threads) and torch: n threads each."""
    import cnnlab
    cnnlab.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def parse_threads(text, default):
    if not text:
        return sorted({1, default})
    counts = [int(v) for v in text.split(",")]
    if any(c < 1 for c in counts):
        raise SystemExit("bench_engine: --threads takes counts >= 1, e.g. --threads 1,2")
    return counts


def main(argv=None) -> int:
    import cnnlab
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    ap.add_argument("--threads", default="",
                    help="thread counts to measure, e.g. 1 or 1,2 (default: 1 and all the "
                         "cores available, as cnnlab.get_num_threads() defaults to)")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--openblas-coretype", default=None,
                    help="set OPENBLAS_CORETYPE (e.g. Haswell, SkylakeX) and re-run")
    args = ap.parse_args(argv)
    counts = parse_threads(args.threads, cnnlab.get_num_threads())
    repeats = 5 if args.quick else 30
    min_time = 0.0 if args.quick else 0.5
    rounds = 1 if args.quick else 3

    try:
        import torch
    except ImportError:
        torch = None
        print("(torch not installed: cnnlab timings only)")
    old = cnnlab.get_num_threads(), torch.get_num_threads() if torch else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"cnnlab engine benchmark: float32, numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else "")
          + f"\nCPU: {cpu_model()}, {len(os.sched_getaffinity(0))} cores available; "
          f"{blas_description()}\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          "(a busy machine distorts the figures, the thread speed-ups most)")

    x, y = lenet_batch()
    cases = [
        ("conv1 fwd  128x1x28x28 6@5x5 p2", lambda: conv_case(torch, 128, 1, 6, 28, 5, 2, False)),
        ("conv1 bwd  (no dX, first layer)",
         lambda: conv_case(torch, 128, 1, 6, 28, 5, 2, True, needs_input_grad=False)),
        ("conv2 fwd  128x6x14x14 16@5x5", lambda: conv_case(torch, 128, 6, 16, 14, 5, 0, False)),
        ("conv2 bwd", lambda: conv_case(torch, 128, 6, 16, 14, 5, 0, True)),
        ("conv  fwd  64x32x32x32 32@3x3 p1", lambda: conv_case(torch, 64, 32, 32, 32, 3, 1, False)),
        ("conv  bwd  64x32x32x32 32@3x3 p1", lambda: conv_case(torch, 64, 32, 32, 32, 3, 1, True)),
        ("maxpool2 fwd 128x6x28x28 (+indices)", lambda: pool_case(torch, "max", False)),
        ("maxpool2 bwd", lambda: pool_case(torch, "max", True)),
        ("avgpool2 fwd 128x6x28x28", lambda: pool_case(torch, "avg", False)),
        ("avgpool2 bwd", lambda: pool_case(torch, "avg", True)),
        ("LeNet-5 step (functional ops)",
         lambda: (functional_lenet_step(x, y), torch_lenet_step(torch, x, y) if torch else None)),
        ("LeNet-5 step (models.LeNet5+nn+optim)",
         lambda: (cnnlab_lenet_step(x, y), torch_lenet_step(torch, x, y) if torch else None)),
    ]
    header = f"{'':40s}" + "".join(f" | {f'{n} thread' + ('s' if n > 1 else ''):^27s}"
                                   for n in counts)
    cols = f"{'case':40s}" + " | cnnlab ms   torch ms  ratio" * len(counts)
    if len(counts) > 1:
        header += f" | speed-up {counts[0]}->{counts[-1]} threads"
        cols += " | cnnlab  torch  cnnlab/torch"
    print(header + "\n" + cols)
    try:
        for name, make in cases:
            if args.only and args.only not in name:
                continue
            ours, theirs = make()
            times = {}
            for _ in range(1 if args.quick else 2):   # thread counts alternate too
                for n in counts:
                    set_threads(torch, n)
                    times.setdefault(n, []).append(measure(ours, theirs, rounds, repeats,
                                                           min_time))
            row = f"{name:40s}"
            for n in counts:
                a = statistics.median(t[0] for t in times[n])
                b = statistics.median(t[1] for t in times[n])
                times[n] = (a, b)
                row += f" | {a:9.2f} {b:10.2f} {a / b:5.2f}x"
            if len(counts) > 1:
                (a1, b1), (an, bn) = times[counts[0]], times[counts[-1]]
                row += f" | {a1 / an:5.2f}x {b1 / bn:5.2f}x {(a1 / an) / (b1 / bn):8.2f}"
            print(row, flush=True)
    finally:
        cnnlab.set_num_threads(old[0])
        if torch is not None:
            torch.set_num_threads(old[1])
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
