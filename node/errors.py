"""The node's exception hierarchy.

Every failure a caller can meet derives from :class:`YilianError`; each
message says what was wrong and, where it helps, what to do next.
"""

from __future__ import annotations


class YilianError(Exception):
    """Base class of every error raised by the node."""


class CodecError(YilianError, ValueError):
    """Bytes that are not the canonical encoding of an accepted value."""


class CryptoError(YilianError):
    """A key, signature or ciphertext that cannot be used."""


class InvalidSignature(CryptoError):
    """A signature that does not verify against the claimed key."""


class DecryptionError(CryptoError):
    """A ciphertext that fails authentication or cannot be decrypted."""


class KeystoreError(CryptoError):
    """A keystore that cannot be read: wrong password, damaged file, bad format."""


class CertificateError(CryptoError):
    """An X.509 certificate or chain that cannot be parsed or does not verify."""


class ValidationError(YilianError, ValueError):
    """A value that breaks a rule; ``field`` names the part at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class ConfigError(YilianError):
    """A configuration, genesis or consortium directory that cannot be used."""
