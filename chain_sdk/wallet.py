"""Wallets: an SM2 or secp256k1 key with the verbs a user needs (sign, sign a transaction), and its encrypted keystore file.

The keystore format is the nodes' (``{"yilian_keystore": 1, "suite": "gm", …}``, scrypt + SM4-GCM, header bound
as associated data), so a center's admin key made by ``yilian init`` opens here and a wallet saved here opens
in ``yilian`` tools.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_utils import keccak

from chain_sdk import gm
from chain_sdk.errors import KeystoreError, SdkError

TX_SIGNING_DOMAIN = b"YILIAN/tx/v1\x00"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def encode_native_tx(chain_id: int, nonce: int, sender: bytes, to: bytes | None, value: int, data: bytes, gas_limit: int,
                     valid_until: int, public_key: bytes = b"", signature: bytes = b"") -> bytes:
    """The canonical wire form of a native transaction (README: *Canonical encoding*)."""
    fields = [chain_id, nonce, sender, to, value.to_bytes(32, "big"), data, gas_limit, valid_until, public_key, signature]
    return msgpack.packb(fields, use_bin_type=True)


class _Secp256k1Key:
    """A secp256k1 key as the ``ecdsa`` suite uses it: keccak addresses, r‖s‖v signatures over keccak256."""

    def __init__(self, handle) -> None:  # type: ignore[no-untyped-def]
        import coincurve

        self._handle: coincurve.PrivateKey = handle
        self.public_key = handle.public_key.format(compressed=False)
        self.address = keccak(self.public_key[1:])[-20:]

    @classmethod
    def generate(cls) -> _Secp256k1Key:
        import coincurve

        return cls(coincurve.PrivateKey())

    @classmethod
    def from_secret(cls, secret: bytes) -> _Secp256k1Key:
        import coincurve

        return cls(coincurve.PrivateKey(secret))

    @property
    def secret(self) -> bytes:
        return self._handle.secret

    def sign(self, message: bytes) -> bytes:
        return self._handle.sign_recoverable(keccak(message), hasher=None)

    def decrypt(self, envelope: bytes) -> bytes:
        raise SdkError("opening envelopes needs an SM2 (gm) wallet; this one is secp256k1")

    def __repr__(self) -> str:  # never the secret
        return f"Secp256k1Key(address=0x{self.address.hex()})"


SUITES = {"gm": gm.Sm2Key, "ecdsa": _Secp256k1Key}


class Wallet:
    """An account's key: SM2 (``gm``, the default) or secp256k1 (``ecdsa``). ``repr`` and logs show the address only.

    An SM2 wallet signs native transactions; a secp256k1 wallet signs Ethereum (EIP-1559) transactions, which
    the nodes accept on either suite's chain (web3 tools work unchanged). Relayed grants, certificates and
    guarantee signatures are SM2 on chain, so enterprises and institutions use ``gm`` wallets.
    """

    def __init__(self, key, suite: str = "gm") -> None:  # type: ignore[no-untyped-def]
        if suite not in SUITES:
            raise SdkError(f"unknown key suite {suite!r}: use 'gm' (SM2) or 'ecdsa' (secp256k1)")
        self.key, self.suite = key, suite

    @classmethod
    def generate(cls, suite: str = "gm") -> Wallet:
        if suite not in SUITES:
            raise SdkError(f"unknown key suite {suite!r}: use 'gm' (SM2) or 'ecdsa' (secp256k1)")
        return cls(SUITES[suite].generate(), suite)

    @classmethod
    def from_secret(cls, secret: bytes | str, suite: str = "gm") -> Wallet:
        if isinstance(secret, str):
            secret = bytes.fromhex(secret.removeprefix("0x"))
        if suite not in SUITES:
            raise SdkError(f"unknown key suite {suite!r}: use 'gm' (SM2) or 'ecdsa' (secp256k1)")
        return cls(SUITES[suite].from_secret(secret), suite)

    @property
    def address(self) -> str:
        return "0x" + self.key.address.hex()

    @property
    def address_bytes(self) -> bytes:
        return self.key.address

    @property
    def public_key(self) -> bytes:
        """65 bytes 0x04‖X‖Y."""
        return self.key.public_key

    def sign(self, message: bytes) -> bytes:
        """SM2 r‖s of ``message`` (what the contracts' precompile checks), or secp256k1 r‖s‖v of keccak256(message)."""
        return self.key.sign(message)

    def decrypt(self, envelope: bytes) -> bytes:
        return self.key.decrypt(envelope)

    def sign_transaction(self, *, chain_id: int, nonce: int, to: bytes | None, data: bytes = b"", value: int = 0,
                         gas: int = 3_000_000, valid_until: int) -> bytes:
        """A signed transaction, ready for ``Client.send_raw``: native for SM2 (expires after block ``valid_until``),
        Ethereum EIP-1559 for secp256k1 (no expiry field; the nonce makes it single-use)."""
        if self.suite == "ecdsa":
            from eth_account import Account

            fields = {"nonce": nonce, "gas": gas, "value": value, "data": data, "chainId": chain_id, "type": 2,
                      "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
            if to:
                fields["to"] = "0x" + to.hex()
            return bytes(Account.sign_transaction(fields, self.key.secret).raw_transaction)
        unsigned = encode_native_tx(chain_id, nonce, self.key.address, to, value, data, gas, valid_until)
        signature = self.key.sign(TX_SIGNING_DOMAIN + unsigned)
        return encode_native_tx(chain_id, nonce, self.key.address, to, value, data, gas, valid_until, self.key.public_key, signature)

    # -- keystore ---------------------------------------------------------------------

    def save(self, path: Path | str, password: bytes) -> None:
        """Write an encrypted keystore (mode 0600): scrypt, then SM4-GCM (gm) or AES-256-GCM (ecdsa)."""
        if not password:
            raise KeystoreError("refusing an empty keystore password")
        document = {"yilian_keystore": 1, "suite": self.suite, "address": self.address, "public_key": self.public_key.hex()}
        salt = os.urandom(16)
        size = gm.SM4_KEY_SIZE if self.suite == "gm" else 32
        derived = Scrypt(salt=salt, length=size, **_SCRYPT).derive(password)
        if self.suite == "gm":
            box = gm.sm4_seal(derived, self.key.secret, _associated_data(document))
        else:
            nonce = os.urandom(gm.GCM_NONCE_SIZE)
            box = nonce + AESGCM(derived).encrypt(nonce, self.key.secret, _associated_data(document))
        document["kdf"] = {"name": "scrypt", **_SCRYPT, "salt": salt.hex()}
        document["cipher"] = {"name": "sm4-gcm" if self.suite == "gm" else "aes-256-gcm", "nonce": box[: gm.GCM_NONCE_SIZE].hex()}
        document["ciphertext"] = box[gm.GCM_NONCE_SIZE :].hex()
        path = Path(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)

    @classmethod
    def load(cls, path: Path | str, password: bytes) -> Wallet:
        """Open a keystore file (the SDK's or a node's); raises KeystoreError (wrong password, damaged, unsupported)."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
            suite = document.get("suite")
            if document.get("yilian_keystore") != 1 or suite not in SUITES:
                raise KeystoreError(f"{path}: not a YiLian account keystore (gm or ecdsa)")
            kdf, cipher = document["kdf"], document["cipher"]
            expected = "sm4-gcm" if suite == "gm" else "aes-256-gcm"
            if kdf.get("name") != "scrypt" or cipher.get("name") != expected:
                raise KeystoreError(f"{path}: unsupported keystore ({kdf.get('name')}, {cipher.get('name')})")
            n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
            if not (2**10 <= n <= 2**20 and 1 <= r <= 16 and 1 <= p <= 4):
                raise KeystoreError(f"{path}: scrypt parameters out of the accepted range")
            size = gm.SM4_KEY_SIZE if suite == "gm" else 32
            derived = Scrypt(salt=bytes.fromhex(kdf["salt"]), length=size, n=n, r=r, p=p).derive(password)
            nonce, ciphertext = bytes.fromhex(cipher["nonce"]), bytes.fromhex(document["ciphertext"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeystoreError(f"{path}: cannot read keystore: {exc}") from None
        try:
            if suite == "gm":
                secret = gm.sm4_open(derived, nonce + ciphertext, _associated_data(document))
            else:
                secret = AESGCM(derived).decrypt(nonce, ciphertext, _associated_data(document))
        except (SdkError, InvalidTag):
            raise KeystoreError(f"{path}: wrong password, or the keystore file was modified") from None
        wallet = cls.from_secret(secret, suite)
        if wallet.address != document["address"].lower():
            raise KeystoreError(f"{path}: the key does not match the address in the file")
        return wallet

    def __repr__(self) -> str:
        return f"Wallet({self.suite}, {self.address})"


def _associated_data(document: dict) -> bytes:
    header = {key: document[key] for key in ("yilian_keystore", "suite", "address", "public_key")}
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
