"""Localnet throughput, commit latency and CPU per node: N ∈ {1, 4, 7, 10} validators as processes on loopback.

For each N a fresh consortium is started (:class:`node.harness.LocalNet`). A probe offers more than the
chain can take and measures the finalized rate: the **peak**. Then the load is offered at 25, 50 and 100 %
of that peak, each phase reporting finalized tx/s, commit latency p50/p99 (submit → in a committed block)
and the CPU each node used (% of one core). N = 1 is the solo engine: the baseline the BFT figures are
divided by.

The issue's target for workflow transactions is ``0.7 × ceiling × cores ÷ validators`` where the ceiling is
py-evm applying the same kind of transactions in-process; it is measured here, in the same run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from node.harness import LocalNet

LEVELS = (25, 50, 100)


def measure(nodes: int, quick: bool, progress: Callable[[str], None]) -> dict:
    probe_rate, probe_s, phase_s = (250.0, 4.0, 4.0) if quick else (400.0, 6.0, 15.0)
    with tempfile.TemporaryDirectory(prefix=f"yilian-bench-net{nodes}-") as scratch:
        net = LocalNet(nodes, Path(scratch), progress)
        try:
            progress(f"{nodes} node(s): starting")
            net.start()
            probe = net.offer(probe_rate, probe_s)
            peak = probe["finalized_per_s"]
            progress(f"{nodes} node(s): peak {peak} tx/s (offered {probe['offered_per_s']})")
            result: dict = {"peak_per_s": peak, "probe": probe}
            for level in LEVELS:
                phase = net.offer(max(1.0, peak * level / 100), phase_s)
                result[f"at_{level}pct"] = phase
                progress(f"{nodes} node(s) at {level} % of peak: {phase['finalized_per_s']} tx/s, p50 {phase['latency_p50_ms']} ms, "
                         f"p99 {phase['latency_p99_ms']} ms, CPU per node {phase['cpu_per_node_pct']} %")
            return result
        finally:
            net.stop()


def run(quick: bool, progress: Callable[[str], None], nodes: tuple[int, ...] = ()) -> dict:
    from node.bench.execution import _ceiling

    chosen = nodes or ((1, 4) if quick else (1, 4, 7, 10))
    ceiling = _ceiling(600 if quick else 3000, 6600)
    cores = os.cpu_count() or 1
    results: dict = {"ceiling_py_evm_per_s": round(ceiling, 1), "cores": cores}
    for n in chosen:
        try:
            results[f"n{n}"] = figures = measure(n, quick, progress)
        except RuntimeError as exc:  # one size failing (e.g. too many processes for the machine) keeps the others
            progress(f"{n} node(s) FAILED: {exc}")
            results[f"n{n}"] = {"error": str(exc)}
            continue
        if n > 1:
            target = 0.7 * ceiling * cores / n
            figures["target_per_s"] = round(target, 1)
            figures["peak_vs_target"] = round(figures["peak_per_s"] / target, 3)
    if "peak_per_s" in results.get("n1", {}):
        for n in chosen:
            if n > 1 and "peak_per_s" in results[f"n{n}"]:
                results[f"n{n}"]["peak_vs_solo"] = round(results[f"n{n}"]["peak_per_s"] / results["n1"]["peak_per_s"], 3)
    return results
