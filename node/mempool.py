"""Transactions waiting for a block: admission checks up front, per-sender nonce order.

A transaction is refused here, with the reason, when it could never go into a
block: bad signature or chain id, sender not admitted, nonce already used,
expired, already on chain or already waiting. What passes may still be left
out of a block (e.g. a nonce gap); such transactions wait until they fit, or
are dropped with a reason once they never can (nonce used, expired).
"""

from __future__ import annotations

import collections
import threading
from typing import Callable

from node.errors import ValidationError
from node.execution.transactions import ChainTx, decode_transaction

MAX_POOL = 50_000
MAX_PER_SENDER = 5_000
DROPPED_MEMORY = 10_000


class TxRejected(ValidationError):
    """A transaction the pool refused; ``field`` names the part at fault."""


class Mempool:
    """Thread-safe pool of checked transactions."""

    def __init__(self, chain, *, max_size: int = MAX_POOL, max_per_sender: int = MAX_PER_SENDER) -> None:  # type: ignore[no-untyped-def]
        self.chain = chain
        self.max_size = max_size
        self.max_per_sender = max_per_sender
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, ChainTx] = {}
        self._by_sender: dict[bytes, dict[int, ChainTx]] = collections.defaultdict(dict)
        self._arrival: dict[bytes, int] = {}
        self._counter = 0
        self.dropped: collections.OrderedDict[bytes, str] = collections.OrderedDict()
        self.has_work = threading.Event()

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, tx_hash: bytes) -> ChainTx | None:
        return self._by_hash.get(tx_hash)

    def checked(self, tx_hash: bytes, raw: bytes) -> ChainTx | None:
        """The waiting transaction with these exact bytes, already decoded and signature-checked, or None."""
        tx = self._by_hash.get(tx_hash)
        return tx if tx is not None and tx.raw == raw else None

    def add(self, raw: bytes) -> ChainTx:
        """Check ``raw`` and queue it; raises TxRejected (or ValidationError) with the reason."""
        tx = decode_transaction(raw, self.chain.suite, self.chain.chain_id)
        store = self.chain.store
        if not self.chain.executor.head_admits(tx.sender):
            raise TxRejected("sender", f"0x{tx.sender.hex()} is not an admitted account of this consortium; ask a member admin to admit it")
        state_nonce = self.chain.executor.head_nonce(tx.sender)
        if tx.nonce < state_nonce:  # (a transaction on chain used its nonce: only then is the index worth a read)
            if store.tx_location(tx.hash) is not None:
                raise TxRejected("transaction", f"0x{tx.hash.hex()} is already on chain")
            raise TxRejected("nonce", f"nonce {tx.nonce} is already used; the sender's next nonce is {state_nonce}")
        next_height = store.height + 1
        if tx.valid_until is not None and tx.valid_until < next_height:
            raise TxRejected("valid_until", f"expired: valid until height {tx.valid_until}, the next block is {next_height}")
        if tx.gas > self.chain.genesis.consensus.max_block_gas:
            raise TxRejected("gas", f"gas limit {tx.gas} exceeds the block gas limit {self.chain.genesis.consensus.max_block_gas}")
        with self._lock:
            if tx.hash in self._by_hash:
                raise TxRejected("transaction", f"0x{tx.hash.hex()} is already waiting (known transaction)")
            pending = self._by_sender[tx.sender]
            if tx.nonce in pending:
                raise TxRejected("nonce", f"another waiting transaction of this sender already uses nonce {tx.nonce}")
            if len(pending) >= self.max_per_sender:
                raise TxRejected("sender", f"{len(pending)} transactions of this sender are waiting; retry when some are included")
            if len(self._by_hash) >= self.max_size:
                raise TxRejected("transaction", "the transaction pool is full; retry shortly")
            pending[tx.nonce] = tx
            self._by_hash[tx.hash] = tx
            self._counter += 1
            self._arrival[tx.hash] = self._counter
            self.dropped.pop(tx.hash, None)
            self.has_work.set()
        return tx

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int:
        """The nonce after the sender's consecutive waiting transactions (``pending`` block tag)."""
        with self._lock:
            pending = self._by_sender.get(sender, {})
            nonce = state_nonce
            while nonce in pending:
                nonce += 1
            return nonce

    @property
    def added(self) -> int:
        """How many transactions were ever accepted: changes with every arrival."""
        return self._counter

    def has_ready(self, nonce_of: Callable[[bytes], int]) -> bool:
        """Whether some waiting transaction can go in the next block (its sender's next nonce is here); a
        transaction stuck behind a nonce gap is not work for a proposer."""
        with self._lock:
            return any(nonce_of(sender) in pending for sender, pending in self._by_sender.items())

    def ready(self, limit: int, nonce_of: Callable[[bytes], int]) -> list[ChainTx]:
        """Up to ``limit`` transactions that can run in order: each sender's run of consecutive nonces, senders by arrival."""
        with self._lock:
            runs = []
            for sender, pending in self._by_sender.items():
                nonce = nonce_of(sender)
                run = []
                while nonce in pending and len(run) < limit:
                    run.append(pending[nonce])
                    nonce += 1
                if run:
                    runs.append(run)
        runs.sort(key=lambda run: self._arrival.get(run[0].hash, 0))
        chosen: list[ChainTx] = []
        queues = [collections.deque(run) for run in runs]
        while queues and len(chosen) < limit:
            for queue in list(queues):
                if len(chosen) >= limit:
                    break
                chosen.append(queue.popleft())
                if not queue:
                    queues.remove(queue)
        return chosen

    def remove(self, txs: list[ChainTx], reasons: dict[bytes, str] | None = None) -> None:
        """Forget included transactions, and drop refused ones, remembering why."""
        with self._lock:
            for tx in txs:
                if self._by_hash.pop(tx.hash, None) is None:
                    continue
                self._arrival.pop(tx.hash, None)
                pending = self._by_sender.get(tx.sender)
                if pending is not None:
                    pending.pop(tx.nonce, None)
                    if not pending:
                        del self._by_sender[tx.sender]
                if reasons and tx.hash in reasons:
                    self.dropped[tx.hash] = reasons[tx.hash]
                    while len(self.dropped) > DROPPED_MEMORY:
                        self.dropped.popitem(last=False)

    def prune(self, nonce_of: Callable[[bytes], int], next_height: int) -> int:
        """Drop transactions that can never go in (nonce used, expired); returns how many. ``nonce_of`` is asked
        once per sender (the executor answers from nonces it carries across commits)."""
        doomed: dict[bytes, str] = {}
        with self._lock:
            candidates = list(self._by_hash.values())
        nonces: dict[bytes, int] = {}
        for tx in candidates:
            if tx.sender not in nonces:
                nonces[tx.sender] = nonce_of(tx.sender)
            if tx.nonce < nonces[tx.sender]:
                doomed[tx.hash] = f"dropped: nonce {tx.nonce} was used by another transaction"
            elif tx.valid_until is not None and tx.valid_until < next_height:
                doomed[tx.hash] = f"dropped: expired at height {tx.valid_until}"
        if doomed:
            self.remove([tx for tx in candidates if tx.hash in doomed], doomed)
        return len(doomed)

