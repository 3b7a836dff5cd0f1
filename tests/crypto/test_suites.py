"""The two suites: signatures, encryption, PEM interop with OpenSSL, tamper refusal."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from node.crypto import get_suite
from node.crypto.sm2 import N, signature_from_der, signature_to_der
from node.errors import CryptoError, DecryptionError


def test_signature_verifies_and_tampering_is_refused(suite) -> None:
    key = suite.generate_key()
    message = b"bid guarantee BG-2026-0001"
    signature = key.sign(message)
    assert len(signature) == suite.signature_size
    assert suite.verify(key.public_key, message, signature)
    assert not suite.verify(key.public_key, message + b"!", signature)
    flipped = bytearray(signature)
    flipped[5] ^= 1
    assert not suite.verify(key.public_key, message, bytes(flipped))
    other = suite.generate_key()
    assert not suite.verify(other.public_key, message, signature)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 64, b"\xff" * 64, b"\x01" * 63, b"\x01" * 66, b"garbage"])
def test_malformed_signatures_are_invalid_not_errors(suite, bad: bytes) -> None:
    key = suite.generate_key()
    assert suite.verify(key.public_key, b"m", bad) is False


def test_sm2_signature_with_s_out_of_range_is_invalid(gm) -> None:
    key = gm.generate_key()
    signature = key.sign(b"m")
    r = signature[:32]
    assert not gm.verify(key.public_key, b"m", r + N.to_bytes(32, "big"))


def test_verify_with_a_public_key_off_the_curve_is_invalid(suite) -> None:
    key = suite.generate_key()
    signature = key.sign(b"m")
    broken = key.public_key[:-1] + bytes([key.public_key[-1] ^ 1])
    assert suite.verify(broken, b"m", signature) is False


def test_secp256k1_high_s_signature_is_refused() -> None:
    suite = get_suite("ecdsa")
    key = suite.generate_key()
    signature = key.sign(b"m")
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(signature[32:64], "big")
    malleated = signature[:32] + (n - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])
    assert not suite.verify(key.public_key, b"m", malleated)


def test_addresses_are_20_bytes_of_the_suite_hash(suite) -> None:
    key = suite.generate_key()
    assert key.address == suite.hash(key.public_key[1:])[-20:]


def test_ecdsa_addresses_are_ethereum_addresses() -> None:
    from eth_account import Account

    key = get_suite("ecdsa").generate_key()
    assert Account.from_key(key.secret_bytes()).address.lower() == "0x" + key.address.hex()


def test_public_key_encryption_round_trips_and_detects_tampering(suite) -> None:
    key = suite.generate_key()
    content_key = os.urandom(16)
    ciphertext = suite.encrypt(key.public_key, content_key)
    assert key.decrypt(ciphertext) == content_key
    tampered = bytearray(ciphertext)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        key.decrypt(bytes(tampered))
    with pytest.raises(DecryptionError):
        suite.generate_key().decrypt(ciphertext)


def test_sealed_data_at_rest_is_bound_to_its_associated_data(suite) -> None:
    box_key = os.urandom(suite.seal_key_size)
    box = suite.seal(box_key, b"raw record", b"record-1")
    assert suite.open_sealed(box_key, box, b"record-1") == b"raw record"
    with pytest.raises(DecryptionError):
        suite.open_sealed(box_key, box, b"record-2")
    with pytest.raises(DecryptionError):
        suite.open_sealed(box_key, box[:-1] + bytes([box[-1] ^ 1]), b"record-1")


def test_keys_survive_pem_round_trips(suite) -> None:
    key = suite.generate_key()
    again = suite.load_private_pem(key.to_pem())
    assert again.public_key == key.public_key
    assert suite.load_public_pem(suite.public_pem(key.public_key)) == key.public_key


def test_private_key_repr_shows_no_secret(suite) -> None:
    key = suite.generate_key()
    text = repr(key) + str(key)
    assert key.secret_bytes().hex() not in text
    assert key.address.hex() in text


def test_der_conversion_refuses_malformed_input() -> None:
    with pytest.raises(CryptoError):
        signature_from_der(b"\x30\x02\x01")
    with pytest.raises(CryptoError):
        signature_to_der(b"\x00" * 64)


def test_unknown_suite_is_a_clear_error() -> None:
    with pytest.raises(CryptoError, match="unknown crypto suite 'rsa'"):
        get_suite("rsa")


# --- OpenSSL 3 interoperability (Debian's openssl has SM2) -------------------


def _run(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), input=data, capture_output=True, check=False)


@pytest.mark.openssl
def test_sm2_signature_made_here_verifies_with_openssl(gm, openssl: str, tmp_path: Path) -> None:
    key = gm.generate_key()
    message = b"document to sign" * 10
    (tmp_path / "pub.pem").write_bytes(gm.public_pem(key.public_key))
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig.der").write_bytes(signature_to_der(key.sign(message)))
    result = _run(
        openssl, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", str(tmp_path / "pub.pem"),
        "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig.der"), "-pkeyopt", "distid:1234567812345678",
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"Signature Verified Successfully" in result.stdout
    (tmp_path / "msg").write_bytes(message + b"x")
    tampered = _run(
        openssl, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", str(tmp_path / "pub.pem"),
        "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig.der"), "-pkeyopt", "distid:1234567812345678",
    )
    assert tampered.returncode != 0


@pytest.mark.openssl
def test_sm2_signature_made_by_openssl_verifies_here(gm, openssl: str, tmp_path: Path) -> None:
    key_path = tmp_path / "key.pem"
    assert _run(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", str(key_path)).returncode == 0
    message = b"signed by openssl"
    (tmp_path / "msg").write_bytes(message)
    result = _run(
        openssl, "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", str(key_path),
        "-in", str(tmp_path / "msg"), "-out", str(tmp_path / "sig.der"), "-pkeyopt", "distid:1234567812345678",
    )
    assert result.returncode == 0, result.stderr.decode()
    key = gm.load_private_pem(key_path.read_bytes())
    signature = signature_from_der((tmp_path / "sig.der").read_bytes())
    assert gm.verify(key.public_key, message, signature)
    assert not gm.verify(key.public_key, message + b"?", signature)


@pytest.mark.openssl
def test_openssl_reads_our_pem_keys_as_sm2(gm, openssl: str, tmp_path: Path) -> None:
    key = gm.generate_key()
    (tmp_path / "pub.pem").write_bytes(gm.public_pem(key.public_key))
    (tmp_path / "key.pem").write_bytes(key.to_pem())
    public = _run(openssl, "pkey", "-pubin", "-in", str(tmp_path / "pub.pem"), "-text", "-noout")
    assert public.returncode == 0 and b"ASN1 OID: SM2" in public.stdout
    private = _run(openssl, "pkey", "-in", str(tmp_path / "key.pem"), "-text", "-noout")
    assert private.returncode == 0 and b"ASN1 OID: SM2" in private.stdout
    assert key.public_key.hex() in private.stdout.decode().replace(":", "").replace("\n", "").replace(" ", "")


@pytest.mark.openssl
def test_openssl_decrypts_our_sm2_ciphertext_and_we_decrypt_its(gm, openssl: str, tmp_path: Path) -> None:
    key = gm.generate_key()
    (tmp_path / "key.pem").write_bytes(key.to_pem())
    (tmp_path / "pub.pem").write_bytes(gm.public_pem(key.public_key))
    (tmp_path / "ct").write_bytes(gm.encrypt(key.public_key, b"content key 16 b"))
    result = _run(openssl, "pkeyutl", "-decrypt", "-inkey", str(tmp_path / "key.pem"), "-in", str(tmp_path / "ct"))
    assert result.returncode == 0 and result.stdout == b"content key 16 b"
    (tmp_path / "pt").write_bytes(b"from openssl")
    result = _run(openssl, "pkeyutl", "-encrypt", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-in", str(tmp_path / "pt"))
    assert result.returncode == 0
    assert key.decrypt(result.stdout) == b"from openssl"


@pytest.mark.openssl
def test_openssl_reads_our_secp256k1_keys(openssl: str, tmp_path: Path) -> None:
    suite = get_suite("ecdsa")
    key = suite.generate_key()
    (tmp_path / "pub.pem").write_bytes(suite.public_pem(key.public_key))
    result = _run(openssl, "pkey", "-pubin", "-in", str(tmp_path / "pub.pem"), "-text", "-noout")
    assert result.returncode == 0 and b"secp256k1" in result.stdout


def test_failed_sm2_verification_writes_nothing_to_stderr(gm, capfd: pytest.CaptureFixture) -> None:
    # Some GmSSL-based wheels print a C trace on every failed verify: log noise
    # that anyone sending bad signatures could trigger.
    key = gm.generate_key()
    for bad in (b"\x01" * 64, key.sign(b"other")):
        assert not gm.verify(key.public_key, b"m", bad)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
