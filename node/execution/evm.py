"""py-evm's Prague fork as YiLian executes it: no fees, no rewards, national-crypto precompiles.

Transactions are applied through the VM *state* (``PragueState``), not
``MiningChain``: there is no proof of work, no uncle or withdrawal logic, and
the block header is ours. Gas price is fixed at zero — a sender needs no
balance for gas — and gas limits remain the bound on work.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterable, Iterator

import py_ecc  # noqa: F401 - imported by py-evm's precompiles anyway; imported here so that the line below comes after it
from eth import EVM_RECURSION_LIMIT
from eth._utils.address import generate_contract_address
from eth.abc import MessageAPI, SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.db.account import AccountDB
from eth.db.batch import BatchDB
from eth.db.storage import AccountStorageDB, StorageLookup
from eth.db.cache import CacheDB
from eth.db.accesslog import KeyAccessLoggerDB
from eth.db.hash_trie import HashTrie
from eth.db.journal import JournalDB
from eth.rlp.accounts import Account
from eth.validation import validate_canonical_address, validate_uint64, validate_uint256
from eth.vm.message import Message
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth_typing import Address
from eth_utils import ValidationError as EthValidationError
from eth_utils import get_extended_debug_logger
from eth_utils.toolz import merge

from node.execution.precompiles import PRECOMPILES
from node.execution.trie import FastHexaryTrie

EIP3529_MAX_REFUND_QUOTIENT = 5

# py-evm needs 12,288 frames (1,024 nested calls); py_ecc raises the limit to 100,000, which lets C-recursive code
# (the json module) run past the C stack before Python stops it: a JSON body nested 100,000 deep crashed the node
# with SIGSEGV. At py-evm's own limit such a body is a RecursionError, answered with a 4xx.
sys.setrecursionlimit(EVM_RECURSION_LIMIT)


def encode_account(account: Account) -> bytes:
    """``rlp.encode(account, sedes=Account)``, byte for byte, without pyrlp's generic machinery (2.7 µs vs 20 µs):
    a list of nonce and balance as minimal big-endian integers and two 32-byte hashes, always over 55 bytes."""
    nonce, balance = account.nonce, account.balance
    payload = (_rlp_string(nonce.to_bytes((nonce.bit_length() + 7) // 8, "big"))
               + _rlp_string(balance.to_bytes((balance.bit_length() + 7) // 8, "big"))
               + b"\xa0" + account.storage_root + b"\xa0" + account.code_hash)
    return bytes((0xF8, len(payload))) + payload


def _rlp_string(value: bytes) -> bytes:
    return value if len(value) == 1 and value[0] < 0x80 else bytes((0x80 + len(value),)) + value


class _StorageLookup(StorageLookup):
    """py-evm's storage trie lookup over :class:`~node.execution.trie.FastHexaryTrie`: a contract's slots read without
    py-trie's walk (a sender's admission is two slots of MemberRegistry, read cold in every block it sends in)."""

    def _get_write_trie(self) -> FastHexaryTrie:  # py-evm's, with the other class
        if self._trie_nodes_batch is None:
            self._trie_nodes_batch = BatchDB(self._db, read_through_deletes=True)
        if self._write_trie is None:
            self._write_trie = FastHexaryTrie(self._trie_nodes_batch, root_hash=self._starting_root_hash, prune=True)
        return self._write_trie

    def _get_read_trie(self) -> FastHexaryTrie:
        if self._write_trie is not None:
            return self._write_trie
        return FastHexaryTrie(self._db, root_hash=self._starting_root_hash)

    _pending: dict | None = None  # slot writes held while a storage root is made (:meth:`squashed`); None: delete

    @contextlib.contextmanager
    def squashed(self) -> Iterator[None]:
        """Hold the slot writes made inside, then apply them to the write trie in one pass (``squash_changes``): a
        contract's changed slots cost one walk of its trie, where py-trie's ``set`` rebuilds the root and the upper
        branches once per slot (a guarantee ``issue`` writes ~11). Nothing is applied if the block raises, and the
        write trie is made only when a slot was written (as py-evm's ``has_changed_root`` expects)."""
        self._pending = {}
        try:
            yield
            pending = self._pending
        finally:
            self._pending = None
        if pending:
            with self._get_write_trie().squash_changes() as batch:
                for slot, value in pending.items():
                    if value is None:
                        del batch[slot]
                    else:
                        batch[slot] = value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        if self._pending is None:
            super().__setitem__(key, value)
        else:
            self._pending[self._decode_key(key)] = value

    def __delitem__(self, key: bytes) -> None:
        if self._pending is None:
            super().__delitem__(key)
        else:
            self._pending[self._decode_key(key)] = None


class _AccountStorageDB(AccountStorageDB):
    """py-evm's per-account storage with the lookup above; the pipes over it rebuilt as ``__init__`` builds them."""

    def __init__(self, db, storage_root: bytes, address: Address) -> None:  # type: ignore[no-untyped-def]
        super().__init__(db, storage_root, address)
        self._storage_lookup = _StorageLookup(db, storage_root, address)
        self._storage_cache = CacheDB(self._storage_lookup)
        self._locked_changes = JournalDB(self._storage_cache)
        self._journal_storage = JournalDB(self._locked_changes)

    def make_storage_root(self) -> None:
        self.lock_changes()
        with self._storage_lookup.squashed():  # py-evm's, with the slots written in one pass
            self._locked_changes.persist()


class YilianAccountDB(AccountDB):
    """py-evm's account database with the writes every transaction makes (the sender's nonce, balances) done
    without pyrlp's ``Serializable.copy`` and generic encoder: 44 µs per write before, a fifth of a plain
    transfer. The stored bytes are the same (tests/execution/test_zero_fee_state.py, test_account_encoding.py).
    ``written`` collects every account it changes or deletes (each change goes through ``_set_account``).

    The account trie is :class:`~node.execution.trie.FastHexaryTrie` (reads and the block's writes in one pass,
    same nodes and roots); the pipes above it are py-evm's own, rebuilt over it as ``AccountDB.__init__`` builds them."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.written: set[bytes] = set()
        self._trie = HashTrie(FastHexaryTrie(self._batchtrie, self._trie.root_hash, prune=True))
        self._trie_logger = KeyAccessLoggerDB(self._trie, log_missing_keys=False)
        self._trie_cache = CacheDB(self._trie_logger)
        self._journaltrie = JournalDB(self._trie_cache)

    def _get_address_store(self, address: Address) -> AccountStorageDB:
        store = self._account_stores.get(address)
        if store is None:
            store = self._account_stores[address] = _AccountStorageDB(self._raw_store_db, self._get_storage_root(address), address)
        return store

    def set_balance(self, address: Address, balance: int) -> None:
        validate_canonical_address(address, title="Storage Address")
        validate_uint256(balance, title="Account Balance")
        account = self._get_account(address)
        self._set_account(address, Account(account.nonce, balance, account.storage_root, account.code_hash))

    def set_nonce(self, address: Address, nonce: int) -> None:
        validate_canonical_address(address, title="Storage Address")
        validate_uint64(nonce, title="Nonce")
        account = self._get_account(address)
        self._set_account(address, Account(nonce, account.balance, account.storage_root, account.code_hash))

    def _set_account(self, address: Address, account: Account) -> None:
        self.written.add(address)
        self._account_cache[address] = account
        self._journaltrie[address] = encode_account(account)

    def delete_account(self, address: Address) -> None:
        self.written.add(address)
        super().delete_account(address)


class YilianComputation(PragueComputation):
    _precompiles = merge(PRAGUE_PRECOMPILES, PRECOMPILES)


class YilianTransactionExecutor(PragueTransactionExecutor):
    def build_evm_message(self, transaction: SignedTransactionAPI) -> MessageAPI:
        """py-evm 0.12.1b1's (Cancun's, as Prague inherits it) without two things YiLian never has: blob data fees
        (type-3 transactions are refused when decoded) and the debug line whose f-string py-evm builds even with
        the log off — the call data's keccak and the code in hex, about a tenth of a plain transfer's execution.
        tests/execution/test_zero_fee_state.py checks state roots against py-evm's own executor."""
        gas_fee = transaction.gas * self.vm_state.get_gas_price(transaction)
        self.vm_state.delta_balance(transaction.sender, -1 * gas_fee)
        self.vm_state.increment_nonce(transaction.sender)
        msg_refund = self.calc_message_refund(transaction)
        message_gas = transaction.gas - transaction.intrinsic_gas
        if transaction.to == CREATE_CONTRACT_ADDRESS:
            contract_address = generate_contract_address(transaction.sender, self.vm_state.get_nonce(transaction.sender) - 1)
            data, code, is_delegation = b"", transaction.data, False
        else:
            contract_address = None
            data = transaction.data
            code, delegation_address = self.get_code_at_address(transaction.to)
            is_delegation = delegation_address is not None
        return Message(gas=message_gas, to=transaction.to, sender=transaction.sender, value=transaction.value, data=data, code=code,
                       create_address=contract_address, refund=msg_refund, is_delegation=is_delegation)


