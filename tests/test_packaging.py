"""Packaging: the console script and the SDK's independence from the node."""

from __future__ import annotations

import subprocess
import sys


def test_sdk_imports_without_the_node_package() -> None:
    code = "import sys, chain_sdk; assert not any(m == 'node' or m.startswith('node.') for m in sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_console_script_lists_its_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "node.cli", "--help"], capture_output=True, text=True, check=True)
    for name in ("init", "demo", "bench"):
        assert name in result.stdout
