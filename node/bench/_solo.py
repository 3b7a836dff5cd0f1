"""A solo `yilian localnet` process for benchmarks that need a real node (its API, its custodian, its chain)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from node.harness import free_port


@contextlib.contextmanager
def solo_localnet(env: dict[str, str] | None = None) -> Iterator[tuple[str, Path, int]]:
    """Yield (API URL, the center's home, the node's process id); the node is stopped (SIGTERM) at the end. ``env``
    adds to its environment."""
    from chain_sdk import Client

    with tempfile.TemporaryDirectory(prefix="yilian-bench-") as scratch:
        port = free_port()
        log = Path(scratch) / "node.log"  # a file, not a pipe: a pipe nobody reads would block a chatty node
        with open(log, "wb") as handle:
            process = subprocess.Popen([sys.executable, "-m", "node.cli", "localnet", "--dir", scratch, "--port", str(port),
                                        "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=handle,
                                       env={**os.environ, **(env or {})})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    Client(url, timeout=2).height()
                    break
                except Exception:  # noqa: BLE001 - starting
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the benchmark node did not start: {log.read_text(errors='replace')}")
                    time.sleep(0.2)
            home = Path(json.loads((Path(scratch) / "localnet.json").read_text())["nodes"][0]["home"])
            yield url, home, process.pid
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
