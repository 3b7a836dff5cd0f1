"""The guarantee ``issue`` call — a workflow transaction, not a one-slot write — finalized by a node or a localnet,
against its in-process py-evm ceiling (``execution.guarantee_issue`` on a solo node, ``localnet.n4.workflow`` on 4
validators).

``Guarantee.issue`` checks the application, the institution's role and the enterprise's standing in
``MemberRegistry``, consumes credit, hashes the institution's key with the SM3 precompile and verifies its SM2
signature over the guarantee's digest with the SM2 precompile, then stores the guarantee (~11 slots) and emits an
event: ~269k gas.

Set up through the SDK: the first center admits an enterprise, governance adds a bank, the center anchors ``2 ×
count`` project records, the bank opens a credit line and the enterprise applies once per project. The bank signs an
``issue`` for every application (its SM2 signature over ``guaranteeDigest``, then the native SM2 transaction).

* **node**: the first ``count`` go in through ``Client.send_raws`` (batches of 100) to the first center's node; the
  clock runs from the first send to the last receipt (BFT blocks are final).
* **ceiling**: the nodes stop, and the other ``count`` are applied in this process to the first center's state at
  its head (its LevelDB, read through a throwaway overlay: nothing is written), decode and SM2 sender check included,
  then the state root — no pool, no blocks, no network, no HTTP. Best of three runs on fresh overlays.
* **concurrent ceiling** (several nodes): as many processes as there are validators each apply the same ``count``
  to their own copy of that state, all at once (as
  :func:`node.bench.execution.concurrent_ceiling` does for one-slot writes): what a network in which every
  validator executes every transaction and does nothing else reaches on this machine. Best of three rounds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from node.bench._solo import solo_localnet

AMOUNT = 50_000
ROLE_INSTITUTION = 2  # MemberRegistry's role id
VALID_S = 90 * 86400


def _signed_issues(urls: list[str], homes: list[Path], count: int, progress: Callable[[str], None]) -> list[bytes]:
    """Set up ``count`` applications on the consortium whose centers' nodes and homes are ``urls`` and ``homes`` (the
    first center does the work, the others vote the bank in) and return the bank's signed ``issue`` for each, in
    order."""
    from eth_utils import to_checksum_address

    from chain_sdk import Client, Enterprise, FinancialInstitution, TradingCenter, Wallet, gm, records
    from chain_sdk.client import VALIDITY_BLOCKS

    centers = [TradingCenter.for_home(url, home) for url, home in zip(urls, homes)]
    center = centers[0]
    enterprise, bank = Enterprise(Client(urls[0]), Wallet.generate()), FinancialInstitution(Client(urls[0]), Wallet.generate())
    center.admit(enterprise.address)
    proposal = center.propose("AddInstitution", bank.address, "Bench Bank")  # one center: its own vote is the +2/3
    for voter in centers[1:]:
        if center.members.call("hasRole", bank.address, ROLE_INSTITUTION):
            break
        voter.vote(proposal)
    progress(f"guarantee issue: anchoring {count} projects and applying for a guarantee on each")
    project_type = records.record_type("project")
    projects = [records.record_id(center.address, f"bench-project/{i}") for i in range(count)]
    center.records.transact_many(center.wallet, [("anchor", p, project_type, to_checksum_address(center.address), os.urandom(32), 1)
                                                 for p in projects])
    bank.set_credit_line(enterprise.address, AMOUNT * count)
    applied = enterprise.guarantees.transact_many(enterprise.wallet, [("applyFor", p, to_checksum_address(center.address), AMOUNT,
                                                                       to_checksum_address(bank.address)) for p in projects])
    applications = [int(receipt.event("Applied").applicationId) for receipt in applied]
    progress(f"guarantee issue: the bank signs {count} guarantees")
    client, guarantees = bank.client, bank.guarantees
    not_after = int(time.time()) + VALID_S
    to, valid_until = bytes.fromhex(guarantees.address[2:]), client.height() + VALIDITY_BLOCKS
    first = client.next_nonce(bank.address, count)
    raws = []
    for i, application in enumerate(applications):
        number = gm.sm3(b"bench-guarantee/%d" % application)
        document_hash = gm.sm3(number)
        digest = guarantees.call("guaranteeDigest", number, application, not_after, document_hash)
        data = guarantees.encode("issue", application, number, not_after, document_hash, bank.wallet.public_key[1:], bank.wallet.sign(digest))
        raws.append(bank.wallet.sign_transaction(chain_id=client.chain_id, nonce=first + i, to=to, data=data, gas=3_000_000,
                                                 valid_until=valid_until))
    return raws


def _apply_at_head(chain, raws: list[bytes]) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Apply ``raws`` to a throwaway state over ``chain``'s head, then its root: (seconds, gas used)."""
    from node.execution.transactions import decode_transaction

    state, gas = chain.executor.state_at(), 0
    started = time.perf_counter()
    for raw in raws:
        tx = decode_transaction(raw, chain.suite, chain.chain_id)
        state.lock_changes()
        computation = state.apply_transaction(tx.evm)
        if computation.is_error:
            raise RuntimeError(f"a bench guarantee failed in-process: {computation.error!r}")
        gas += computation.get_gas_used()
    state.persist()
    _ = state.state_root
    return time.perf_counter() - started, gas


