"""Seeded schedules over n ∈ {1, 4, 7, 10} with up to f Byzantine nodes, chaos and crashes; the checker can fail."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.consensus.sim import Faults, random_faults, run_schedule

# 550 schedules in all, about 55 s on 2 cores: n = 1 and 4 in the default run, n = 7 and 10 in the slow tier
# (`pytest -m slow`, run by CI too); YILIAN_SIM_SCALE=10 runs ten times as many (and `yilian simulate --nodes N
# --seeds K` any number)
_SCALE = float(os.environ.get("YILIAN_SIM_SCALE", "1"))
PLAN = {n: int(count * _SCALE) for n, count in {1: 100, 4: 250, 7: 130, 10: 70}.items()}


@pytest.mark.parametrize("n", [n if n <= 4 else pytest.param(n, marks=pytest.mark.slow) for n in sorted(PLAN)])
def test_many_schedules_keep_agreement_validity_and_progress(n: int) -> None:
    failures = []
    rounds = []
    for seed in range(PLAN[n]):
        faults = random_faults(random.Random(seed * 7919 + n), n)
        result = run_schedule(n, seed, faults)
        rounds += result.rounds
        if not result.ok:
            failures.append(f"{result.violations[0]}  ->  {result.reproduce()}")
    assert not failures, "\n".join(failures[:5])
    assert rounds and min(rounds) >= 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.sampled_from([4, 7]),
    seed=st.integers(0, 2**32),
    behaviour=st.sampled_from(["equivocate", "silent", "garbage"]),
    drop=st.sampled_from([0.0, 0.1, 0.3]),
    partition=st.booleans(),
    gst_ms=st.sampled_from([0, 1500]),
)
def test_property_any_fault_mix_up_to_f(n: int, seed: int, behaviour: str, drop: float, partition: bool, gst_ms: int) -> None:
    f = (n - 1) // 3
    faults = Faults(byzantine=f, behaviour=behaviour, drop=drop, partition=partition, gst_ms=gst_ms)
    result = run_schedule(n, seed, faults)
    assert result.ok, f"{result.violations} -> {result.reproduce()}"


def test_crashed_validators_restart_from_their_wal_and_catch_up() -> None:
    for seed in range(30):
        result = run_schedule(7, seed, Faults(byzantine=0, crashes=2, drop=0.05, gst_ms=1500))
        assert result.ok, result.violations
        assert all(len(committed) >= 3 for committed in result.committed.values())


def test_the_checker_catches_a_broken_algorithm() -> None:
    """With locking disabled some seed forks, and the agreement check reports it."""
    forks = []
    for seed in range(100):
        faults = Faults(byzantine=2, behaviour="equivocate", drop=0.1, partition=seed % 2 == 0, gst_ms=2000, locking=False)
        result = run_schedule(7, seed, faults)
        if any(v.startswith("agreement") for v in result.violations):
            forks.append(result)
            break
    assert forks, "no schedule broke the lock-less algorithm: the checker would be blind"
    command = forks[0].reproduce()
    assert "--no-locking" in command and f"--seed {forks[0].seed}" in command


def test_simulate_command_summary_and_reproduction() -> None:
    ok = subprocess.run([sys.executable, "-m", "node.cli", "simulate", "--nodes", "4", "--seeds", "30"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "30 schedules of 4 validators" in ok.stdout and "mean rounds per height" in ok.stdout
    # a fork found by test_the_checker_catches_a_broken_algorithm, replayed exactly from its command
    broken = subprocess.run(
        [sys.executable, "-m", "node.cli", "simulate", "--nodes", "7", "--byzantine", "2", "--behaviour", "equivocate",
         "--seed", "63", "--drop", "0.1", "--gst-ms", "2000", "--no-locking"],
        capture_output=True, text=True, check=False,
    )
    assert broken.returncode == 1 and "agreement" in broken.stderr and "reproduce: yilian simulate" in broken.stderr
    too_many = subprocess.run([sys.executable, "-m", "node.cli", "simulate", "--nodes", "4", "--byzantine", "2"], capture_output=True, text=True, check=False)
    assert too_many.returncode == 1 and "exceeds f = 1" in too_many.stderr and "Traceback" not in too_many.stderr