class YilianState(PragueState):
    """Prague state with zero gas price and the YiLian precompiles."""

    account_db_class = YilianAccountDB
    computation_class = YilianComputation
    transaction_executor_class = YilianTransactionExecutor
    # py-evm's ``logger`` property builds the name and looks the logger up (a lock) on every access, several times
    # per transaction; the logger is the same object every time
    logger = get_extended_debug_logger("eth.vm.state.YilianState")

    def written_nonces(self) -> dict[bytes, int]:
        """The nonce now of every account this state wrote or deleted so far (nonce, balance, code, storage)."""
        return {address: self.get_nonce(address) for address in self._account_db.written}

    def get_gas_price(self, transaction: SignedTransactionAPI) -> int:
        return 0

    def get_tip(self, transaction: SignedTransactionAPI) -> int:
        return 0

    def get_transaction_context(self, transaction: SignedTransactionAPI):  # type: ignore[override]
        return self.get_transaction_context_class()(gas_price=0, origin=transaction.sender)

    def delta_balance(self, address: bytes, delta: int) -> None:
        """py-evm buys gas from the sender and pays the fee to the coinbase as balance deltas, zero at a zero gas
        price. A zero delta changes nothing on an existing account; on the absent coinbase it would create an empty
        account that EIP-161 deletes at the end of the same transaction (the coinbase is always "touched"). Skipping
        both leaves every state root as py-evm makes it (tests/execution/test_zero_fee_state.py) and makes a plain
        transfer about 1.5× faster (creating and deleting the coinbase once per transaction was a third of it)."""
        if delta == 0 and (address == self.coinbase or self.account_exists(address)):
            return
        super().delta_balance(address, delta)

    def touch_account(self, address: bytes) -> None:
        """Nothing to do. py-evm's touch writes the account back as it is (an RLP encode and a journal write per
        message) and creates a missing one empty, which EIP-161 deletes again at the end of the transaction unless
        it gained a balance, nonce or code — and those create it themselves. Since Spurious Dragon nothing in the EVM
        tells a missing account from an empty one (calls, SELFDESTRUCT, EXTCODEHASH and BALANCE ask whether it is
        "dead", missing or empty), and the EIP-161 deletion is decided from the addresses the computation touched, not
        from this write. State roots, gas and return data stay py-evm's (tests/execution/test_zero_fee_state.py).
        Zero-value transfers to a missing account ran 1.5× faster in-process; calls to an existing contract, the same."""

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        """The executor checked admission, nonce and balance before; recheck the two py-evm relies on."""
        nonce = self.get_nonce(transaction.sender)
        if nonce != transaction.nonce:
            raise EthValidationError(f"nonce {transaction.nonce} is not the account nonce {nonce}")
        if self.get_balance(transaction.sender) < transaction.value:
            raise EthValidationError("balance below the transferred value")


