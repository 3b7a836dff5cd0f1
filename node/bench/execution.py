"""Execution throughput: the py-evm ceiling in-process vs a solo node's finalized txs/s over HTTP.

Both sides run the same workload: signed EIP-1559 transactions, each a call
that writes one storage slot of a small contract (``SSTORE(0, arg)``), from
three admitted development accounts. Then the same comparison for a workflow
transaction, the guarantee ``issue`` call (:mod:`node.bench._issuing`):
``guarantee_issue``.

* **ceiling**: the transactions applied directly to py-evm's Prague state
  (in memory, our zero-fee state class, decode + sender recovery included),
  then the state root — no pool, no blocks, no disk, no HTTP.
* **node**: a real ``yilian localnet`` process; transactions go in through
  JSON-RPC batches (``eth_sendRawTransaction``), and the clock stops when
  the last one is in a committed block (the node's blocks are final).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from node.bench import _issuing as issuing
from node.harness import ONE_SLOT_RUNTIME, deploy_load_contract, free_port, one_slot_write, receipts_when_committed, rpc_raw


def _sign_batch(accounts: list, start_nonces: list[int], count: int, to: bytes, chain_id: int) -> list[bytes]:
    return [bytes(one_slot_write(accounts[i % len(accounts)], start_nonces[i % len(accounts)] + i // len(accounts), to, i + 1,
                                 chain_id).raw_transaction) for i in range(count)]


def _ceiling(count: int, chain_id: int, repeats: int = 3) -> list[float]:
    """py-evm applying ``count`` signed one-slot writes in-process (decode and sender recovery included), tx/s of each
    of ``repeats`` runs on fresh states (about a second each). The best counts, since a ceiling is what the machine
    can do, and single runs on a shared 2-core machine varied 1.7× within one suite; the runs are reported too: a
    best run can fall in one of the machine's brief fast spells, which a localnet running for minutes mostly misses."""
    raws, contract = _ceiling_load(count, chain_id)
    return [count / _apply_in_process(raws, contract, chain_id)[0] for _ in range(repeats)]


def _ceiling_load(count: int, chain_id: int) -> tuple[list[bytes], bytes]:
    """The ceiling's transactions (three fresh senders, signed in turn) and the address its contract gets."""
    from eth_account import Account

    accounts = [Account.create() for _ in range(3)]
    contract = b"\x5a" * 20
    return _sign_batch(accounts, [0, 0, 0], count, contract, chain_id), contract


def _apply_in_process(raws: list[bytes], contract: bytes, chain_id: int) -> tuple[float, float]:
    """Apply ``raws`` to a fresh in-memory state holding the one-slot contract, then compute the state root: (seconds,
    CPU seconds of this thread)."""
    from eth.constants import BLANK_ROOT_HASH
    from eth.db.atomic import AtomicDB

    from node.crypto import get_suite
    from node.execution.evm import make_state
    from node.execution.transactions import decode_transaction

    suite = get_suite("gm")
    state = make_state(AtomicDB(), BLANK_ROOT_HASH, chain_id=chain_id, height=1, timestamp=1, coinbase=bytes(20), gas_limit=10**9)
    state.set_code(contract, ONE_SLOT_RUNTIME)
    state.persist()
    started, cpu = time.perf_counter(), time.thread_time()
    for raw in raws:
        tx = decode_transaction(raw, suite, chain_id)
        state.lock_changes()
        computation = state.apply_transaction(tx.evm)
        assert not computation.is_error, computation.error
    state.persist()
    _ = state.state_root
    return time.perf_counter() - started, time.thread_time() - cpu


