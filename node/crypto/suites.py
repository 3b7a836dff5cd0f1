"""The two crypto suites a chain can choose in its genesis: ``gm`` and ``ecdsa``.

One interface for both, so that everything above (transactions, votes,
Merkle trees, keystores) is written once:

=========  =====================================  ==========================================
           ``gm`` (default)                        ``ecdsa``
=========  =====================================  ==========================================
hash       SM3                                     keccak256
signature  SM2 over SM3, default ID, raw r||s (64)  secp256k1 over keccak256, r||s||v (65)
address    last 20 bytes of SM3(X||Y)               last 20 bytes of keccak256(X||Y)
encrypt    SM2 public-key encryption               ECIES: secp256k1 ECDH, HKDF-SHA256, AES-GCM
at rest    SM4-GCM, 16-byte keys                    AES-256-GCM, 32-byte keys
=========  =====================================  ==========================================

Public keys are always 65 bytes, uncompressed ``0x04 || X || Y``.
"""

from __future__ import annotations

import abc
import functools
import os
from collections.abc import Callable
from typing import Any

import coincurve
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from node.crypto import sm4
from node.crypto.hashing import keccak256, sm3, sm3_after
from node.crypto.sm2 import Sm2Backend, default_backend
from node.errors import CryptoError, DecryptionError

