"""`yilian bench` writes machine-readable results; `yilian demo` passes every step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def yilian(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "YILIAN_KEY_PASSWORD"}
    return subprocess.run([sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, env=env, check=False)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bench_quick_runs_every_benchmark_and_writes_results(tmp_path: Path) -> None:
    """`yilian bench --quick` as CI runs it (the figures are not asserted: they depend on the machine; only that
    every benchmark ran, produced its figures and ratios, and the table and charts were written)."""
    out, report = tmp_path / "results.json", tmp_path / "report"
    result = yilian("bench", "--quick", "--out", str(out), "--report-dir", str(report))
    assert result.returncode == 0, result.stderr
    benchmarks = json.loads(out.read_text())["benchmarks"]
    assert sorted(benchmarks) == ["anchoring", "auditor", "crypto", "execution", "guarantee", "localnet", "sync"]
    figures = benchmarks["crypto"]
    for name in ("sm2_sign", "sm2_verify", "sm3_1kib", "keccak256_1kib", "secp256k1_sign", "secp256k1_verify"):
        assert figures[name]["ours_per_s"] > 0 and figures[name]["raw_per_s"] > 0 and figures[name]["ratio"] > 0
    assert benchmarks["anchoring"]["single_records_per_s"] > 0 and benchmarks["anchoring"]["batch_1000"]["ratio_vs_single"] > 0
    cpu = benchmarks["anchoring"]["batch_1000"]
    assert cpu["cpu_ms_per_batch"]["custodian_node"] > 0 and cpu["cpu_ms_per_batch"]["client"] > 0
    assert cpu["cpu_bound_records_per_s"] > 0 and 0 < cpu["ratio_vs_cpu_bound"]
    assert benchmarks["auditor"]["verify_ms_p50"] > 0 and benchmarks["auditor"]["ratio_vs_floor"] > 0
    assert benchmarks["execution"]["ratio"] > 0 and benchmarks["guarantee"]["apply_to_verified_s_p50"] > 0
    localnet = benchmarks["localnet"]
    for n in ("n1", "n4"):
        assert localnet[n]["peak_per_s"] > 0
        for level in ("at_25pct", "at_50pct", "at_100pct"):
            assert localnet[n][level]["committed"] == localnet[n][level]["of"] and localnet[n][level]["latency_p99_ms"] > 0
            assert len(localnet[n][level]["cpu_per_node_pct"]) == int(n[1:])
            assert localnet[n][level]["cores_busy_pct"] > 0 and localnet[n][level]["cpu_ms_per_tx"] > 0
    assert localnet["n4"]["peak_vs_target"] > 0 and localnet["n4"]["peak_vs_solo"] > 0
    concurrent = localnet["n4"]["ceiling_concurrent"]  # 4 processes only executing, measured after the 4-node localnet
    assert concurrent["processes"] == 4 and concurrent["per_s"] == max(concurrent["rounds_per_s"]) and len(concurrent["rounds_per_s"]) == 3
    assert concurrent["vs_even_division"] > 0 and concurrent["cpu_vs_alone"] > 0 and localnet["n4"]["peak_vs_concurrent_ceiling"] > 0
    assert "ceiling_concurrent" not in localnet["n1"]
    for n in ("n1", "n4"):  # the same work from clients submitting batches (Client.send_raws), after the load levels
        batched = localnet[n]["batched"]
        assert batched["batch"] == 100 and batched["transactions"] >= 1000 and batched["finalized_per_s"] > 0 and batched["cpu_ms_per_tx"] > 0
        assert batched["ratio_vs_peak"] == round(batched["finalized_per_s"] / localnet[n]["peak_per_s"], 3)
    assert localnet["n4"]["batched"]["vs_target"] > 0 and "vs_target" not in localnet["n1"]["batched"]
    assert localnet["n4"]["batched"]["vs_concurrent_ceiling"] == round(localnet["n4"]["batched"]["finalized_per_s"] / concurrent["per_s"], 3)
    workflow = localnet["n4"]["workflow"]  # guarantee issue calls on the 4 validators, against their own ceiling
    assert workflow["transactions"] == 40 and workflow["node_finalized_per_s"] > 0 and "workflow" not in localnet["n1"]
    assert workflow["target_per_s"] == round(0.7 * workflow["ceiling_py_evm_per_s"] * localnet["cores"] / 4, 1)
    assert workflow["vs_target"] == round(workflow["node_finalized_per_s"] / workflow["target_per_s"], 3)
    limit = workflow["ceiling_concurrent"]  # 4 processes applying the same issue calls at once, each on a copy of the state
    assert limit["processes"] == 4 and limit["transactions"] == 40 and len(limit["rounds_per_s"]) == 1 and limit["cpu_vs_alone"] > 0
    assert limit["vs_even_division"] == round(limit["per_s"] / (workflow["ceiling_py_evm_per_s"] * localnet["cores"] / 4), 3)
    assert workflow["vs_concurrent_ceiling"] == round(workflow["node_finalized_per_s"] / limit["per_s"], 3)
    assert "ceiling_concurrent" not in benchmarks["execution"]["guarantee_issue"]  # a solo node: one process
    runs = localnet["ceiling_runs_per_s"]  # each ceiling's runs are kept; the best of each counts
    assert [max(runs["before"]), max(runs["after"])] == localnet["ceiling_before_and_after_per_s"] and len(runs["before"]) == 3
    assert max(benchmarks["execution"]["ceiling_runs_per_s"]) == benchmarks["execution"]["ceiling_py_evm_per_s"]
    issue = benchmarks["execution"]["guarantee_issue"]
    assert issue["transactions"] == 50 and issue["gas_per_tx"] > 100_000 and issue["node_finalized_per_s"] > 0
    assert max(issue["ceiling_runs_per_s"]) == issue["ceiling_py_evm_per_s"]
    assert issue["ratio"] == round(issue["node_finalized_per_s"] / issue["ceiling_py_evm_per_s"], 3)
    assert benchmarks["sync"]["catch_up_blocks_per_s"] > 0 and benchmarks["sync"]["ratio_vs_production"] > 0
    speed = json.loads(out.read_text())["machine"]["speed"]  # how fast the machine ran during each benchmark
    assert speed["fastest_ms"] > 0 and all(speed["periods"][name]["samples"] > 0 for name in benchmarks)
    assert {"localnet ceiling before", "localnet n4 peak probe", "localnet n4 concurrent ceiling", "localnet ceiling after"} <= speed["periods"].keys()
    table = (report / "RESULTS.md").read_text()
    assert "## Machine speed during the run" in table and (report / "speed.png").read_bytes().startswith(b"\x89PNG")
    for name in benchmarks:
        assert f"## {name}" in table and (report / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    result = yilian("bench", "nonsense", "--out", str(tmp_path / "r.json"))
    assert result.returncode == 2 and "unknown benchmark" in result.stderr and "Traceback" not in result.stderr


def test_demo_tells_the_whole_story_and_leaves_checkable_proofs(tmp_path: Path) -> None:
    result = yilian("demo", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 13 steps passed" in result.stdout and "FAILED" not in result.stdout
    for line in ("through center D", "refused (the grant is used up)", "refused (ApplicationExists)", "a forged number: refused",
                 "refused (NotYetOpen)", "rejected at merkle", "all four nodes stopped (exit code 0)",
                 "center B admits its register of 250 enterprises in 3 requests"):
        assert line in result.stdout, line
    assert (tmp_path / "authorize-qr.png").read_bytes().startswith(b"\x89PNG") and (tmp_path / "enterprise-E.crt.der").exists()
    proofs = sorted(str(p) for p in (tmp_path / "proofs").glob("*.json"))
    checked = yilian("verify", "--genesis", str(tmp_path / "localnet" / "consortium" / "genesis.json"), *proofs)
    assert checked.returncode == 0 and checked.stdout.count("proof OK") == 2, checked.stdout + checked.stderr
