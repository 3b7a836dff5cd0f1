"""X.509 certificates: parse, verify chains to trusted roots, issue SM2 certificates.

Three key types are understood, because the CAs a trading center meets use them:
SM2 (signatures SM2-with-SM3, OID 1.2.156.10197.1.501, user ID
``1234567812345678`` — what ``openssl req -x509 -sm3`` produces), ECDSA on
P-256/P-384 and RSA (PKCS#1 v1.5 and PSS). Parsing uses asn1crypto, since
pyca/cryptography cannot load SM2 public keys; SM2 signatures are checked by
the ``gm`` suite, the others by pyca/cryptography.

:func:`verify_chain` implements the checks of RFC 5280 §6.1 that a consortium
needs — names chain, signatures, validity periods, ``cA`` and ``pathLenConstraint``,
``keyCertSign`` — and refuses certificates carrying critical extensions it does
not understand. Revocation is not checked here; the chain's own CA registry
(later issues) revokes by listing serials on chain.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from asn1crypto import algos, core, keys, pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as pyca_x509
from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from node.crypto.hashing import sm3
from node.crypto.sm2 import OID_SM2, OID_SM2_WITH_SM3, signature_from_der, signature_to_der
from node.crypto.suites import PrivateKey, get_suite
from node.errors import CertificateError, CryptoError

_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_CURVES = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384", OID_SM2: "sm2"}
_UNDERSTOOD_EXTENSIONS = {
    "basic_constraints",
    "key_usage",
    "extended_key_usage",
    "subject_alt_name",
    "key_identifier",
    "authority_key_identifier",
    "certificate_policies",
}
_NAME_ORDER = ("country_name", "state_or_province_name", "locality_name", "organization_name",
               "organizational_unit_name", "common_name")
_NAME_KEYS = {"C": "country_name", "ST": "state_or_province_name", "L": "locality_name",
              "O": "organization_name", "OU": "organizational_unit_name", "CN": "common_name",
              "serialNumber": "serial_number"}
_NAME_ABBREVIATIONS = {value: key for key, value in _NAME_KEYS.items()}

MAX_CHAIN_LENGTH = 8


def _utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        raise CertificateError("certificate times must be timezone-aware (UTC)")
    return moment.astimezone(datetime.timezone.utc)


def _describe_name(name: asn1_x509.Name) -> str:
    parts = []
    for rdn in name.chosen:
        for attribute in rdn:
            kind = attribute["type"].native
            label = _NAME_ABBREVIATIONS.get(kind, kind)
            parts.append(f"{label}={attribute['value'].native}")
    return ", ".join(parts) if parts else "(empty name)"


@dataclass(frozen=True, eq=False)
class Certificate:
    """A parsed X.509 certificate. Equality is byte equality of the DER encoding."""

    der: bytes
    _parsed: asn1_x509.Certificate = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return f"Certificate({self.subject!r}, serial={self.serial:#x}, key={self.key_algorithm})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    @property
    def subject(self) -> str:
        return _describe_name(self._parsed.subject)

    @property
    def issuer(self) -> str:
        return _describe_name(self._parsed.issuer)

    @property
    def subject_fields(self) -> dict[str, str]:
        return {_NAME_ABBREVIATIONS.get(k, k): v for k, v in self._parsed.subject.native.items()}

    @property
    def serial(self) -> int:
        return self._parsed.serial_number

    @property
    def not_before(self) -> datetime.datetime:
        return self._parsed.not_valid_before

    @property
    def not_after(self) -> datetime.datetime:
        return self._parsed.not_valid_after

    @property
    def is_ca(self) -> bool:
        constraints = self._parsed.basic_constraints_value
        return bool(constraints is not None and constraints["ca"].native)

    @property
    def path_length(self) -> int | None:
        constraints = self._parsed.basic_constraints_value
        if constraints is None:
            return None
        return constraints["path_len_constraint"].native

    @property
    def key_usage(self) -> frozenset[str] | None:
        """Names from the keyUsage extension, or None when the certificate has none."""
        value = self._parsed.key_usage_value
        return None if value is None else frozenset(value.native)

    @property
    def self_issued(self) -> bool:
        return self._parsed.subject == self._parsed.issuer

    @property
    def key_algorithm(self) -> str:
        """``sm2``, ``ecdsa-p256``, ``ecdsa-p384`` or ``rsa``."""
        info = self._parsed.public_key
        algorithm = info["algorithm"]["algorithm"].dotted
        if algorithm == _EC_PUBLIC_KEY:
            curve = info["algorithm"]["parameters"]
            if curve.name != "named":
                raise CertificateError(f"{self.subject}: explicit EC curve parameters are not supported")
            name = curve.chosen.native
            if name not in _CURVES:
                raise CertificateError(f"{self.subject}: unsupported EC curve {name}")
            return _CURVES[name]
        if algorithm == "1.2.840.113549.1.1.1":
            return "rsa"
        raise CertificateError(f"{self.subject}: unsupported public key algorithm {algorithm}")

    @property
    def public_key(self) -> bytes:
        """The raw key: the uncompressed point for SM2/ECDSA, the SubjectPublicKeyInfo DER for RSA."""
        info = self._parsed.public_key
        if self.key_algorithm == "rsa":
            return info.dump()
        return bytes(info["public_key"])

    @property
    def public_key_info(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return self._parsed.public_key.dump()

    @property
    def signature_algorithm(self) -> str:
        oid = self._parsed["signature_algorithm"]["algorithm"].dotted
        if oid == OID_SM2_WITH_SM3:
            return "sm2-sm3"
        return self._parsed["signature_algorithm"]["algorithm"].native

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 of the DER encoding (what ``openssl x509 -fingerprint -sha256`` prints)."""
        return hashlib.sha256(self.der).digest()

    @property
    def sm3_fingerprint(self) -> bytes:
        return sm3(self.der)

    def valid_at(self, moment: datetime.datetime) -> bool:
        return self.not_before <= _utc(moment) <= self.not_after

    def to_pem(self) -> bytes:
        return pem.armor("CERTIFICATE", self.der)

    def check_signed_by(self, issuer: "Certificate") -> None:
        """Raise CertificateError unless ``issuer``'s key made this certificate's signature."""
        tbs = self._parsed["tbs_certificate"].dump()
        inner = self._parsed["tbs_certificate"]["signature"].dump()
        outer = self._parsed["signature_algorithm"].dump()
        if inner != outer:
            raise CertificateError(f"{self.subject}: signature algorithm inside and outside the TBS certificate differ")
        signature = bytes(self._parsed["signature_value"])
        if self.signature_algorithm == "sm2-sm3":
            if issuer.key_algorithm != "sm2":
                raise CertificateError(f"{self.subject}: SM2 signature but issuer {issuer.subject} holds a {issuer.key_algorithm} key")
            try:
                raw = signature_from_der(signature)
            except CryptoError as exc:
                raise CertificateError(f"{self.subject}: malformed SM2 signature ({exc})") from None
            if not get_suite("gm").verify(issuer.public_key, tbs, raw):
                raise CertificateError(f"{self.subject}: signature does not verify with the key of {issuer.subject}")
            return
        if issuer.key_algorithm == "sm2":
            raise CertificateError(f"{self.subject}: issuer {issuer.subject} holds an SM2 key but the signature is {self.signature_algorithm}")
        try:
            child = pyca_x509.load_der_x509_certificate(self.der)
            parent = pyca_x509.load_der_x509_certificate(issuer.der)
            _pyca_verify(parent.public_key(), child)
        except _PycaInvalidSignature:
            raise CertificateError(f"{self.subject}: signature does not verify with the key of {issuer.subject}") from None
        except (ValueError, TypeError) as exc:
            raise CertificateError(f"{self.subject}: cannot check signature ({exc})") from None

    def _check_extensions(self) -> None:
        for extension in self._parsed["tbs_certificate"]["extensions"]:
            name = extension["extn_id"].native
            if extension["critical"].native and name not in _UNDERSTOOD_EXTENSIONS:
                raise CertificateError(f"{self.subject}: unsupported critical extension {name}")


