"""Commit certificates: the +2/3 precommits that finalize a block."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from node import codec
from node.crypto.suites import Suite
from node.errors import ValidationError
from node.types._checks import ADDRESS_SIZE, HASH_SIZE, check_bytes, check_uint
from node.types.validators import ValidatorSet
from node.types.vote import Vote, VoteType


@dataclasses.dataclass(frozen=True, slots=True)
class CommitSig:
    """One validator's precommit signature inside a certificate."""

    validator: bytes
    signature: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Precommits of more than 2/3 of the validators for ``block_hash`` at (height, round)."""

    chain_id: int
    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSig, ...]

    def precommit(self, validator: bytes, signature: bytes = b"") -> Vote:
        """The precommit vote that ``validator``'s entry signs."""
        return Vote(self.chain_id, VoteType.PRECOMMIT, self.height, self.round, self.block_hash, validator, signature)

    def verify(self, suite: Suite, validators: ValidatorSet, *, chain_id: int | None = None,
               checked: Callable[[bytes, Callable[[], bool]], bool] | None = None) -> None:
        """Check the certificate against the validator set in force at its height. ``checked(signed bytes ‖ signature,
        verify)`` may answer from signatures this node already verified (a consensus node checked each precommit
        when it arrived; :class:`node.consensus.verify.SignatureCache`), calling ``verify`` for the others.

        Raises:
            ValidationError: naming the field at fault (unknown or duplicate
                validator, bad signature, too few signatures, wrong chain).
        """
        check_uint("certificate.height", self.height)
        check_uint("certificate.round", self.round)
        check_bytes("certificate.block_hash", self.block_hash, HASH_SIZE)
        if chain_id is not None and self.chain_id != chain_id:
            raise ValidationError("certificate.chain_id", f"certificate is for chain {self.chain_id}, expected {chain_id}")
        seen: set[bytes] = set()
        for index, entry in enumerate(self.signatures):
            field = f"certificate.signatures[{index}]"
            check_bytes(f"{field}.validator", entry.validator, ADDRESS_SIZE)
            validator = validators.get(entry.validator)
            if validator is None:
                raise ValidationError(field, f"0x{entry.validator.hex()} is not a validator at height {self.height}")
            if entry.validator in seen:
                raise ValidationError(field, f"validator 0x{entry.validator.hex()} signed twice")
            seen.add(entry.validator)
            signing = self.precommit(entry.validator).signing_bytes()
            key, signature = validator.public_key, entry.signature
            verify = (lambda: suite.verify(key, signing, signature))
            if not (checked(signing + signature, verify) if checked is not None else verify()):
                raise ValidationError(field, f"precommit signature of 0x{entry.validator.hex()} does not verify")
        if len(seen) < validators.quorum:
            raise ValidationError(
                "certificate.signatures",
                f"{len(seen)} precommits, a quorum of {validators.quorum} of {len(validators)} validators is needed",
            )

    @classmethod
    def from_votes(cls, votes: list[Vote]) -> CommitCertificate:
        """Assemble a certificate from precommits for one block (sorted by validator)."""
        if not votes:
            raise ValidationError("votes", "no precommits")
        first = votes[0]
        for vote in votes:
            if (vote.type, vote.chain_id, vote.height, vote.round, vote.block_hash) != (
                VoteType.PRECOMMIT, first.chain_id, first.height, first.round, first.block_hash,
            ):
                raise ValidationError("votes", "precommits differ in chain, height, round or block")
        if first.block_hash is None:
            raise ValidationError("votes", "a certificate cannot commit nil")
        signatures = tuple(
            CommitSig(vote.validator, vote.signature) for vote in sorted(votes, key=lambda vote: vote.validator)
        )
        return cls(first.chain_id, first.height, first.round, first.block_hash, signatures)

    def encode(self) -> bytes:
        return codec.encode_struct(self)

    @classmethod
    def decode(cls, data: bytes) -> CommitCertificate:
        return codec.decode_struct(cls, data, max_size=256 * 1024)