def _ceiling_worker(raws: list[bytes], contract: bytes, chain_id: int, rounds: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    _apply_in_process(raws[: max(1, len(raws) // 10)], contract, chain_id)  # imports and first-use costs before the clock
    for _ in range(rounds):
        barrier.wait(300)  # every process starts each round together
        results.put(_apply_in_process(raws, contract, chain_id))


def concurrent_ceiling(processes: int, count: int, chain_id: int, rounds: int = 3) -> dict:
    """The ceiling of a network where every validator executes every transaction and does nothing else: ``processes``
    processes on this machine each apply the same ``count`` transactions in-process (as :func:`_ceiling`, each to its
    own fresh state), all at once; a round's rate is ``count`` over the time the slowest took. The issue's target
    assumes the machine's cores divide the one-process ceiling evenly (``ceiling × cores ÷ validators``); this
    measures how far they do.

    Returns the best round's tx/s, each round's, and in the best round the CPU a transaction cost each process
    (against one process alone: what sharing the cores adds, caches and switches)."""
    raws, contract = _ceiling_load(count, chain_id)
    measured = run_together(_ceiling_worker, [(raws, contract, chain_id)] * processes, rounds)
    return _concurrent_figures(measured, processes, count)


def run_together(worker: Callable, arguments: list[tuple], rounds: int) -> list[tuple[float, float]]:  # type: ignore[type-arg]
    """One spawned process per item of ``arguments``, running ``worker(*item, rounds, barrier, results)``: each waits
    at the barrier before each of its ``rounds`` and puts its (seconds, CPU seconds) on ``results``. Returns them,
    round after round (a round's all come before the next round's: the barrier)."""
    import multiprocessing
    import queue

    context = multiprocessing.get_context("spawn")  # fresh interpreters, as the validators are
    processes = len(arguments)
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=worker, args=(*item, rounds, barrier, results), daemon=True) for item in arguments]
    for process in workers:
        process.start()
    measured: list[tuple[float, float]] = []
    try:
        while len(measured) < processes * rounds:
            try:
                measured.append(results.get(timeout=5))
            except queue.Empty:
                failed = [process.exitcode for process in workers if process.exitcode not in (None, 0)]
                if failed:
                    raise RuntimeError(f"a concurrent ceiling process failed (exit code {failed[0]})") from None
    finally:
        complete = len(measured) == processes * rounds
        for process in workers:
            process.join(30 if complete else 0)  # after a failure the others wait at the barrier: stop them now
            if process.is_alive():
                process.kill()
    return measured


def _concurrent_figures(measured: list[tuple[float, float]], processes: int, count: int) -> dict:
    """:func:`concurrent_ceiling`'s figures from each process's (seconds, CPU seconds), round after round."""
    by_round = [measured[i:i + processes] for i in range(0, len(measured), processes)]
    rates = [count / max(seconds for seconds, _ in timings) for timings in by_round]
    best = by_round[rates.index(max(rates))]
    return {"processes": processes, "transactions": count, "per_s": round(max(rates), 1), "rounds_per_s": [round(r, 1) for r in rates],
            "cpu_us_per_tx": round(1e6 * sum(cpu for _, cpu in best) / processes / count, 1)}


def _node(count: int, progress: Callable[[str], None]) -> dict:
    from eth_account import Account

    with tempfile.TemporaryDirectory(prefix="yilian-bench-") as scratch:
        port = free_port()
        log = Path(scratch) / "node.log"  # a file, not a pipe nobody reads
        with open(log, "wb") as handle:
            process = subprocess.Popen([sys.executable, "-m", "node.cli", "localnet", "--dir", scratch, "--port", str(port),
                                        "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=handle)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    rpc_raw(url, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the bench node did not start: {log.read_text(errors='replace')}")
                    time.sleep(0.2)
            description = json.loads((Path(scratch) / "localnet.json").read_text())
            chain_id = description["chain_id"]
            accounts = [Account.from_key(a["private_key"]) for a in description["accounts"] if a["suite"] == "ecdsa"]
            contract = deploy_load_contract(url, accounts[0], 0, chain_id)
            nonces = [1] + [0] * (len(accounts) - 1)
            raws = _sign_batch(accounts, nonces, count, contract, chain_id)
            progress(f"node: submitting {count} transactions in JSON-RPC batches of 100")
            start_height = int(rpc_raw(url, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})["result"], 16)
            started = time.perf_counter()
            hashes = []
            for offset in range(0, count, 100):
                batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]}
                         for i, raw in enumerate(raws[offset:offset + 100])]
                for answer in rpc_raw(url, batch):  # type: ignore[union-attr]
                    if "error" in answer:
                        raise RuntimeError(f"the node refused a bench transaction: {answer['error']}")
                    hashes.append(answer["result"])
            submitted = time.perf_counter() - started
            last = [hashes[-i] for i in range(1, min(len(accounts), len(hashes)) + 1)]
            receipts = receipts_when_committed(url, last)
            elapsed = time.perf_counter() - started
            end_height = int(rpc_raw(url, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})["result"], 16)
            failed = [receipt["status"] for receipt in receipts if receipt["status"] != "0x1"]
            if failed:
                raise RuntimeError("bench transactions failed on the node")
            return {"finalized_per_s": round(count / elapsed, 1), "submit_per_s": round(count / submitted, 1),
                    "blocks": end_height - start_height}
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def run(quick: bool, progress: Callable[[str], None]) -> dict:
    count = 600 if quick else 3000
    progress(f"ceiling: applying {count} one-slot writes directly to py-evm")
    runs = _ceiling(count, 6600)
    ceiling = max(runs)
    progress(f"ceiling {ceiling:.0f} tx/s; starting a solo node")
    node = _node(count, progress)
    issue = issuing.measure(50 if quick else 400, progress)
    progress(f"guarantee issue: node {issue['node_finalized_per_s']} tx/s, ceiling {issue['ceiling_py_evm_per_s']} tx/s")
    return {
        "transactions": count,
        "ceiling_py_evm_per_s": round(ceiling, 1),
        "ceiling_runs_per_s": [round(run, 1) for run in runs],
        "node_finalized_per_s": node["finalized_per_s"],
        "node_submit_per_s": node["submit_per_s"],
        "node_blocks": node["blocks"],
        "ratio": round(node["finalized_per_s"] / ceiling, 3),
        "guarantee_issue": issue,
    }
