"""Encrypted keystore files for private keys, and where their passwords come from.

A keystore is a small JSON document (mode 0600)::

    {"yilian_keystore": 1, "suite": "gm", "address": "0x…", "public_key": "04…",
     "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "…"},
     "cipher": {"name": "sm4-gcm" | "aes-256-gcm", "nonce": "…"}, "ciphertext": "…"}

The ciphertext is the 32-byte secret scalar, encrypted under a key derived
from the password with scrypt; the header fields are bound as associated data,
so editing the address or public key makes the file fail to open. Passwords
are read from a file or an environment variable, never from the command line
(argv is visible to every user of the machine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from node.crypto import sm4
from node.crypto.suites import PrivateKey, get_suite
from node.errors import DecryptionError, KeystoreError

PASSWORD_ENV = "YILIAN_KEY_PASSWORD"
KEYSTORE_VERSION = 1
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return Scrypt(salt=salt, length=length, n=n, r=r, p=p).derive(password)


def _associated_data(document: dict) -> bytes:
    header = {key: document[key] for key in ("yilian_keystore", "suite", "address", "public_key")}
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _seal_secret(document: dict, secret: bytes, password: bytes, scrypt_n: int) -> dict:
    """Add kdf, cipher and ciphertext for ``secret`` to a keystore header."""
    if not password:
        raise KeystoreError("refusing an empty keystore password")
    salt = os.urandom(16)
    aad = _associated_data(document)
    if document["suite"] == "gm":
        derived = _derive(password, salt, scrypt_n, _SCRYPT_R, _SCRYPT_P, sm4.KEY_SIZE)
        box = sm4.seal(derived, secret, aad)
        nonce, ciphertext, cipher = box[: sm4.NONCE_SIZE], box[sm4.NONCE_SIZE :], "sm4-gcm"
    else:
        derived = _derive(password, salt, scrypt_n, _SCRYPT_R, _SCRYPT_P, 32)
        nonce = os.urandom(12)
        ciphertext, cipher = AESGCM(derived).encrypt(nonce, secret, aad), "aes-256-gcm"
    document["kdf"] = {"name": "scrypt", "n": scrypt_n, "r": _SCRYPT_R, "p": _SCRYPT_P, "salt": salt.hex()}
    document["cipher"] = {"name": cipher, "nonce": nonce.hex()}
    document["ciphertext"] = ciphertext.hex()
    return document


def _open_secret(document: dict, password: bytes) -> bytes:
    """The secret inside a keystore document; raises KeystoreError."""
    try:
        if document.get("yilian_keystore") != KEYSTORE_VERSION:
            raise KeystoreError("not a YiLian keystore (version field missing or unknown)")
        kdf, cipher = document["kdf"], document["cipher"]
        if kdf.get("name") != "scrypt":
            raise KeystoreError(f"unsupported key derivation {kdf.get('name')!r}")
        salt, nonce = bytes.fromhex(kdf["salt"]), bytes.fromhex(cipher["nonce"])
        ciphertext = bytes.fromhex(document["ciphertext"])
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        aad = _associated_data(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KeystoreError(f"damaged keystore: {exc}") from None
    if not (2**10 <= n <= 2**20 and 1 <= r <= 16 and 1 <= p <= 4):
        raise KeystoreError("keystore scrypt parameters out of the accepted range")
    try:
        if cipher.get("name") == "sm4-gcm":
            derived = _derive(password, salt, n, r, p, sm4.KEY_SIZE)
            return sm4.open_sealed(derived, nonce + ciphertext, aad)
        if cipher.get("name") == "aes-256-gcm":
            derived = _derive(password, salt, n, r, p, 32)
            return AESGCM(derived).decrypt(nonce, ciphertext, aad)
    except (DecryptionError, InvalidTag):
        raise KeystoreError("wrong password, or the keystore file was modified") from None
    raise KeystoreError(f"unsupported keystore cipher {cipher.get('name')!r}")


def encrypt_key(key: PrivateKey, password: bytes, *, scrypt_n: int = _SCRYPT_N) -> dict:
    """The keystore document of ``key`` under ``password``."""
    document: dict = {
        "yilian_keystore": KEYSTORE_VERSION,
        "suite": key.suite.name,
        "address": "0x" + key.address.hex(),
        "public_key": key.public_key.hex(),
    }
    return _seal_secret(document, key.secret_bytes(), password, scrypt_n)


def decrypt_key(document: dict, password: bytes) -> PrivateKey:
    """Open a keystore document of a chain key (gm or ecdsa).

    Raises:
        KeystoreError: wrong password, tampered file, or unknown format.
    """
    suite_name = document.get("suite") if isinstance(document, dict) else None
    if suite_name not in ("gm", "ecdsa"):
        raise KeystoreError(f"keystore holds a {suite_name!r} key, not a chain key (gm or ecdsa)")
    secret = _open_secret(document, password)
    key = get_suite(suite_name).key_from_secret(secret)
    if "0x" + key.address.hex() != document["address"] or key.public_key.hex() != document["public_key"]:
        raise KeystoreError("keystore address does not match its key")
    return key


def encrypt_ed25519(seed: bytes, public_key: bytes, peer_id: str, password: bytes, *, scrypt_n: int = _SCRYPT_N) -> dict:
    """Keystore document of a libp2p Ed25519 identity (``address`` holds the peer ID)."""
    document: dict = {
        "yilian_keystore": KEYSTORE_VERSION,
        "suite": "ed25519",
        "address": peer_id,
        "public_key": public_key.hex(),
    }
    return _seal_secret(document, seed, password, scrypt_n)


def decrypt_ed25519(document: dict, password: bytes) -> bytes:
    """The 32-byte Ed25519 seed of a libp2p identity keystore."""
    if not isinstance(document, dict) or document.get("suite") != "ed25519":
        raise KeystoreError("keystore does not hold an Ed25519 (libp2p identity) key")
    return _open_secret(document, password)


def _write_private(path: Path, document: dict) -> None:
    data = json.dumps(document, indent=2).encode() + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def read_keystore_document(path: Path) -> dict:
    """The JSON document of a keystore file; raises KeystoreError."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from None
    if not isinstance(document, dict):
        raise KeystoreError(f"keystore {path} is not a JSON object")
    return document


