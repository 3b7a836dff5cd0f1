"""libp2p node identities: Ed25519 keys and their peer IDs.

A peer ID is the base58btc identity multihash of the protobuf-encoded public
key (``{Type: Ed25519, Data: 32 bytes}``), the ``12D3KooW…`` strings libp2p
prints. Computing it here keeps ``yilian init`` free of the libp2p import;
a test checks it against libp2p's own ``ID.from_pubkey``.
"""

from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_KEY_TYPE_ED25519 = 1


def base58(data: bytes) -> str:
    """Bitcoin-alphabet base58 of ``data``."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, remainder = divmod(number, 58)
        out.append(_B58_ALPHABET[remainder])
    leading = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading + "".join(reversed(out))


def peer_id_of(public_key: bytes) -> str:
    """The libp2p peer ID of a 32-byte Ed25519 public key."""
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    protobuf = bytes([0x08, _KEY_TYPE_ED25519, 0x12, len(public_key)]) + public_key
    multihash = bytes([0x00, len(protobuf)]) + protobuf  # identity hash: the key itself
    return base58(multihash)


@dataclasses.dataclass(frozen=True)
class P2PIdentity:
    """An Ed25519 libp2p identity. Its repr shows only the peer ID."""

    seed: bytes = dataclasses.field(repr=False)
    public_key: bytes
    peer_id: str

    @classmethod
    def generate(cls) -> P2PIdentity:
        return cls.from_seed(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
        )

    @classmethod
    def from_seed(cls, seed: bytes) -> P2PIdentity:
        key = Ed25519PrivateKey.from_private_bytes(seed)
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(seed=seed, public_key=public, peer_id=peer_id_of(public))
