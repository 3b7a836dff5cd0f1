"""Block headers and blocks.

A block carries its transactions as raw wire bytes (native msgpack or
Ethereum RLP, told apart by the first byte; see
:mod:`node.types.transaction`). The header commits to the transactions,
the receipts and the state after the block, and to the validator sets that
certify this block and the next one, so a light client can follow set
changes from genesis.
"""

from __future__ import annotations

import dataclasses

from node import codec
from node.crypto.suites import Suite
from node.types._checks import ADDRESS_SIZE, HASH_SIZE, check_bytes, check_uint

MAX_BLOCK_SIZE = 32 * 1024 * 1024
ZERO_HASH = bytes(32)


@dataclasses.dataclass(frozen=True, slots=True)
class Header:
    """A block header; its hash is the block hash."""

    chain_id: int
    height: int
    time_ms: int
    parent_hash: bytes
    proposer: bytes
    tx_root: bytes
    receipt_root: bytes
    state_root: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    gas_used: int
    tx_count: int

    def validate_shape(self) -> None:
        """Raises ValidationError naming the malformed field."""
        check_uint("header.chain_id", self.chain_id)
        check_uint("header.height", self.height)
        check_uint("header.time_ms", self.time_ms)
        check_bytes("header.parent_hash", self.parent_hash, HASH_SIZE)
        check_bytes("header.proposer", self.proposer, ADDRESS_SIZE)
        for name in ("tx_root", "receipt_root", "state_root", "validators_hash", "next_validators_hash"):
            check_bytes(f"header.{name}", getattr(self, name), HASH_SIZE)
        check_uint("header.gas_used", self.gas_used)
        check_uint("header.tx_count", self.tx_count)

    def encode(self) -> bytes:
        return codec.encode_struct(self)

    @classmethod
    def decode(cls, data: bytes) -> Header:
        return codec.decode_struct(cls, data, max_size=4096)

    def hash(self, suite: Suite) -> bytes:
        """The block hash: the suite's hash of the canonical header bytes."""
        return suite.hash(self.encode())


@dataclasses.dataclass(frozen=True, slots=True)
class Block:
    """A header and the raw transactions it orders."""

    header: Header
    transactions: tuple[bytes, ...]

    def hash(self, suite: Suite) -> bytes:
        return self.header.hash(suite)

    def encode(self) -> bytes:
        return codec.encode_struct(self)

    @classmethod
    def decode(cls, data: bytes) -> Block:
        return codec.decode_struct(cls, data, max_size=MAX_BLOCK_SIZE)
