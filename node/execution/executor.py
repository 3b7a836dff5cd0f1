"""Executing blocks: the same code builds a block (proposer) and checks one (validator).

``build_block`` takes candidate transactions and leaves out those that may not
go in (with the reason); ``validate_and_execute`` takes a proposed block and
refuses it at the first rule it breaks, naming the field and both values.
Both run :meth:`Executor._execute`, so a block the proposer built is exactly
the block a validator re-derives.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable, Iterator, Sequence

from eth.constants import BLANK_ROOT_HASH
from eth_utils import ValidationError as EthValidationError

from node.config import Genesis
from node.errors import ValidationError
from node.execution.evm import YilianAccountDB, gas_used_by, make_state
from node.execution.system import ValidatorUpdate, registry_admits, validator_set_at, validator_updates
from node.execution.transactions import ChainTx, PlainEvmTransaction, decode_transaction, tx_hash
from node.execution.trie import check_state_writes
from node.ledger.db import StagedStateDB
from node.ledger.merkle import merkle_root
from node.ledger.store import BlockCommit, BlockStore
from node.types import Block, Header, Log, Receipt, ValidatorSet, ZERO_HASH

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
MAX_ANCESTORS = 256
CALL_GAS_DEFAULT = 50_000_000
GENESIS_DEPLOY_GAS = 100_000_000
DOES_NOT_FIT = "does not fit"  # the prefix of reasons that are about this block only (try the next one)


class InvalidBlock(ValidationError):
    """A proposed block breaks a rule; ``field`` names it."""


class EffectsMismatch(ValidationError):
    """Another node's account of a block's execution does not fit the block's header: execute it instead."""


