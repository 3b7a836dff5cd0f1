"""The node's services as the API sees them: submit, wait, read, prove.

Handlers in :mod:`node.api` stay thin and call these methods; the same
methods serve REST and JSON-RPC.
"""

from __future__ import annotations

import dataclasses
import string
import time
from typing import Callable, Iterator

from node.chain import Chain
from node.errors import ValidationError, YilianError
from node.execution.transactions import ChainTx, decode_transaction
from node.ledger.merkle import merkle_proof
from node.ledger.store import LogPosition
from node.mempool import Mempool
from node.types import Block, Receipt

VERSION = "0.1.0"
MAX_LOG_RANGE = 10_000
MAX_LOGS = 10_000


class NotFound(YilianError):
    """The requested block, transaction or receipt does not exist here."""


@dataclasses.dataclass(frozen=True, slots=True)
class TxRecord:
    """A transaction on chain with its position, or waiting in the pool (height None)."""

    tx: ChainTx
    height: int | None = None
    index: int | None = None
    block_hash: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LogRecord:
    height: int
    block_hash: bytes
    tx_index: int
    tx_hash: bytes
    log_index: int  # position among all logs of the block
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


class NodeService:
    """What one node offers: its chain, its pool, its engine's health."""

    def __init__(self, chain: Chain, mempool: Mempool, *, name: str = "node", engine=None) -> None:  # type: ignore[no-untyped-def]
        self.chain = chain
        self.mempool = mempool
        self.name = name
        self.engine = engine
        self.started = time.time()

    # -- transactions --------------------------------------------------------------------

    def submit(self, raw: bytes) -> ChainTx:
        tx = self.mempool.add(raw)
        gossip = getattr(self.engine, "gossip", None)
        if gossip is not None:
            gossip(raw)  # the BFT engine sends it to the other centers
        return tx

    def transaction(self, tx_hash: bytes) -> TxRecord:
        location = self.chain.store.tx_location(tx_hash)
        if location is not None:
            height, index = location
            block = self.block(height)
            tx = decode_transaction(block.transactions[index], self.chain.suite, self.chain.chain_id)
            return TxRecord(tx, height, index, block.hash(self.chain.suite))
        waiting = self.mempool.get(tx_hash)
        if waiting is not None:
            return TxRecord(waiting)
        dropped = self.mempool.dropped.get(tx_hash)
        if dropped is not None:
            raise NotFound(f"transaction 0x{tx_hash.hex()} was dropped: {dropped}")
        raise NotFound(f"no transaction 0x{tx_hash.hex()} on chain or waiting")

    def receipt(self, tx_hash: bytes) -> tuple[TxRecord, Receipt]:
        record = self.transaction(tx_hash)
        if record.height is None:
            raise NotFound(f"transaction 0x{tx_hash.hex()} is waiting for a block; no receipt yet")
        return record, self.chain.store.receipts(record.height)[record.index]  # type: ignore[index]

    def wait_for(self, tx_hash: bytes, timeout: float) -> TxRecord:
        """Block until the transaction is on chain (or dropped: NotFound, or ``timeout`` seconds pass)."""
        self._wait_on_blocks(lambda: self.transaction(tx_hash).height is not None, timeout)
        return self.transaction(tx_hash)

    def decided(self, tx_hash: bytes) -> bool:
        """The transaction is on chain, or no longer waiting here (dropped from the pool, or never seen): what a
        long-poll for it waits for. Lookups only, no decoding (it runs on the API's event loop)."""
        return self.chain.store.tx_location(tx_hash) is not None or self.mempool.get(tx_hash) is None

    def unsettled(self, tx_hashes: list[bytes]) -> list[bytes]:
        """Those of ``tx_hashes`` neither on chain nor dropped from the pool (waiting, or not seen yet: sent through
        another center). Lookups only."""
        store, dropped = self.chain.store, self.mempool.dropped
        return [tx_hash for tx_hash in tx_hashes if store.tx_location(tx_hash) is None and tx_hash not in dropped]

    def _wait_on_blocks(self, done: Callable[[], bool], timeout: float) -> bool:
        """Block until ``done()`` or ``timeout`` seconds pass; returns its last answer. ``done`` is asked while holding
        the block condition — Chain.commit writes the block, then takes it to notify, so a block that lands after the
        check wakes the wait (checked outside it, a block committed in between was a lost wake-up: the caller slept the
        full second) — and at least every second (a transaction dropped from the pool is not a block)."""
        deadline = time.monotonic() + timeout
        with self.chain.new_block:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.chain.new_block.wait(min(remaining, 1.0))
        return True

    # -- blocks ----------------------------------------------------------------------------

    def resolve_height(self, tag: str | int | None) -> int:
        """A height from a number, hex string or tag (latest/finalized/safe/pending/earliest)."""
        head = self.chain.height
        if tag is None or tag in ("latest", "finalized", "safe", "pending"):
            return head
        if tag == "earliest":
            return 0
        if isinstance(tag, bool) or not isinstance(tag, (int, str)):
            raise ValidationError("block", f"{tag!r} is not a block number or tag (latest, earliest, pending, safe, finalized)")
        if isinstance(tag, int):
            height = tag
        else:
            digits, base, allowed = (tag[2:], 16, string.hexdigits) if tag.startswith("0x") else (tag, 10, string.digits)
            # ASCII digits only: int() also takes "١٢", " 12", "1_0", "+5", which no caller means as a height
            if not digits or any(c not in allowed for c in digits):
                raise ValidationError("block", f"{tag!r} is not a block number or tag (latest, earliest, pending, safe, finalized)")
            height = int(digits, base)
        if height < 0:
            raise ValidationError("block", "block numbers are not negative")
        if height > head:
            raise NotFound(f"block {height} does not exist yet (head is {head})")
        return height

    def block(self, height: int) -> Block:
        block = self.chain.store.block(height)
        if block is None:
            raise NotFound(f"no block at height {height} (head is {self.chain.height})")
        return block

    def block_by_hash(self, block_hash: bytes) -> Block:
        block = self.chain.store.block_by_hash(block_hash)
        if block is None:
            raise NotFound(f"no block 0x{block_hash.hex()}")
        return block

    # -- logs ---------------------------------------------------------------------------------

    def logs(self, from_height: int, to_height: int, addresses: list[bytes], topics: list[list[bytes] | None]) -> list[LogRecord]:
        """Logs in ``[from_height, to_height]`` matching Ethereum filter semantics."""
        if to_height < from_height:
            raise ValidationError("toBlock", f"toBlock {to_height} is before fromBlock {from_height}")
        if to_height - from_height + 1 > MAX_LOG_RANGE:
            raise ValidationError("fromBlock", f"a log query may span at most {MAX_LOG_RANGE} blocks; narrow the range")
        if len(topics) > 4:
            raise ValidationError("topics", "at most 4 topic positions")
        store = self.chain.store
        if addresses or (topics and topics[0]):
            positions: Iterator[LogPosition] = store.log_positions(from_height, to_height, addresses, topics[0] if not addresses and topics else ())
            heights = sorted({p.height for p in positions})
        else:
            heights = list(range(from_height, to_height + 1))
        found: list[LogRecord] = []
        for height in heights:
            block_hash = store.block_hash(height)
            block_log_index = 0
            for tx_index, receipt in enumerate(store.receipts(height)):
                for log in receipt.logs:
                    if self._matches(log.address, log.topics, addresses, topics):
                        found.append(LogRecord(height, block_hash, tx_index, receipt.tx_hash, block_log_index, log.address, log.topics, log.data))  # type: ignore[arg-type]
                        if len(found) > MAX_LOGS:
                            raise ValidationError("filter", f"more than {MAX_LOGS} logs match; narrow the block range or filter")
                    block_log_index += 1
        return found

    @staticmethod
    def _matches(address: bytes, log_topics: tuple[bytes, ...], addresses: list[bytes], topics: list[list[bytes] | None]) -> bool:
        if addresses and address not in addresses:
            return False
        for position, wanted in enumerate(topics):
            if wanted is None or not wanted:
                continue
            if position >= len(log_topics) or log_topics[position] not in wanted:
                return False
        return True

    # -- proofs -----------------------------------------------------------------------------

    def proof(self, tx_hash: bytes, kind: str) -> dict:
        """A self-contained proof that a transaction (or its receipt) is in a certified block."""
        from node.ledger.proofs import build_proof, validator_change

        record, receipt = self.receipt(tx_hash)
        block = self.block(record.height)  # type: ignore[arg-type]
        certificate = self.chain.store.certificate(record.height)  # type: ignore[arg-type]
        if kind == "transaction":
            leaves = list(block.transactions)
        elif kind == "receipt":
            leaves = [r.encode() for r in self.chain.store.receipts(record.height)]  # type: ignore[arg-type]
        else:
            raise ValidationError("kind", "a proof is of a 'transaction' or a 'receipt'")
        path = merkle_proof(self.chain.suite, leaves, record.index)  # type: ignore[arg-type]
        store, changes = self.chain.store, []
        for effective in self.chain.executor.validator_change_heights():
            if effective > record.height:  # type: ignore[operator]
                break
            keys = [v.public_key for v in self.chain.validators_at(effective).validators]
            changes.append(validator_change(store.header(effective - 1), store.certificate(effective - 1), keys))  # type: ignore[arg-type]
        return build_proof(self.chain.genesis, kind, block.header, leaves[record.index], path, certificate, changes)  # type: ignore[index]

    # -- status -------------------------------------------------------------------------------

    def status(self) -> dict:
        head = self.chain.head_header()
        genesis = self.chain.genesis
        return {
            "node": self.name,
            "version": VERSION,
            "chain_id": genesis.chain_id,
            "chain_name": genesis.chain_name,
            "suite": genesis.suite_name,
            "height": head.height,
            "head_hash": "0x" + head.hash(self.chain.suite).hex(),
            "head_time_ms": head.time_ms,
            "genesis_hash": "0x" + genesis.hash().hex(),
            "validators": ["0x" + v.address.hex() for v in self.chain.validators.validators],
            "consensus": "solo" if len(self.chain.validators) == 1 else "bft",
            "peers": sorted(getattr(self.engine, "members", {}).get(p, p) for p in getattr(getattr(self.engine, "host", None), "connected", ())),
            "pending_transactions": len(self.mempool),
            "engine_error": getattr(self.engine, "last_error", "") or None,
            "uptime_s": round(time.time() - self.started, 1),
        }
