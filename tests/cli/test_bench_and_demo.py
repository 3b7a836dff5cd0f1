"""`yilian bench` writes machine-readable results; `yilian demo` passes every step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def yilian(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "YILIAN_KEY_PASSWORD"}
    return subprocess.run([sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, env=env, check=False)


def test_bench_writes_ratios_a_table_and_charts(tmp_path: Path) -> None:
    out, report = tmp_path / "results.json", tmp_path / "report"
    result = yilian("bench", "crypto", "anchoring", "auditor", "--quick", "--out", str(out), "--report-dir", str(report))
    assert result.returncode == 0, result.stderr
    benchmarks = json.loads(out.read_text())["benchmarks"]
    figures = benchmarks["crypto"]
    for name in ("sm2_sign", "sm2_verify", "sm3_1kib", "keccak256_1kib", "secp256k1_sign", "secp256k1_verify"):
        assert figures[name]["ours_per_s"] > 0 and figures[name]["raw_per_s"] > 0 and figures[name]["ratio"] > 0
    assert benchmarks["anchoring"]["single_records_per_s"] > 0 and benchmarks["anchoring"]["batch_1000"]["ratio_vs_single"] > 0
    assert benchmarks["auditor"]["verify_ms_p50"] > 0 and benchmarks["auditor"]["ratio_vs_floor"] > 0
    table = (report / "RESULTS.md").read_text()
    assert "## anchoring" in table and "| batch_1000.records_per_s |" in table
    for name in ("crypto", "anchoring", "auditor"):
        assert (report / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    result = yilian("bench", "nonsense", "--out", str(tmp_path / "r.json"))
    assert result.returncode == 2 and "unknown benchmark" in result.stderr and "Traceback" not in result.stderr


def test_demo_tells_the_whole_story_and_leaves_checkable_proofs(tmp_path: Path) -> None:
    result = yilian("demo", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All 13 steps passed" in result.stdout and "FAILED" not in result.stdout
    for line in ("through center D", "refused (the grant is used up)", "refused (ApplicationExists)", "a forged number: refused",
                 "refused (NotYetOpen)", "rejected at merkle", "all four nodes stopped (exit code 0)"):
        assert line in result.stdout, line
    assert (tmp_path / "authorize-qr.png").read_bytes().startswith(b"\x89PNG") and (tmp_path / "enterprise-E.crt.der").exists()
    proofs = sorted(str(p) for p in (tmp_path / "proofs").glob("*.json"))
    checked = yilian("verify", "--genesis", str(tmp_path / "localnet" / "consortium" / "genesis.json"), *proofs)
    assert checked.returncode == 0 and checked.stdout.count("proof OK") == 2, checked.stdout + checked.stderr
