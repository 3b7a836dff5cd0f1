"""Validators (the member centers, equal voting power) and the set in force at a height."""

from __future__ import annotations

import dataclasses
import functools

from node import codec
from node.crypto.suites import Suite
from node.errors import ValidationError
from node.types._checks import ADDRESS_SIZE, PUBLIC_KEY_SIZE, check_bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Validator:
    """One validator: its address and 65-byte public key (voting power is 1)."""

    address: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        check_bytes("validator.address", self.address, ADDRESS_SIZE)
        check_bytes("validator.public_key", self.public_key, PUBLIC_KEY_SIZE)


@dataclasses.dataclass(frozen=True)
class ValidatorSet:
    """An ordered set of equal-power validators.

    Tolerates ``f = (n - 1) // 3`` Byzantine members; a quorum is
    ``2n // 3 + 1`` validators, the smallest count above two thirds of ``n``.
    """

    validators: tuple[Validator, ...]

    def __post_init__(self) -> None:
        if not self.validators:
            raise ValidationError("validators", "a validator set needs at least one validator")
        addresses = [validator.address for validator in self.validators]
        if len(set(addresses)) != len(addresses):
            raise ValidationError("validators", "duplicate validator address")
        if addresses != sorted(addresses):
            raise ValidationError("validators", "validators must be sorted by address")

    @classmethod
    def of(cls, validators: list[Validator] | tuple[Validator, ...]) -> ValidatorSet:
        """A set from validators in any order."""
        return cls(tuple(sorted(validators, key=lambda validator: validator.address)))

    def __len__(self) -> int:
        return len(self.validators)

    @property
    def size(self) -> int:
        return len(self.validators)

    @property
    def max_faulty(self) -> int:
        """f = floor((n - 1) / 3)."""
        return (len(self.validators) - 1) // 3

    @property
    def quorum(self) -> int:
        """The smallest number of votes that is more than 2/3 of n."""
        return 2 * len(self.validators) // 3 + 1

    @functools.cached_property
    def _index(self) -> dict[bytes, Validator]:
        return {validator.address: validator for validator in self.validators}

    def get(self, address: bytes) -> Validator | None:
        return self._index.get(address)

    def __contains__(self, address: object) -> bool:
        return address in self._index

    def proposer(self, height: int, round_: int) -> Validator:
        """The proposer of (height, round): a deterministic rotation over the set."""
        return self.validators[(height + round_) % len(self.validators)]

    def hash(self, suite: Suite) -> bytes:
        """Commitment to the set, stored in block headers."""
        return suite.hash(codec.encode_struct(self))
