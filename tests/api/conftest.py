"""A real solo node process, started the way a user starts it: `yilian localnet`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class LocalNode:
    url: str
    directory: Path
    description: dict
    process: subprocess.Popen

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return self.process.returncode, stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_localnet(directory: Path) -> LocalNode:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "localnet", "--dir", str(directory), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/v1/status", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"localnet did not start: {process.communicate()[1]}")
            time.sleep(0.2)
    description = json.loads((directory / "localnet.json").read_text())
    return LocalNode(url, directory, description, process)


@pytest.fixture(scope="module")
def localnet(tmp_path_factory: pytest.TempPathFactory):
    node = start_localnet(tmp_path_factory.mktemp("localnet"))
    yield node
    node.stop()
