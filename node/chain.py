"""One node's chain: the database, the block store and the executor, opened together.

:class:`Chain` is the seam consensus drives: ``propose`` builds a block from
waiting transactions, ``validate`` re-executes a proposal (the same code),
``commit`` writes a block with its certificate in one batch. The solo engine
(:mod:`node.solo`) and, later, the BFT engine call only these.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

from node.config import Genesis
from node.execution.executor import BlockExecution, Executor
from node.errors import YilianError
from node.ledger.db import Database, DatabaseError, StorageFailure
from node.ledger.store import BlockStore
from node.types import Block, CommitCertificate, Header, ValidatorSet


CHECKED_AT_OPEN = 16  # blocks re-checked each time the ledger is opened


class Chain:
    """The ledger of one node, initialised from genesis on first open."""

    def __init__(self, data_dir: Path | str, genesis: Genesis) -> None:
        self.genesis = genesis
        self.suite = genesis.suite
        self.chain_id = genesis.chain_id
        self.database = Database(Path(data_dir) / "chain")
        self._commit_lock = threading.Lock()
        self.new_block = threading.Condition()
        self.commit_listeners: list = []  # called with (header, certificate) after each commit (metrics, console)
        self.storage_failure = ""  # set when the disk refused a block write: the node must stop
        self.on_storage_failure = None
        try:
            self.store = BlockStore(self.database, self.suite)
            self.executor = Executor(self.store, genesis)
            self._open_or_initialise()
        except BaseException:
            self.database.close()
            raise

    def _open_or_initialise(self) -> None:
        genesis_hash = self.genesis.hash()
        stored = self.store.genesis_hash()
        if stored is None:
            if self.store.head() is not None:
                raise DatabaseError(f"{self.database.path} has blocks but no genesis record; it was not written by this node")
            execution, admitted = self.executor.genesis_execution()
            commit = dataclasses.replace(execution.to_commit(None), admitted=admitted)
            self.store.commit(commit, genesis_hash=genesis_hash)
        elif stored != genesis_hash:
            raise DatabaseError(
                f"{self.database.path} belongs to another chain (genesis 0x{stored.hex()[:16]}…, this genesis is "
                f"0x{genesis_hash.hex()[:16]}…); use an empty data directory for this consortium"
            )
        else:
            self.check_recent()

    def check_recent(self, count: int = CHECKED_AT_OPEN) -> None:
        """Check the last ``count`` blocks as a peer would before the node serves them: each block's hash and
        transactions, the parent links, each certificate against the validator set of its height, the receipts
        against ``receipt_root``, and that the head's state is on disk. Raises StorageCorruption."""
        from node.ledger.db import REPAIR_HINT, StorageCorruption
        from node.ledger.merkle import merkle_root

        head = self.store.height
        child = None
        for height in range(head, max(head - count, 0), -1):
            block = self.store.block(height)
            certificate = self.store.certificate(height)
            problem = None
            if block is None or certificate is None:
                problem = "is missing"
            elif child is not None and child.header.parent_hash != block.hash(self.suite):
                problem = "is not the parent of the next block"
            elif certificate.block_hash != block.hash(self.suite) or certificate.height != height:
                problem = "does not match its certificate"
            elif merkle_root(self.suite, [r.encode() for r in self.store.receipts(height)]) != block.header.receipt_root:
                problem = "has receipts that do not match its receipt_root"
            else:
                try:
                    certificate.verify(self.suite, self.validators_at(height), chain_id=self.chain_id)
                except YilianError as exc:
                    problem = f"has a certificate that does not verify ({exc})"
            if problem is not None:
                raise StorageCorruption(f"block {height} in {self.database.path} {problem}; {REPAIR_HINT}")
            child = block
        header = self.store.header(head)
        from eth.constants import BLANK_ROOT_HASH

        from node.ledger.db import STATE

        if header is not None and header.state_root != BLANK_ROOT_HASH and self.database.get(STATE + header.state_root) is None:
            raise StorageCorruption(f"the state of block {head} is missing from {self.database.path}; {REPAIR_HINT}")

    @property
    def height(self) -> int:
        return self.store.height

    @property
    def validators(self) -> ValidatorSet:
        """The validator set of the next block (genesis plus governance's changes effective by then)."""
        return self.executor.validators_at(self.store.height + 1)

    def validators_at(self, height: int) -> ValidatorSet:
        """The set in force at ``height``: exact up to head + 1, the best known beyond."""
        return self.executor.validators_at(height)

    def head_header(self) -> Header:
        header = self.store.header(self.store.height)
        assert header is not None, "an open chain always has its genesis block"
        return header

    # -- the consensus seam --------------------------------------------------------

    def propose(self, candidates, time_ms: int, proposer: bytes, deadline: float | None = None,  # type: ignore[no-untyped-def]
                on_included=None) -> BlockExecution:  # type: ignore[no-untyped-def]
        """Build the next block on the head from ``candidates`` (decoded transactions), stopping at ``deadline``;
        ``on_included(tx)`` is called as each goes in."""
        return self.executor.build_block(self.head_header(), candidates, time_ms, proposer, deadline, on_included)

    def validate(self, block: Block, known=None, run=None) -> BlockExecution:  # type: ignore[no-untyped-def]
        """Re-execute a proposed block; raises InvalidBlock naming what is wrong. ``known`` and ``run``: see
        :meth:`Executor.validate_and_execute` (transactions already checked by the pool, a run begun ahead)."""
        return self.executor.validate_and_execute(block, known, run)

    def commit(self, execution: BlockExecution, certificate: CommitCertificate, *,
               checked: Callable[[bytes, Callable[[], bool]], bool] | None = None) -> None:
        """Check the certificate against the block and write both (one atomic batch). ``checked``: see
        :meth:`CommitCertificate.verify` (the consensus engine passes the signatures it verified already)."""
        header = execution.block.header
        if certificate.block_hash != execution.block_hash or certificate.height != header.height:
            raise DatabaseError(f"certificate for height {certificate.height} does not certify block {header.height}")
        certificate.verify(self.suite, self.validators_at(header.height), chain_id=self.chain_id, checked=checked)
        with self._commit_lock:
            try:
                self.store.commit(execution.to_commit(certificate))
                self.executor.carry_head(execution)
            except StorageFailure as exc:
                self.storage_failure = str(exc)
                if self.on_storage_failure is not None:
                    self.on_storage_failure(exc)
                raise
        with self.new_block:
            self.new_block.notify_all()
        for listener in self.commit_listeners:
            listener(header, certificate)

    def close(self) -> None:
        with self._commit_lock:
            self.database.close()

