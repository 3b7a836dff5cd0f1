"""``FinancialInstitution``: ask for authorization by QR, relay the signed grant, read credit records with it and
check them against the chain, set credit lines, review and issue or reject guarantees, and an automatic issuing rule."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from eth_utils import to_checksum_address

from chain_sdk import gm, qr, records
from chain_sdk.client import Client
from chain_sdk.data import SharedRecord, TamperedRecord, request_record
from chain_sdk.roles._base import Role
from chain_sdk.roles.center import new_guarantee_number
from chain_sdk.roles.enterprise import SignedGrant

log = logging.getLogger("chain_sdk.institution")


@dataclass(frozen=True)
class Application:
    id: int
    enterprise: str
    institution: str
    beneficiary: str
    project_id: bytes
    amount: int
    status: int


class FinancialInstitution(Role):
    def authorization_request(self, *, name: str, purpose: str, record_types: list[str] = (), record_ids: list[bytes] = (),  # type: ignore[assignment]
                              max_uses: int = 1, valid_s: int = 300, callback: str = "") -> qr.QrRequest:
        """A signed request to show as a QR code (``.to_uri()``, ``.to_png()``, ``.to_svg()``)."""
        return qr.make_request(self.wallet.key, kind="authorize", chain_id=self.client.chain_id, requester_name=name, purpose=purpose,
                               record_ids=list(record_ids), record_types=list(record_types), max_uses=max_uses, valid_s=valid_s,
                               callback=callback)

    def relay(self, grant: SignedGrant) -> bytes:
        """Put the enterprise's signed grant on chain (the contract checks the SM2 signature); returns the grant id."""
        receipt = self.authorization.transact(self.wallet, "grantRelayed", grant.terms, grant.public_key, grant.signature)
        return receipt.event("Granted").grantId

    def check_record(self, record_id: bytes, record: dict, salt: bytes) -> bool:
        """Whether ``record`` with ``salt`` is exactly what the custodian anchored (current version)."""
        anchored = self.records.call("record", record_id)
        return anchored[2] == records.commitment(record, salt) and not anchored[6]

    def read_record(self, record_id: bytes, grant_id: bytes, *, custodian: str | None = None, via: Client | None = None) -> SharedRecord:
        """Fetch a record from its custodian under a grant and check it against the chain.

        ``via``: any center's node (default: this role's); it forwards to the custodian over libp2p. Raises
        DataRefused (with the reason the custodian logged on chain) or TamperedRecord."""
        if custodian is None:
            custodian = self.records.call("record", record_id)[1]
        shared = request_record(via or self.client, self.wallet, record_id=record_id, grant_id=grant_id, custodian=custodian)
        if not self.check_record(record_id, shared.record, shared.salt):
            raise TamperedRecord(f"record 0x{record_id.hex()} from {custodian} does not match its anchored commitment")
        return shared

    def set_credit_line(self, enterprise: str, limit: int, *, valid_s: int = 365 * 86400) -> str:
        return self.guarantees.transact(self.wallet, "setCreditLine", to_checksum_address(enterprise), limit,
                                        int(time.time()) + valid_s).tx_hash

    def application(self, application_id: int) -> Application:
        enterprise, institution, beneficiary, project, amount, status, _, _ = self.guarantees.call("application", application_id)
        return Application(application_id, enterprise, institution, beneficiary, project, amount, status)

    def issue(self, application_id: int, *, valid_s: int = 90 * 86400, document: bytes = b"", number: bytes | None = None) -> bytes:
        """Issue the guarantee: sign its digest (SM2, checked on chain) and consume credit. Returns its number."""
        number = number or new_guarantee_number()
        not_after, document_hash = int(time.time()) + valid_s, gm.sm3(document or number)
        digest = self.guarantees.call("guaranteeDigest", number, application_id, not_after, document_hash)
        self.guarantees.transact(self.wallet, "issue", application_id, number, not_after, document_hash, self.wallet.public_key[1:],
                                 self.wallet.sign(digest))
        return number

    def reject(self, application_id: int, reason: str) -> str:
        return self.guarantees.transact(self.wallet, "reject", application_id, reason).tx_hash

    def auto_issue(self, rule: Callable[[Application], bool], *, poll_s: float = 0.2) -> AutoIssuer:
        """Start issuing, within seconds, every application to this institution that ``rule`` accepts."""
        issuer = AutoIssuer(self, rule, poll_s)
        issuer.start()
        return issuer


class AutoIssuer:
    """A background rule: watches Applied events addressed to the institution and issues those the rule accepts."""

    def __init__(self, institution: FinancialInstitution, rule: Callable[[Application], bool], poll_s: float) -> None:
        self.institution, self.rule, self.poll_s = institution, rule, poll_s
        self.issued: dict[int, bytes] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auto-issuer", daemon=True)
        self._from_block = institution.client.height()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def wait_for(self, application_id: int, timeout: float = 30.0) -> bytes:
        """The guarantee number issued for ``application_id`` (raises SdkError after ``timeout`` seconds)."""
        from chain_sdk.errors import SdkError

        deadline = time.monotonic() + timeout
        while application_id not in self.issued:
            if time.monotonic() > deadline:
                raise SdkError(f"application {application_id} was not issued within {timeout:.0f} s"
                               + (f"; the rule's last error: {self.errors[-1]}" if self.errors else " (does the rule accept it?)"))
            time.sleep(0.05)
        return self.issued[application_id]

    def _run(self) -> None:
        me = self.institution.address.lower()
        while not self._stop.is_set():
            try:
                head = self.institution.client.height()
                for applied in self.institution.guarantees.events("Applied", from_block=self._from_block):
                    if applied.institution.lower() != me or int(applied.applicationId) in self.issued:
                        continue
                    application = self.institution.application(int(applied.applicationId))
                    if application.status != 1:
                        continue
                    if self.rule(application):
                        self.issued[application.id] = self.institution.issue(application.id)
                        log.info("issued guarantee for application %d", application.id)
                self._from_block = max(self._from_block, head - 1)
            except Exception as exc:  # noqa: BLE001 - keep the rule running; the error is kept for the caller
                self.errors.append(f"{type(exc).__name__}: {exc}")
                log.warning("automatic issuing: %s", exc)
            self._stop.wait(self.poll_s)