def make_state(
    db: object,
    state_root: bytes,
    *,
    chain_id: int,
    height: int,
    timestamp: int,
    coinbase: bytes,
    gas_limit: int,
    prev_hashes: Iterable[bytes] = (),
    mix_hash: bytes = bytes(32),
) -> YilianState:
    """A state at ``state_root`` executing as block ``height``.

    ``mix_hash`` feeds the PREVRANDAO opcode; we set it to the parent block
    hash, which is deterministic and known to every validator (it is not a
    source of randomness and contracts must not use it as one).
    """
    context = ExecutionContext(
        coinbase=coinbase,
        timestamp=timestamp,
        block_number=height,
        difficulty=0,
        mix_hash=mix_hash,
        gas_limit=gas_limit,
        prev_hashes=prev_hashes,
        chain_id=chain_id,
        base_fee_per_gas=0,
        excess_blob_gas=0,
    )
    return YilianState(db, context, state_root)


def gas_used_by(transaction_gas: int, computation: object) -> int:
    """Gas a transaction used, as py-evm's Prague VM computes it for the receipt."""
    consumed = transaction_gas - computation.get_gas_remaining() + computation.data_floor_gas  # type: ignore[attr-defined]
    refund = min(computation.get_gas_refund(), consumed // EIP3529_MAX_REFUND_QUOTIENT)  # type: ignore[attr-defined]
    return consumed - refund

