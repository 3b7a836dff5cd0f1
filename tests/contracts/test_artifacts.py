"""The committed contract artifacts are current, and run on the EVM fork the node uses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from node.execution.artifacts import BUILD_DIR, load_artifact

ROOT = Path(__file__).resolve().parents[2]


def test_committed_artifacts_match_a_fresh_compile() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm are not installed: cannot recompile (apt-get install nodejs npm); the committed artifacts are used as they are")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "compile_contracts"), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_artifact_targets_prague_and_has_code() -> None:
    names = [p.stem for p in BUILD_DIR.glob("*.json") if p.stem != "build-info"]
    assert {"Store", "GmProbe"} <= set(names)
    for name in names:
        document = json.loads((BUILD_DIR / f"{name}.json").read_text())
        assert document["evmVersion"] == "prague" and document["compiler"]["version"].startswith("0.8.37")
        artifact = load_artifact(name)
        assert artifact.bytecode and isinstance(artifact.abi, list)


def test_missing_artifact_names_the_fix(tmp_path: Path) -> None:
    from node.errors import ConfigError

    with pytest.raises(ConfigError, match="scripts/compile_contracts"):
        load_artifact("Store", tmp_path)


def test_gas_report_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    """The gas table in the notes and contracts/README.md comes from this script; it must keep working."""
    import gas_report

    gas_report.main()
    out = capsys.readouterr().out
    assert "Guarantee.issue" in out and "RecordRegistry.anchorBatch (1,000 records)" in out
