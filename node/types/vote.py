"""Signed consensus messages: proposals and votes (prevote, precommit)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Optional

from node import codec
from node.crypto.suites import PrivateKey, Suite
from node.errors import ValidationError
from node.types._checks import ADDRESS_SIZE, HASH_SIZE, check_bytes, check_uint

VOTE_SIGNING_DOMAIN = b"YILIAN/vote/v1\x00"
PROPOSAL_SIGNING_DOMAIN = b"YILIAN/proposal/v1\x00"


class VoteType(enum.IntEnum):
    PREVOTE = 1
    PRECOMMIT = 2


@dataclasses.dataclass(frozen=True, slots=True)
class Vote:
    """A prevote or precommit for ``block_hash`` (None = nil) at (height, round)."""

    chain_id: int
    type: VoteType
    height: int
    round: int
    block_hash: Optional[bytes]
    validator: bytes
    signature: bytes = b""

    def validate_shape(self) -> None:
        check_uint("chain_id", self.chain_id)
        if not isinstance(self.type, VoteType):
            raise ValidationError("type", f"{self.type!r} is not a vote type")
        check_uint("height", self.height)
        check_uint("round", self.round)
        if self.block_hash is not None:
            check_bytes("block_hash", self.block_hash, HASH_SIZE)
        check_bytes("validator", self.validator, ADDRESS_SIZE)
        check_bytes("signature", self.signature, max_size=72)

    def signing_bytes(self) -> bytes:
        return VOTE_SIGNING_DOMAIN + codec.encode_struct(dataclasses.replace(self, signature=b""))

    def signed(self, key: PrivateKey) -> Vote:
        if key.address != self.validator:
            raise ValidationError("validator", "signing key does not belong to this validator")
        return dataclasses.replace(self, signature=key.sign(self.signing_bytes()))

    def verify(self, suite: Suite, public_key: bytes) -> None:
        """Raises ValidationError unless well-formed and signed by ``public_key``."""
        self.validate_shape()
        if not suite.verify(public_key, self.signing_bytes(), self.signature):
            raise ValidationError("signature", f"vote signature of validator 0x{self.validator.hex()} does not verify")

    def encode(self) -> bytes:
        return codec.encode_struct(self)

    @classmethod
    def decode(cls, data: bytes) -> Vote:
        return codec.decode_struct(cls, data, max_size=1024)


@dataclasses.dataclass(frozen=True, slots=True)
class Proposal:
    """The proposer's signed proposal of ``block_hash`` at (height, round).

    ``pol_round`` is the round of a proof-of-lock the proposer relies on
    (validRound in the paper), or -1.
    """

    chain_id: int
    height: int
    round: int
    block_hash: bytes
    pol_round: int
    proposer: bytes
    signature: bytes = b""

    def validate_shape(self) -> None:
        check_uint("chain_id", self.chain_id)
        check_uint("height", self.height)
        check_uint("round", self.round)
        check_bytes("block_hash", self.block_hash, HASH_SIZE)
        if isinstance(self.pol_round, bool) or not isinstance(self.pol_round, int):
            raise ValidationError("pol_round", f"expected an integer, got {type(self.pol_round).__name__}")
        if not -1 <= self.pol_round < self.round and self.pol_round != -1:
            raise ValidationError("pol_round", f"{self.pol_round} must be -1 or below round {self.round}")
        check_bytes("proposer", self.proposer, ADDRESS_SIZE)
        check_bytes("signature", self.signature, max_size=72)

    def signing_bytes(self) -> bytes:
        return PROPOSAL_SIGNING_DOMAIN + codec.encode_struct(dataclasses.replace(self, signature=b""))

    def signed(self, key: PrivateKey) -> Proposal:
        if key.address != self.proposer:
            raise ValidationError("proposer", "signing key does not belong to this proposer")
        return dataclasses.replace(self, signature=key.sign(self.signing_bytes()))

    def verify(self, suite: Suite, public_key: bytes) -> None:
        self.validate_shape()
        if not suite.verify(public_key, self.signing_bytes(), self.signature):
            raise ValidationError("signature", f"proposal signature of 0x{self.proposer.hex()} does not verify")

    def encode(self) -> bytes:
        return codec.encode_struct(self)

    @classmethod
    def decode(cls, data: bytes) -> Proposal:
        return codec.decode_struct(cls, data, max_size=1024)
