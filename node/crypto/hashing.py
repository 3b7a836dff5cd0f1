"""Hash functions of the two suites: SM3 (GB/T 32905) and keccak256 (Ethereum)."""

from __future__ import annotations

import hashlib

from sha3 import keccak_256 as _keccak_256

from chain_sdk import gm

sm3 = gm.sm3
"""SM3 digest (32 bytes) of ``data``: the SDK's definition (OpenSSL's SM3 through hashlib), one for nodes and clients."""
sm3_after = gm.sm3_after
"""``sm3_after(prefix)(rest) == sm3(prefix + rest)``, the prefix hashed once."""


def keccak256(data: bytes) -> bytes:
    """Ethereum's keccak256 digest (32 bytes) of ``data`` (not NIST SHA3-256), by safe-pysha3: one C call, where
    pycryptodome's went through cffi (9.3 µs vs 0.96 µs for a 120-byte transaction on this machine)."""
    return _keccak_256(data).digest()


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data`` (used for X.509 fingerprints and libp2p)."""
    return hashlib.sha256(data).digest()
