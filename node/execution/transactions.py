"""The two transaction kinds a block may carry, decoded and checked into one shape.

* **native** (:class:`node.types.Transaction`): canonical msgpack, signed with
  the chain's suite (SM2 on ``gm`` chains), with a ``valid_until`` height.
  Its hash is the suite hash of its bytes.
* **ethereum**: a standard signed Ethereum transaction (legacy with EIP-155
  replay protection, EIP-2930 or EIP-1559), exactly as eth-account makes
  it. Its hash is keccak256 of its bytes, as every Ethereum tool expects.
  Blob (type 3) and set-code (type 4) transactions are refused, as are legacy
  transactions without a chain id (replayable on any chain).

Gas price plays no part: the chain charges no fees; the gas limit bounds the
work a transaction may cause.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import coincurve
import rlp
from rlp.codec import length_prefix
from eth.abc import SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import UnrecognizedTransactionType
from eth.vm.forks.berlin.transactions import calculate_txn_intrinsic_gas_berlin
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_utils import ValidationError as EthValidationError

from node.codec import CodecError
from node.crypto import keccak256
from node.crypto.suites import Suite
from node.errors import ValidationError
from node.types.transaction import MAX_TX_SIZE, Transaction, is_native_encoding

NATIVE = "native"
ETHEREUM = "ethereum"
_ALLOWED_TYPED = {1, 2}  # EIP-2718 envelopes we accept; legacy transactions are plain RLP lists


class PlainEvmTransaction:
    """A native transaction (or an eth_call) seen through the attributes py-evm's executor reads."""

    authorization_list: tuple = ()
    gas_price = 0
    max_fee_per_gas = 0
    max_priority_fee_per_gas = 0
    v = r = s = y_parity = 0

    def __init__(self, sender: bytes, nonce: int, gas: int, to: bytes | None, value: int, data: bytes,
                 access_list: tuple = (), type_id: int = 0) -> None:
        self.sender = sender
        self.access_list = access_list
        self.type_id = type_id
        self.nonce = nonce
        self.gas = gas
        self.to = to if to is not None else CREATE_CONTRACT_ADDRESS
        self.value = value
        self.data = data
        self.intrinsic_gas = calculate_txn_intrinsic_gas_berlin(self)

    def validate(self) -> None:
        """Already checked when decoded (:func:`decode_transaction`)."""

    def copy(self, **overrides: Any) -> PlainEvmTransaction:
        clone = object.__new__(PlainEvmTransaction)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(overrides)
        return clone

    def __repr__(self) -> str:
        return f"PlainEvmTransaction(sender=0x{self.sender.hex()}, nonce={self.nonce})"


@dataclasses.dataclass(frozen=True, slots=True)
class ChainTx:
    """A decoded, signature-checked transaction of either kind."""

    raw: bytes
    hash: bytes
    kind: str
    chain_id: int
    sender: bytes
    nonce: int
    to: Optional[bytes]
    value: int
    data: bytes
    gas: int
    valid_until: Optional[int]
    intrinsic_gas: int
    evm: Any = dataclasses.field(repr=False, compare=False)
    eth_type: Optional[int] = None
    gas_price: int = 0
    max_fee_per_gas: int = 0
    max_priority_fee_per_gas: int = 0
    public_key: bytes = b""
    signature_fields: tuple = ()

    @property
    def is_create(self) -> bool:
        return self.to is None