def save_keystore(path: Path, key: PrivateKey, password: bytes, *, scrypt_n: int = _SCRYPT_N) -> None:
    """Write ``key`` encrypted to ``path``, readable by the owner only (0600)."""
    _write_private(Path(path), encrypt_key(key, password, scrypt_n=scrypt_n))


def load_keystore(path: Path, password: bytes) -> PrivateKey:
    """Read and decrypt the chain-key keystore at ``path``."""
    return decrypt_key(read_keystore_document(path), password)


def save_ed25519_keystore(path: Path, seed: bytes, public_key: bytes, peer_id: str, password: bytes) -> None:
    """Write a libp2p identity keystore (0600)."""
    _write_private(Path(path), encrypt_ed25519(seed, public_key, peer_id, password))


def load_ed25519_keystore(path: Path, password: bytes) -> bytes:
    """The Ed25519 seed in a libp2p identity keystore."""
    return decrypt_ed25519(read_keystore_document(path), password)


def read_password(password_file: Path | str | None = None, *, env: str = PASSWORD_ENV) -> bytes:
    """The keystore password, from ``password_file`` or else the environment variable ``env``.

    Raises:
        KeystoreError: neither is set, or the file cannot be read or is empty.
    """
    if password_file is not None:
        try:
            password = Path(password_file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise KeystoreError(f"cannot read password file {password_file}: {exc.strerror}") from None
        if not password:
            raise KeystoreError(f"password file {password_file} is empty")
        return password
    value = os.environ.get(env)
    if value:
        return value.encode()
    raise KeystoreError(f"no keystore password: pass --password-file FILE or set {env}")
