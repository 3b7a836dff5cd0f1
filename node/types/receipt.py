"""Receipts and event logs of executed transactions."""

from __future__ import annotations

import dataclasses
from typing import Optional

from node import codec

STATUS_FAILED = 0
STATUS_SUCCESS = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Log:
    """An EVM event: emitting contract, up to four 32-byte topics, data."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one transaction.

    ``status`` is 1 on success, 0 on failure; ``revert_reason`` is the decoded
    ``Error(string)`` text or custom-error name when known, and ``output`` the
    raw return or revert data.
    """

    tx_hash: bytes
    status: int
    gas_used: int
    cumulative_gas_used: int
    logs: tuple[Log, ...]
    contract_address: Optional[bytes] = None
    output: bytes = b""
    revert_reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == STATUS_SUCCESS

    def encode(self) -> bytes:
        return codec.encode_struct(self)

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        return codec.decode_struct(cls, data)
