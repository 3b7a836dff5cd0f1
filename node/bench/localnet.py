"""Localnet throughput, commit latency and CPU per node: N ∈ {1, 4, 7, 10} validators as processes on loopback.

For each N a fresh consortium is started (:class:`node.harness.LocalNet`). A probe offers more than the
chain can take (it doubles its rate while the chain keeps up) and measures the finalized rate: the **peak**.
Then the load is offered at 25, 50 and 100 % of that peak, each phase reporting finalized tx/s, commit latency
p50/p99 (submit → in a committed block), the CPU each node and the load client used (% of one core), the share of
the machine's cores they kept busy together and their CPU per committed transaction (near 100 % busy, that figure
bounds the rate: cores ÷ CPU per transaction), and blocks/s with transactions per block. Before any load, each
node's CPU at idle is measured over a few seconds (what a center pays for an idle consortium). N = 1 is the solo engine:
the baseline the BFT figures are divided by.

The issue's target for workflow transactions is ``0.7 × ceiling × cores ÷ validators`` where the ceiling is
py-evm applying the same kind of transactions in-process (one-slot contract writes, as the load is); it is
measured here before and after the localnets, and the better of the two counts (the machine's speed drifts).

That target assumes the cores divide the one-process ceiling evenly among the validators. After each BFT size the
suite measures what they do (:func:`node.bench.execution.concurrent_ceiling`): N processes applying the same
transactions at once, nothing else — the most any design in which every validator executes every transaction can
reach here. ``ceiling_concurrent.vs_even_division`` says how far the premise holds, ``cpu_vs_alone`` what sharing the
cores costs each process, and ``peak_vs_concurrent_ceiling`` (``batched.vs_concurrent_ceiling`` for the batched
burst) what the chain (consensus, network, API, storage, the load client) keeps of that limit.

The load is one ``eth_sendRawTransaction`` per HTTP request, as independent wallets send it; the peak and the target
ratio are measured that way. After the load levels, each size also takes a burst from clients that send their
transactions as the SDK sends many (``Client.send_raws``: ``POST /v1/transactions/batch``, 100 a request, one client
per node, back to back): ``batched.finalized_per_s``, its CPU per transaction, ``ratio_vs_peak`` and ``vs_target`` —
what a high-volume client gains by batching, and what the per-request cost is.

One-slot writes are the lightest transaction there is, so they measure the chain's own cost per transaction. On 4
validators (the target's setting) the suite then runs a workflow transaction too, the guarantee ``issue`` call
(:mod:`node.bench._issuing`): ``n4.workflow`` is its finalized rate through ``Client.send_raws``, its in-process
ceiling on the same state, and ``vs_target`` against the same formula over that ceiling; its
``ceiling_concurrent`` is 4 processes applying those calls at once, each to a copy of that state, and
``vs_concurrent_ceiling`` what the chain keeps of it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from node.bench import _issuing as issuing
from node.bench._speed import SpeedProbe, period
from node.harness import LocalNet

LEVELS = (25, 50, 100)
NEARLY_ALL = 0.8  # a probe that finalized this share of what it offered may not have found the peak
IMPROVED = 1.1  # a doubled probe that does not finalize this much more found nothing new
WORKFLOW_NODES = 4  # the size that also runs guarantee issue calls (node.bench._issuing): the target's setting
PROBE_MAX = 1600.0  # tx/s: beyond, the load client (signing done before, one event loop over 4 connections per node) is what is measured


def measure(nodes: int, quick: bool, progress: Callable[[str], None], speed: SpeedProbe | None = None) -> dict:
    probe_rate, probe_s, phase_s = (250.0, 4.0, 4.0) if quick else (400.0, 6.0, 15.0)
    with tempfile.TemporaryDirectory(prefix=f"yilian-bench-net{nodes}-") as scratch:
        net = LocalNet(nodes, Path(scratch), progress)
        try:
            progress(f"{nodes} node(s): starting")
            net.start()
            idle_s = 4.0 if quick else 8.0
            before, started = net.cpu(), time.perf_counter()
            time.sleep(idle_s)
            idle = [round(100 * (b - a) / (time.perf_counter() - started), 1) for a, b in zip(before, net.cpu())]
            progress(f"{nodes} node(s) idle: CPU per node {idle} %")
            with period(speed, f"localnet n{nodes} peak probe"):
                probe = _probe(net, nodes, probe_rate, probe_s, progress)
            peak = probe["finalized_per_s"]
            progress(f"{nodes} node(s): peak {peak} tx/s (offered {probe['offered_per_s']})")
            result: dict = {"idle_cpu_per_node_pct": idle, "peak_per_s": peak, "probe": probe}
            for level in LEVELS:
                phase = net.offer(max(1.0, peak * level / 100), phase_s)
                result[f"at_{level}pct"] = phase
                progress(f"{nodes} node(s) at {level} % of peak: {phase['finalized_per_s']} tx/s, p50 {phase['latency_p50_ms']} ms, "
                         f"p99 {phase['latency_p99_ms']} ms, CPU per node {phase['cpu_per_node_pct']} %")
            # the same work from clients that submit batches (the SDK's send_raws): what one HTTP request per transaction costs
            batched = net.burst_batched(max(1000, int(peak * (6 if quick else 12))))
            result["batched"] = dict(batched, ratio_vs_peak=round(batched["finalized_per_s"] / peak, 3))
            progress(f"{nodes} node(s), transactions sent in batches of {batched['batch']} (Client.send_raws): {batched['finalized_per_s']} tx/s "
                     f"({batched['cpu_ms_per_tx']} ms of CPU a transaction)")
            if nodes > 1:  # how the validators checked the proposals of all the phases above (node.bft)
                checks = result["proposal_checks"] = net.checks()
                total, re_executed = sum(checks.get(k, 0) for k in ("executed", "applied", "unvouched", "effects_refused")), \
                    checks.get("ahead", 0) + checks.get("on_arrival", 0)
                checks["applied_share"] = round(checks.get("applied", 0) / total, 3) if total else None
                checks["ahead_share"] = round(checks.get("ahead", 0) / re_executed, 3) if re_executed else None
                progress(f"{nodes} node(s): {checks['applied_share']} of the proposal checks took the executors' effects; executors "
                         f"had {checks['ahead_share']} of the transactions they re-executed applied before the block came")
            if nodes == WORKFLOW_NODES:  # a workflow transaction on the target's setting, against its own ceiling
                workflow = result["workflow"] = issuing.rates(net.urls, [config.home for config in net.configs], 40 if quick else 200,
                                                              progress, net.stop, concurrent_rounds=1 if quick else 3)
                progress(f"{nodes} node(s), guarantee issue calls: {workflow['node_finalized_per_s']} tx/s (ceiling in-process "
                         f"{workflow['ceiling_py_evm_per_s']} tx/s alone, {workflow['ceiling_concurrent']['per_s']} tx/s in {nodes} "
                         f"processes at once)")
            return result
        finally:
            net.stop()


def _against_alone(concurrent: dict, ceiling: float, cores: int, n: int) -> None:
    """The target's premise (the cores divide the one-process ``ceiling`` evenly among ``n``) against what ``n``
    processes did at once (:func:`node.bench.execution.concurrent_ceiling`), and the CPU a transaction cost each."""
    concurrent["vs_even_division"] = round(concurrent["per_s"] / (ceiling * cores / n), 3)
    concurrent["cpu_vs_alone"] = round(concurrent["cpu_us_per_tx"] / (1e6 / ceiling), 2)


def _probe(net: LocalNet, nodes: int, rate: float, seconds: float, progress: Callable[[str], None]) -> dict:
    """The burst that finds the peak: the best finalized rate of one or more probes. A probe that finalized most
    of what it offered may not have found the limit (the finalized rate counts the drain after the burst, so even a
    chain that keeps up shows less than it was offered): offer twice as much while that helps, up to
    :data:`PROBE_MAX` (beyond it the load client is what is measured; ``offered_per_s`` under ``asked_per_s``
    says so). ``probes`` lists each probe's rate asked, offered and finalized."""
    best: dict | None = None
    tried = []
    while True:
        probe = net.offer(rate, seconds)
        tried.append({"asked_per_s": rate, "offered_per_s": probe["offered_per_s"], "finalized_per_s": probe["finalized_per_s"]})
        improved = best is None or probe["finalized_per_s"] > IMPROVED * best["finalized_per_s"]
        if best is None or probe["finalized_per_s"] > best["finalized_per_s"]:
            best = probe
        if not improved or probe["finalized_per_s"] < NEARLY_ALL * probe["offered_per_s"] or rate * 2 > PROBE_MAX:
            return dict(best, probes=tried)
        progress(f"{nodes} node(s): finalized {probe['finalized_per_s']} of {probe['offered_per_s']} tx/s offered; "
                 f"probing at {rate * 2:.0f}")
        rate *= 2


