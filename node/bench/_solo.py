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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from node.harness import free_port


@dataclass
class SoloNode:
    """The running node: unpacks as (API URL, the center's home, the node's process id)."""

    url: str
    home: Path
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def __iter__(self) -> Iterator:
        return iter((self.url, self.home, self.pid))

    def stop(self) -> None:
        """Stop the node (SIGTERM, then SIGKILL after 30 s); its home stays until the context ends."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def solo_localnet(env: dict[str, str] | None = None) -> Iterator[SoloNode]:
    """Yield the started node (:class:`SoloNode`: unpacks as URL, home, pid); it is stopped (SIGTERM) at the end unless
    stopped before. ``env`` adds to its environment."""
    from chain_sdk import Client

    with tempfile.TemporaryDirectory(prefix="yilian-bench-") as scratch:
        port = free_port()
        log = Path(scratch) / "node.log"  # a file, not a pipe: a pipe nobody reads would block a chatty node
        with open(log, "wb") as handle:
            process = subprocess.Popen([sys.executable, "-m", "node.cli", "localnet", "--dir", scratch, "--port", str(port),
                                        "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=handle,
                                       env={**os.environ, **(env or {})})
        url = f"http://127.0.0.1:{port}"
        node = SoloNode(url, Path(scratch), process)
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
            node.home = home
            yield node
        finally:
            node.stop()
