"""Solo mode: a consortium of one validator produces and certifies its own blocks.

The engine produces a block as soon as transactions wait (transactions that
arrive while a block executes form the next one), and an empty block when
``empty_block_interval_ms`` passes without any. It signs the precommit with
the validator key and commits the block with that one-signature certificate —
a quorum of one. Multi-validator consortia run the BFT engine instead.
"""

from __future__ import annotations

import logging
import threading
import time

from node.chain import Chain
from node.crypto.suites import PrivateKey
from node.errors import ConfigError
from node.ledger.db import StorageFailure
from node.execution.executor import DOES_NOT_FIT, BlockExecution
from node.mempool import Mempool
from node.types import CommitCertificate, Vote, VoteType

log = logging.getLogger("yilian.solo")
BATCH_WINDOW_S = 0.1


class SoloEngine:
    """Drives :class:`Chain` through propose → certify → commit with a single validator."""

    def __init__(self, chain: Chain, mempool: Mempool, validator_key: PrivateKey) -> None:
        if len(chain.validators) != 1:
            raise ConfigError(
                f"solo mode needs a consortium of exactly one validator; this genesis has {len(chain.validators)}. "
                "Start each center's node with the BFT engine instead."
            )
        if chain.validators.get(validator_key.address) is None:
            raise ConfigError(f"the validator key 0x{validator_key.address.hex()} is not the genesis validator")
        self.chain = chain
        self.mempool = mempool
        self.key = validator_key
        self.interval = chain.genesis.consensus.empty_block_interval_ms / 1000
        self.batch_window = BATCH_WINDOW_S
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str = ""

    def produce(self) -> BlockExecution:
        """Build, certify and commit one block from the waiting transactions."""
        nonce_of = self.chain.executor.head_nonce

        candidates = self.mempool.ready(self.chain.genesis.consensus.max_block_txs, nonce_of)
        execution = self.chain.propose(candidates, int(time.time() * 1000), self.key.address)
        header = execution.block.header
        vote = Vote(self.chain.chain_id, VoteType.PRECOMMIT, header.height, 0, execution.block_hash, self.key.address)
        certificate = CommitCertificate.from_votes([vote.signed(self.key)])
        self.chain.commit(execution, certificate)
        permanent = {tx.hash: reason for tx, reason in execution.rejected if not reason.startswith(DOES_NOT_FIT)}
        self.mempool.remove(list(execution.transactions))
        self.mempool.remove([tx for tx, _ in execution.rejected if tx.hash in permanent], permanent)
        for tx_hash, reason in permanent.items():
            log.info("dropped transaction 0x%s: %s", tx_hash.hex(), reason)
        self.mempool.prune(self.chain.executor.head_nonce, header.height + 1)
        log.info("block %d 0x%s… %d txs, gas %d", header.height, execution.block_hash.hex()[:12], header.tx_count, header.gas_used)
        return execution

    def run(self) -> None:
        """Produce blocks until :meth:`stop` (call from a dedicated thread)."""
        last = time.monotonic()
        while not self._stop.is_set():
            # has_work is set by every accepted transaction; clearing it before reading the pool
            # means a transaction that arrives during production triggers the next block, while
            # transactions stuck behind a nonce gap do not spin the loop.
            arrived = self.mempool.has_work.wait(timeout=max(0.0, self.interval - (time.monotonic() - last)))
            if self._stop.is_set():
                break
            if not arrived and time.monotonic() - last < self.interval:
                continue
            # gather: a block every few milliseconds would spend its time on per-block work
            # (state root, fsync, certificate); waiting up to `batch_window` fills blocks
            self._stop.wait(max(0.0, self.batch_window - (time.monotonic() - last)))
            self.mempool.has_work.clear()
            try:
                self.produce()
                self.last_error = ""
            except StorageFailure as exc:  # the runner stops the node: nothing more can be written
                self.last_error = str(exc)
                break
            except Exception as exc:  # keep the node alive; the error is logged and shown in /v1/status
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("block production failed; retrying in 1 s")
                self._stop.wait(1.0)
            last = time.monotonic()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="solo-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the block being written (if any) is complete."""
        self._stop.set()
        self.mempool.has_work.set()
        if self._thread is not None:
            self._thread.join(timeout)
