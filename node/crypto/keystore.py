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


def encrypt_key(key: PrivateKey, password: bytes, *, scrypt_n: int = _SCRYPT_N) -> dict:
    """The keystore document of ``key`` under ``password``."""
    if not password:
        raise KeystoreError("refusing an empty keystore password")
    salt = os.urandom(16)
    document: dict = {
        "yilian_keystore": KEYSTORE_VERSION,
        "suite": key.suite.name,
        "address": "0x" + key.address.hex(),
        "public_key": key.public_key.hex(),
    }
    aad = _associated_data(document)
    if key.suite.name == "gm":
        derived = _derive(password, salt, scrypt_n, _SCRYPT_R, _SCRYPT_P, sm4.KEY_SIZE)
        box = sm4.seal(derived, key.secret_bytes(), aad)
        nonce, ciphertext, cipher = box[: sm4.NONCE_SIZE], box[sm4.NONCE_SIZE :], "sm4-gcm"
    else:
        derived = _derive(password, salt, scrypt_n, _SCRYPT_R, _SCRYPT_P, 32)
        nonce = os.urandom(12)
        ciphertext, cipher = AESGCM(derived).encrypt(nonce, key.secret_bytes(), aad), "aes-256-gcm"
    document["kdf"] = {"name": "scrypt", "n": scrypt_n, "r": _SCRYPT_R, "p": _SCRYPT_P, "salt": salt.hex()}
    document["cipher"] = {"name": cipher, "nonce": nonce.hex()}
    document["ciphertext"] = ciphertext.hex()
    return document


def decrypt_key(document: dict, password: bytes) -> PrivateKey:
    """Open a keystore document.

    Raises:
        KeystoreError: wrong password, tampered file, or unknown format.
    """
    try:
        if document.get("yilian_keystore") != KEYSTORE_VERSION:
            raise KeystoreError("not a YiLian keystore (version field missing or unknown)")
        suite = get_suite(document["suite"])
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
            secret = sm4.open_sealed(derived, nonce + ciphertext, aad)
        elif cipher.get("name") == "aes-256-gcm":
            derived = _derive(password, salt, n, r, p, 32)
            secret = AESGCM(derived).decrypt(nonce, ciphertext, aad)
        else:
            raise KeystoreError(f"unsupported keystore cipher {cipher.get('name')!r}")
    except (DecryptionError, InvalidTag):
        raise KeystoreError("wrong password, or the keystore file was modified") from None
    key = suite.key_from_secret(secret)
    if "0x" + key.address.hex() != document["address"]:
        raise KeystoreError("keystore address does not match its key")
    return key


def save_keystore(path: Path, key: PrivateKey, password: bytes, *, scrypt_n: int = _SCRYPT_N) -> None:
    """Write ``key`` encrypted to ``path``, readable by the owner only (0600)."""
    path = Path(path)
    document = encrypt_key(key, password, scrypt_n=scrypt_n)
    data = json.dumps(document, indent=2).encode() + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def load_keystore(path: Path, password: bytes) -> PrivateKey:
    """Read and decrypt the keystore at ``path``."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from None
    if not isinstance(document, dict):
        raise KeystoreError(f"keystore {path} is not a JSON object")
    return decrypt_key(document, password)


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
