"""Crypto suites (``gm``: SM2/SM3/SM4, ``ecdsa``: secp256k1/keccak256), keystores and X.509."""

from node.crypto.hashing import keccak256, sha256, sm3
from node.crypto.suites import ADDRESS_SIZE, PUBLIC_KEY_SIZE, SUITE_NAMES, PrivateKey, Suite, get_suite

__all__ = [
    "ADDRESS_SIZE",
    "PUBLIC_KEY_SIZE",
    "SUITE_NAMES",
    "PrivateKey",
    "Suite",
    "get_suite",
    "keccak256",
    "sha256",
    "sm3",
]