@dataclasses.dataclass(frozen=True, slots=True)
class BlockExecution:
    """A block and everything its execution derived."""

    block: Block
    block_hash: bytes
    transactions: tuple[ChainTx, ...]
    receipts: tuple[Receipt, ...]
    state_writes: dict[bytes, bytes]
    rejected: tuple[tuple[ChainTx, str], ...] = ()
    nonces_after: dict[bytes, int] | None = None  # of every account the block wrote; None: not known
    validator_updates: tuple[ValidatorUpdate, ...] | None = None  # the registry's, read in the post-state; None: not read

    def to_commit(self, certificate) -> BlockCommit:  # type: ignore[no-untyped-def]
        return BlockCommit(
            block=self.block, block_hash=self.block_hash, certificate=certificate, receipts=self.receipts,
            tx_hashes=tuple(tx.hash for tx in self.transactions), state_writes=self.state_writes,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class CallResult:
    """The outcome of a call executed without a block (eth_call, eth_estimateGas)."""

    success: bool
    output: bytes
    gas_used: int
    error: str


def decode_revert(output: bytes) -> str:
    """A readable reason from revert data: ``Error(string)`` text, a panic code, or a custom error selector."""
    if output[:4] == ERROR_SELECTOR and len(output) >= 68:
        try:
            length = int.from_bytes(output[36:68], "big")
            return output[68:68 + length].decode("utf-8", errors="replace")
        except (ValueError, IndexError):
            return "malformed Error(string) revert data"
    if output[:4] == PANIC_SELECTOR and len(output) >= 36:
        return f"panic code 0x{int.from_bytes(output[4:36], 'big'):02x}"
    if len(output) >= 4:
        return f"custom error 0x{output[:4].hex()}"
    return ""


def _error_text(computation) -> str:  # type: ignore[no-untyped-def]
    if not computation.is_error:
        return ""
    if computation.output:
        reason = decode_revert(bytes(computation.output))
        if reason:
            return reason
    error = computation.error
    name = type(error).__name__
    detail = str(error)
    return f"{name}: {detail}" if detail and detail != name else name


class _Ancestors:
    """Hashes of the blocks before ``height``, newest first, read on demand (BLOCKHASH)."""

    def __init__(self, store: BlockStore, parent_height: int) -> None:
        self._store = store
        self._parent = parent_height

    def __iter__(self) -> Iterator[bytes]:
        for height in range(self._parent, max(self._parent - MAX_ANCESTORS, -1), -1):
            block_hash = self._store.block_hash(height)
            if block_hash is None:
                return
            yield block_hash


class BlockRun:
    """One block being executed on its parent's state, a transaction at a time: the loop that builds a block
    (``strict=False``: a transaction that may not go in is left out, with the reason) and that re-executes one
    (``strict=True``: it raises InvalidBlock)."""

    def __init__(self, executor: Executor, parent: Header, time_ms: int, proposer: bytes, *, strict: bool) -> None:
        self.executor, self.time_ms, self.proposer, self.strict = executor, time_ms, proposer, strict
        self.height = parent.height + 1
        self.parent_hash = parent.hash(executor.suite)
        self.staged = StagedStateDB(executor.store.db)
        self.state = make_state(
            self.staged, parent.state_root, chain_id=executor.chain_id, height=self.height, timestamp=time_ms // 1000,
            coinbase=proposer, gas_limit=executor.params.max_block_gas,
            prev_hashes=_Ancestors(executor.store, parent.height), mix_hash=self.parent_hash,
        )
        self.included: list[ChainTx] = []
        self.receipts: list[Receipt] = []
        self.rejected: list[tuple[ChainTx, str]] = []
        self.seen: set[bytes] = set()
        self.cumulative = 0
        self.finished = False

    def add(self, tx: ChainTx) -> bool:
        """Apply ``tx`` if it may go in; False (and the reason in :attr:`rejected`) if not, when not strict."""
        state = self.state
        reason = self.executor._inclusion_problem(state, tx, self.height, self.cumulative, self.seen, len(self.included))
        if reason is None:
            state.lock_changes()
            try:
                computation = state.apply_transaction(tx.evm)
            except EthValidationError as exc:  # py-evm's own checks; ours should have caught it first
                reason = f"refused by the EVM: {exc}"
        if reason is not None:
            if self.strict:
                raise InvalidBlock(f"transactions[{len(self.included)}]", f"0x{tx.hash.hex()} {reason}")
            self.rejected.append((tx, reason))
            return False
        gas = gas_used_by(tx.gas, computation)
        self.cumulative += gas
        self.seen.add(tx.hash)
        self.included.append(tx)
        self.receipts.append(self.executor._receipt(tx, computation, gas, self.cumulative))
        return True

    def leads_to(self, header: Header, txs: Sequence[ChainTx]) -> bool:
        """Whether this strict run is the start of the block of ``header`` and ``txs``: same parent, time and proposer,
        and the transactions it applied are the block's first ones."""
        return (self.strict and not self.finished and self.parent_hash == header.parent_hash and self.time_ms == header.time_ms
                and self.proposer == header.proposer and len(self.included) <= len(txs)
                and all(ours.hash == theirs.hash for ours, theirs in zip(self.included, txs)))

    def finish(self) -> BlockExecution:
        """The block of the transactions added, with its header; the run cannot take more after this."""
        self.finished = True
        executor, state, included, receipts = self.executor, self.state, self.included, self.receipts
        nonces_after = state.written_nonces()  # before persist, while py-evm's account cache still holds them
        state.persist()
        tx_leaves = [tx.raw for tx in included]
        # updates decided in this block take effect at height + 1 at the earliest, so the post-state
        # gives both the set of this height and of the next
        updates = validator_updates(state.get_storage)
        height, suite = self.height, executor.suite
        header = Header(
            chain_id=executor.chain_id, height=height, time_ms=self.time_ms, parent_hash=self.parent_hash, proposer=self.proposer,
            tx_root=merkle_root(suite, tx_leaves),
            receipt_root=merkle_root(suite, [receipt.encode() for receipt in receipts]),
            state_root=state.state_root,
            validators_hash=executor._set_hash(validator_set_at(executor.genesis_validators, updates, height, suite)),
            next_validators_hash=executor._set_hash(validator_set_at(executor.genesis_validators, updates, height + 1, suite)),
            gas_used=self.cumulative, tx_count=len(included),
        )
        block = Block(header, tuple(tx_leaves))
        return BlockExecution(block, block.hash(suite), tuple(included), tuple(receipts), self.staged.state_writes(),
                              tuple(self.rejected), nonces_after, tuple(updates))


class Executor:
    """Runs transactions on py-evm over the node's LevelDB for one chain."""

    def __init__(self, store: BlockStore, genesis: Genesis) -> None:
        self.store = store
        self.genesis = genesis
        self.suite = genesis.suite
        self.chain_id = genesis.chain_id
        self.params = genesis.consensus
        self.genesis_validators = genesis.validator_set()
        self.validators_hash = self.genesis_validators.hash(self.suite)  # of the genesis set
        self._set_hashes: dict[ValidatorSet, bytes] = {}
        self._head_sets = None  # (head, validator updates in the head state, {height: set})
        self._head_accounts = None
        self._head_nonces: tuple[object, dict[bytes, int]] | None = None  # (head, nonces read in the head state)
        self._head_lock = threading.Lock()

    # -- genesis --------------------------------------------------------------

    def genesis_execution(self) -> tuple[BlockExecution, tuple[bytes, ...]]:
        """Block 0, derived from the genesis file alone: allocations, no transactions."""
        staged = StagedStateDB(self.store.db)
        state = make_state(staged, BLANK_ROOT_HASH, chain_id=self.chain_id, height=0,
                           timestamp=self.genesis.genesis_time_ms // 1000, coinbase=bytes(20),
                           gas_limit=self.params.max_block_gas)
        for account in self.genesis.accounts:
            if account.balance:
                state.set_balance(account.address, account.balance)
        for contract in self.genesis.contracts:
            address = bytes.fromhex(contract["address"].removeprefix("0x"))
            if "init_code" in contract:  # a system contract: run its constructor at the fixed address
                self._deploy_at(state, address, bytes.fromhex(contract["init_code"].removeprefix("0x")), contract.get("name", "?"))
                continue
            state.set_code(address, bytes.fromhex(contract["code"].removeprefix("0x")))
            for slot, value in contract.get("storage", {}).items():
                state.set_storage(address, int(slot, 0), int(value, 0))
        state.persist()
        header = Header(
            chain_id=self.chain_id, height=0, time_ms=self.genesis.genesis_time_ms, parent_hash=ZERO_HASH,
            proposer=bytes(20), tx_root=merkle_root(self.suite, []), receipt_root=merkle_root(self.suite, []),
            state_root=state.state_root, validators_hash=self.validators_hash,
            next_validators_hash=self.validators_hash, gas_used=0, tx_count=0,
        )
        block = Block(header, ())
        execution = BlockExecution(block, block.hash(self.suite), (), (), staged.state_writes())
        return execution, tuple(sorted(self.genesis.admitted_addresses()))

    @staticmethod
    def _deploy_at(state, address: bytes, init_code: bytes, name: str) -> None:  # type: ignore[no-untyped-def]
        from eth.constants import CREATE_CONTRACT_ADDRESS
        from eth.vm.message import Message

        from node.errors import ConfigError

        sender = bytes(20)
        message = Message(gas=GENESIS_DEPLOY_GAS, to=CREATE_CONTRACT_ADDRESS, sender=sender, value=0, data=b"",
                          code=init_code, create_address=address)
        context = state.get_transaction_context_class()(gas_price=0, origin=sender)
        computation = state.computation_class.apply_create_message(state, message, context)
        if computation.is_error:
            raise ConfigError(f"genesis contract {name} at 0x{address.hex()} failed to deploy: {_error_text(computation)}")

    # -- blocks ------------------------------------------------------------------

    def build_block(self, parent: Header, candidates: Sequence[ChainTx], time_ms: int, proposer: bytes,
                    deadline: float | None = None, on_included: Callable[[ChainTx], None] | None = None) -> BlockExecution:
        """The next block with as many of ``candidates`` (in order) as may go in; others are returned in ``rejected``.

        With ``deadline`` (a ``time.perf_counter()`` value), candidates left when it passes stay out of this
        block and out of ``rejected``: a proposer must hand its block over before the others time out.
        ``on_included(tx)`` is called (in this thread) as each transaction goes in.
        """
        time_ms = max(time_ms, parent.time_ms + 1)
        return self._execute(parent, candidates, time_ms, proposer, strict=False, deadline=deadline, on_included=on_included)

    def validate_and_execute(self, block: Block, known: Callable[[bytes, bytes], ChainTx | None] | None = None,
                             run: BlockRun | None = None) -> BlockExecution:
        """Check a proposed block against its parent and re-execute it.

        ``known(hash, raw)`` may return the transaction already decoded and signature-checked (the
        node's pool has most of a proposal's transactions): it must be the decoding of exactly ``raw``.
        ``run`` (from :meth:`begin`) may hold the block's first transactions applied already, while its proposer
        built it: it is continued if its parent, time and proposer are the block's and its transactions the block's
        first ones, and ignored otherwise.

        Raises:
            InvalidBlock: naming the header field or transaction at fault, with
                the value in the block and the value derived here.
        """
        parent, txs = self._check_proposal(block, known)
        header = block.header
        if run is None or not run.leads_to(header, txs):
            run = BlockRun(self, parent, header.time_ms, header.proposer, strict=True)
        for tx in txs[len(run.included):]:
            run.add(tx)
        execution = run.finish()
        derived = execution.block.header
        for field in ("gas_used", "tx_root", "receipt_root", "state_root", "validators_hash", "next_validators_hash"):
            self._expect(f"header.{field}", getattr(header, field), getattr(derived, field))
        if derived != header:  # every field is compared above; this guards against a new field being forgotten
            raise InvalidBlock("header", "differs from the header derived by execution")
        return execution

    def _check_proposal(self, block: Block, known: Callable[[bytes, bytes], ChainTx | None] | None) -> tuple[Header, list[ChainTx]]:
        """What can be checked of a proposal without executing it: the header's shape and its links to the parent,
        and every transaction's encoding and signature. Returns the parent header and the decoded transactions."""
        header = block.header
        try:
            header.validate_shape()
        except ValidationError as exc:
            raise InvalidBlock(exc.field, exc.reason) from None
        parent = self.store.header(header.height - 1) if header.height > 0 else None
        if parent is None:
            raise InvalidBlock("header.height", f"block {header.height} has no parent here (head is {self.store.height})")
        self._expect("header.chain_id", header.chain_id, self.chain_id)
        self._expect("header.parent_hash", header.parent_hash, parent.hash(self.suite))
        if header.time_ms <= parent.time_ms:
            raise InvalidBlock("header.time_ms", f"{header.time_ms} is not after the parent's {parent.time_ms}")
        self._expect("header.tx_count", header.tx_count, len(block.transactions))
        if len(block.transactions) > self.params.max_block_txs:
            raise InvalidBlock("transactions", f"{len(block.transactions)} transactions, the limit is {self.params.max_block_txs}")
        txs = []
        for index, raw in enumerate(block.transactions):
            found = known(tx_hash(raw, self.suite), raw) if known is not None else None
            if found is not None and found.raw == raw:
                txs.append(found)
                continue
            try:
                txs.append(decode_transaction(raw, self.suite, self.chain_id))
            except ValidationError as exc:
                raise InvalidBlock(f"transactions[{index}].{exc.field}", exc.reason) from None
        return parent, txs

    def apply_effects(self, block: Block, receipts: Sequence[bytes], writes: dict[bytes, bytes],
                      known: Callable[[bytes, bytes], ChainTx | None] | None = None) -> BlockExecution:
        """A proposed block's execution taken from a node that executed it, instead of executing it here: its
        ``receipts`` (encoded) and state ``writes`` (hash → trie node or contract code, as that node stores them).

        Only call this for a block whose header is vouched for by validators that executed it, more of them than
        may be faulty (:mod:`node.bft` waits for their votes): that makes ``state_root`` and ``receipt_root`` right,
        and this checks that the effects are exactly what those roots commit to — the receipts against
        ``receipt_root`` and the transactions, the writes against ``state_root`` (every entry stored under its hash,
        every node and code of the new state written or on disk, :func:`check_state_writes`), the validator sets
        read from the new state against the header's hashes. Raises InvalidBlock for a block that is wrong whatever
        its effects (header links, transactions), EffectsMismatch for effects that do not fit its header (execute
        the block instead)."""
        parent, txs = self._check_proposal(block, known)
        header = block.header
        self._expect("header.tx_root", header.tx_root, merkle_root(self.suite, list(block.transactions)))
        if len(receipts) != len(txs):
            raise EffectsMismatch("receipts", f"{len(receipts)} receipts for {len(txs)} transactions")
        if merkle_root(self.suite, list(receipts)) != header.receipt_root:
            raise EffectsMismatch("receipts", "do not match the header's receipt_root")
        try:
            decoded = tuple(Receipt.decode(raw) for raw in receipts)
        except (ValidationError, ValueError) as exc:
            raise EffectsMismatch("receipts", f"undecodable: {exc}") from None
        if any(receipt.tx_hash != tx.hash for receipt, tx in zip(decoded, txs)) or (decoded[-1].cumulative_gas_used if decoded else 0) != header.gas_used:
            raise EffectsMismatch("receipts", "do not belong to the block's transactions and gas")
        staged = StagedStateDB(self.store.db)
        try:
            check_state_writes(writes, header.state_root, lambda key: key in staged)
        except ValueError as exc:
            raise EffectsMismatch("writes", str(exc)) from None
        staged.pending.update(writes)
        updates = validator_updates(YilianAccountDB(staged, header.state_root).get_storage)
        for field, at in (("validators_hash", header.height), ("next_validators_hash", header.height + 1)):
            derived = self._set_hash(validator_set_at(self.genesis_validators, updates, at, self.suite))
            if getattr(header, field) != derived:
                raise EffectsMismatch(f"header.{field}", "differs from the validator set in the written state")
        return BlockExecution(block, block.hash(self.suite), tuple(txs), decoded, staged.state_writes(), (), None, tuple(updates))

    @staticmethod
    def _expect(field: str, found: object, expected: object) -> None:
        if found != expected:
            show = (lambda v: "0x" + v.hex()) if isinstance(found, bytes) else repr
            raise InvalidBlock(field, f"block has {show(found)}, expected {show(expected)}")  # type: ignore[operator]

    def _execute(self, parent: Header, candidates: Sequence[ChainTx], time_ms: int, proposer: bytes, *, strict: bool,
                 deadline: float | None = None, on_included: Callable[[ChainTx], None] | None = None) -> BlockExecution:
        run = BlockRun(self, parent, time_ms, proposer, strict=strict)
        for tx in candidates:
            if deadline is not None and run.included and time.perf_counter() >= deadline:
                break
            if run.add(tx) and on_included is not None:
                on_included(tx)
        return run.finish()

    def begin(self, parent: Header, time_ms: int, proposer: bytes) -> BlockRun:
        """A strict run of the block after ``parent`` that its proposer is building, to be given its transactions as
        they come (:meth:`BlockRun.add`) and finished by :meth:`validate_and_execute` once the block is here."""
        return BlockRun(self, parent, time_ms, proposer, strict=True)

    def _inclusion_problem(self, state, tx: ChainTx, height: int, cumulative: int, seen: set[bytes], count: int) -> str | None:  # type: ignore[no-untyped-def]
        """Why ``tx`` may not go into this block, or None."""
        if count >= self.params.max_block_txs:
            return f"{DOES_NOT_FIT}: the block already holds {count} transactions"
        if not (self.store.is_admitted(tx.sender) or registry_admits(state.get_storage, tx.sender)):
            return f"sender 0x{tx.sender.hex()} is not an admitted account"
        nonce = state.get_nonce(tx.sender)
        if tx.nonce != nonce:
            # every included transaction used its sender's nonce, so a duplicate always lands here: the index is read
            # only then (a LevelDB miss per transaction and node was ~140-220 µs of wall time under load)
            if tx.hash in seen or self.store.tx_location(tx.hash) is not None:
                return "is a duplicate of a transaction already on chain"
            return f"has nonce {tx.nonce}, the sender's next nonce is {nonce}"
        if tx.valid_until is not None and tx.valid_until < height:
            return f"expired: valid until height {tx.valid_until}, this is height {height}"
        if cumulative + tx.gas > self.params.max_block_gas:
            return f"{DOES_NOT_FIT}: gas limit {tx.gas} exceeds the block's remaining {self.params.max_block_gas - cumulative}"
        balance = state.get_balance(tx.sender)
        if balance < tx.value:
            return f"sender balance {balance} is below the value {tx.value}"
        return None

    def _receipt(self, tx: ChainTx, computation, gas: int, cumulative: int) -> Receipt:  # type: ignore[no-untyped-def]
        success = not computation.is_error
        logs = tuple(
            Log(bytes(address), tuple(topic.to_bytes(32, "big") for topic in topics), bytes(data))
            for address, topics, data in computation.get_log_entries()
        ) if success else ()
        contract = bytes(computation.msg.storage_address) if tx.is_create and success else None
        return Receipt(
            tx_hash=tx.hash, status=1 if success else 0, gas_used=gas, cumulative_gas_used=cumulative, logs=logs,
            contract_address=contract, output=bytes(computation.output), revert_reason=_error_text(computation),
        )

    # -- reads -----------------------------------------------------------------------

    def _head_view(self):  # type: ignore[no-untyped-def]
        """py-evm's account view of the head state, cached until the head moves (call with _head_lock held)."""
        head = self.store.head()
        cached = self._head_accounts
        if cached is None or cached[0] != head:
            header = self.store.header(head[0])  # type: ignore[index]
            cached = (head, YilianAccountDB(StagedStateDB(self.store.db), header.state_root))  # type: ignore[union-attr]
            self._head_accounts = cached
        return cached[1]

    def head_admits(self, address: bytes) -> bool:
        """Admitted in genesis or, in the head state, by the MemberRegistry contract."""
        if self.store.is_admitted(address):
            return True
        with self._head_lock:
            return registry_admits(self._head_view().get_storage, address)

    def validator_change_heights(self) -> list[int]:
        """Heights at which governance's decisions (as of the head) change the validator set."""
        with self._head_lock:
            _, updates, _ = self._head_cache()
        return sorted({u.effective_height for u in updates
                       if u.effective_height > 0 and self.validators_at(u.effective_height - 1) != self.validators_at(u.effective_height)})

    def validators_at(self, height: int) -> ValidatorSet:
        """The validator set in force at ``height`` as decided by the head state.

        Exact up to ``head + 2`` (a change is decided at least two blocks before it takes effect); for later
        heights, the set known now, which blocks still to come may change.
        """
        with self._head_lock:
            _, updates, sets = self._head_cache()
            found = sets.get(height)
            if found is None:
                if len(sets) > 64:
                    sets.clear()
                found = sets[height] = validator_set_at(self.genesis_validators, updates, height, self.suite)
            return found

    def _head_cache(self):  # type: ignore[no-untyped-def]
        """(head, the registry's validator updates, sets by height) for the current head; call with _head_lock held."""
        head = self.store.head()
        if self._head_sets is None or self._head_sets[0] != head:
            self._head_sets = (head, validator_updates(self._head_view().get_storage), {})
        return self._head_sets

    def _set_hash(self, validators: ValidatorSet) -> bytes:
        found = self._set_hashes.get(validators)
        if found is None:
            found = self._set_hashes[validators] = validators.hash(self.suite)
        return found

    def head_nonce(self, address: bytes) -> int:
        """The account nonce in the head state. Admission, proposals and pruning ask for the same senders again
        and again; a read walks the state trie from the root (py-evm's cache starts empty at every head), so the
        answers are kept, and :meth:`carry_head` carries them across a commit."""
        with self._head_lock:
            head = self.store.head()
            if self._head_nonces is None or self._head_nonces[0] != head:
                self._head_nonces = (head, {})
            nonces = self._head_nonces[1]
            if address not in nonces:
                nonces[address] = self._head_view().get_nonce(address)
            return nonces[address]

    def carry_head(self, execution: BlockExecution) -> None:
        """``execution`` was just committed: the nonces read at its parent stay true for every account it did not
        write, and it knows the new nonce of each it wrote. (Nonces read at another head, or a block whose writes
        are not known, leave nothing cached.) Its execution read the registry's validator updates in the state that
        is now the head's, so :meth:`validators_at` need not read them again (~5 % of a node's CPU per block at 12
        blocks/s: a fresh account view walks the trie to the registry's storage on every head)."""
        header = execution.block.header
        with self._head_lock:
            if execution.validator_updates is not None:
                self._head_sets = ((header.height, execution.block_hash), list(execution.validator_updates), {})
            cached = self._head_nonces
            if cached is None or execution.nonces_after is None or cached[0] != (header.height - 1, header.parent_hash):
                self._head_nonces = None
                return
            self._head_nonces = ((header.height, execution.block_hash), {**cached[1], **execution.nonces_after})

    def state_at(self, height: int | None = None):  # type: ignore[no-untyped-def]
        """A throwaway py-evm state after block ``height`` (the head when None); writes go nowhere."""
        header = self.store.header(self.store.height if height is None else height)
        if header is None:
            raise ValidationError("block", f"no block at height {height}")
        return make_state(
            StagedStateDB(self.store.db), header.state_root, chain_id=self.chain_id, height=header.height + 1,
            timestamp=header.time_ms // 1000 + 1, coinbase=bytes(20), gas_limit=self.params.max_block_gas,
            prev_hashes=_Ancestors(self.store, header.height), mix_hash=header.hash(self.suite),
        )

    def call(self, *, sender: bytes, to: bytes | None, data: bytes, value: int = 0, gas: int | None = None,
             height: int | None = None) -> CallResult:
        """Execute a message on the state after ``height`` without recording anything."""
        state = self.state_at(height)
        gas = CALL_GAS_DEFAULT if gas is None else gas
        message = PlainEvmTransaction(sender, state.get_nonce(sender), gas, to, value, data)
        if gas < message.intrinsic_gas:
            return CallResult(False, b"", gas, f"gas {gas} is below the intrinsic cost {message.intrinsic_gas}")
        if state.get_balance(sender) < value:
            return CallResult(False, b"", 0, f"sender balance is below the value {value}")
        computation = state.apply_transaction(message)
        return CallResult(not computation.is_error, bytes(computation.output), gas_used_by(gas, computation), _error_text(computation))

    def estimate_gas(self, *, sender: bytes, to: bytes | None, data: bytes, value: int = 0, height: int | None = None) -> CallResult:
        """The smallest gas limit at which the call succeeds (binary search), or the failing call's result."""
        high = self.params.max_block_gas
        result = self.call(sender=sender, to=to, data=data, value=value, gas=high, height=height)
        if not result.success:
            return result
        low = max(result.gas_used - 1, PlainEvmTransaction(sender, 0, 0, to, value, data).intrinsic_gas - 1)
        high = max(result.gas_used, low + 1)
        while not self.call(sender=sender, to=to, data=data, value=value, gas=high, height=height).success:
            low, high = high, min(high * 2, self.params.max_block_gas)
        while high - low > 1:
            middle = (low + high) // 2
            if self.call(sender=sender, to=to, data=data, value=value, gas=middle, height=height).success:
                high = middle
            else:
                low = middle
        return CallResult(True, result.output, high, "")