ADDRESS_SIZE = 20
PUBLIC_KEY_SIZE = 65

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class PrivateKey:
    """A private key of one suite. Its repr shows only the address, never the secret."""

    __slots__ = ("suite", "_handle", "public_key", "address")

    def __init__(self, suite: Suite, handle: Any, public_key: bytes) -> None:
        self.suite = suite
        self._handle = handle
        self.public_key = public_key
        self.address = suite.address(public_key)

    def __repr__(self) -> str:
        return f"PrivateKey(suite={self.suite.name!r}, address=0x{self.address.hex()})"

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (the suite hashes it)."""
        return self.suite._sign(self._handle, message)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt what :meth:`Suite.encrypt` made for this key's public key."""
        return self.suite._decrypt(self._handle, ciphertext)

    def secret_bytes(self) -> bytes:
        """The 32-byte secret scalar. Handle with care: never log it."""
        return self.suite._secret(self._handle).to_bytes(32, "big")

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM, as OpenSSL writes it (for interoperability)."""
        return self.suite._private_pem(self._handle)


class Suite(abc.ABC):
    """Hashing, signing, addressing and encryption of one chain."""

    name: str
    hash_name: str
    signature_size: int
    seal_key_size: int

    def __repr__(self) -> str:
        return f"Suite({self.name!r})"

    @abc.abstractmethod
    def hash(self, data: bytes) -> bytes:
        """32-byte digest of ``data``."""

    def hash_after(self, prefix: bytes) -> Callable[[bytes], bytes]:
        """``f(rest) == hash(prefix + rest)``, faster where the prefix can be hashed once (many digests sharing it)."""
        return lambda rest: self.hash(prefix + rest)

    def address(self, public_key: bytes) -> bytes:
        """20-byte account address of a 65-byte public key."""
        if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE or public_key[0] != 4:
            raise CryptoError("a public key is 65 bytes: 0x04 || X || Y")
        return self.hash(public_key[1:])[-ADDRESS_SIZE:]

    @abc.abstractmethod
    def generate_key(self) -> PrivateKey:
        """A new random private key."""

    @abc.abstractmethod
    def key_from_secret(self, secret: bytes) -> PrivateKey:
        """The private key with the given 32-byte secret scalar."""

    @abc.abstractmethod
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` over ``message`` is valid for ``public_key``; never raises."""

    @abc.abstractmethod
    def encrypt(self, public_key: bytes, plaintext: bytes) -> bytes:
        """Public-key encryption of a short ``plaintext`` (a content key, a salt)."""

    @abc.abstractmethod
    def load_private_pem(self, pem: bytes, password: bytes | None = None) -> PrivateKey:
        """A private key from PKCS#8 PEM."""

    @abc.abstractmethod
    def public_pem(self, public_key: bytes) -> bytes:
        """SubjectPublicKeyInfo PEM of a public key."""

    @abc.abstractmethod
    def load_public_pem(self, pem: bytes) -> bytes:
        """The 65-byte public key in a SubjectPublicKeyInfo PEM."""

    @abc.abstractmethod
    def seal(self, key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        """Authenticated symmetric encryption for data at rest."""

    @abc.abstractmethod
    def open_sealed(self, key: bytes, box: bytes, associated_data: bytes = b"") -> bytes:
        """Inverse of :meth:`seal`; raises DecryptionError."""

    # Private operations on key handles, called through PrivateKey.
    @abc.abstractmethod
    def _sign(self, handle: Any, message: bytes) -> bytes: ...

    @abc.abstractmethod
    def _decrypt(self, handle: Any, ciphertext: bytes) -> bytes: ...

    @abc.abstractmethod
    def _secret(self, handle: Any) -> int: ...

    @abc.abstractmethod
    def _private_pem(self, handle: Any) -> bytes: ...


class GmSuite(Suite):
    """SM2 / SM3 / SM4: the national-crypto suite, the default."""

    name = "gm"
    hash_name = "sm3"
    signature_size = 64
    seal_key_size = sm4.KEY_SIZE

    def __init__(self, backend: Sm2Backend | None = None) -> None:
        self.backend = backend or default_backend()

    def hash(self, data: bytes) -> bytes:
        return sm3(data)

    def hash_after(self, prefix: bytes) -> Callable[[bytes], bytes]:
        return sm3_after(prefix)

    def _wrap(self, handle: Any) -> PrivateKey:
        return PrivateKey(self, handle, self.backend.public_point(handle))

    def generate_key(self) -> PrivateKey:
        return self._wrap(self.backend.generate())

    def key_from_secret(self, secret: bytes) -> PrivateKey:
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise CryptoError("a private key secret is 32 bytes")
        return self._wrap(self.backend.private_from_scalar(int.from_bytes(secret, "big")))

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return self.backend.verify(public_key, message, signature)

    def encrypt(self, public_key: bytes, plaintext: bytes) -> bytes:
        return self.backend.encrypt(public_key, plaintext)

    def load_private_pem(self, pem: bytes, password: bytes | None = None) -> PrivateKey:
        return self._wrap(self.backend.load_private_pem(pem, password))

    def public_pem(self, public_key: bytes) -> bytes:
        return self.backend.public_pem(public_key)

    def load_public_pem(self, pem: bytes) -> bytes:
        return self.backend.load_public_pem(pem)

    def seal(self, key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        return sm4.seal(key, plaintext, associated_data)

    def open_sealed(self, key: bytes, box: bytes, associated_data: bytes = b"") -> bytes:
        return sm4.open_sealed(key, box, associated_data)

    def _sign(self, handle: Any, message: bytes) -> bytes:
        return self.backend.sign(handle, message)

    def _decrypt(self, handle: Any, ciphertext: bytes) -> bytes:
        return self.backend.decrypt(handle, ciphertext)

    def _secret(self, handle: Any) -> int:
        return self.backend.private_scalar(handle)

    def _private_pem(self, handle: Any) -> bytes:
        return self.backend.private_pem(handle)


class EcdsaSuite(Suite):
    """secp256k1 / keccak256: Ethereum-compatible keys and signatures."""

    name = "ecdsa"
    hash_name = "keccak256"
    signature_size = 65
    seal_key_size = 32
    _ECIES_INFO = b"yilian-ecies-v1"

    def hash(self, data: bytes) -> bytes:
        return keccak256(data)

    def _wrap(self, handle: coincurve.PrivateKey) -> PrivateKey:
        return PrivateKey(self, handle, handle.public_key.format(compressed=False))

    def generate_key(self) -> PrivateKey:
        return self._wrap(coincurve.PrivateKey())

    def key_from_secret(self, secret: bytes) -> PrivateKey:
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise CryptoError("a private key secret is 32 bytes")
        try:
            return self._wrap(coincurve.PrivateKey(secret))
        except ValueError:
            raise CryptoError("secret is not a valid secp256k1 scalar") from None

    @functools.lru_cache(maxsize=8192)  # noqa: B019 - suites live as long as the process
    def _recover(self, signature: bytes, digest: bytes) -> bytes | None:
        try:
            key = coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)
        except (ValueError, TypeError):
            return None
        return key.format(compressed=False)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if not isinstance(signature, bytes) or len(signature) != 65 or signature[64] > 1:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        # Low-s only, as Ethereum (EIP-2) requires: no malleable second form.
        if not (1 <= r < _SECP256K1_N and 1 <= s <= _SECP256K1_N // 2):
            return False
        return self._recover(signature, keccak256(message)) == public_key

    def recover(self, message: bytes, signature: bytes) -> bytes | None:
        """The public key that produced ``signature`` over ``message``, or None."""
        if not isinstance(signature, bytes) or len(signature) != 65 or signature[64] > 1:
            return None
        return self._recover(signature, keccak256(message))

    def _ecies_key(self, shared: bytes, ephemeral: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral, info=self._ECIES_INFO).derive(shared)

    def encrypt(self, public_key: bytes, plaintext: bytes) -> bytes:
        ephemeral = coincurve.PrivateKey()
        ephemeral_public = ephemeral.public_key.format(compressed=False)
        try:
            shared = ephemeral.ecdh(public_key)
        except ValueError:
            raise CryptoError("recipient public key is not a secp256k1 point") from None
        nonce = os.urandom(12)
        body = AESGCM(self._ecies_key(shared, ephemeral_public)).encrypt(nonce, plaintext, ephemeral_public)
        return ephemeral_public + nonce + body

    def _decrypt(self, handle: coincurve.PrivateKey, ciphertext: bytes) -> bytes:
        if len(ciphertext) < 65 + 12 + 16:
            raise DecryptionError("ECIES ciphertext too short")
        ephemeral_public, nonce, body = ciphertext[:65], ciphertext[65:77], ciphertext[77:]
        try:
            shared = handle.ecdh(ephemeral_public)
            return AESGCM(self._ecies_key(shared, ephemeral_public)).decrypt(nonce, body, ephemeral_public)
        except (ValueError, InvalidTag):
            raise DecryptionError("ECIES decryption failed: wrong key or tampered ciphertext") from None

    def _sign(self, handle: coincurve.PrivateKey, message: bytes) -> bytes:
        return handle.sign_recoverable(keccak256(message), hasher=None)

    def _secret(self, handle: coincurve.PrivateKey) -> int:
        return handle.to_int()

    def _private_pem(self, handle: coincurve.PrivateKey) -> bytes:
        key = ec.derive_private_key(handle.to_int(), ec.SECP256K1())
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def load_private_pem(self, pem: bytes, password: bytes | None = None) -> PrivateKey:
        try:
            key = serialization.load_pem_private_key(pem, password)
        except (ValueError, TypeError) as exc:
            raise CryptoError(f"cannot read secp256k1 private key PEM: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256K1):
            raise CryptoError("the PEM holds a key that is not on secp256k1")
        return self.key_from_secret(key.private_numbers().private_value.to_bytes(32, "big"))

    def public_pem(self, public_key: bytes) -> bytes:
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), public_key)
        except ValueError:
            raise CryptoError("not a secp256k1 public key") from None
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def load_public_pem(self, pem: bytes) -> bytes:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise CryptoError(f"cannot read secp256k1 public key PEM: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256K1):
            raise CryptoError("the PEM holds a public key that is not on secp256k1")
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    def seal(self, key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        if len(key) != self.seal_key_size:
            raise DecryptionError("an AES-256-GCM key is 32 bytes")
        nonce = os.urandom(12)
        return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)

    def open_sealed(self, key: bytes, box: bytes, associated_data: bytes = b"") -> bytes:
        if len(key) != self.seal_key_size:
            raise DecryptionError("an AES-256-GCM key is 32 bytes")
        if len(box) < 28:
            raise DecryptionError("sealed box too short")
        try:
            return AESGCM(key).decrypt(box[:12], box[12:], associated_data)
        except InvalidTag:
            raise DecryptionError("AES-GCM authentication failed: wrong key or tampered data") from None


SUITE_NAMES = ("gm", "ecdsa")


@functools.lru_cache(maxsize=None)
def get_suite(name: str = "gm") -> Suite:
    """The suite called ``name`` (``gm`` or ``ecdsa``)."""
    if name == "gm":
        return GmSuite()
    if name == "ecdsa":
        return EcdsaSuite()
    raise CryptoError(f"unknown crypto suite {name!r}: choose one of {', '.join(SUITE_NAMES)}")
