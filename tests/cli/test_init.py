"""`yilian init`: a complete consortium, private keys only encrypted and only in center directories."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from node.config import load_genesis, load_node_config
from node.crypto import get_suite, x509
from node.crypto.keystore import load_ed25519_keystore, read_keystore_document
from node.crypto.peer_id import P2PIdentity
from node.errors import KeystoreError


def yilian(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("init") / "demo-consortium"
    result = yilian("init", "--centers", "4", "--out", str(out), env={"YILIAN_KEY_PASSWORD": ""})
    assert result.returncode == 0, result.stderr
    return out


def test_init_writes_genesis_members_and_one_directory_per_center(consortium: Path) -> None:
    genesis = load_genesis(consortium / "genesis.json")
    assert genesis.suite_name == "gm"
    assert len(genesis.validators) == 4 and len(genesis.members) == 4 and len(genesis.trusted_cas) == 4
    centers = sorted(p.name for p in (consortium / "centers").iterdir())
    assert centers == ["center-a", "center-b", "center-c", "center-d"]
    members = json.loads((consortium / "members.json").read_text())
    assert [c["name"] for c in members["centers"]] == centers


def test_each_center_config_loads_and_its_keys_match_genesis(consortium: Path) -> None:
    genesis = load_genesis(consortium / "genesis.json")
    validators = genesis.validator_set()
    api_ports = set()
    for home in sorted((consortium / "centers").iterdir()):
        config = load_node_config(home)
        validator_key = config.load_validator_key()
        assert validator_key.address in validators
        member = genesis.member(config.name)
        assert member.validator == validator_key.address
        assert member.admin == config.load_admin_key().address
        identity = P2PIdentity.from_seed(load_ed25519_keystore(config.p2p_key_path, config.password()))
        assert identity.peer_id == member.peer_id
        assert {peer.peer_id for peer in config.peers} == {m.peer_id for m in genesis.members} - {member.peer_id}
        assert (home / "genesis.json").read_bytes() == (consortium / "genesis.json").read_bytes()
        api_ports.add(config.api_port)
    assert len(api_ports) == 4


def test_keystores_and_passwords_are_owner_only(consortium: Path) -> None:
    for home in (consortium / "centers").iterdir():
        for path in list((home / "keys").glob("*.json")) + [home / "secrets" / "password"]:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE((home / "keys").stat().st_mode) == 0o700


def test_no_private_key_appears_outside_the_keystores(consortium: Path) -> None:
    secrets = []
    for home in (consortium / "centers").iterdir():
        config = load_node_config(home)
        secrets += [config.load_validator_key().secret_bytes().hex(), config.load_admin_key().secret_bytes().hex()]
        secrets.append(load_ed25519_keystore(config.p2p_key_path, config.password()).hex())
    for path in consortium.rglob("*"):
        if path.is_file():
            text = path.read_bytes().hex() + path.read_text(errors="replace")
            for secret in secrets:
                assert secret not in text, f"a private key leaked into {path}"


def test_public_keys_are_pem_that_openssl_reads_as_sm2(consortium: Path, openssl: str) -> None:
    for home in (consortium / "centers").iterdir():
        for name in ("validator.pub.pem", "admin.pub.pem", "ca.pub.pem"):
            result = subprocess.run(
                [openssl, "pkey", "-pubin", "-in", str(home / "keys" / name), "-text", "-noout"],
                capture_output=True, text=True, check=False,
            )
            assert result.returncode == 0, result.stderr
            assert "ASN1 OID: SM2" in result.stdout


def test_org_ca_certificates_are_self_signed_sm2_roots(consortium: Path, openssl: str) -> None:
    genesis = load_genesis(consortium / "genesis.json")
    roots = [x509.load_certificate(ca.certificate_pem.encode()) for ca in genesis.trusted_cas]
    for root in roots:
        assert root.is_ca
        assert x509.verify_chain(root, [], roots)[0] == root
    # openssl accepts it as a trust anchor (it does not re-check an anchor's own SM2 signature;
    # tests/crypto/test_x509.py checks our SM2 signatures with openssl link by link)
    ca_file = next((consortium / "centers").iterdir()) / "keys" / "ca.crt.pem"
    result = subprocess.run([openssl, "verify", "-CAfile", str(ca_file), str(ca_file)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_refuses_to_overwrite_without_force(consortium: Path) -> None:
    before = (consortium / "genesis.json").read_bytes()
    result = yilian("init", "--centers", "4", "--out", str(consortium))
    assert result.returncode != 0
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert (consortium / "genesis.json").read_bytes() == before


def test_force_replaces_the_consortium(tmp_path: Path) -> None:
    out = tmp_path / "c"
    assert yilian("init", "--centers", "1", "--out", str(out)).returncode == 0
    first = load_genesis(out / "genesis.json").validators
    assert yilian("init", "--centers", "1", "--out", str(out), "--force").returncode == 0
    assert load_genesis(out / "genesis.json").validators != first


def test_ecdsa_suite_and_password_from_environment(tmp_path: Path) -> None:
    out = tmp_path / "e"
    result = yilian("init", "--centers", "2", "--out", str(out), "--suite", "ecdsa", "--chain-id", "77", "--dev-accounts", "2",
                    env={"YILIAN_KEY_PASSWORD": "operator-secret"})
    assert result.returncode == 0, result.stderr
    genesis = load_genesis(out / "genesis.json")
    assert (genesis.suite_name, genesis.chain_id) == ("ecdsa", 77)
    home = out / "centers" / "center-a"
    assert not (home / "secrets").exists()
    assert read_keystore_document(home / "keys" / "validator.json")["cipher"]["name"] == "aes-256-gcm"
    with pytest.raises(KeystoreError, match="YILIAN_KEY_PASSWORD"):
        load_node_config(home).load_validator_key()  # no password file and no env var in this process
    os.environ["YILIAN_KEY_PASSWORD"] = "operator-secret"
    try:
        assert load_node_config(home).load_validator_key().suite is get_suite("ecdsa")
    finally:
        del os.environ["YILIAN_KEY_PASSWORD"]
    dev = json.loads((out / "dev-accounts.json").read_text())
    assert "DEVELOPMENT ONLY" in dev["warning"] and len(dev["accounts"]) == 2
    assert {a["address"] for a in dev["accounts"]} <= {"0x" + a.address.hex() for a in genesis.accounts}


@pytest.mark.parametrize("args, message", [(["--centers", "0"], "centers"), (["--suite", "rsa"], "suite")])
def test_bad_arguments_give_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    result = yilian("init", "--out", str(tmp_path / "x"), *args)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr
