"""The benchmarks' CPU accounting: a process tree is found whole, and each role's CPU is counted where it was spent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from node.bench.anchoring import CpuMeter, store_growth
from node.harness import descendants

# a parent that starts a child busy for a while, then waits for it (the shape of a node and its ingest workers)
PARENT = ("import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', "
          "'import time\\nend = time.process_time() + 0.6\\nwhile time.process_time() < end: pass\\ntime.sleep(30)']); "
          "print(child.pid, flush=True); child.wait()")


def test_the_meter_counts_a_node_and_its_workers_apart() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())  # type: ignore[union-attr]
    try:
        meter = CpuMeter(parent.pid)
        assert descendants(parent.pid) == [worker] and descendants(worker) == []
        deadline = time.monotonic() + 20
        while meter.report(1, 1, 1.0)["cpu_ms_per_batch"]["ingest_workers"] < 500 and time.monotonic() < deadline:
            time.sleep(0.1)
        report = meter.report(1000, 2, 1.0)
        spent = report["cpu_ms_per_batch"]
        assert spent["ingest_workers"] >= 250  # ≥ 0.5 s of the child's busy loop, over 2 batches
        assert spent["custodian_node"] < spent["ingest_workers"] and spent["other_validators"] == 0
        roles = [value for role, value in spent.items() if role != "total"]
        assert abs(spent["total"] - sum(roles)) <= len(roles)  # (each figure rounded on its own)
        assert report["cpu_bound_records_per_s"] > 0 and report["ratio_vs_cpu_bound"] > 0
    finally:
        os.kill(worker, signal.SIGKILL)
        parent.wait(10)


def test_store_growth_fills_one_store_and_compares_its_last_batches_with_its_first() -> None:
    said: list[str] = []
    figures = store_growth(batches=4, size=300, window=2, progress=said.append)
    assert figures["records"] == 1200 and figures["cpu_ms_per_batch_first"] > 0 and figures["cpu_ms_per_batch_last"] > 0
    first, last, ratio = figures["cpu_ms_per_batch_first"], figures["cpu_ms_per_batch_last"], figures["ratio_last_vs_first"]
    assert abs(ratio * first - last) <= 0.1 * last + 0.1  # the same ratio, but for rounding (0.1 ms, 0.01) of small figures
    assert len(said) == 2 and said[0].startswith("store growth: 600 records stored") and "1,200 records stored" in said[1]


def test_the_concurrent_ceiling_counts_each_round_at_its_slowest_process_and_keeps_the_best_round() -> None:
    from node.bench.execution import _concurrent_figures, concurrent_ceiling

    # 2 processes, 3 rounds of 100 transactions: (seconds, CPU seconds) each, round after round
    figures = _concurrent_figures([(0.5, 0.2), (1.0, 0.3), (0.4, 0.2), (0.25, 0.1), (2.0, 0.4), (0.1, 0.1)], 2, 100)
    assert figures["rounds_per_s"] == [100.0, 250.0, 50.0] and figures["per_s"] == 250.0
    assert figures["cpu_us_per_tx"] == 1500.0  # the best round's: (0.2 + 0.1) s ÷ 2 processes ÷ 100 transactions

    result = concurrent_ceiling(2, 60, 6600, rounds=2)  # real processes, started together each round
    assert result["processes"] == 2 and result["transactions"] == 60 and len(result["rounds_per_s"]) == 2
    assert result["per_s"] == max(result["rounds_per_s"]) > 0 and result["cpu_us_per_tx"] > 0