_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _recover_sender(r: int, s: int, parity: int, signed: bytes) -> bytes:
    """The sender of an Ethereum transaction from its signature over ``signed`` (EIP-2 low-s enforced), by one C-speed
    recovery. Raises ValueError."""
    if not (1 <= r < _SECP256K1_N and 1 <= s <= _SECP256K1_N // 2) or parity not in (0, 1):
        raise ValueError("signature values out of range (r, s must be in [1, n) with low s; y parity 0 or 1)")
    digest = keccak256(signed)
    public = coincurve.PublicKey.from_signature_and_message(
        r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([parity]), digest, hasher=None
    )
    return keccak256(public.format(compressed=False)[1:])[12:]


def decode_transaction(raw: bytes, suite: Suite, chain_id: int) -> ChainTx:
    """Decode and fully check ``raw`` (either kind) for chain ``chain_id``.

    Raises:
        ValidationError: naming the field at fault (bad encoding, wrong chain,
            bad signature, unsupported type, gas below the intrinsic cost).
    """
    if not isinstance(raw, bytes) or not raw:
        raise ValidationError("transaction", "empty transaction bytes")
    if len(raw) > MAX_TX_SIZE:
        raise ValidationError("transaction", f"{len(raw)} bytes exceeds the limit of {MAX_TX_SIZE}")
    if is_native_encoding(raw):
        return _decode_native(raw, suite, chain_id)
    return _decode_ethereum(raw, chain_id)


def tx_hash(raw: bytes, suite: Suite) -> bytes:
    """The hash of a transaction of either kind from its bytes (what :func:`decode_transaction` puts in ``hash``)."""
    return suite.hash(raw) if is_native_encoding(raw) else keccak256(raw)


def _check_gas(gas: int, intrinsic: int) -> None:
    if gas < intrinsic:
        raise ValidationError("gas", f"gas limit {gas} is below the intrinsic cost {intrinsic} of this transaction")


def _decode_native(raw: bytes, suite: Suite, chain_id: int) -> ChainTx:
    try:
        tx = Transaction.decode(raw)
    except CodecError as exc:
        raise ValidationError("transaction", f"not a canonical native transaction: {exc}") from None
    tx.verify(suite, chain_id)
    evm = PlainEvmTransaction(tx.sender, tx.nonce, tx.gas_limit, tx.to, tx.value, tx.data)
    _check_gas(tx.gas_limit, evm.intrinsic_gas)
    return ChainTx(
        raw=raw, hash=suite.hash(raw), kind=NATIVE, chain_id=tx.chain_id, sender=tx.sender, nonce=tx.nonce,
        to=tx.to, value=tx.value, data=tx.data, gas=tx.gas_limit, valid_until=tx.valid_until,
        intrinsic_gas=evm.intrinsic_gas, evm=evm, public_key=tx.public_key, signature_fields=(tx.signature,),
    )


_UINT256, _UINT64_MAX = 2**256, 2**64 - 1


def _uint(item: object) -> int:
    """An RLP integer as py-evm's ``big_endian_int`` sedes and ``validate_uint256`` take it: bytes, no leading zero."""
    if not isinstance(item, bytes) or item[:1] == b"\x00":
        raise ValueError("not a canonical RLP integer")
    value = int.from_bytes(item, "big")
    if value >= _UINT256:
        raise ValueError("integer out of range")
    return value


def _decode_dynamic_fee(raw: bytes, chain_id: int) -> ChainTx | None:
    """An EIP-1559 transaction without an access list (what wallets send), decoded without py-evm's RLP objects —
    their construction was ~2/3 of a transaction's admission time. The same checks as py-evm's decoder and
    ``validate_dynamic_fee_tx``; pyrlp's strict decoding refuses every non-canonical length prefix, :func:`_uint`
    leading zeros (tests/execution/test_fast_decode.py compares both paths on valid and mangled bytes).
    Returns None for any other shape and for anything refused: the py-evm path decides and words the refusal."""
    try:
        items = rlp.decode(raw[1:], strict=True)
    except (rlp.exceptions.DecodingError, rlp.exceptions.DeserializationError):
        return None
    if not isinstance(items, list) or len(items) != 12 or items[8] != []:
        return None
    try:
        tx_chain, nonce, priority, max_fee, gas, value, parity, r, s = (_uint(items[i]) for i in (0, 1, 2, 3, 4, 6, 9, 10, 11))
        to, data = items[5], items[7]
        if nonce >= _UINT64_MAX or not isinstance(to, bytes) or len(to) not in (0, 20) or not isinstance(data, bytes) or tx_chain != chain_id:
            return None
        sender = _recover_sender(r, s, parity, _unsigned_payload(raw, items))
    except ValueError:
        return None
    return _ethereum_tx(raw, 2, tx_chain, sender, nonce, to or None, value, data, gas, (), (0, max_fee, priority), (parity, r, s))


def _encoded_length(item: bytes) -> int:
    """The length of a byte string's canonical RLP encoding (at most 55 bytes long here: an integer field)."""
    return 1 if len(item) == 1 and item[0] < 0x80 else len(item) + 1


def _unsigned_payload(raw: bytes, items: list) -> bytes:
    """What an EIP-1559 transaction's sender signed: its type byte and the RLP list of its first 9 fields, cut from
    ``raw`` rather than re-encoded (``raw`` passed pyrlp's strict decoding, so every field there is in its canonical
    encoding, the one re-encoding would give)."""
    first = raw[1]
    start = 2 if first < 0xF8 else 2 + first - 0xF7  # past the type byte and the list's length prefix
    fields = raw[start:len(raw) - sum(_encoded_length(items[i]) for i in (9, 10, 11))]  # without y parity, r, s
    return b"\x02" + length_prefix(len(fields), 0xC0) + fields


def _ethereum_tx(raw: bytes, eth_type: int, chain_id: int, sender: bytes, nonce: int, to: bytes | None, value: int, data: bytes,
                 gas: int, access_list: tuple, prices: tuple[int, int, int], signature_fields: tuple) -> ChainTx:
    """The decoded Ethereum transaction, once its encoding, signature and chain are checked; refuses gas below the
    intrinsic cost and a contract creation without code. ``prices``: gas price, max fee, max priority fee."""
    # py-evm's own transaction object recovers the sender on every `.sender` read; execution
    # uses the plain view with the sender recovered once (same fields, same intrinsic gas).
    evm = PlainEvmTransaction(sender, nonce, gas, to, value, data, access_list, eth_type)
    _check_gas(gas, evm.intrinsic_gas)
    if to is None and not data:
        raise ValidationError("data", "a contract creation (no 'to') needs init code")
    gas_price, max_fee, priority = prices
    return ChainTx(
        raw=raw, hash=keccak256(raw), kind=ETHEREUM, chain_id=chain_id, sender=sender, nonce=nonce, to=to, value=value, data=data,
        gas=gas, valid_until=None, intrinsic_gas=evm.intrinsic_gas, evm=evm, eth_type=eth_type, gas_price=gas_price,
        max_fee_per_gas=max_fee, max_priority_fee_per_gas=priority, signature_fields=signature_fields,
    )


def _decode_ethereum(raw: bytes, chain_id: int) -> ChainTx:
    first = raw[0]
    if first == 2:
        fast = _decode_dynamic_fee(raw, chain_id)
        if fast is not None:
            return fast
    if first < 0x80 and first not in _ALLOWED_TYPED:
        raise ValidationError("type", f"Ethereum transaction type {first} is not accepted (legacy, 1 and 2 are)")
    try:
        evm_tx: SignedTransactionAPI = PragueTransactionBuilder.decode(raw)
        evm_tx.validate()
        sender = _recover_sender(evm_tx.r, evm_tx.s, evm_tx.y_parity, evm_tx.get_message_for_signing())
    except (rlp.exceptions.DeserializationError, rlp.exceptions.DecodingError, UnrecognizedTransactionType) as exc:
        raise ValidationError("transaction", f"not a valid Ethereum transaction encoding: {exc}") from None
    except (EthValidationError, ValueError, TypeError) as exc:
        raise ValidationError("signature", f"invalid Ethereum transaction: {exc}") from None
    if evm_tx.encode() != raw:
        raise ValidationError("transaction", "non-canonical RLP encoding")
    eth_type = 0 if first >= 0xC0 else first
    tx_chain_id = evm_tx.chain_id
    if tx_chain_id is None:
        raise ValidationError("chain_id", "legacy transaction without EIP-155 chain id (replayable on any chain); sign with a chain id")
    if tx_chain_id != chain_id:
        raise ValidationError("chain_id", f"transaction is for chain {tx_chain_id}, this chain is {chain_id}")
    to = None if evm_tx.to == CREATE_CONTRACT_ADDRESS else bytes(evm_tx.to)
    access_list = tuple((bytes(address), tuple(slots)) for address, slots in evm_tx.access_list) if eth_type else ()
    if eth_type == 2:
        prices = (0, evm_tx.max_fee_per_gas, evm_tx.max_priority_fee_per_gas)
    else:
        prices = (evm_tx.gas_price,) * 3
    return _ethereum_tx(raw, eth_type, tx_chain_id, bytes(sender), evm_tx.nonce, to, evm_tx.value, bytes(evm_tx.data), evm_tx.gas,
                        access_list, prices, (evm_tx.y_parity if eth_type else evm_tx.v, evm_tx.r, evm_tx.s))