def _pyca_verify(public_key: object, child: pyca_x509.Certificate) -> None:
    hash_algorithm = child.signature_hash_algorithm
    if hash_algorithm is None or isinstance(hash_algorithm, (hashes.MD5, hashes.SHA1)):
        raise ValueError(f"signature hash {getattr(hash_algorithm, 'name', None)} is not accepted")
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
    elif isinstance(public_key, rsa.RSAPublicKey):
        parameters = child.signature_algorithm_parameters
        if isinstance(parameters, padding.PSS):
            public_key.verify(child.signature, child.tbs_certificate_bytes, parameters, hash_algorithm)
        else:
            public_key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm)
    else:
        raise ValueError(f"unsupported issuer key type {type(public_key).__name__}")


def load_certificate(data: bytes | str) -> Certificate:
    """Parse one certificate from PEM or DER; raises CertificateError on anything else."""
    if isinstance(data, str):
        data = data.encode("ascii", errors="replace")
    try:
        if pem.detect(data):
            kind, _headers, der = pem.unarmor(data)
            if kind != "CERTIFICATE":
                raise CertificateError(f"expected a CERTIFICATE PEM block, found {kind}")
        else:
            der = bytes(data)
        parsed = asn1_x509.Certificate.load(der, strict=True)
        parsed.native  # force a full parse so malformed inner fields fail here
    except CertificateError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise CertificateError(f"not an X.509 certificate: {exc}") from None
    certificate = Certificate(der=der, _parsed=parsed)
    certificate.key_algorithm  # unsupported key types fail at load time
    return certificate