def _concurrent_worker(data_dir: str, home: str, raws: list[bytes], rounds: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    from node.chain import Chain
    from node.config import load_node_config

    chain = Chain(data_dir, load_node_config(Path(home)).load_genesis())
    try:
        _apply_at_head(chain, raws[: max(1, len(raws) // 10)])  # imports and first-use costs before the clock
        for _ in range(rounds):
            barrier.wait(300)  # every process starts each round together
            cpu = time.thread_time()
            seconds, _ = _apply_at_head(chain, raws)
            results.put((seconds, time.thread_time() - cpu))
    finally:
        chain.close()


def concurrent_ceiling(home: Path, raws: list[bytes], processes: int, rounds: int = 3) -> dict:
    """``processes`` processes apply ``raws`` at once, each to its own copy of the stopped node's state at ``home``
    (see the module's docstring); the figures of :func:`node.bench.execution.concurrent_ceiling`."""
    import shutil
    import tempfile

    from node.bench.execution import _concurrent_figures, run_together
    from node.config import load_node_config

    source = load_node_config(home).data_dir / "chain"
    with tempfile.TemporaryDirectory(prefix="yilian-bench-copies-") as scratch:
        copies = []
        for index in range(processes):
            copy = Path(scratch) / str(index)
            shutil.copytree(source, copy / "chain")
            copies.append(str(copy))
        measured = run_together(_concurrent_worker, [(copy, str(home), raws) for copy in copies], rounds)
    return _concurrent_figures(measured, processes, len(raws))


def rates(urls: list[str], homes: list[Path], count: int, progress: Callable[[str], None], stop: Callable[[], None], *,
          concurrent_rounds: int = 3) -> dict:
    """The node's finalized rate of ``count`` guarantee ``issue`` calls sent to the first of ``urls``, and their ceiling
    in-process on the first center's state once ``stop()`` stopped the nodes, alone and (several nodes) in as many
    processes at once (see the module's docstring)."""
    from chain_sdk import Client

    from node.chain import Chain
    from node.config import load_node_config

    raws = _signed_issues(urls, homes, 2 * count, progress)
    progress(f"guarantee issue: {len(urls)} node(s): submitting {count} through Client.send_raws")
    client = Client(urls[0])
    start_height = client.height()
    started = time.perf_counter()
    receipts = client.send_raws(raws[:count], wait=300)
    elapsed = time.perf_counter() - started
    if any(int(receipt["status"]) != 1 for receipt in receipts):
        raise RuntimeError("a bench guarantee failed on the node")
    blocks = client.height() - start_height
    stop()
    progress(f"guarantee issue: ceiling: applying the other {count} in-process to the first center's state")
    config = load_node_config(homes[0])
    chain = Chain(config.data_dir, config.load_genesis())
    try:
        _apply_at_head(chain, raws[count:count + max(1, count // 10)])  # imports and first-use costs before the clock
        runs = [_apply_at_head(chain, raws[count:]) for _ in range(3)]
    finally:
        chain.close()
    ceiling, node_rate = round(max(count / seconds for seconds, _ in runs), 1), round(count / elapsed, 1)
    figures = {
        "transactions": count,
        "gas_per_tx": round(runs[0][1] / count),
        "ceiling_py_evm_per_s": ceiling,
        "ceiling_runs_per_s": [round(count / seconds, 1) for seconds, _ in runs],
        "node_finalized_per_s": node_rate,
        "node_blocks": blocks,
        "ratio": round(node_rate / ceiling, 3),
    }
    if len(urls) > 1:
        progress(f"guarantee issue: concurrent ceiling: {len(urls)} processes apply the same {count} at once")
        concurrent = concurrent_ceiling(homes[0], raws[count:], len(urls), concurrent_rounds)
        figures["ceiling_concurrent"] = concurrent
        figures["vs_concurrent_ceiling"] = round(node_rate / concurrent["per_s"], 3)
    return figures


def measure(count: int, progress: Callable[[str], None]) -> dict:
    """:func:`rates` on a solo node."""
    with solo_localnet() as node:
        return rates([node.url], [node.home], count, progress, node.stop)
