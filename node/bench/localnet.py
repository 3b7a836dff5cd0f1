"""Localnet throughput and commit latency at a fixed offered load: N BFT validators vs a solo node, same run.

Each side is a real ``yilian localnet`` (processes on loopback). A client
thread offers transfers at a fixed rate through JSON-RPC, spread over the
nodes; a watcher polls the head every 20 ms and stamps each transaction with
the time its block appeared. Reported: finalized tx/s over the run, and commit
latency p50/p99 (submit → visible in a committed block; the 20 ms polling
step bounds the resolution).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from eth_utils import to_checksum_address

from node.bench.execution import _free_port

CLIENT_THREADS = 16


def _rpc(url: str, payload: object) -> object:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def free_port_block(count: int) -> int:
    import socket

    for _ in range(100):
        start = _free_port()
        if start > 60000:
            continue
        try:
            sockets = []
            for port in list(range(start, start + count)) + list(range(start + 1000, start + 1000 + count)):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                sockets.append(sock)
            return start
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free block of ports")


def _measure(nodes: int, rate: float, seconds: float, progress: Callable[[str], None]) -> dict:
    from eth_account import Account

    with tempfile.TemporaryDirectory(prefix="yilian-bench-net-") as scratch:
        port = free_port_block(nodes)
        process = subprocess.Popen([sys.executable, "-m", "node.cli", "localnet", "--nodes", str(nodes), "--dir", scratch,
                                    "--port", str(port), "--log-level", "warning"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            urls = [f"http://127.0.0.1:{port + i}/" for i in range(nodes)]
            deadline = time.monotonic() + 120
            while True:
                try:
                    heights = [int(_rpc(u, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})["result"], 16) for u in urls]
                    if min(heights) >= 1:
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {nodes}-node localnet did not start: {process.stderr.read() if process.stderr else ''}")
                time.sleep(0.3)
            description = json.loads((Path(scratch) / "localnet.json").read_text())
            accounts = [Account.from_key(a["private_key"]) for a in description["accounts"] if a["suite"] == "ecdsa"]
            count = int(rate * seconds)
            progress(f"{nodes} node(s): offering {rate:.0f} tx/s for {seconds:.0f} s ({count} transfers)")
            raws = []
            for i in range(count):
                account = accounts[i % len(accounts)]
                signed = account.sign_transaction({"nonce": i // len(accounts), "gas": 30_000, "to": to_checksum_address(b"\x11" * 20),
                                                   "value": 0, "data": i.to_bytes(4, "big"), "chainId": description["chain_id"],
                                                   "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})
                raws.append(("0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex()))
            submitted: dict[str, float] = {}
            committed: dict[str, float] = {}
            done = threading.Event()

            def watch() -> None:
                seen = int(_rpc(urls[0], {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})["result"], 16)
                while not done.is_set():
                    head = int(_rpc(urls[0], {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})["result"], 16)
                    now = time.perf_counter()
                    for height in range(seen + 1, head + 1):
                        block = _rpc(urls[0], {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": [hex(height), False]})["result"]
                        for tx_hash in block["transactions"]:
                            committed.setdefault(tx_hash, now)
                    seen = head
                    time.sleep(0.02)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            started = time.perf_counter()
            errors: list[str] = []
            next_index = iter(range(count))
            lock = threading.Lock()

            def client() -> None:
                """Workers take transactions in order and send each at its due time (an open-loop load)."""
                while True:
                    with lock:
                        i = next(next_index, None)
                    if i is None:
                        return
                    raw, tx_hash = raws[i]
                    pause = started + i / rate - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                    submitted[tx_hash] = time.perf_counter()
                    answer = _rpc(urls[i % nodes], {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]})
                    if "error" in answer:  # type: ignore[operator]
                        errors.append(str(answer["error"]))  # type: ignore[index]

            workers = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            if errors:
                raise RuntimeError(f"{len(errors)} transactions refused, first: {errors[0]}")
            offered_for = time.perf_counter() - started
            deadline = time.monotonic() + 60
            while len([h for h in submitted if h in committed]) < count and time.monotonic() < deadline:
                time.sleep(0.05)
            done.set()
            watcher.join(5)
            latencies = sorted(committed[h] - submitted[h] for h in submitted if h in committed)
            last = max(committed[h] for h in submitted if h in committed)
            return {
                "nodes": nodes,
                "offered_per_s": round(count / offered_for, 1),
                "committed": len(latencies),
                "finalized_per_s": round(len(latencies) / (last - started), 1),
                "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
                "latency_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
            }
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def run(quick: bool, progress: Callable[[str], None], nodes: int = 4) -> dict:
    rate, seconds = (100.0, 5.0) if quick else (200.0, 15.0)
    solo = _measure(1, rate, seconds, progress)
    progress(f"solo: {solo['finalized_per_s']} tx/s, p50 {solo['latency_p50_ms']} ms")
    network = _measure(nodes, rate, seconds, progress)
    return {
        "offered_per_s": rate,
        "solo": solo,
        f"bft_{nodes}": network,
        "finalized_ratio_vs_solo": round(network["finalized_per_s"] / solo["finalized_per_s"], 3),
    }
