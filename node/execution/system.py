"""Reading the system contracts' state directly from storage (fast checks the node makes per transaction).

The slots follow Solidity's storage layout of ``contracts/MemberRegistry.sol``
(state variables in declaration order: ``members`` at slot 0, ``_centers`` 1,
``admittedBy`` 2, ``blacklisted`` 3, ``_proposals`` 4, ``voted`` 5,
``validatorUpdates`` 6); tests check these reads against the contract's own
``isAdmitted`` and ``validatorUpdates(i)``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from node.crypto import keccak256
from node.crypto.suites import Suite
from node.errors import CryptoError
from node.types.validators import Validator, ValidatorSet

MEMBER_REGISTRY = (0x1000).to_bytes(20, "big")
_MEMBERS_SLOT, _ADMITTED_BY_SLOT, _VALIDATOR_UPDATES_SLOT = 0, 2, 6
_UPDATE_WORDS = 3  # keyX, keyY, effectiveHeight (uint64, low bytes) | added (bool, byte 8)


def _mapping_slot(key: bytes, slot: int) -> int:
    return int.from_bytes(keccak256(key.rjust(32, b"\0") + slot.to_bytes(32, "big")), "big")


def registry_admits(read_storage: Callable[[bytes, int], int], account: bytes) -> bool:
    """``MemberRegistry.isAdmitted(account)``: an active member's admin, or an account a center admitted."""
    if read_storage(MEMBER_REGISTRY, _mapping_slot(account, _ADMITTED_BY_SLOT)) != 0:
        return True
    packed = read_storage(MEMBER_REGISTRY, _mapping_slot(account, _MEMBERS_SLOT))  # role (byte 0) | active (byte 1)
    return (packed >> 8) & 0xFF == 1


@dataclasses.dataclass(frozen=True, slots=True)
class ValidatorUpdate:
    """One entry of ``MemberRegistry.validatorUpdates``: a validator joins or leaves from ``effective_height``."""

    public_key: bytes  # 65 bytes, 0x04 || X || Y
    effective_height: int
    added: bool


def validator_updates(read_storage: Callable[[bytes, int], int], start: int = 0) -> list[ValidatorUpdate]:
    """The registry's validator updates from index ``start`` on, in the order governance decided them."""
    count = read_storage(MEMBER_REGISTRY, _VALIDATOR_UPDATES_SLOT)
    base = int.from_bytes(keccak256(_VALIDATOR_UPDATES_SLOT.to_bytes(32, "big")), "big")
    updates = []
    for index in range(start, count):
        slot = base + index * _UPDATE_WORDS
        x, y, packed = (read_storage(MEMBER_REGISTRY, slot + k) for k in range(_UPDATE_WORDS))
        updates.append(ValidatorUpdate(b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big"),
                                       packed & 0xFFFF_FFFF_FFFF_FFFF, bool((packed >> 64) & 0xFF)))
    return updates


def validator_set_at(initial: ValidatorSet, updates: list[ValidatorUpdate], height: int, suite: Suite) -> ValidatorSet:
    """The validator set in force at ``height``: ``initial`` (genesis) with every update effective by then applied.

    Updates apply in order of effective height, then of decision. Adding a present validator, removing an
    absent one, removing the last one or an update with a malformed key changes nothing (the contract refuses
    all of these already; the node does not trust it to).
    """
    members = {validator.address: validator for validator in initial.validators}
    for update in sorted(updates, key=lambda u: u.effective_height):
        if update.effective_height > height:
            break
        try:
            address = suite.address(update.public_key)
        except CryptoError:
            continue
        if update.added:
            members.setdefault(address, Validator(address, update.public_key))
        elif address in members and len(members) > 1:
            del members[address]
    return ValidatorSet.of(list(members.values()))
