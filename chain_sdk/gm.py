"""National cryptography for the SDK: SM3, SM2 (sign, verify, encrypt) and SM4-GCM.

Same algorithms and encodings as the nodes (documented in the README): SM2
signatures are r‖s (64 bytes) over SM3(Z‖message) with the default user ID
1234567812345678; public keys are 65 bytes 0x04‖X‖Y; an account address is
the last 20 bytes of SM3(X‖Y).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from chain_sdk.errors import SdkError

SM4_KEY_SIZE, GCM_NONCE_SIZE, GCM_TAG_SIZE = 16, 12, 16


try:
    _SM3 = hashlib.new("sm3")  # OpenSSL's, through hashlib: about twice as fast as a cryptography Hash per call
except ValueError:  # a Python built against an OpenSSL without SM3
    _SM3 = None


def sm3(data: bytes) -> bytes:
    if _SM3 is not None:
        digest = _SM3.copy()
        digest.update(data)
        return digest.digest()
    fallback = hashes.Hash(hashes.SM3())
    fallback.update(data)
    return fallback.finalize()


def sm3_after(prefix: bytes) -> Callable[[bytes], bytes]:
    """``f(rest) == sm3(prefix + rest)``, with the prefix hashed once (for many digests that share it)."""
    if _SM3 is None:
        return lambda rest: sm3(prefix + rest)
    state = _SM3.copy()
    state.update(prefix)

    def digest(rest: bytes) -> bytes:
        copy = state.copy()
        copy.update(rest)
        return copy.digest()

    return digest


def address_of(public_key: bytes) -> bytes:
    """20-byte address of a 65-byte SM2 public key."""
    if len(public_key) != 65 or public_key[0] != 4:
        raise SdkError("an SM2 public key is 65 bytes: 0x04 || X || Y")
    return sm3(public_key[1:])[-20:]


@functools.lru_cache(maxsize=1)
def _tongsuo():  # type: ignore[no-untyped-def]
    from tongsuopy.backends.tongsuo.backend import backend
    from tongsuopy.crypto import hashes as t_hashes
    from tongsuopy.crypto import serialization
    from tongsuopy.crypto.asymciphers import ec

    return backend, ec, serialization, ec.ECDSA(t_hashes.SM3()), ec.SM2()


def _der_to_raw(der: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class Sm2Key:
    """An SM2 private key held in memory."""

    def __init__(self, handle) -> None:  # type: ignore[no-untyped-def]
        _, _, serialization, _, _ = _tongsuo()
        self._handle = handle
        self.public_key = handle.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.address = address_of(self.public_key)

    @classmethod
    def generate(cls) -> Sm2Key:
        _, ec, _, _, curve = _tongsuo()
        return cls(ec.generate_private_key(curve))

    @classmethod
    def from_secret(cls, secret: bytes) -> Sm2Key:
        _, ec, _, _, curve = _tongsuo()
        if len(secret) != 32:
            raise SdkError("an SM2 private key is 32 bytes")
        return cls(ec.derive_private_key(int.from_bytes(secret, "big"), curve))

    @property
    def secret(self) -> bytes:
        return self._handle.private_numbers().private_value.to_bytes(32, "big")

    def sign(self, message: bytes) -> bytes:
        _, _, _, algorithm, _ = _tongsuo()
        return _der_to_raw(self._handle.sign(message, algorithm))

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Open an SM2 envelope (GB/T 32918.4, C1C3C2, ASN.1) made for this key."""
        return _pkey_operation(self._handle._evp_pkey, "decrypt", ciphertext, "wrong key or tampered ciphertext")

    def __repr__(self) -> str:  # never the secret
        return f"Sm2Key(address=0x{self.address.hex()})"


def _pkey_operation(evp_pkey, name: str, data: bytes, failure: str) -> bytes:  # type: ignore[no-untyped-def]
    """EVP_PKEY_encrypt or _decrypt (SM2 envelopes, GB/T 32918.4 C1C3C2 ASN.1) through Tongsuo."""
    backend = _tongsuo()[0]
    lib, ffi = backend._lib, backend._ffi
    ctx = ffi.gc(lib.EVP_PKEY_CTX_new(evp_pkey, ffi.NULL), lib.EVP_PKEY_CTX_free)
    operation = getattr(lib, f"EVP_PKEY_{name}")
    if getattr(lib, f"EVP_PKEY_{name}_init")(ctx) != 1:
        backend._consume_errors()
        raise SdkError(f"SM2 {name}ion could not start")
    size = ffi.new("size_t *")
    if operation(ctx, ffi.NULL, size, data, len(data)) == 1:
        buffer = ffi.new("unsigned char[]", size[0])
        if operation(ctx, buffer, size, data, len(data)) == 1:
            return bytes(ffi.buffer(buffer)[: size[0]])
    backend._consume_errors()
    raise SdkError(f"SM2 {name}ion failed: {failure}")


def _public(public_key: bytes):  # type: ignore[no-untyped-def]
    _, ec, _, _, curve = _tongsuo()
    if len(public_key) != 65 or public_key[0] != 4:
        raise SdkError("an SM2 public key is 65 bytes: 0x04 || X || Y")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, public_key)
    except ValueError:
        raise SdkError("SM2 public key is not a point on the curve") from None


def sm2_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    backend, _, _, algorithm, _ = _tongsuo()
    if len(signature) != 64:
        return False
    try:
        key = _public(public_key)
        key.verify(encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")), message, algorithm)
    except Exception:  # noqa: BLE001 - any failure is "does not verify"
        backend._consume_errors()
        return False
    return True


def sm2_encrypt(public_key: bytes, plaintext: bytes) -> bytes:
    """An SM2 envelope for the holder of ``public_key``."""
    return _pkey_operation(_public(public_key)._evp_pkey, "encrypt", plaintext, "bad public key")


def sm4_seal(key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """nonce (12) ‖ ciphertext ‖ tag (16) under SM4-GCM."""
    nonce = os.urandom(GCM_NONCE_SIZE)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(associated_data)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def sm4_open(key: bytes, box: bytes, associated_data: bytes = b"") -> bytes:
    if len(box) < GCM_NONCE_SIZE + GCM_TAG_SIZE:
        raise SdkError("sealed box is shorter than its nonce and tag")
    nonce, body, tag = box[:GCM_NONCE_SIZE], box[GCM_NONCE_SIZE:-GCM_TAG_SIZE], box[-GCM_TAG_SIZE:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(associated_data)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise SdkError("SM4-GCM authentication failed: wrong key or tampered data") from None
