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


def test_crypto_bench_writes_ratios_against_the_raw_libraries(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = yilian("bench", "crypto", "--quick", "--out", str(out))
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())["benchmarks"]["crypto"]
    for name in ("sm2_sign", "sm2_verify", "sm3_1kib", "keccak256_1kib", "secp256k1_sign", "secp256k1_verify"):
        assert figures[name]["ours_per_s"] > 0 and figures[name]["raw_per_s"] > 0 and figures[name]["ratio"] > 0


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    result = yilian("bench", "nonsense", "--out", str(tmp_path / "r.json"))
    assert result.returncode == 2 and "unknown benchmark" in result.stderr and "Traceback" not in result.stderr


def test_demo_passes_every_step(tmp_path: Path) -> None:
    result = yilian("demo", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "steps passed" in result.stdout
    assert "Not in this release yet" in result.stdout
