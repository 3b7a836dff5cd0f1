"""Standard test vectors (GB/T 32905 SM3, GB/T 32907 SM4) and cross-checks with gmssl."""

from __future__ import annotations

import os

from gmssl import func as gm_func
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3
from gmssl import sm4 as gm_sm4

from node.crypto import sm4
from node.crypto.hashing import keccak256, sm3
from node.crypto.sm2 import N


def test_sm3_of_abc_matches_the_standard() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_of_the_512_bit_example_matches_the_standard() -> None:
    assert sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm4_block_matches_the_standard_example() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert sm4.encrypt_block(key, key).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_backend_matches_the_standard_million_round_example() -> None:
    # GB/T 32907 example 2: encrypt the block with itself as key 1,000,000 times.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    block = key
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_blocks_agree_with_gmssl() -> None:
    key = os.urandom(16)
    cipher = gm_sm4.CryptSM4()
    cipher.set_key(key, gm_sm4.SM4_ENCRYPT)
    block = os.urandom(16)
    for _ in range(50):
        ours = sm4.encrypt_block(key, block)
        assert ours == bytes(cipher.crypt_ecb(block))[:16]
        block = ours


def test_keccak256_of_empty_input_is_ethereums() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_sm3_agrees_with_gmssl_on_random_inputs(monkeypatch) -> None:
    from chain_sdk import gm

    for openssl in (True, False):  # hashlib's SM3, and the fallback for a Python whose OpenSSL lacks it
        if not openssl:
            monkeypatch.setattr(gm, "_SM3", None)
        for length in (0, 1, 55, 56, 64, 1000, 5000):
            data = os.urandom(length)
            expected = gm_sm3.sm3_hash(gm_func.bytes_to_list(data))
            assert sm3(data).hex() == expected and gm.sm3(data).hex() == expected


def _gmssl_signer(secret: bytes, public_key: bytes) -> gm_sm2.CryptSM2:
    signer = gm_sm2.CryptSM2(private_key=secret.hex(), public_key="")
    # gmssl's constructor does `public_key.lstrip("04")`, which also eats leading '0'/'4' digits
    # of X (about 1 key in 8); set the attribute directly.
    signer.public_key = public_key[1:].hex()
    return signer


def test_sm2_signatures_made_here_verify_in_gmssl(gm) -> None:
    for _ in range(5):
        key = gm.generate_key()
        message = os.urandom(40)
        signature = key.sign(message)
        assert _gmssl_signer(key.secret_bytes(), key.public_key).verify_with_sm3(signature.hex(), message)


def test_sm2_signatures_made_by_gmssl_verify_here(gm) -> None:
    for _ in range(5):
        key = gm.generate_key()
        message = os.urandom(40)
        # gmssl's default nonce comes from `random`; give it a CSPRNG one.
        nonce = (int.from_bytes(os.urandom(32), "big") % (N - 1) + 1).to_bytes(32, "big").hex()
        signature = bytes.fromhex(_gmssl_signer(key.secret_bytes(), key.public_key).sign_with_sm3(message, nonce))
        assert gm.verify(key.public_key, message, signature)
