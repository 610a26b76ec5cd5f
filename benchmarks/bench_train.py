"""LeNet-5 training: cnnlab against the same PyTorch CPU loop, in the same run.

Speed (default): one epoch of LeNet-5 (modern) on the full 60,000 Fashion-MNIST training
images, SGD momentum 0.9, lr 0.05, batch 128, float32, on both engines with the same
initial weights, the same batches in the same order and the same number of BLAS/torch
threads. The two loops are interleaved in blocks of steps so that both see the same
background load on a shared machine. Prints ms/step (median), epoch seconds and the ratio
cnnlab / PyTorch (target <= 1.6x).

Accuracy (``--accuracy``): both engines train for 10 epochs (same setup) and report the
test accuracy after each epoch (target: within 1 point of each other, about 89-91%).

The whole command (``--cli``): ``python -m cnnlab train --dataset fashion-mnist --epochs 1``
(loading the data, one epoch with its progress bar, the test set) against the same loop in
PyTorch (same data loading, initial weights, batch order and test evaluation), each in its own
process, alternating (cnnlab, torch, cnnlab, ...), both with ``--threads`` threads. This is
the fair whole-epoch figure: in the interleaved speed mode the epoch sums also count the
other library's threads still spinning after its block of steps (OpenBLAS's and OpenMP's
idle threads busy-wait for a while), which the per-step medians avoid.

    python benchmarks/bench_train.py                 # speed, one epoch
    python benchmarks/bench_train.py --steps 100     # speed, first 100 steps only
    python benchmarks/bench_train.py --accuracy      # 10 epochs each, takes minutes
    python benchmarks/bench_train.py --cli --runs 3  # the cnnlab train command vs torch
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def build_torch_lenet(torch, cn_model):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    # same initial weights as the cnnlab model
    learnable = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    names = ["conv1", "conv2", "fc1", "fc2", "fc3"]
    with torch.no_grad():
        for m, name in zip(learnable, names):
            layer = getattr(cn_model, name)
            m.weight.copy_(torch.from_numpy(layer.weight.data.copy()))
            m.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
    return model


class CnnlabRunner:
    def __init__(self, model, lr, momentum, optimizer):
        from cnnlab import nn, optim
        self.model = model
        self.crit = nn.CrossEntropyLoss()
        if optimizer == "sgd":
            self.opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        else:
            self.opt = optim.Adam(model.parameters(), lr=lr)
        self.times = []

    def step(self, xb, yb):
        t = time.perf_counter()
        logits = self.model(xb)
        loss = self.crit(logits, yb)
        self.opt.zero_grad()
        self.model.backward(self.crit.backward())
        self.opt.step()
        self.times.append(time.perf_counter() - t)
        return float(loss)

    def accuracy(self, x, y):
        from cnnlab import train
        return train.evaluate(self.model, None, (x, y), batch_size=1000)[1]


class TorchRunner:
    def __init__(self, torch, model, lr, momentum, optimizer):
        self.torch, self.model = torch, model
        self.crit = torch.nn.CrossEntropyLoss()
        if optimizer == "sgd":
            self.opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        else:
            self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        self.times = []

    def step(self, xb, yb):
        torch = self.torch
        t = time.perf_counter()
        xt, yt = torch.from_numpy(xb), torch.from_numpy(yb)
        logits = self.model(xt)
        loss = self.crit(logits, yt)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        value = loss.item()
        self.times.append(time.perf_counter() - t)
        return value

    def accuracy(self, x, y):
        torch = self.torch
        self.model.eval()
        correct = 0
        with torch.no_grad():
            for s in range(0, len(x), 1000):
                pred = self.model(torch.from_numpy(x[s:s + 1000])).argmax(1).numpy()
                correct += int((pred == y[s:s + 1000]).sum())
        self.model.train()
        return correct / len(x)


def torch_cli_epoch(args) -> int:
    """What ``cnnlab train --dataset fashion-mnist --epochs 1`` does, in PyTorch: prints the
    same "Test accuracy:" and "Time taken:" lines (load + one epoch + test set)."""
    import torch

    import cnnlab
    from cnnlab import data, models

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    (xtr, ytr), (xte, yte) = data.load_fashion_mnist()
    xtr = data.to_nchw(xtr, data.FASHION_MNIST_MEAN, data.FASHION_MNIST_STD)
    xte = data.to_nchw(xte, data.FASHION_MNIST_MEAN, data.FASHION_MNIST_STD)
    cnnlab.manual_seed(args.seed)                 # the initial weights of the cnnlab run
    model = build_torch_lenet(torch, models.LeNet5("modern"))
    crit = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(args.seed)        # cnnlab's fit: the same batch order
    order = rng.permutation(len(xtr))
    seen = hits = 0
    for s in range(0, len(xtr), args.batch_size):
        idx = order[s:s + args.batch_size]
        xb, yb = torch.from_numpy(xtr[idx]), torch.from_numpy(ytr[idx].astype(np.int64))
        logits = model(xb)
        loss = crit(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()                       # cnnlab's loop reads the loss and the hits
        hits += int((logits.argmax(1) == yb).sum())
        seen += len(idx)
        if not np.isfinite(value):
            raise SystemExit("diverged")
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(xte), 1000):
            pred = model(torch.from_numpy(xte[s:s + 1000])).argmax(1).numpy()
            correct += int((pred == yte[s:s + 1000]).sum())
    print(f"train accuracy {100 * hits / seen:.2f}%")
    print(f"Test accuracy: {100 * correct / len(xte):.2f}%")
    print(f"Time taken: {time.perf_counter() - t_start:.1f} s")
    return 0


def cli_runs(args) -> int:
    """Alternate ``cnnlab train`` and ``torch_cli_epoch`` in fresh processes."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), CNNLAB_NUM_THREADS=str(args.threads))
    env.pop("CNNLAB_QUICK", None)
    commands = {
        "cnnlab": [sys.executable, "-m", "cnnlab", "train", "--dataset", "fashion-mnist",
                   "--epochs", "1", "--seed", str(args.seed)],
        "torch": [sys.executable, __file__, "--torch-epoch", "--threads", str(args.threads),
                  "--seed", str(args.seed)],
    }
    print(f"# bench_train --cli  {time.strftime('%Y-%m-%d %H:%M:%S')}  threads {args.threads}  "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    times = {k: [] for k in commands}
    accs = {k: [] for k in commands}
    for run in range(args.runs):
        for name, cmd in commands.items():
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stdout, out.stderr, file=sys.stderr)
                return 1
            t = float(re.search(r"Time taken: ([\d.]+) s", out.stdout).group(1))
            a = float(re.search(r"Test accuracy: ([\d.]+)%", out.stdout).group(1))
            times[name].append(t)
            accs[name].append(a)
            print(f"run {run + 1} {name:6s}: {t:6.1f} s, test accuracy {a:.2f}%  (load "
                  f"{os.getloadavg()[0]:.2f})", flush=True)
    tc, tt = statistics.median(times["cnnlab"]), statistics.median(times["torch"])
    ac, at = statistics.median(accs["cnnlab"]), statistics.median(accs["torch"])
    print(f"RESULT: cnnlab train {tc:.1f} s, torch {tt:.1f} s: ratio {tc / tt:.2f}x (target "
          f"<= 1.5x); test accuracy {ac:.2f}% vs {at:.2f}% ({ac - at:+.2f} points, target "
          f"within 1)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accuracy", action="store_true", help="train both for --epochs epochs")
    ap.add_argument("--epochs", type=int, default=10, help="epochs in --accuracy mode")
    ap.add_argument("--steps", type=int, default=None, help="speed mode: only the first N steps")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    ap.add_argument("--lr", type=float, default=None, help="default 0.05 (SGD) / 0.001 (Adam)")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--block", type=int, default=25, help="steps per interleaved block")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cli", action="store_true",
                    help="time `cnnlab train --epochs 1` against the same loop in torch")
    ap.add_argument("--runs", type=int, default=3, help="--cli: runs of each")
    ap.add_argument("--torch-epoch", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cli:
        return cli_runs(args)
    if args.torch_epoch:
        return torch_cli_epoch(args)
    lr = args.lr if args.lr is not None else (0.05 if args.optimizer == "sgd" else 1e-3)

    import torch
    from threadpoolctl import threadpool_limits

    import cnnlab
    from cnnlab import data, models

    torch.set_num_threads(args.threads)
    cnnlab.set_num_threads(args.threads)              # cnnlab's engine and numpy's BLAS
    limiter = threadpool_limits(limits=args.threads)  # (and any other BLAS), same as torch

    try:
        (xtr, ytr), (xte, yte) = data.load_fashion_mnist(verbose=True)
    except data.DatasetUnavailable as exc:
        print(f"bench_train: Fashion-MNIST is needed:\n{exc}", file=sys.stderr)
        return 1
    xtr = data.to_nchw(xtr, data.FASHION_MNIST_MEAN, data.FASHION_MNIST_STD)
    xte = data.to_nchw(xte, data.FASHION_MNIST_MEAN, data.FASHION_MNIST_STD)

    cnnlab.manual_seed(args.seed)
    torch.manual_seed(args.seed)
    cn_model = models.LeNet5("modern")
    th_model = build_torch_lenet(torch, cn_model)
    cn = CnnlabRunner(cn_model, lr, args.momentum, args.optimizer)
    th = TorchRunner(torch, th_model, lr, args.momentum, args.optimizer)

    print(f"# bench_train  {time.strftime('%Y-%m-%d %H:%M:%S')}  python {platform.python_version()}"
          f"  numpy {np.__version__}  torch {torch.__version__}  threads {args.threads}"
          f"  load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"# LeNet-5 modern, Fashion-MNIST {len(xtr):,} train / {len(xte):,} test, batch "
          f"{args.batch_size}, {args.optimizer} lr {lr:g}"
          + (f" momentum {args.momentum:g}" if args.optimizer == "sgd" else "")
          + ", float32, same initial weights and batch order on both sides")

    rng = np.random.default_rng(args.seed)
    epochs = args.epochs if args.accuracy else 1
    for epoch in range(epochs):
        order = rng.permutation(len(xtr))
        batches = [order[s:s + args.batch_size] for s in range(0, len(xtr), args.batch_size)]
        if not args.accuracy and args.steps:
            batches = batches[:args.steps]
        cn.times.clear()
        th.times.clear()
        losses = {"cnnlab": [], "torch": []}
        # interleave blocks of steps so both engines see the same machine load
        for b in range(0, len(batches), args.block):
            for idx in batches[b:b + args.block]:
                losses["cnnlab"].append(cn.step(xtr[idx], ytr[idx]))
            for idx in batches[b:b + args.block]:
                losses["torch"].append(th.step(xtr[idx], ytr[idx]))
        cn_ms, th_ms = 1e3 * statistics.median(cn.times), 1e3 * statistics.median(th.times)
        cn_s, th_s = sum(cn.times), sum(th.times)
        line = (f"epoch {epoch + 1}/{epochs}: {len(batches)} steps | cnnlab {cn_ms:6.1f} ms/step "
                f"{cn_s:6.1f} s | torch {th_ms:6.1f} ms/step {th_s:6.1f} s | ratio "
                f"{cn_ms / th_ms:4.2f}x (median step) {cn_s / th_s:4.2f}x (epoch) | mean loss "
                f"cnnlab {np.mean(losses['cnnlab']):.4f} torch {np.mean(losses['torch']):.4f}")
        if args.accuracy:
            a_cn, a_th = cn.accuracy(xte, yte), th.accuracy(xte, yte)
            line += f" | test acc cnnlab {100 * a_cn:.2f}% torch {100 * a_th:.2f}%"
        print(line, flush=True)

    if args.accuracy:
        a_cn, a_th = cn.accuracy(xte, yte), th.accuracy(xte, yte)
        print(f"FINAL after {epochs} epochs: test accuracy cnnlab {100 * a_cn:.2f}%  torch "
              f"{100 * a_th:.2f}%  difference {100 * (a_cn - a_th):+.2f} points "
              f"(target: within 1 point)")
    else:
        print(f"RESULT: ratio cnnlab/torch {cn_ms / th_ms:.2f}x per step (median), "
              f"{cn_s / th_s:.2f}x per epoch (target <= 1.6x)")
    print(f"# load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    limiter.restore_original_limits()
    return 0


if __name__ == "__main__":
    sys.exit(main())
