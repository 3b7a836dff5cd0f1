"""SM2 (GB/T 32918) behind one small interface, with a C backend (tongsuopy).

Signatures are SM2 over SM3 with the standard's default user ID
``1234567812345678`` (Tongsuo, like OpenSSL 3, applies it when no ID is set),
exchanged as raw ``r || s`` (64 bytes). DER is produced and parsed here, never
by callers: r and s are range-checked first, and anything the C library
refuses counts as an invalid signature instead of an exception.

Public-key encryption (GB/T 32918.4) wraps content keys; the ciphertext is the
GM/T 0009 ASN.1 form ``C1 C3 C2`` that OpenSSL's ``pkeyutl -decrypt`` reads.

Another backend (gmssl-pyx, say) only has to implement :class:`Sm2Backend`.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from node.errors import CryptoError, DecryptionError

# Curve parameters of GB/T 32918.5 (the recommended 256-bit curve).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

DEFAULT_USER_ID = b"1234567812345678"
OID_SM2 = "1.2.156.10197.1.301"
OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"

PUBLIC_KEY_SIZE = 65
SIGNATURE_SIZE = 64


def split_signature(signature: bytes) -> tuple[int, int] | None:
    """Return (r, s) of a raw 64-byte signature, or None when malformed or out of range."""
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return None
    return r, s


def signature_to_der(signature: bytes) -> bytes:
    """DER ``SEQUENCE { r, s }`` of a raw signature (for X.509 and OpenSSL)."""
    parts = split_signature(signature)
    if parts is None:
        raise CryptoError("SM2 signature must be 64 bytes r||s with 1 <= r, s < n")
    return encode_dss_signature(*parts)


def signature_from_der(der: bytes) -> bytes:
    """Raw ``r || s`` from a DER signature; raises CryptoError on malformed input."""
    try:
        r, s = decode_dss_signature(der)
    except (ValueError, TypeError):
        raise CryptoError("malformed DER SM2 signature") from None
    if not (1 <= r < N and 1 <= s < N):
        raise CryptoError("SM2 signature component out of range")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class Sm2Backend(Protocol):
    """What the gm suite needs from an SM2 implementation."""

    name: str

    def generate(self) -> Any:
        """A new private key handle."""

    def private_from_scalar(self, scalar: int) -> Any:
        """The private key handle for scalar ``1 <= d < n - 1``."""

    def private_scalar(self, handle: Any) -> int:
        """The scalar of a private key handle."""

    def public_point(self, handle: Any) -> bytes:
        """The 65-byte uncompressed public point of a private key handle."""

    def sign(self, handle: Any, message: bytes) -> bytes:
        """Raw r||s signature of ``message`` (SM3 with the default ID inside)."""

    def verify(self, public_point: bytes, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is valid; never raises for bad input."""

    def encrypt(self, public_point: bytes, plaintext: bytes) -> bytes:
        """GB/T 32918.4 encryption to ``public_point``."""

    def decrypt(self, handle: Any, ciphertext: bytes) -> bytes:
        """Inverse of :meth:`encrypt`; raises DecryptionError."""

    def private_pem(self, handle: Any) -> bytes:
        """Unencrypted PKCS#8 PEM."""

    def load_private_pem(self, pem: bytes, password: bytes | None = None) -> Any:
        """Private key handle from PKCS#8 PEM."""

    def public_pem(self, public_point: bytes) -> bytes:
        """SubjectPublicKeyInfo PEM with the SM2 curve OID."""

    def load_public_pem(self, pem: bytes) -> bytes:
        """65-byte public point from SubjectPublicKeyInfo PEM."""


