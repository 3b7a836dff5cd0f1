"""SM4 (GB/T 32907) in GCM mode: authenticated encryption for data at rest.

A sealed box is ``nonce (12) || ciphertext || tag (16)``; the caller may bind
associated data (a record id, a key's address) that must match on opening.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from node.errors import DecryptionError

KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise DecryptionError(f"an SM4 key is {KEY_SIZE} bytes, got {len(key) if isinstance(key, bytes) else type(key).__name__}")


def generate_key() -> bytes:
    """A fresh random 128-bit SM4 key."""
    return os.urandom(KEY_SIZE)


def seal(key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key`` with a random nonce."""
    _check_key(key)
    nonce = os.urandom(NONCE_SIZE)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(associated_data)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def open_sealed(key: bytes, box: bytes, associated_data: bytes = b"") -> bytes:
    """Decrypt a box made by :func:`seal`.

    Raises:
        DecryptionError: wrong key, wrong associated data, or tampered bytes.
    """
    _check_key(key)
    if len(box) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionError(f"sealed box of {len(box)} bytes is shorter than nonce and tag")
    nonce, body, tag = box[:NONCE_SIZE], box[NONCE_SIZE:-TAG_SIZE], box[-TAG_SIZE:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(associated_data)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise DecryptionError("SM4-GCM authentication failed: wrong key or tampered data") from None


def encrypt_block(key: bytes, block: bytes) -> bytes:
    """Raw SM4 of one 16-byte block (for the GB/T 32907 test vector only)."""
    _check_key(key)
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()