def run(quick: bool, progress: Callable[[str], None], nodes: tuple[int, ...] = (), speed: SpeedProbe | None = None) -> dict:
    """``speed``: the run's :class:`SpeedProbe`, told when the ceilings and each size's peak probe ran."""
    from node.bench.execution import _ceiling, concurrent_ceiling

    chosen = nodes or ((1, 4) if quick else (1, 4, 7, 10))
    count = 600 if quick else 3000
    with period(speed, "localnet ceiling before"):
        runs_before = _ceiling(count, 6600)
    cores = os.cpu_count() or 1
    results: dict = {"cores": cores}
    for n in chosen:
        try:
            results[f"n{n}"] = measure(n, quick, progress, speed)
        except RuntimeError as exc:  # one size failing (e.g. too many processes for the machine) keeps the others
            progress(f"{n} node(s) FAILED: {exc}")
            results[f"n{n}"] = {"error": str(exc)}
            continue
        if n > 1:  # the same size's limit with nothing but execution: n processes applying every transaction at once
            with period(speed, f"localnet n{n} concurrent ceiling"):
                concurrent = concurrent_ceiling(n, count, 6600)
            results[f"n{n}"]["ceiling_concurrent"] = concurrent
            progress(f"{n} processes executing every transaction at once (no consensus, network or API): "
                     f"{concurrent['per_s']:.0f} tx/s, {concurrent['cpu_us_per_tx']:.0f} µs CPU a transaction in each")
    # the ceiling again after the localnets, and the better of the two for the targets: the machine's speed drifts
    # during a suite (two ceilings 20 minutes apart differed by 36 % in one run), and a ceiling is what it can do
    with period(speed, "localnet ceiling after"):
        runs_after = _ceiling(count, 6600)
    before, after = max(runs_before), max(runs_after)
    ceiling = max(before, after)
    results["ceiling_py_evm_per_s"] = round(ceiling, 1)
    results["ceiling_before_and_after_per_s"] = [round(before, 1), round(after, 1)]
    results["ceiling_runs_per_s"] = {"before": [round(run, 1) for run in runs_before], "after": [round(run, 1) for run in runs_after]}
    for n in chosen:
        figures = results[f"n{n}"]
        if n > 1 and "peak_per_s" in figures:
            target = 0.7 * ceiling * cores / n
            figures["target_per_s"] = round(target, 1)
            figures["peak_vs_target"] = round(figures["peak_per_s"] / target, 3)
            if "batched" in figures:
                figures["batched"]["vs_target"] = round(figures["batched"]["finalized_per_s"] / target, 3)
            workflow = figures.get("workflow")
            if workflow:  # the same target formula over the workflow transaction's own ceiling
                workflow["target_per_s"] = round(0.7 * workflow["ceiling_py_evm_per_s"] * cores / n, 1)
                workflow["vs_target"] = round(workflow["node_finalized_per_s"] / workflow["target_per_s"], 3)
                if "ceiling_concurrent" in workflow:  # as for the one-slot writes below, against the calls' own ceiling
                    _against_alone(workflow["ceiling_concurrent"], workflow["ceiling_py_evm_per_s"], cores, n)
            concurrent = figures.get("ceiling_concurrent")
            if concurrent:
                _against_alone(concurrent, ceiling, cores, n)
                figures["peak_vs_concurrent_ceiling"] = round(figures["peak_per_s"] / concurrent["per_s"], 3)
                if "batched" in figures:
                    figures["batched"]["vs_concurrent_ceiling"] = round(figures["batched"]["finalized_per_s"] / concurrent["per_s"], 3)
    if "peak_per_s" in results.get("n1", {}):
        for n in chosen:
            if n > 1 and "peak_per_s" in results[f"n{n}"]:
                results[f"n{n}"]["peak_vs_solo"] = round(results[f"n{n}"]["peak_per_s"] / results["n1"]["peak_per_s"], 3)
    return results
