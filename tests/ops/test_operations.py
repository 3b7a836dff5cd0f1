"""Operating a node: Prometheus metrics, JSON logs without secrets, `yilian node --check`, clear start-up errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chain_sdk import Client, DataService, TradingCenter, Wallet
from chainutil import free_port

MARKER = "Zhang-San-private-remark-7731"


def yilian(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def center(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ops") / "c"
    result = yilian("init", "--centers", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out / "centers" / "center-a"


def test_metrics_and_json_logs_without_secrets(center: Path, tmp_path: Path):
    port, log_file = free_port(), tmp_path / "logs" / "node.log"
    process = subprocess.Popen([sys.executable, "-m", "node.cli", "node", "--home", str(center), "--port", str(port), "--log-level", "debug",
                                "--log-format", "json", "--log-file", str(log_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if Client(url, timeout=2).height() >= 2:
                    break
            except Exception:  # noqa: BLE001 - starting
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[1].decode()) from None
            time.sleep(0.2)
        owner = Wallet.generate()
        record = {"record_type": "personnel", "schema_version": 1, "uscc": "91350100M000100Y43", "name": MARKER,
                  "id_number": "35010219800101123X", "title": "一级建造师"}
        DataService.for_home(url, center).ingest("personnel", "personnel/1", owner.address, record)
        with urllib.request.urlopen(url + "/metrics") as response:
            metrics = response.read().decode()
            assert response.headers["content-type"].startswith("text/plain")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    for name in ("yilian_height ", "yilian_commit_latency_seconds_bucket", "yilian_rounds_per_height_count", "yilian_mempool_transactions",
                 "yilian_peers", "yilian_db_size_bytes", "yilian_transactions_committed_total", 'yilian_api_request_seconds_count{method="POST",'
                 'route="/v1/data/records",status="201"}', 'yilian_p2p_bytes_total{direction="in"}'):
        assert name in metrics, name
    height = next(float(line.split()[1]) for line in metrics.splitlines() if line.startswith("yilian_height "))
    assert height >= 2
    lines = log_file.read_text(encoding="utf-8").splitlines()
    documents = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"ts", "level", "logger", "msg"} <= set(documents[0]) and any("anchored personnel record" in d["msg"] for d in documents)
    # nothing secret reaches the log: keys, password, ingest token, the raw record
    from node.config import load_node_config

    config = load_node_config(center)
    secrets = [config.load_admin_key().secret_bytes().hex(), config.load_validator_key().secret_bytes().hex(),
               config.password().decode(), (center / "secrets" / "data-token").read_text().strip(), MARKER, "35010219800101123X"]
    text = log_file.read_text(encoding="utf-8")
    for secret in secrets:
        assert secret not in text and secret.upper() not in text
    assert oct((center / "secrets" / "data-token").stat().st_mode & 0o777) == "0o600"


def test_node_check_validates_without_starting(center: Path):
    ok = yilian("node", "--home", str(center), "--check")
    assert ok.returncode == 0 and "configuration is valid" in ok.stdout and "admin key" in ok.stdout
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = yilian("node", "--home", str(center), "--check", "--port", str(busy.getsockname()[1]))
    assert taken.returncode == 1 and "is not free" in taken.stderr and "Traceback" not in taken.stderr
    password_file = center / "secrets" / "password"
    original = password_file.read_text()
    try:
        password_file.write_text("not-the-password\n")
        wrong = yilian("node", "--home", str(center), "--check")
    finally:
        password_file.write_text(original)
    assert wrong.returncode == 1 and "cannot open the keystores" in wrong.stderr and "Traceback" not in wrong.stderr


def test_unwritable_data_directory_is_a_clear_error(center: Path, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    config = json.loads((center / "node.json").read_text())
    home = tmp_path / "home"
    subprocess.run(["cp", "-a", str(center), str(home)], check=True)
    (home / "node.json").write_text(json.dumps({**config, "data_dir": str(blocker / "data")}))
    for args in (("--check",), ("--port", str(free_port()))):
        result = yilian("node", "--home", str(home), *args)
        assert result.returncode == 1 and "is not writable" in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.slow
def test_a_full_disk_refuses_ingest_stops_the_node_cleanly_and_it_restarts_consistent(center: Path, tmp_path: Path):
    """The disk refuses writes (simulated with a file-size limit, RLIMIT_FSIZE, on the node process): an ingest is
    refused with 507 and nothing stored; a block write stops the node with a message saying what to do; after that
    the node restarts from its last complete block."""
    import resource

    from chain_sdk import NodeError

    home = tmp_path / "home"
    subprocess.run(["cp", "-a", str(center), str(home)], check=True)
    subprocess.run(["rm", "-rf", str(home / "data")], check=True)
    port = free_port()

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))  # smaller than LevelDB's log before it rolls

    process = subprocess.Popen([sys.executable, "-m", "node.cli", "node", "--home", str(home), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limited)
    url, full, acknowledged = f"http://127.0.0.1:{port}", None, 0
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = Client(url, timeout=5)
                client.height()
                break
            except Exception:  # noqa: BLE001 - starting
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        data, owner = DataService.for_home(url, home), Wallet.generate().address
        record = {"record_type": "credit", "schema_version": 1, "uscc": "91350100M000100Y43", "rating": "AA", "rated_by": "Center A",
                  "rated_on": "2026-06-30", "blacklisted": False}
        for n in range(40):
            try:
                data.ingest_batch([{"type": "credit", "local_id": f"bulk/{n}/{i}", "owner": owner, "record": record} for i in range(500)])
            except NodeError as exc:
                full = exc
                break
        assert full is not None and full.status == 507 and "nothing was stored or anchored" in full.detail
        # the chain's own writes: admit accounts until a block cannot be written
        from node.config import load_node_config

        admin = Wallet.from_secret(load_node_config(home).load_admin_key().secret_bytes())
        center = TradingCenter(client, admin)
        while process.poll() is None and time.monotonic() < deadline + 120:
            try:
                acknowledged = center.members.transact(admin, "admit", Wallet.generate().address, wait=10).height
            except Exception:  # noqa: BLE001 - the node is stopping
                time.sleep(0.2)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr[-2000:]
    assert "the disk may be full or read-only" in stderr and "stopping the node" in stderr
    from node.chain import Chain
    from node.config import load_node_config

    config = load_node_config(home)
    chain = Chain(config.data_dir, config.load_genesis())
    try:
        assert chain.height >= acknowledged > 0
    finally:
        chain.close()


def test_log_file_rotates(tmp_path: Path):
    import logging
    from logging.handlers import RotatingFileHandler

    from node.runner import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("info", "json", tmp_path / "logs" / "node.log")
        (handler,) = root.handlers
        assert isinstance(handler, RotatingFileHandler) and handler.maxBytes == 10 * 1024 * 1024 and handler.backupCount == 5
        handler.maxBytes = 2000  # rotate quickly for the test
        for i in range(100):
            logging.getLogger("yilian.test").info("line %d %s", i, "x" * 50)
        handler.close()
        files = sorted(p.name for p in (tmp_path / "logs").iterdir())
        assert files[:2] == ["node.log", "node.log.1"] and len(files) == 6  # the current file and five kept
        assert all(json.loads(line)["logger"] == "yilian.test" for line in (tmp_path / "logs" / "node.log").read_text().splitlines())
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
