"""Encrypted keystores and where passwords come from."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from node.crypto.keystore import (
    PASSWORD_ENV,
    load_ed25519_keystore,
    load_keystore,
    read_password,
    save_ed25519_keystore,
    save_keystore,
)
from node.crypto.peer_id import P2PIdentity
from node.errors import KeystoreError


def test_keystore_round_trips_and_is_owner_only(suite, tmp_path: Path) -> None:
    key = suite.generate_key()
    path = tmp_path / "key.json"
    save_keystore(path, key, b"correct horse", scrypt_n=2**12)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.secret_bytes().hex() not in path.read_text()
    assert load_keystore(path, b"correct horse").public_key == key.public_key


def test_wrong_password_is_refused(suite, tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    save_keystore(path, suite.generate_key(), b"right", scrypt_n=2**12)
    with pytest.raises(KeystoreError, match="wrong password"):
        load_keystore(path, b"wrong")


def test_edited_header_makes_the_keystore_fail(suite, tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    save_keystore(path, suite.generate_key(), b"pw", scrypt_n=2**12)
    document = json.loads(path.read_text())
    document["address"] = "0x" + "11" * 20
    path.write_text(json.dumps(document))
    with pytest.raises(KeystoreError):
        load_keystore(path, b"pw")


def test_damaged_keystore_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text("{not json")
    with pytest.raises(KeystoreError, match="cannot read keystore"):
        load_keystore(path, b"pw")
    with pytest.raises(KeystoreError, match="does not exist"):
        load_keystore(tmp_path / "missing.json", b"pw")


def test_empty_password_is_refused(suite, tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="empty"):
        save_keystore(tmp_path / "k.json", suite.generate_key(), b"")


def test_p2p_identity_keystore_round_trips(tmp_path: Path) -> None:
    identity = P2PIdentity.generate()
    path = tmp_path / "p2p.json"
    save_ed25519_keystore(path, identity.seed, identity.public_key, identity.peer_id, b"pw")
    assert P2PIdentity.from_seed(load_ed25519_keystore(path, b"pw")) == identity
    with pytest.raises(KeystoreError, match="not a chain key"):
        load_keystore(path, b"pw")


def test_password_comes_from_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(KeystoreError, match="--password-file"):
        read_password(None)
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    assert read_password(None) == b"from-env"
    file = tmp_path / "pw"
    file.write_text("from-file\n")
    assert read_password(file) == b"from-file"
    (tmp_path / "empty").write_text("")
    with pytest.raises(KeystoreError, match="empty"):
        read_password(tmp_path / "empty")


def test_peer_id_matches_libp2p() -> None:
    from libp2p.crypto.ed25519 import Ed25519PrivateKey
    from libp2p.peer.id import ID

    identity = P2PIdentity.generate()
    theirs = ID.from_pubkey(Ed25519PrivateKey.from_bytes(identity.seed).get_public_key()).to_base58()
    assert identity.peer_id == theirs
    assert identity.peer_id.startswith("12D3KooW")
    assert identity.seed.hex() not in repr(identity)
