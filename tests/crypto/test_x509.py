"""X.509 chains made by the openssl CLI (SM2, ECDSA P-256, RSA) and by us, checked both ways."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest

from node.crypto import get_suite, x509
from node.errors import CertificateError

pytestmark = pytest.mark.openssl

SM2_OPTS = ["-sm3", "-sigopt", "distid:1234567812345678"]
NOW = datetime.datetime.now(datetime.timezone.utc)


class OpensslCA:
    """Builds root → intermediate → leaf chains with the openssl CLI in a temp dir."""

    def __init__(self, openssl: str, workdir: Path, kind: str) -> None:
        self.openssl = openssl
        self.dir = workdir
        self.kind = kind
        (workdir / "ext.cnf").write_text(
            "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
            "[ca0]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
            "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "[weird]\nbasicConstraints=critical,CA:FALSE\n1.2.3.4.5=critical,ASN1:UTF8String:must-understand\n"
            "[nosign]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n"
        )

    def run(self, *args: str) -> None:
        result = subprocess.run([self.openssl, *args], capture_output=True, text=True, cwd=self.dir, check=False)
        assert result.returncode == 0, f"openssl {' '.join(args)}\n{result.stderr}"

    @property
    def sign_opts(self) -> list[str]:
        return SM2_OPTS if self.kind == "sm2" else ["-sha256"]

    def key(self, name: str) -> str:
        path = f"{name}.key"
        if self.kind == "sm2":
            self.run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", path)
        elif self.kind == "p256":
            self.run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        else:
            self.run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
        return path

    def root(self, name: str = "root", days: int = 2) -> x509.Certificate:
        self._self_signed(name, self.key(name), days)
        return self.load(name)

    def _self_signed(self, name: str, key: str, days: int) -> None:
        self.run("req", "-new", "-key", key, *self.sign_opts, "-subj", f"/C=CN/O={name} org/CN={name}", "-out", f"{name}.csr")
        self.run("x509", "-req", "-in", f"{name}.csr", "-signkey", key, *self._x509_opts(), "-days", str(days),
                 "-extfile", "ext.cnf", "-extensions", "ca", "-set_serial", "1", "-out", f"{name}.pem")

    def _x509_opts(self) -> list[str]:
        if self.kind == "sm2":
            return ["-sm3", "-sigopt", "distid:1234567812345678", "-vfyopt", "distid:1234567812345678"]
        return ["-sha256"]

    def issue(self, name: str, issuer: str, section: str, days: int = 1, serial: int = 2) -> x509.Certificate:
        key = self.key(name)
        self.run("req", "-new", "-key", key, *self.sign_opts, "-subj", f"/C=CN/O={name} org/CN={name}", "-out", f"{name}.csr")
        self.run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
                 *self._x509_opts(), "-days", str(days), "-extfile", "ext.cnf", "-extensions", section,
                 "-set_serial", str(serial), "-out", f"{name}.pem")
        return self.load(name)

    def load(self, name: str) -> x509.Certificate:
        return x509.load_certificate((self.dir / f"{name}.pem").read_bytes())


@pytest.fixture(params=["sm2", "p256", "rsa"])
def ca(request, openssl: str, tmp_path: Path) -> OpensslCA:
    return OpensslCA(openssl, tmp_path, request.param)


def test_openssl_chain_verifies(ca: OpensslCA) -> None:
    root = ca.root()
    intermediate = ca.issue("intermediate", "root", "ca")
    leaf = ca.issue("leaf", "intermediate", "leaf", serial=3)
    expected = {"sm2": "sm2", "p256": "ecdsa-p256", "rsa": "rsa"}[ca.kind]
    assert {root.key_algorithm, intermediate.key_algorithm, leaf.key_algorithm} == {expected}
    assert root.is_ca and intermediate.is_ca and not leaf.is_ca
    assert leaf.serial == 3 and leaf.issuer == intermediate.subject
    assert x509.verify_chain(leaf, [intermediate], [root]) == [leaf, intermediate, root]
    # the order of untrusted intermediates and extra unrelated certificates do not matter
    other = ca.root("other")
    assert x509.verify_chain(leaf, [other, intermediate], [other, root])[-1] == root


def test_parsed_fields_match_openssl(ca: OpensslCA) -> None:
    root = ca.root()
    result = subprocess.run([ca.openssl, "x509", "-in", str(ca.dir / "root.pem"), "-noout", "-fingerprint", "-sha256"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip().split("=", 1)[1].replace(":", "").lower() == root.fingerprint.hex()
    assert root.subject_fields["CN"] == "root"
    assert root.self_issued
    if ca.kind == "sm2":
        assert root.signature_algorithm == "sm2-sm3"
        assert len(root.public_key) == 65 and root.public_key[0] == 4
        # the parsed key is an SM2 point our suite uses directly
        assert get_suite("gm").load_public_pem(get_suite("gm").public_pem(root.public_key)) == root.public_key


def test_untrusted_root_is_rejected(ca: OpensslCA) -> None:
    ca.root()
    leaf = ca.issue("leaf", "root", "leaf")
    stranger = ca.root("stranger")
    with pytest.raises(CertificateError, match="not a trusted root"):
        x509.verify_chain(leaf, [], [stranger])


def test_missing_intermediate_is_rejected(ca: OpensslCA) -> None:
    root = ca.root()
    ca.issue("intermediate", "root", "ca")
    leaf = ca.issue("leaf", "intermediate", "leaf")
    with pytest.raises(CertificateError, match="no intermediate"):
        x509.verify_chain(leaf, [], [root])


def test_same_name_different_key_is_rejected(ca: OpensslCA) -> None:
    """A root that copies the real root's name but not its key must not validate the leaf."""
    ca.root()
    leaf = ca.issue("leaf", "root", "leaf")
    (ca.dir / "real.pem").write_bytes((ca.dir / "root.pem").read_bytes())
    impostor = ca.root()  # same subject, new key
    with pytest.raises(CertificateError, match="does not verify|holds"):
        x509.verify_chain(leaf, [], [impostor])


def test_tampered_certificate_is_rejected(ca: OpensslCA) -> None:
    root = ca.root()
    leaf = ca.issue("leaf", "root", "leaf")
    # flip a byte inside the subject's common name ("leaf" -> "lead")
    index = leaf.der.rindex(b"leaf")
    forged = leaf.der[:index] + b"lead" + leaf.der[index + 4:]
    tampered = x509.load_certificate(forged)
    with pytest.raises(CertificateError, match="does not verify"):
        x509.verify_chain(tampered, [], [root])


@pytest.mark.parametrize(("section", "reason"), [("leaf", "not a CA"), ("nosign", "keyCertSign")])
def test_issuer_not_allowed_to_sign_certificates_is_rejected(ca: OpensslCA, section: str, reason: str) -> None:
    root = ca.root()
    middle = ca.issue("middle", "root", section)
    leaf = ca.issue("leaf", "middle", "leaf", serial=4)
    with pytest.raises(CertificateError, match=reason):
        x509.verify_chain(leaf, [middle], [root])


def test_path_length_is_enforced(ca: OpensslCA) -> None:
    root = ca.root()
    ca.issue("limited", "root", "ca0")
    below = ca.issue("below", "limited", "ca", serial=5)
    leaf = ca.issue("leaf", "below", "leaf", serial=6)
    with pytest.raises(CertificateError, match="pathLenConstraint"):
        x509.verify_chain(leaf, [below, ca.load("limited")], [root])


def test_unknown_critical_extension_is_rejected(ca: OpensslCA) -> None:
    root = ca.root()
    leaf = ca.issue("leaf", "root", "weird")
    with pytest.raises(CertificateError, match="critical extension"):
        x509.verify_chain(leaf, [], [root])


def test_validity_period_is_enforced(ca: OpensslCA) -> None:
    root = ca.root()
    leaf = ca.issue("leaf", "root", "leaf", days=1)
    assert x509.verify_chain(leaf, [], [root], at=NOW + datetime.timedelta(hours=1))
    with pytest.raises(CertificateError, match="not valid at"):
        x509.verify_chain(leaf, [], [root], at=NOW + datetime.timedelta(days=1, hours=1))
    with pytest.raises(CertificateError, match="not valid at"):
        x509.verify_chain(leaf, [], [root], at=NOW - datetime.timedelta(days=1))


@pytest.mark.parametrize("garbage", [b"", b"not a certificate", b"0\x82\x01\x00", b"-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n"])
def test_garbage_is_a_clear_error(garbage: bytes) -> None:
    with pytest.raises(CertificateError):
        x509.load_certificate(garbage)


def _issue(key, *, subject, issuer_key=None, issuer_cert=None, is_ca=True, path_length=None, days=1, serial=7):
    return x509.issue_sm2_certificate(
        subject=subject, subject_public_key=key.public_key, issuer_key=issuer_key or key, issuer_cert=issuer_cert,
        serial=serial, not_before=NOW - datetime.timedelta(minutes=1), not_after=NOW + datetime.timedelta(days=days),
        is_ca=is_ca, path_length=path_length,
    )


def test_our_sm2_chain_passes_openssl_verify(openssl: str, tmp_path: Path) -> None:
    gm = get_suite("gm")
    root_key, middle_key, leaf_key = gm.generate_key(), gm.generate_key(), gm.generate_key()
    root = _issue(root_key, subject={"C": "CN", "O": "Center A", "CN": "Center A Root CA"}, path_length=1)
    middle = _issue(middle_key, subject={"C": "CN", "O": "Center A", "CN": "Center A Issuing CA"},
                    issuer_key=root_key, issuer_cert=root, path_length=0, serial=8)
    leaf = _issue(leaf_key, subject={"C": "CN", "O": "某某建设有限公司", "CN": "张三"},
                  issuer_key=middle_key, issuer_cert=middle, is_ca=False, serial=9)
    assert x509.verify_chain(leaf, [middle], [root]) == [leaf, middle, root]
    assert leaf.subject_fields["O"] == "某某建设有限公司"
    for name, cert in (("root", root), ("middle", middle), ("leaf", leaf)):
        (tmp_path / f"{name}.pem").write_bytes(cert.to_pem())
    # OpenSSL 3.0 applies `-vfyopt distid:...` only to the certificate being verified, not to
    # untrusted intermediates (without it, it computes Z with an empty ID), so each link is checked
    # on its own; `-partial_chain` lets the intermediate act as the anchor for the leaf.
    def openssl_verify(anchor: str, target: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([openssl, "verify", *extra, "-CAfile", anchor, target],
                              capture_output=True, text=True, cwd=tmp_path, check=False)

    distid = ("-vfyopt", "distid:1234567812345678")
    for anchor, target, extra in (("root.pem", "middle.pem", distid), ("middle.pem", "leaf.pem", distid + ("-partial_chain",))):
        result = openssl_verify(anchor, target, *extra)
        assert result.returncode == 0 and f"{target}: OK" in result.stdout, result.stdout + result.stderr
    # the checks are real on both sides: the wrong issuer or the wrong user ID fails in openssl
    assert openssl_verify("root.pem", "leaf.pem", *distid, "-partial_chain").returncode != 0
    assert openssl_verify("root.pem", "middle.pem", "-vfyopt", "distid:1234567812345679").returncode != 0


def test_issue_refuses_inconsistent_requests() -> None:
    gm = get_suite("gm")
    root_key, other = gm.generate_key(), gm.generate_key()
    root = _issue(root_key, subject={"CN": "root"})
    leaf = _issue(other, subject={"CN": "leaf"}, issuer_key=root_key, issuer_cert=root, is_ca=False)
    with pytest.raises(CertificateError, match="own key"):
        _issue(other, subject={"CN": "x"}, issuer_key=root_key)
    with pytest.raises(CertificateError, match="does not match"):
        _issue(other, subject={"CN": "x"}, issuer_key=other, issuer_cert=root)
    with pytest.raises(CertificateError, match="not a CA"):
        _issue(gm.generate_key(), subject={"CN": "x"}, issuer_key=other, issuer_cert=leaf)
    with pytest.raises(CertificateError, match="gm suite"):
        _issue(other, subject={"CN": "x"}, issuer_key=get_suite("ecdsa").generate_key(), issuer_cert=root)
    with pytest.raises(CertificateError, match="name attribute"):
        _issue(other, subject={"commonName": "x"})
