"""The short versions of scripts/drills (the slow tier: `pytest -m slow`); the long versions run by hand:

    python scripts/drills/crash.py --cycles 100
    python scripts/drills/partition.py --rounds 20
    python scripts/drills/storage.py
    YILIAN_FUZZ_EXAMPLES=50000 pytest tests/fuzz
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
DRILLS = Path(__file__).resolve().parents[2] / "scripts" / "drills"
RESULTS = Path(os.environ.get("YILIAN_DRILL_RESULTS", Path(__file__).resolve().parents[2] / "test-artifacts" / "drills"))


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"drill_{name}", DRILLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _keep(result: dict) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{result['drill']}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def test_crash_drill(tmp_path: Path) -> None:
    result = _keep(_load("crash").drill(cycles=3, seed=7, rate=20.0, directory=tmp_path))
    assert result["passed"], result["failures"]
    assert result["kills"] == 3 and result["acknowledged"] > 0 and result["height"] > 0


def test_partition_drill(tmp_path: Path) -> None:
    result = _keep(_load("partition").drill(rounds=1, seed=7, rate=10.0, directory=tmp_path, split_s=3.0))
    assert result["passed"], result["failures"]
    assert result["splits"] == 1 and result["committed_during_split"] == 0


def test_storage_drill(tmp_path: Path) -> None:
    result = _keep(_load("storage").drill(tmp_path))
    assert result["passed"], result["failures"]
    scenarios = result["scenarios"]
    assert scenarios["corrupt-block"]["outcome"] == "refused" and scenarios["corrupt-block"]["repaired"]
    assert "repair" in scenarios["corrupt-block"]["detail"]