class TongsuoBackend:
    """SM2 through Tongsuo (tongsuopy): C speed, and verification releases the GIL."""

    name = "tongsuopy"

    def __init__(self) -> None:
        from tongsuopy.backends.tongsuo.backend import backend
        from tongsuopy.crypto import hashes, serialization
        from tongsuopy.crypto.asymciphers import ec
        from tongsuopy.crypto.exceptions import InvalidSignature, InternalError

        self._backend = backend
        self._lib = backend._lib
        self._ffi = backend._ffi
        self._ec = ec
        self._serialization = serialization
        self._algorithm = ec.ECDSA(hashes.SM3())
        self._curve = ec.SM2()
        self._invalid = (InvalidSignature, InternalError, ValueError)
        self._public_key = functools.lru_cache(maxsize=8192)(self._load_public_point)

    def _load_public_point(self, public_point: bytes) -> Any:
        if len(public_point) != PUBLIC_KEY_SIZE or public_point[0] != 4:
            raise CryptoError("an SM2 public key is 65 bytes: 0x04 || X || Y")
        try:
            return self._ec.EllipticCurvePublicKey.from_encoded_point(self._curve, public_point)
        except self._invalid:
            self._backend._consume_errors()
            raise CryptoError("SM2 public key is not a point on the curve") from None

    def generate(self) -> Any:
        return self._ec.generate_private_key(self._curve)

    def private_from_scalar(self, scalar: int) -> Any:
        if not 1 <= scalar < N - 1:
            raise CryptoError("SM2 private scalar must be in [1, n-2]")
        return self._ec.derive_private_key(scalar, self._curve)

    def private_scalar(self, handle: Any) -> int:
        return handle.private_numbers().private_value

    def public_point(self, handle: Any) -> bytes:
        return handle.public_key().public_bytes(
            self._serialization.Encoding.X962, self._serialization.PublicFormat.UncompressedPoint
        )

    def sign(self, handle: Any, message: bytes) -> bytes:
        return signature_from_der(handle.sign(message, self._algorithm))

    def verify(self, public_point: bytes, message: bytes, signature: bytes) -> bool:
        parts = split_signature(signature)
        if parts is None:
            return False
        try:
            key = self._public_key(public_point)
        except CryptoError:
            return False
        try:
            key.verify(encode_dss_signature(*parts), message, self._algorithm)
        except self._invalid:
            self._backend._consume_errors()
            return False
        return True

    def _pkey_ctx(self, evp_pkey: Any) -> Any:
        ctx = self._lib.EVP_PKEY_CTX_new(evp_pkey, self._ffi.NULL)
        if ctx == self._ffi.NULL:
            raise CryptoError("Tongsuo could not create an SM2 context")
        return self._ffi.gc(ctx, self._lib.EVP_PKEY_CTX_free)

    def _run(self, operation: Any, ctx: Any, data: bytes) -> bytes | None:
        ffi = self._ffi
        size = ffi.new("size_t *")
        if operation(ctx, ffi.NULL, size, data, len(data)) != 1:
            return None
        buffer = ffi.new("unsigned char[]", size[0])
        if operation(ctx, buffer, size, data, len(data)) != 1:
            return None
        return ffi.buffer(buffer)[: size[0]]

    def encrypt(self, public_point: bytes, plaintext: bytes) -> bytes:
        key = self._public_key(public_point)
        ctx = self._pkey_ctx(key._evp_pkey)
        if self._lib.EVP_PKEY_encrypt_init(ctx) != 1:
            self._backend._consume_errors()
            raise CryptoError("Tongsuo refused to initialise SM2 encryption")
        out = self._run(self._lib.EVP_PKEY_encrypt, ctx, plaintext)
        if out is None:
            self._backend._consume_errors()
            raise CryptoError("SM2 encryption failed")
        return out

    def decrypt(self, handle: Any, ciphertext: bytes) -> bytes:
        ctx = self._pkey_ctx(handle._evp_pkey)
        if self._lib.EVP_PKEY_decrypt_init(ctx) != 1:
            self._backend._consume_errors()
            raise CryptoError("Tongsuo refused to initialise SM2 decryption")
        out = self._run(self._lib.EVP_PKEY_decrypt, ctx, ciphertext)
        if out is None:
            self._backend._consume_errors()
            raise DecryptionError("SM2 decryption failed: wrong key or tampered ciphertext")
        return out

    def private_pem(self, handle: Any) -> bytes:
        s = self._serialization
        return handle.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())

    def load_private_pem(self, pem: bytes, password: bytes | None = None) -> Any:
        try:
            key = self._serialization.load_pem_private_key(pem, password)
        except (ValueError, TypeError, *self._invalid) as exc:
            self._backend._consume_errors()
            raise CryptoError(f"cannot read SM2 private key PEM: {exc}") from None
        if not isinstance(getattr(key, "curve", None), self._ec.SM2):
            raise CryptoError("the PEM holds a key that is not on the SM2 curve")
        return key

    def public_pem(self, public_point: bytes) -> bytes:
        s = self._serialization
        return self._public_key(public_point).public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)

    def load_public_pem(self, pem: bytes) -> bytes:
        try:
            key = self._serialization.load_pem_public_key(pem)
        except (ValueError, TypeError, *self._invalid) as exc:
            self._backend._consume_errors()
            raise CryptoError(f"cannot read SM2 public key PEM: {exc}") from None
        if not isinstance(getattr(key, "curve", None), self._ec.SM2):
            raise CryptoError("the PEM holds a public key that is not on the SM2 curve")
        s = self._serialization
        return key.public_bytes(s.Encoding.X962, s.PublicFormat.UncompressedPoint)


@functools.lru_cache(maxsize=None)
def default_backend() -> Sm2Backend:
    """The process-wide SM2 backend (Tongsuo)."""
    return TongsuoBackend()