def load_certificates(data: bytes | str) -> list[Certificate]:
    """All certificates of a PEM bundle, in order."""
    if isinstance(data, str):
        data = data.encode("ascii", errors="replace")
    found = [load_certificate(der) for kind, _h, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"]
    if not found:
        raise CertificateError("no CERTIFICATE block found")
    return found


def verify_chain(
    leaf: Certificate,
    intermediates: Sequence[Certificate],
    roots: Iterable[Certificate],
    at: datetime.datetime | None = None,
) -> list[Certificate]:
    """Verify ``leaf`` up to one of the trusted ``roots``.

    Parameters:
        leaf: the certificate presented.
        intermediates: untrusted certificates that may complete the path.
        roots: trust anchors (for YiLian, the CA roots in genesis).
        at: the moment to check validity at; now when omitted.

    Returns:
        The path ``[leaf, ..., root]``.

    Raises:
        CertificateError naming the certificate and the check that failed; when
        several candidate paths exist, the reason of the longest one is given.
    """
    moment = _utc(at) if at is not None else datetime.datetime.now(datetime.timezone.utc)
    trusted = list(roots)
    if not trusted:
        raise CertificateError("no trusted root certificates were given")
    candidates = list(intermediates)
    best_error: tuple[int, str] = (-1, f"{leaf.subject}: no path to a trusted root")

    def extend(path: list[Certificate]) -> list[Certificate] | None:
        nonlocal best_error
        current = path[-1]
        if current in trusted:
            return path
        if len(path) > MAX_CHAIN_LENGTH:
            return None
        issuers = [c for c in trusted + candidates if c._parsed.subject == current._parsed.issuer and c not in path]
        if not issuers:
            if len(path) > best_error[0]:
                best_error = (len(path), f"{current.subject}: issuer {current.issuer} is not a trusted root and no intermediate certificate for it was given")
            return None
        for issuer in issuers:
            try:
                current.check_signed_by(issuer)
            except CertificateError as exc:
                if len(path) > best_error[0]:
                    best_error = (len(path), str(exc))
                continue
            found = extend(path + [issuer])
            if found is not None:
                return found
        return None

    path = extend([leaf])
    if path is None:
        raise CertificateError(best_error[1])
    _check_path(path, moment)
    return path


def _check_path(path: list[Certificate], moment: datetime.datetime) -> None:
    for depth, certificate in enumerate(path):
        certificate._check_extensions()
        if not certificate.valid_at(moment):
            raise CertificateError(
                f"{certificate.subject}: not valid at {moment.isoformat()} "
                f"(valid {certificate.not_before.isoformat()} to {certificate.not_after.isoformat()})"
            )
        if depth == 0:
            continue
        if not certificate.is_ca:
            raise CertificateError(f"{certificate.subject}: issues certificates but is not a CA (basicConstraints cA is not set)")
        usage = certificate.key_usage
        if usage is not None and "key_cert_sign" not in usage:
            raise CertificateError(f"{certificate.subject}: keyUsage does not allow keyCertSign")
        limit = certificate.path_length
        intermediates_below = sum(1 for c in path[1:depth] if not c.self_issued)
        if limit is not None and intermediates_below > limit:
            raise CertificateError(f"{certificate.subject}: pathLenConstraint {limit} exceeded ({intermediates_below} CA certificates below it)")


def _name(fields: Mapping[str, str]) -> asn1_x509.Name:
    unknown = set(fields) - set(_NAME_KEYS)
    if unknown:
        raise CertificateError(f"unsupported name attribute(s) {sorted(unknown)}; use {sorted(_NAME_KEYS)}")
    values = {_NAME_KEYS[key]: value for key, value in fields.items()}
    return asn1_x509.Name.build(values, use_printable=False)


def _key_identifier(public_key_info: keys.PublicKeyInfo) -> bytes:
    return sm3(bytes(public_key_info["public_key"]))[:20]


def issue_sm2_certificate(
    *,
    subject: Mapping[str, str],
    subject_public_key: bytes,
    issuer_key: PrivateKey,
    issuer_cert: Certificate | None,
    serial: int,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    is_ca: bool,
    path_length: int | None = None,
    key_usage: Iterable[str] | None = None,
) -> Certificate:
    """Issue an SM2-with-SM3 certificate for an SM2 public key.

    ``issuer_cert`` None makes a self-signed root (the issuer key must then be
    the subject's). Key usage defaults to keyCertSign+cRLSign for CAs and
    digitalSignature+keyEncipherment for end entities.
    """
    gm = get_suite("gm")
    if issuer_key.suite.name != "gm":
        raise CertificateError("SM2 certificates must be signed with an SM2 (gm suite) key")
    if not 0 < serial < 2**159:
        raise CertificateError("serial must be a positive integer below 2^159 (RFC 5280 allows 20 octets)")
    start, end = _utc(not_before), _utc(not_after)
    if end <= start:
        raise CertificateError("not_after must be later than not_before")
    public_key_info = keys.PublicKeyInfo.load(_spki_der(gm.public_pem(subject_public_key)))
    if issuer_cert is None:
        if issuer_key.public_key != subject_public_key:
            raise CertificateError("a self-signed certificate must be signed by the subject's own key")
        issuer_name = _name(subject)
        issuer_info = public_key_info
    else:
        if issuer_cert.key_algorithm != "sm2" or issuer_cert.public_key != issuer_key.public_key:
            raise CertificateError(f"issuer key does not match the certificate of {issuer_cert.subject}")
        if not issuer_cert.is_ca:
            raise CertificateError(f"{issuer_cert.subject} is not a CA certificate")
        issuer_name = issuer_cert._parsed.subject
        issuer_info = issuer_cert._parsed.public_key
    usage = set(key_usage) if key_usage is not None else (
        {"key_cert_sign", "crl_sign"} if is_ca else {"digital_signature", "key_encipherment"}
    )
    extensions = [
        {"extn_id": "basic_constraints", "critical": True,
         "extn_value": {"ca": is_ca, "path_len_constraint": path_length if is_ca else None}},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": _key_identifier(public_key_info)},
        {"extn_id": "authority_key_identifier", "critical": False,
         "extn_value": {"key_identifier": _key_identifier(issuer_info)}},
    ]
    signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": OID_SM2_WITH_SM3})
    tbs = asn1_x509.TbsCertificate({
        "version": "v3",
        "serial_number": serial,
        "signature": signature_algorithm,
        "issuer": issuer_name,
        "validity": {
            "not_before": asn1_x509.Time({"utc_time" if start.year < 2050 else "general_time": start}),
            "not_after": asn1_x509.Time({"utc_time" if end.year < 2050 else "general_time": end}),
        },
        "subject": _name(subject),
        "subject_public_key_info": public_key_info,
        "extensions": extensions,
    })
    signature = signature_to_der(issuer_key.sign(tbs.dump()))
    certificate = asn1_x509.Certificate({
        "tbs_certificate": tbs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": OID_SM2_WITH_SM3}),
        "signature_value": core.OctetBitString(signature),
    })
    return load_certificate(certificate.dump(force=True))


def _spki_der(public_pem: bytes) -> bytes:
    kind, _headers, der = pem.unarmor(public_pem)
    if kind != "PUBLIC KEY":
        raise CertificateError("expected a PUBLIC KEY PEM block")
    return der
