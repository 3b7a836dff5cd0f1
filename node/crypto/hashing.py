"""Hash functions of the two suites: SM3 (GB/T 32905) and keccak256 (Ethereum)."""

from __future__ import annotations

import hashlib

from Crypto.Hash import keccak as _keccak

from chain_sdk import gm

sm3 = gm.sm3
"""SM3 digest (32 bytes) of ``data``: the SDK's definition (OpenSSL's SM3 through hashlib), one for nodes and clients."""


def keccak256(data: bytes) -> bytes:
    """Ethereum's keccak256 digest (32 bytes) of ``data`` (not NIST SHA3-256)."""
    return _keccak.new(digest_bits=256, data=data).digest()


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data`` (used for X.509 fingerprints and libp2p)."""
    return hashlib.sha256(data).digest()
