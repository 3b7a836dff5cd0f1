"""N ``yilian node`` processes on loopback for benchmarks and drills: started, stopped (``kill -9`` too) and
restarted one at a time, an open-loop transaction load with latency and per-node CPU accounting
(:meth:`LocalNet.offer`, the benchmarks), and a steady load that survives crashes (:class:`SteadyLoad`, the
drills).

The benchmarks' load (:meth:`LocalNet.offer`) is EIP-1559 calls that each write one storage slot of a small
contract — the work the py-evm ceiling of :mod:`node.bench.execution` measures, so that the two compare — from
:data:`SENDERS` admitted development accounts, spread over the nodes' JSON-RPC endpoints on keep-alive connections
(as an SDK session would) by one event loop; the drills' steady load is plain transfers (no contract to deploy
while nodes come and go). A watcher polls one node's head every :data:`WATCH_S` and stamps each transaction with the time its
block appeared: commit latency is submit → visible in a committed block, to within that polling step.
Node logs go to ``<dir>/logs``; ``YILIAN_BENCH_LOG_LEVEL=info`` makes them show every block.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

CLIENT_CONNECTIONS = 4  # per node: the load client's keep-alive connections, each one request at a time
SENDERS = 20  # development accounts signing the load (each sender's nonces go in order)
WATCH_S = 0.05
# the load contract's runtime: SSTORE(0, CALLDATALOAD(4)); STOP — the one-slot write a `set(uint256)` call does
ONE_SLOT_RUNTIME = bytes.fromhex("6004356000550000")
ONE_SLOT_INIT = bytes.fromhex("6008600c60003960086000f3") + ONE_SLOT_RUNTIME
SET_SELECTOR = bytes.fromhex("60fe47b1")  # set(uint256)
ONE_SLOT_GAS = 60_000
_connections = threading.local()


def one_slot_write(account, nonce: int, contract: bytes, value: int, chain_id: int):  # type: ignore[no-untyped-def]
    """A signed EIP-1559 ``set(value)`` call to the load contract (``eth_account``'s signed transaction)."""
    from eth_utils import to_checksum_address

    return account.sign_transaction({"nonce": nonce, "gas": ONE_SLOT_GAS, "to": to_checksum_address(contract), "value": 0,
                                     "data": SET_SELECTOR + value.to_bytes(32, "big"), "chainId": chain_id,
                                     "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "type": 2})


def deploy_load_contract(url: str, account, nonce: int, chain_id: int, timeout_s: float = 60) -> bytes:  # type: ignore[no-untyped-def]
    """Deploy the one-slot load contract from ``account`` through the node at ``url``; its address once committed."""
    tx = account.sign_transaction({"nonce": nonce, "gas": 200_000, "data": ONE_SLOT_INIT, "value": 0, "chainId": chain_id,
                                   "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "type": 2})
    tx_hash = rpc(url, "eth_sendRawTransaction", "0x" + bytes(tx.raw_transaction).hex())
    deadline = time.monotonic() + timeout_s
    while (receipt := rpc(url, "eth_getTransactionReceipt", tx_hash)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the load contract's deployment {tx_hash} was not committed within {timeout_s:.0f} s")
        time.sleep(0.1)
    if receipt["status"] != "0x1":  # type: ignore[index]
        raise RuntimeError(f"the load contract's deployment {tx_hash} failed")
    return bytes.fromhex(receipt["contractAddress"][2:])  # type: ignore[index]


def rpc(url: str, method: str, *params: object) -> object:
    """One JSON-RPC call on this thread's keep-alive connection to ``url``; raises on a JSON-RPC error."""
    answer = rpc_raw(url, {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    if "error" in answer:  # type: ignore[operator]
        raise RuntimeError(f"{method}: {answer['error']}")  # type: ignore[index]
    return answer["result"]  # type: ignore[index]


def rpc_raw(url: str, payload: object) -> object:
    pool = _connections.__dict__.setdefault("by_url", {})
    body = json.dumps(payload).encode()
    for attempt in (1, 2):
        connection = pool.get(url)
        if connection is None:
            parts = urlsplit(url)
            connection = pool[url] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request("POST", "/", body, {"Content-Type": "application/json"})
            return json.loads(connection.getresponse().read())
        except (http.client.HTTPException, OSError):
            connection.close()
            pool.pop(url, None)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def receipts_when_committed(url: str, tx_hashes: list[str], *, timeout_s: float = 120, poll_s: float = 0.02) -> list[dict]:
    """The receipts of ``tx_hashes`` (one JSON-RPC batch a poll) once all are committed; RuntimeError after ``timeout_s``."""
    calls = [{"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionReceipt", "params": [h]} for i, h in enumerate(tx_hashes)]
    deadline = time.monotonic() + timeout_s
    while True:
        answers = rpc_raw(url, calls)
        if isinstance(answers, list) and all(answer.get("result") for answer in answers):
            return [answer["result"] for answer in answers]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(tx_hashes)} transactions were not all committed within {timeout_s:.0f} s")
        time.sleep(poll_s)


LOWEST_PORT = 20_000


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range: the source ports of outgoing connections come from there."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the nodes' servers bind
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int = 1, *, spans: tuple[int, ...] = (0, 1000)) -> int:
    """A first port such that ``count`` consecutive ports at each offset in ``spans`` (API and p2p: 0 and +1000)
    are free, all below the kernel's ephemeral range. A port the kernel may hand out as the source port of any
    outgoing connection can be taken while its node is down (peers redialling it, clients), and the node then cannot
    bind it when it restarts; ports below that range are only ever taken by a bind."""
    high = _ephemeral_low() - max(spans) - count
    if high <= LOWEST_PORT:
        raise RuntimeError(f"no room for test ports below the ephemeral range (it starts at {_ephemeral_low()})")
    rng = random.Random()
    for _ in range(200):
        start = rng.randrange(LOWEST_PORT, high)
        if all(_bindable(start + span + i) for span in spans for i in range(count)):
            return start
    raise RuntimeError("no free block of ports below the ephemeral range")


def free_port() -> int:
    """One free port below the kernel's ephemeral range (see :func:`free_port_block`)."""
    return free_port_block(1, spans=(0,))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid`` (children, their children, …), from one pass over ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # gone meanwhile
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children.get(child, [])
    return sorted(found)


def proposal_checks(url: str) -> dict[str, int]:
    """How the node at ``url`` checked proposals so far (its ``/metrics``, node.bft): executed, applied, unvouched,
    effects_refused; and the transactions it re-executed as an executor, ahead or on_arrival."""
    import urllib.request

    found: dict[str, int] = {}
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            for prefix in ('yilian_proposals_checked_total{how="', 'yilian_proposed_transactions_executed_total{when="'):
                if line.startswith(prefix):
                    found[line[len(prefix):].split('"')[0]] = int(float(line.rsplit(" ", 1)[1]))
    return found


class LocalNet:
    """A fresh N-center consortium in ``directory`` and its nodes as processes (start with :meth:`start`)."""

    def __init__(self, nodes: int, directory: Path, progress: Callable[[str], None], *, faults: bool = False) -> None:
        """``faults``: give every node a fault file (``YILIAN_FAULT_FILE``) so that :meth:`partition` can cut links."""
        from eth_account import Account

        from node.config import load_node_config
        from node.consortium import create_consortium

        self.directory, self.progress = directory, progress
        port = free_port_block(nodes)
        create_consortium(directory / "consortium", nodes, dev_accounts=SENDERS, base_api_port=port, base_p2p_port=port + 1000)
        homes = sorted(p for p in (directory / "consortium" / "centers").iterdir() if (p / "node.json").exists())
        self.configs = [load_node_config(home) for home in homes]
        self.urls = [f"{c.api_url}/" for c in self.configs]
        dev = json.loads((directory / "consortium" / "dev-accounts.json").read_text())
        self.chain_id = dev["chain_id"]
        self.accounts = [Account.from_key(a["private_key"]) for a in dev["accounts"] if a["suite"] == "ecdsa"]
        self.nonces = [0] * len(self.accounts)
        self._load_contract: bytes | None = None
        self.processes: list[subprocess.Popen | None] = [None] * nodes
        (directory / "logs").mkdir(exist_ok=True)
        genesis = self.configs[0].load_genesis()
        peer_of = {m.name: m.peer_id for m in genesis.members}
        self.peer_ids = [peer_of[c.name] for c in self.configs]
        self.fault_files = [directory / "faults" / f"{c.name}.json" for c in self.configs] if faults else []
        if faults:
            (directory / "faults").mkdir(exist_ok=True)
            self.heal()

    def partition(self, groups: list[list[int]]) -> None:
        """Cut the network into ``groups`` of node indexes: messages between groups are dropped both ways."""
        group_of = {i: g for g, members in enumerate(groups) for i in members}
        for i, path in enumerate(self.fault_files):
            drop = [self.peer_ids[j] for j in range(len(self.configs)) if group_of.get(j) != group_of.get(i)]
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"drop": drop}))
            tmp.replace(path)  # atomic: a node never reads half a file
        time.sleep(0.5)  # nodes re-read the file every 0.2 s

    def heal(self) -> None:
        self.partition([list(range(len(self.configs)))])

    def start(self, index: int | None = None, *, wait_s: float = 180) -> None:
        """Start every node (or one), then wait until each started one answers with a committed block."""
        chosen = range(len(self.configs)) if index is None else [index]
        for i in chosen:
            with open(self.directory / "logs" / f"{self.configs[i].name}.log", "ab") as log:
                env = dict(os.environ, YILIAN_FAULT_FILE=str(self.fault_files[i])) if self.fault_files else None
                self.processes[i] = subprocess.Popen(
                    [sys.executable, "-m", "node.cli", "node", "--home", str(self.configs[i].home), "--log-level",
                     os.environ.get("YILIAN_BENCH_LOG_LEVEL", "warning")],
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.monotonic() + wait_s
        for i in chosen:
            while True:
                process = self.processes[i]
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{self.configs[i].name} exited with code {process.returncode}; see "
                                       f"{self.directory / 'logs' / (self.configs[i].name + '.log')}")
                try:
                    if self.height(i) >= (0 if index is not None else 1):  # a restarted node answers before it catches up
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.configs[i].name} did not answer within {wait_s:.0f} s")
                time.sleep(0.3)

    def stop(self, index: int | None = None, *, hard: bool = False) -> None:
        chosen = range(len(self.processes)) if index is None else [index]
        for i in chosen:
            process = self.processes[i]
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        for i in chosen:
            process = self.processes[i]
            if process is None:
                continue
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self.processes[i] = None

    def height(self, index: int = 0) -> int:
        return int(rpc(self.urls[index], "eth_blockNumber"), 16)  # type: ignore[arg-type]

    def checks(self) -> dict[str, int]:
        """:func:`proposal_checks` of the running nodes, summed."""
        totals: dict[str, int] = {}
        for url, process in zip(self.urls, self.processes):
            if process is not None and process.poll() is None:
                for label, value in proposal_checks(url).items():
                    totals[label] = totals.get(label, 0) + value
        return totals

    def cpu(self) -> list[float]:
        """CPU seconds used so far by each running node (0 for a stopped one)."""
        return [cpu_seconds(p.pid) if p is not None and p.poll() is None else 0.0 for p in self.processes]

    def sign(self, count: int, *, calls: bool = False) -> list[tuple[str, str]]:
        """``count`` transactions (raw hex, hash hex), senders in turn, each sender's nonces in order: transfers with
        4 bytes of calldata, or with ``calls`` one-slot writes to :meth:`load_contract`."""
        from eth_utils import to_checksum_address

        contract = self.load_contract() if calls else None
        to = to_checksum_address(b"\x11" * 20)
        signed = []
        for i in range(count):
            which = i % len(self.accounts)
            nonce = self.nonces[which]
            self.nonces[which] += 1
            if contract is not None:
                tx = one_slot_write(self.accounts[which], nonce, contract, i + 1, self.chain_id)
            else:
                tx = self.accounts[which].sign_transaction({"nonce": nonce, "gas": 30_000, "to": to, "value": 0, "data": i.to_bytes(4, "big"),
                                                             "chainId": self.chain_id, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})
            signed.append(("0x" + bytes(tx.raw_transaction).hex(), "0x" + bytes(tx.hash).hex()))
        return signed

    def load_contract(self) -> bytes:
        """The contract :meth:`offer` calls (one storage slot written per call), deployed by the first development
        account through a running node on first use."""
        if self._load_contract is None:
            live = next((i for i, p in enumerate(self.processes) if p is not None and p.poll() is None), None)
            if live is None:
                raise RuntimeError("no node is running to deploy the load contract")
            self.nonces[0] += 1
            self._load_contract = deploy_load_contract(self.urls[live], self.accounts[0], self.nonces[0] - 1, self.chain_id)
        return self._load_contract

    def offer(self, rate: float, seconds: float, *, targets: list[int] | None = None, drain_s: float = 120) -> dict:
        """Send ``rate`` tx/s of one-slot writes for ``seconds`` (open loop) to the nodes in ``targets``; wait until
        all are committed.

        Returns finalized tx/s (committed ÷ first submit → last commit), commit latency p50/p99 in ms, the offered
        rate achieved, and CPU over the whole phase: per node and of the load client (this process) in % of one
        core, the share of the machine's cores they kept busy together, and their CPU per committed transaction;
        and the blocks committed per second over the phase, with the transactions per block.
        """
        targets = list(range(len(self.urls))) if targets is None else targets
        count = max(1, int(rate * seconds))
        raws = self.sign(count, calls=True)
        submitted: dict[str, float] = {}
        committed: dict[str, float] = {}
        done = threading.Event()
        watch_url = self.urls[targets[0]]

        def watch() -> None:
            seen = int(rpc(watch_url, "eth_blockNumber"), 16)  # type: ignore[arg-type]
            while not done.is_set():
                head = int(rpc(watch_url, "eth_blockNumber"), 16)  # type: ignore[arg-type]
                now = time.perf_counter()
                for height in range(seen + 1, head + 1):
                    for tx_hash in rpc(watch_url, "eth_getBlockByNumber", hex(height), False)["transactions"]:  # type: ignore[index]
                        committed.setdefault(tx_hash, now)
                seen = head
                time.sleep(WATCH_S)

        height_before = int(rpc(watch_url, "eth_blockNumber"), 16)  # type: ignore[arg-type]
        cpu_before, client_before, wall_before = self.cpu(), own_cpu_seconds(), time.perf_counter()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = time.perf_counter()
        errors = asyncio.run(_submit_open_loop([self.urls[t] for t in targets], raws, rate, started, submitted))
        offered_for = time.perf_counter() - started
        if errors:
            done.set()
            raise RuntimeError(f"{len(errors)} transactions refused, first: {errors[0]}")
        deadline = time.monotonic() + drain_s
        while len(committed.keys() & submitted.keys()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        done.set()
        watcher.join(5)
        cpu_after, client_after, wall_after = self.cpu(), own_cpu_seconds(), time.perf_counter()
        blocks = int(rpc(watch_url, "eth_blockNumber"), 16) - height_before  # type: ignore[arg-type]
        latencies = sorted(committed[h] - submitted[h] for h in submitted if h in committed)
        if not latencies:
            raise RuntimeError(f"none of {count} transactions was committed within {drain_s:.0f} s")
        last = max(committed[h] for h in submitted if h in committed)
        wall = wall_after - wall_before
        spent = sum(cpu_after) - sum(cpu_before) + client_after - client_before  # nodes and the load client
        return {
            "offered_per_s": round(count / offered_for, 1),
            "committed": len(latencies),
            "of": count,
            "finalized_per_s": round(len(latencies) / (last - started), 1),
            "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "latency_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
            "cpu_per_node_pct": [round(100 * (after - before) / wall, 1) for before, after in zip(cpu_before, cpu_after)],
            "client_cpu_pct": round(100 * (client_after - client_before) / wall, 1),
            "cores_busy_pct": round(100 * spent / wall / (os.cpu_count() or 1), 1),
            "cpu_ms_per_tx": round(1000 * spent / len(latencies), 2),
            "blocks_per_s": round(blocks / wall, 2),
            "tx_per_block": round(len(latencies) / max(1, blocks), 1),
        }

    def burst_batched(self, count: int, *, drain_s: float = 120) -> dict:
        """Send ``count`` one-slot writes the way the SDK sends many (``chain_sdk.Client.send_raws``: ``POST
        /v1/transactions/batch``, :data:`chain_sdk.client.BATCH` a request), one client thread per node sending its
        share back to back (a high-volume client's closed loop), then wait until each sender's last transaction is
        committed (its nonces go in order, so all are).

        Returns finalized tx/s (first send → last commit seen), the submission rate, and the CPU per committed
        transaction of the nodes and this process together."""
        from chain_sdk import BatchFailed, Client, SdkError, Session
        from chain_sdk.client import BATCH

        raws = self.sign(count, calls=True)
        lanes = [raws[i::len(self.urls)] for i in range(len(self.urls))]
        errors: list[str] = []
        cpu_before, client_before = self.cpu(), own_cpu_seconds()
        started = time.perf_counter()

        def lane(url: str, share: list[tuple[str, str]]) -> None:
            try:
                Client(url, session=Session()).send_raws([bytes.fromhex(raw[2:]) for raw, _ in share], wait=0)
            except BatchFailed as failed:
                errors.extend(f"{url}: #{index}: {error}" for index, error in failed.errors.items())
            except SdkError as exc:  # no answer, or the whole request refused: said here instead of a drain timeout
                errors.append(f"{url}: {exc}")

        threads = [threading.Thread(target=lane, args=(url, share), daemon=True) for url, share in zip(self.urls, lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        submitted = time.perf_counter()
        if errors:
            raise RuntimeError(f"the batched burst failed ({len(errors)} errors), first: {errors[0]}")
        receipts_when_committed(self.urls[0], [tx_hash for _, tx_hash in raws[-len(self.accounts):]], timeout_s=drain_s, poll_s=WATCH_S)
        finished = time.perf_counter()
        spent = sum(self.cpu()) - sum(cpu_before) + own_cpu_seconds() - client_before
        return {"transactions": count, "batch": BATCH, "finalized_per_s": round(count / (finished - started), 1),
                "submitted_per_s": round(count / (submitted - started), 1), "cpu_ms_per_tx": round(1000 * spent / count, 2)}


async def _submit_open_loop(urls: list[str], raws: list[tuple[str, str]], rate: float, started: float,
                            submitted: dict[str, float]) -> list[str]:
    """Send ``raws`` as ``eth_sendRawTransaction`` calls, transaction ``i`` at ``started + i / rate`` to
    ``urls[i % len(urls)]``, over :data:`CLIENT_CONNECTIONS` keep-alive connections per node, one request at a time on
    each (a late answer delays only its connection's next send); stamps each send in ``submitted``. Returns the
    JSON-RPC errors. One event loop instead of a thread per connection: the load client shares the cores with the
    nodes, and a thread woken for every answer cost it ~2× the CPU."""
    lanes: list[list[int]] = [[] for _ in range(len(urls) * CLIENT_CONNECTIONS)]
    for i in range(len(raws)):
        lanes[(i % len(urls)) + len(urls) * ((i // len(urls)) % CLIENT_CONNECTIONS)].append(i)
    errors: list[str] = []
    loop = asyncio.get_running_loop()
    offset = loop.time() - time.perf_counter()  # perf_counter → the loop's clock

    async def lane(url: str, indexes: list[int]) -> None:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        head = f"POST / HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nContent-Type: application/json\r\nContent-Length: ".encode()
        try:
            for i in indexes:
                raw, tx_hash = raws[i]
                body = b'{"jsonrpc":"2.0","id":%d,"method":"eth_sendRawTransaction","params":["%s"]}' % (i, raw.encode())
                pause = started + i / rate + offset - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                submitted[tx_hash] = time.perf_counter()
                writer.write(b"%s%d\r\n\r\n%s" % (head, len(body), body))
                headers = await reader.readuntil(b"\r\n\r\n")
                status = headers[9:12]
                length = next((int(line.split(b":", 1)[1]) for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length:")), None)
                if length is None:
                    raise RuntimeError(f"{url} answered without a Content-Length: {headers[:200]!r}")
                answer = json.loads(await reader.readexactly(length))
                if status != b"200" or "error" in answer:
                    errors.append(f"HTTP {status.decode()}: {answer.get('error', answer)}")
        finally:
            writer.close()

    await asyncio.gather(*(lane(urls[k % len(urls)], indexes) for k, indexes in enumerate(lanes) if indexes))
    return errors


class SteadyLoad:
    """Transfers at ``rate`` tx/s to a random live node until :meth:`stop`, as a careful client sends them.

    A transaction is *acknowledged* when a node answered its ``eth_sendRawTransaction`` with the hash. A node
    killed before gossiping loses what sat in its pool (pools are memory; the chain promises nothing before a
    block), so like a wallet the client sends unconfirmed transactions again after ``resend_s`` to another
    node — the same signed bytes, so a transaction can never land twice. :meth:`settle` resends until all are
    committed; a drill then checks every acknowledged transaction is in exactly one block.
    """

    def __init__(self, net: LocalNet, rate: float, *, resend_s: float = 3.0) -> None:
        self.net, self.rate, self.resend_s = net, rate, resend_s
        self.acknowledged: dict[str, tuple[str, float]] = {}  # hash → (raw, last sent)
        self.committed: set[str] = set()
        self.resent = 0
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._seen = 0

    def live(self) -> list[int]:
        return [i for i, p in enumerate(self.net.processes) if p is not None and p.poll() is None]

    def _send(self, raw: str, tx_hash: str) -> bool:
        import random

        for index in random.sample(self.live(), len(self.live())):
            try:
                answer = rpc_raw(self.net.urls[index], {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]})
            except OSError:
                continue  # that node is down or going down: try another
            error = answer.get("error")  # type: ignore[union-attr]
            if error is None or "already" in str(error.get("message", "")):  # known, waiting or on chain
                with self._lock:
                    self.acknowledged[tx_hash] = (raw, time.monotonic())
                return True
            self.refused.append(str(error))
            return False
        return False

    def _produce(self) -> None:
        started, sent = time.monotonic(), 0
        while not self._stop.is_set():
            due = started + sent / self.rate
            if due > time.monotonic():
                self._stop.wait(due - time.monotonic())
                continue
            ((raw, tx_hash),) = self.net.sign(1)
            while not self._stop.is_set() and not self._send(raw, tx_hash):
                self._stop.wait(0.2)  # every node down for a moment
            sent += 1

    def poll_commits(self) -> None:
        """Read new blocks from a live node and note the transactions in them."""
        for index in self.live():
            try:
                head = self.net.height(index)
                for height in range(self._seen + 1, head + 1):
                    block = rpc(self.net.urls[index], "eth_getBlockByNumber", hex(height), False)
                    with self._lock:
                        self.committed.update(block["transactions"])  # type: ignore[index]
                    self._seen = height
                return
            except OSError:
                continue

    def _resend_unconfirmed(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [(h, raw) for h, (raw, sent) in self.acknowledged.items() if h not in self.committed and now - sent > self.resend_s]
        for tx_hash, raw in due:
            if self._send(raw, tx_hash):
                self.resent += 1

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.poll_commits()
            self._resend_unconfirmed()
            self._stop.wait(0.5)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._produce, daemon=True), threading.Thread(target=self._watch, daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def settle(self, timeout_s: float = 120) -> list[str]:
        """After :meth:`stop`: resend until every acknowledged transaction is committed; returns those that are not."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll_commits()
            missing = [h for h in self.acknowledged if h not in self.committed]
            if not missing:
                return []
            self._resend_unconfirmed()
            time.sleep(0.5)
        return [h for h in self.acknowledged if h not in self.committed]


def block_hashes(net: LocalNet, index: int, first: int, last: int) -> list[str]:
    return [rpc(net.urls[index], "eth_getBlockByNumber", hex(h), False)["hash"] for h in range(first, last + 1)]  # type: ignore[index]


def check_agreement(net: LocalNet, first: int = 1) -> int:
    """All live nodes have the same block hash at every height from ``first`` to the lowest live head;
    returns that head. Raises AssertionError naming the first height where two nodes differ."""
    live = [i for i, p in enumerate(net.processes) if p is not None and p.poll() is None]
    head = min(net.height(i) for i in live)
    reference = block_hashes(net, live[0], first, head)
    for i in live[1:]:
        theirs = block_hashes(net, i, first, head)
        for offset, (a, b) in enumerate(zip(reference, theirs)):
            if a != b:
                raise AssertionError(f"fork: at height {first + offset} {net.configs[live[0]].name} has {a}, "
                                     f"{net.configs[i].name} has {b}")
    return head


def transaction_counts(net: LocalNet, index: int = 0) -> dict[str, int]:
    """How many times each transaction hash appears in node ``index``'s chain."""
    counts: dict[str, int] = {}
    for height in range(1, net.height(index) + 1):
        for tx_hash in rpc(net.urls[index], "eth_getBlockByNumber", hex(height), False)["transactions"]:  # type: ignore[index]
            counts[tx_hash] = counts.get(tx_hash, 0) + 1
    return counts


def exactly_once(net: LocalNet, load: SteadyLoad, *, index: int = 0) -> int:
    """After a drill: resend until every acknowledged transaction is committed, then check that each is in exactly
    one block of node ``index`` and that all live nodes agree on every block; returns the agreed head."""
    missing = load.settle()
    if missing:
        raise AssertionError(f"{len(missing)} acknowledged transactions never committed, first {missing[0]}")
    head = check_agreement(net)
    counts = transaction_counts(net, index)
    twice = [h for h, n in counts.items() if n > 1]
    if twice:
        raise AssertionError(f"{len(twice)} transactions committed more than once, first {twice[0]}")
    absent = [h for h in load.acknowledged if h not in counts]
    if absent:
        raise AssertionError(f"{len(absent)} acknowledged transactions are not on chain, first {absent[0]}")
    return head


@contextlib.contextmanager
def drill_session(result: dict, net: LocalNet, load: SteadyLoad, say: Callable[[str], None]):  # type: ignore[no-untyped-def]
    """Run a drill's body: a failed check (AssertionError) or a node that would not start or answer (RuntimeError,
    OSError) is recorded in ``result["failures"]``; the load and every node are stopped whatever happens;
    ``result["passed"]`` is set at the end."""
    result.setdefault("failures", [])
    try:
        yield
    except (AssertionError, RuntimeError, OSError) as exc:
        failure = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
        result["failures"].append(failure)
        say(f"FAIL: {failure}")
    finally:
        load.stop()
        net.stop()
        result["passed"] = not result["failures"]


def drill_main(parser, run: Callable[..., dict]) -> int:  # type: ignore[no-untyped-def]
    """The command line of a drill script: ``run(args, directory)`` in a temporary directory; ``--json`` keeps the
    result; exit status 0 when it passed."""
    import tempfile

    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yilian-drill-") as scratch:
        result = run(args, Path(scratch))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["passed"] else 1
