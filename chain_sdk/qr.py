"""QR requests: compact, signed, single-use and expiring; as a ``yilian:`` URI and as PNG/SVG (segno).

A requester (a bank asking for data, a center asking for a login) signs the request with SM2; the
enterprise's wallet scans it and refuses it when it is expired, already seen (replayed), wrongly signed
or for another chain, before showing the user who asks for what.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time

from chain_sdk import gm
from chain_sdk.errors import QrRefused

SCHEME = "yilian:"
DOMAIN = b"YILIAN/qr/v1\x00"


@dataclasses.dataclass(frozen=True)
class QrRequest:
    kind: str  # "authorize" (data use) or "login"
    chain_id: int
    requester: str  # address of the signer
    requester_key: str  # its 65-byte public key, hex
    requester_name: str
    purpose: str
    record_ids: tuple[str, ...]  # hex
    record_types: tuple[str, ...]  # names from the data standard
    max_uses: int
    not_after: int  # unix seconds: the request and the grant it asks for end here
    nonce: str  # hex, 16 random bytes
    callback: str
    signature: str = ""

    def signing_bytes(self) -> bytes:
        body = dataclasses.asdict(self)
        body.pop("signature")
        return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_uri(self) -> str:
        payload = json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":")).encode()
        return SCHEME + base64.urlsafe_b64encode(payload).rstrip(b"=").decode()

    def to_svg(self) -> str:
        import io

        import segno

        out = io.BytesIO()
        segno.make(self.to_uri(), error="m").save(out, kind="svg", scale=4)
        return out.getvalue().decode()

    def to_png(self) -> bytes:
        import io

        import segno

        out = io.BytesIO()
        segno.make(self.to_uri(), error="m").save(out, kind="png", scale=6)
        return out.getvalue()


def make_request(key: gm.Sm2Key, *, kind: str, chain_id: int, requester_name: str, purpose: str, record_ids: list[bytes] = (),  # type: ignore[assignment]
                 record_types: list[str] = (), max_uses: int = 1, valid_s: int = 300, callback: str = "") -> QrRequest:  # type: ignore[assignment]
    import os

    unsigned = QrRequest(kind, chain_id, "0x" + key.address.hex(), key.public_key.hex(), requester_name, purpose,
                         tuple(r.hex() for r in record_ids), tuple(record_types), max_uses, int(time.time()) + valid_s,
                         os.urandom(16).hex(), callback)
    return dataclasses.replace(unsigned, signature=key.sign(unsigned.signing_bytes()).hex())


def parse(uri: str, *, chain_id: int, seen: set[str], now: float | None = None) -> QrRequest:
    """Check a scanned request; raises QrRefused naming the reason. Adds its nonce to ``seen`` when accepted."""
    if not uri.startswith(SCHEME):
        raise QrRefused("malformed", f"not a YiLian request (expected {SCHEME}…)")
    try:
        body = uri[len(SCHEME):]
        document = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        document["record_ids"], document["record_types"] = tuple(document["record_ids"]), tuple(document["record_types"])
        request = QrRequest(**document)
        key = bytes.fromhex(request.requester_key)
        signature = bytes.fromhex(request.signature)
    except (ValueError, TypeError, KeyError) as exc:
        raise QrRefused("malformed", f"cannot read the request: {exc}") from None
    if request.chain_id != chain_id:
        raise QrRefused("other-chain", f"request is for chain {request.chain_id}, this wallet is on chain {chain_id}")
    try:
        owner = "0x" + gm.address_of(key).hex()
    except Exception:  # noqa: BLE001
        raise QrRefused("bad-signature", "the requester's key is not an SM2 public key") from None
    if owner != request.requester.lower() or not gm.sm2_verify(key, request.signing_bytes(), signature):
        raise QrRefused("bad-signature", f"not signed by {request.requester}")
    if (time.time() if now is None else now) > request.not_after:
        raise QrRefused("expired", f"request expired at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(request.not_after))}")
    if request.nonce in seen:
        raise QrRefused("replayed", f"request {request.nonce} was already scanned")
    seen.add(request.nonce)
    return request
