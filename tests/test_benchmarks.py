"""Smoke test of the engine benchmark: it must run and print a ratio line per case asked for.

Timings are never asserted (see the README: speed is measured by benchmarks/, not by tests).
"""
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def restore_threads():
    """main() sets cnnlab's and torch's thread counts for the whole process: put them back."""
    from cnnlab import functional as F
    ours = F.get_num_threads()
    try:
        import torch
        theirs = torch.get_num_threads()
    except ImportError:
        torch = None
    yield
    F.set_num_threads(ours)
    if torch is not None:
        torch.set_num_threads(theirs)


def test_bench_engine_quick_run_prints_a_line_per_case(capsys, restore_threads):
    bench = _load()
    assert bench.main(["--quick", "--only", "avgpool2", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("avgpool2")]
    assert [r.split()[1] for r in rows] == ["fwd", "bwd"]
    for r in rows:
        ours, theirs, ratio = r.split()[-3:]
        assert float(ours) > 0
        if importlib.util.find_spec("torch") is None:
            assert theirs == "nan"
        else:
            assert float(theirs) > 0 and ratio.endswith("x")


def test_bench_engine_lenet_steps_run():
    bench = _load()
    x, y = bench.lenet_batch(8)
    for step in (bench.cnnlab_lenet_step(x, y), bench.functional_lenet_step(x, y)):
        step()
        step()


def test_bench_engine_reports_both_thread_counts_and_speed_ups(capsys, restore_threads):
    bench = _load()
    assert bench.main(["--quick", "--only", "avgpool2 fwd", "--threads", "1,2"]) == 0
    out = capsys.readouterr().out
    assert "core type" in out and "CPU:" in out and "load average" in out
    assert "1 thread" in out and "2 threads" in out and "speed-up 1->2 threads" in out
    row = [line for line in out.splitlines() if line.startswith("avgpool2 fwd")]
    assert len(row) == 1
    cells = [c.split() for c in row[0].split("|")[1:]]
    assert [len(c) for c in cells] == [3, 3, 3]        # 1 thread, 2 threads, speed-ups
    assert float(cells[0][0]) > 0 and float(cells[1][0]) > 0
    assert cells[2][0].endswith("x") and float(cells[2][0][:-1]) > 0
