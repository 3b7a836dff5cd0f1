"""The benchmark run's machine-speed probe: samples from a process of its own, summarised per named period."""

from __future__ import annotations

import time
from pathlib import Path

from node.bench._report import write_report
from node.bench._speed import SpeedProbe, reference_ms


def test_the_reference_work_takes_cpu_time() -> None:
    assert 0.5 < reference_ms() < 1000


def test_periods_are_summarised_against_the_fastest_sample_of_the_run() -> None:
    probe = SpeedProbe()
    probe.samples = [(0.5, 10.0), (1.5, 12.0), (2.5, 20.0), (3.5, 22.0), (4.5, 24.0)]
    probe.mark("fast", 0.0, 2.0)
    probe.mark("slow", 2.0, 5.0)
    probe.mark("empty", 6.0, 7.0)
    report = probe.report()
    assert report["fastest_ms"] == 10.0
    fast, slow = report["periods"]["fast"], report["periods"]["slow"]
    assert fast["samples"] == 2 and fast["p50_ms"] == 11.0 and fast["p50_vs_fastest"] == 1.1
    assert slow["samples"] == 3 and slow["p50_ms"] == 22.0 and slow["p50_vs_fastest"] == 2.2
    assert slow["p10_ms"] <= slow["p50_ms"] <= slow["p90_ms"]
    assert report["periods"]["empty"] == {"from_s": 6.0, "to_s": 7.0, "samples": 0}
    assert report["samples"][0] == [0.5, 10.0]


def test_the_probe_process_samples_until_stopped() -> None:
    probe = SpeedProbe(every_s=0.05).start()
    began = probe.now()
    deadline = time.monotonic() + 30
    while len(probe.samples) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    probe.stop()
    probe.mark("all", began, probe.now())
    assert len(probe.samples) >= 3 and all(ms > 0 for _, ms in probe.samples)
    assert probe._process is not None and probe._process.poll() is not None  # the probe process is gone
    assert probe.report()["periods"]["all"]["samples"] >= 3


def test_the_report_shows_the_speed_of_each_period(tmp_path: Path) -> None:
    probe = SpeedProbe()
    probe.samples = [(0.5, 10.0), (1.5, 20.0)]
    probe.mark("crypto", 0.0, 1.0)
    probe.mark("auditor", 1.0, 2.0)
    results = {"started": "now", "quick": True, "machine": {"cpus": 2, "python": "3.11", "platform": "test", "speed": probe.report()},
               "benchmarks": {"auditor": {"verify_ms_p50": 1.0, "seconds": 1.0}}}
    written = write_report(results, tmp_path)
    table = (tmp_path / "RESULTS.md").read_text()
    assert "## Machine speed during the run" in table
    assert "| crypto | 1 | 10.0 | 10.0 | 10.0 | 1.0 |" in table and "| auditor | 1 | 20.0 | 20.0 | 20.0 | 2.0 |" in table
    assert tmp_path / "speed.png" in written and (tmp_path / "speed.png").read_bytes().startswith(b"\x89PNG")
