"""Reading the system contracts' state directly from storage (fast checks the node makes per transaction).

The slots follow Solidity's storage layout of ``contracts/MemberRegistry.sol``
(state variables in declaration order: ``members`` at slot 0, ``_centers`` 1,
``admittedBy`` 2, ``blacklisted`` 3); a test checks these reads against the
contract's own ``isAdmitted``.
"""

from __future__ import annotations

from typing import Callable

from node.crypto import keccak256

MEMBER_REGISTRY = (0x1000).to_bytes(20, "big")
_MEMBERS_SLOT, _ADMITTED_BY_SLOT = 0, 2


def _mapping_slot(key: bytes, slot: int) -> int:
    return int.from_bytes(keccak256(key.rjust(32, b"\0") + slot.to_bytes(32, "big")), "big")


def registry_admits(read_storage: Callable[[bytes, int], int], account: bytes) -> bool:
    """``MemberRegistry.isAdmitted(account)``: an active member's admin, or an account a center admitted."""
    if read_storage(MEMBER_REGISTRY, _mapping_slot(account, _ADMITTED_BY_SLOT)) != 0:
        return True
    packed = read_storage(MEMBER_REGISTRY, _mapping_slot(account, _MEMBERS_SLOT))  # role (byte 0) | active (byte 1)
    return (packed >> 8) & 0xFF == 1
