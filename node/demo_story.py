"""The story `yilian demo` tells, with real transactions on a real 4-center localnet, through the SDK.

Each method is one step: it acts, checks what must hold (raising when it does not) and returns what to show.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from chain_sdk import Auditor, Client, DataRefused, DataService, Enterprise, FinancialInstitution, QrRefused, TradingCenter, \
    TransactionFailed, Wallet, gm
from chain_sdk.client import BATCH as SEND_BATCH
from chain_sdk.verify import Genesis, ProofRejected, verify_file, verify_proof
from node.harness import free_port_block

CENTERS = ("A", "B", "C", "D")
USCC = "91350100M000100Y43"
REGISTER = 250  # enterprises center B admits at once


def refused(attempt, what: str, error: type[Exception], reason: str) -> str:  # type: ignore[no-untyped-def]
    """Run ``attempt``, which must be refused with ``error``; returns the refusal's ``reason`` attribute."""
    try:
        attempt()
    except error as exc:
        return str(getattr(exc, reason))
    raise RuntimeError(f"{what} was accepted")


class Story:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.process: subprocess.Popen | None = None
        self.s: dict = {}  # what later steps need

    # -- the consortium -----------------------------------------------------------------------------

    def start(self) -> str:
        base = free_port_block(4)  # API ports base..base+3, p2p ports base+1000..base+1003
        net = self.dir / "localnet"
        log = open(self.dir / "localnet.log", "ab")  # noqa: SIM115 - lives as long as the nodes
        self.process = subprocess.Popen([sys.executable, "-m", "node.cli", "localnet", "--nodes", "4", "--dir", str(net), "--port", str(base)],
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (self.dir / "localnet.pid").write_text(f"{self.process.pid}\n")
        deadline = time.monotonic() + 150
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the localnet exited with code {self.process.returncode}; see {self.dir / 'localnet.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the nodes did not all commit blocks within 150 s; see {self.dir / 'localnet.log'}")
            try:
                description = json.loads((net / "localnet.json").read_text())
                heights = [Client(node["api_url"], timeout=2).height() for node in description["nodes"]]
                if len(heights) == 4 and min(heights) >= 2:
                    break
            except (OSError, ValueError, KeyError, Exception):  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.5)
        homes = [Path(node["home"]) for node in description["nodes"]]
        urls = [node["api_url"] for node in description["nodes"]]
        self.s.update(homes=homes, urls=urls, genesis_path=net / "consortium" / "genesis.json")
        centers = [TradingCenter.for_home(url, home) for home, url in zip(homes, urls)]
        self.s["center"] = dict(zip(CENTERS, centers))
        status = centers[0].client.status()
        lines = [f"chain {status['chain_id']} ({status['suite']}: SM2/SM3/SM4), genesis 0x{status['genesis_hash'][2:18]}…, "
                 f"{len(status['validators'])} validators, consensus {status['consensus']}, quorum 3 of 4"]
        for letter, center, url in zip(CENTERS, centers, urls):
            lines.append(f"center {letter}: admin {center.address}, node {url}, peers {len(center.client.status()['peers'])}")
        return "\n".join(lines)

    def governance(self) -> str:
        a, b, c = (self.s["center"][x] for x in "ABC")
        bank, ca = Wallet.generate(), Wallet.generate()
        self.s.update(bank_wallet=bank, ca_wallet=ca)
        lines = []
        for action, subject, name in (("AddInstitution", bank, "Bank K"), ("AddCA", ca, "CA One (YiLianQian)")):
            proposal = a.propose(action, subject.address, name)
            b.vote(proposal)
            c.vote(proposal)  # 3 of 4 centers: more than 2/3
            lines.append(f"{action} {name}: proposed by A, voted by B and C → executed")
        members = a.members
        if not members.call("hasRole", bank.address, 2) or not members.call("hasRole", ca.address, 3):
            raise RuntimeError("governance did not admit the bank and the CA")
        return "\n".join(lines)

    # -- the enterprise and its records --------------------------------------------------------------

    def enterprise_records(self) -> str:
        a = self.s["center"]["A"]
        enterprise = Enterprise(Client(self.s["urls"][0]), Wallet.generate())
        self.s["enterprise"] = enterprise
        a.admit(enterprise.address)
        data = DataService.for_home(self.s["urls"][0], self.s["homes"][0])
        base = {"schema_version": 1, "uscc": USCC}
        documents = {
            "enterprise_basic": {"name": "福建易链建设工程有限公司", "legal_representative": "张三", "registered_capital": "50000000.00",
                                 "established_on": "2012-03-15", "status": "active"},
            "qualification": {"certificate_no": "D235012345", "category": "建筑工程施工总承包", "grade": "一级", "issuer": "住房和城乡建设部",
                              "issued_on": "2022-01-01", "valid_until": "2027-01-01"},
            "performance": {"project_name": "市民服务中心", "client": "某市城投", "contract_amount": "120000000", "started_on": "2021-05-01",
                            "role": "prime_contractor"},
            "credit": {"rating": "AA", "rated_by": "Center A", "rated_on": "2026-06-30", "blacklisted": False},
        }
        lines, ids = [f"enterprise E {enterprise.address} admitted by center A (it can now transact)"], {}
        for record_type, fields in documents.items():
            answer = data.ingest(record_type, f"{record_type}/{USCC}", enterprise.address, {"record_type": record_type, **base, **fields})
            ids[record_type] = bytes.fromhex(answer["record_id"][2:])
            lines.append(f"{record_type:17} record 0x{answer['record_id'][2:14]}… commitment 0x{answer['commitment'][2:14]}… "
                         f"block {answer['height']}")
        self.s["records"] = ids
        lines.append("the raw records stay at A, SM4-encrypted in its LevelDB; only salted SM3 commitments are on chain")
        register = [Wallet.generate().address for _ in range(REGISTER)]  # a center joining with the enterprises it already knows
        started = time.perf_counter()
        admitted = self.s["center"]["B"].admit_many(register)
        lines.append(f"center B admits its register of {len(admitted)} enterprises in {-(-len(admitted) // SEND_BATCH)} requests "
                     f"(TradingCenter.admit_many), all committed in {time.perf_counter() - started:.1f} s")
        return "\n".join(lines)

    # -- YiLianQian --------------------------------------------------------------------------------------

    def certificate(self) -> str:
        from node.crypto import get_suite, x509

        suite = get_suite("gm")
        ca_key = suite.key_from_secret(self.s["ca_wallet"].key.secret)
        now = datetime.datetime.now(datetime.timezone.utc)
        root = x509.issue_sm2_certificate(subject={"C": "CN", "O": "CA One", "CN": "CA One Root"}, subject_public_key=ca_key.public_key,
                                          issuer_key=ca_key, issuer_cert=None, serial=1, not_before=now - datetime.timedelta(minutes=5),
                                          not_after=now + datetime.timedelta(days=3650), is_ca=True)
        enterprise = self.s["enterprise"]
        leaf = x509.issue_sm2_certificate(subject={"C": "CN", "O": "福建易链建设工程有限公司", "CN": USCC},
                                          subject_public_key=enterprise.wallet.public_key, issuer_key=ca_key, issuer_cert=root, serial=1001,
                                          not_before=now - datetime.timedelta(minutes=5), not_after=now + datetime.timedelta(days=365),
                                          is_ca=False)
        x509.verify_chain(leaf, [], [root])
        fingerprint = gm.sm3(leaf.der)
        a = self.s["center"]["A"]
        a.bind_certificate(fingerprint=fingerprint, issuer=self.s["ca_wallet"].address, uscc=USCC, public_key=enterprise.wallet.public_key,
                           not_before=int(leaf.not_before.timestamp()), not_after=int(leaf.not_after.timestamp()))
        self.s["fingerprint"] = fingerprint
        valid_everywhere = [self.s["center"][x].certificates.call("isValid", fingerprint) for x in CENTERS]
        if not all(valid_everywhere):
            raise RuntimeError("the certificate is not valid at every center")
        (self.dir / "enterprise-E.crt.der").write_bytes(leaf.der)
        return (f"CA One issued E an SM2 certificate ({leaf.subject}); A checked its chain to the CA root and bound it once:\n"
                f"fingerprint 0x{fingerprint.hex()[:16]}… is valid at A, B, C and D")

    def qr_login(self) -> str:
        c, enterprise = self.s["center"]["C"], self.s["enterprise"]
        request = c.login_request(name="Center C trading portal")
        (self.dir / "login-qr.svg").write_text(request.to_svg())
        seen = enterprise.scan(request.to_uri())
        tx = c.accept_login(request, enterprise.address, enterprise.sign_login(seen))
        self.s["login_tx"] = tx
        replay = refused(lambda: c.accept_login(request, enterprise.address, enterprise.sign_login(seen)), "a replayed login challenge",
                         TransactionFailed, "error")
        return (f"C showed a one-time login QR (login-qr.svg, {len(request.to_uri())} characters); E's wallet checked C's signature,\n"
                f"signed the challenge with its certificate key; C recorded the login on chain (tx {tx[:18]}…);\n"
                f"the same challenge again: refused ({replay})")

    # -- authorization and data sharing ----------------------------------------------------------------------

    def authorize(self) -> str:
        bank = FinancialInstitution(Client(self.s["urls"][3]), self.s["bank_wallet"])  # K works through center D's node
        self.s["bank"] = bank
        enterprise = self.s["enterprise"]
        request = bank.authorization_request(name="Bank K", purpose="credit review for bid guarantees", record_types=["credit"], max_uses=1)
        (self.dir / "authorize-qr.png").write_bytes(request.to_png())
        widened = dataclasses.replace(request, record_types=("credit", "personnel"))  # altered after K signed it
        tampered = refused(lambda: enterprise.scan(widened.to_uri()), "a tampered QR request", QrRefused, "reason")
        seen = enterprise.scan(request.to_uri())
        shown = enterprise.describe(seen)
        grant = enterprise.approve(seen, valid_s=3600)
        grant_id = bank.relay(grant)
        self.s["grant_id"] = grant_id
        return (f"K shows a QR (authorize-qr.png); a tampered copy is refused by the wallet ({tampered})\n"
                f"E's wallet shows: {shown}\nE signs (SM2); K relays the grant, checked on chain: grant 0x{grant_id.hex()[:16]}…")

    def read_credit(self) -> str:
        bank, credit_id = self.s["bank"], self.s["records"]["credit"]
        scope = refused(lambda: bank.read_record(self.s["records"]["performance"], self.s["grant_id"]), "a record outside the grant's scope",
                        DataRefused, "reason")
        shared = bank.read_record(credit_id, self.s["grant_id"])  # asked at D, served by A over libp2p
        if shared.record["rating"] != "AA":
            raise RuntimeError(f"unexpected credit record {shared.record}")
        self.s["access_tx"] = shared.access_tx
        second = refused(lambda: bank.read_record(credit_id, self.s["grant_id"]), "a used-up grant", DataRefused, "reason")
        return (f"K asked center D's node; D forwarded over libp2p to custodian A, which checked the grant, logged the access\n"
                f"on chain (tx {shared.access_tx[:18]}…) and answered in an SM2 envelope to K's key\n"
                f"K decrypted rating {shared.record['rating']!r} and checked SM3(salt ‖ record) against the chain: match\n"
                f"the performance record: refused ({scope}); the credit record again: refused ({second});\n"
                f"both refusals are logged on chain with their reasons")

    # -- YiLianBao ---------------------------------------------------------------------------------------

    def project_and_rule(self) -> str:
        b, bank, enterprise = self.s["center"]["B"], self.s["bank"], self.s["enterprise"]
        data = DataService.for_home(self.s["urls"][1], self.s["homes"][1])
        project = {"record_type": "project", "schema_version": 1, "uscc": "12350100MB0000000X", "project_id": "FJ-2026-0001",
                   "name": "学校改扩建工程", "tenderer": "某区教育局", "category": "construction", "budget": "30000000",
                   "bid_deadline": "2026-12-20T09:30:00+08:00"}
        answer = data.ingest("project", "project/FJ-2026-0001", b.address, project)
        project_id = bytes.fromhex(answer["record_id"][2:])
        self.s["project"] = project_id
        deadline = int(time.time()) + 8
        b.open_tender(project_id, deadline)
        self.s["deadline"] = deadline
        bank.set_credit_line(enterprise.address, 2_000_000)
        self.s["issuer"] = bank.auto_issue(lambda application: application.amount <= 1_000_000)
        return (f"B anchored project P ({project['name']}) 0x{project_id.hex()[:16]}… and opened its tender (bids sealed for 8 s)\n"
                f"K granted E a credit line of 2,000,000 CNY (usable at any center) and started an automatic rule:\n"
                f"issue every application up to 1,000,000 CNY")

    def guarantee(self) -> str:
        enterprise, b, bank, issuer = self.s["enterprise"], self.s["center"]["B"], self.s["bank"], self.s["issuer"]
        started = time.monotonic()
        application = enterprise.apply_guarantee(self.s["project"], beneficiary=b.address, amount=600_000, institution=bank.address)
        while application not in issuer.issued and time.monotonic() - started < 30:
            time.sleep(0.05)
        issuer.stop()
        if application not in issuer.issued:
            raise RuntimeError(f"the rule did not issue within 30 s: {issuer.errors}")
        elapsed = time.monotonic() - started
        number = issuer.issued[application]
        self.s["guarantee"] = number
        duplicate = refused(lambda: enterprise.apply_guarantee(self.s["project"], beneficiary=b.address, amount=600_000,
                                                               institution=bank.address),
                            "a second live application for the same project", TransactionFailed, "error")
        return (f"E applied at B for a 600,000 CNY bid guarantee (application {application});\n"
                f"K's rule issued guarantee 0x{number.hex()[:16]}… {elapsed:.1f} s after the application, signed with SM2 on chain\n"
                f"a second application for P at any institution: refused ({duplicate})")

    def verify_guarantee(self) -> str:
        b, c = self.s["center"]["B"], self.s["center"]["C"]
        check = b.verify_guarantee(self.s["guarantee"])
        if not check.valid or check.amount != 600_000:
            raise RuntimeError(f"the guarantee does not verify at B: {check}")
        elsewhere = c.verify_guarantee(self.s["guarantee"])
        forged = b.verify_guarantee(gm.sm3(b"forged guarantee FJ-2026-0001"))
        if forged.valid:
            raise RuntimeError("a forged guarantee number verified")
        return (f"B: valid, {check.status}, {check.amount:,} CNY for project 0x{check.project_id.hex()[:12]}…, issued by {check.institution}\n"
                f"C (any center): {'valid' if elsewhere.valid else 'INVALID'}; a forged number: {'valid' if forged.valid else 'refused'} "
                f"(status {forged.status})")

    def bid(self) -> str:
        enterprise, b = self.s["enterprise"], self.s["center"]["B"]
        project = self.s["project"]
        document = "投标函：学校改扩建工程，报价 27,500,000 元，工期 180 天".encode()
        enterprise.sign_document(document, self.s["fingerprint"])
        bid_file = document + b"\n(technical and commercial parts)"
        sealed = enterprise.seal_bid(project, bid_file, b.wallet.public_key)
        early = refused(lambda: b.open_bid(project, enterprise.address, sealed), "opening a bid before the deadline", TransactionFailed, "error")
        while int(b.client.status()["head_time_ms"]) // 1000 < self.s["deadline"]:
            time.sleep(0.5)
        opened = b.open_bid(project, enterprise.address, sealed)
        if opened != bid_file:
            raise RuntimeError("the opened bid differs from the sealed one")
        recorded = b.certificates.call("bidOf", project, enterprise.address)
        self.s["bid"] = (project, enterprise.address)
        return (f"E signed its bid letter with its certificate key (attested on chain) and sealed the bid file to B's key;\n"
                f"the ciphertext's SM3 hash is on chain; opening before the deadline: refused ({early});\n"
                f"at the deadline B opened it: {len(opened)} bytes, plaintext hash 0x{recorded[1].hex()[:16]}… recorded")

    # -- the auditor ------------------------------------------------------------------------------------------

    def audit(self) -> str:
        genesis = Genesis.load(self.s["genesis_path"])
        auditor = Auditor(Client(self.s["urls"][2]), genesis)  # any node serves proofs; only the genesis is trusted
        lines, proofs = [], self.dir / "proofs"
        proofs.mkdir(exist_ok=True)
        credit_id = self.s["records"]["credit"]
        history = auditor.record_history(credit_id)
        anchored = history[0].events[0]
        current = self.s["center"]["A"].records.call("record", credit_id)
        if anchored.name != "Anchored" or anchored.args["commitment"] != current[2]:
            raise RuntimeError("the credit record's proven anchor is not its current commitment")
        lines.append(f"E's credit record: anchored in block {history[0].verified.height} by custodian {anchored.args['custodian']}, "
                     f"owner E, commitment 0x{anchored.args['commitment'].hex()[:16]}… = the chain's current one")
        accesses = auditor.access_log(credit_id)
        names = [e.name for step in accesses for e in step.events]
        if names.count("AccessLogged") != 1 or "AccessRefused" not in names:
            raise RuntimeError(f"unexpected access log {names}")
        lines.append(f"its access log: {names.count('AccessLogged')} access by K, {names.count('AccessRefused')} refusal(s), each proven")
        issued = auditor.guarantee_history(self.s["guarantee"])
        if not issued or issued[0].events[0].name != "GuaranteeIssued":
            raise RuntimeError("the guarantee's issuance is not proven")
        event = issued[0].events[0]
        lines.append(f"guarantee 0x{self.s['guarantee'].hex()[:16]}…: issued in block {issued[0].verified.height} by {event.args['institution']} "
                     f"for {event.args['amount']:,} CNY")
        if auditor.guarantee_history(gm.sm3(b"forged guarantee FJ-2026-0001")):
            raise RuntimeError("a forged guarantee has a history")
        lines.append("forged guarantee number: no issuance on chain")
        for name, tx in (("login", self.s["login_tx"]), ("access", self.s["access_tx"])):
            path = proofs / f"{name}.json"
            path.write_text(json.dumps(auditor.client.proof(tx, "receipt"), indent=1))
            verified = verify_file(self.s["genesis_path"], path)
            lines.append(f"{name} proof written to {path.name}: block {verified.height}, {verified.signers} of {verified.validators} "
                         f"validator signatures, Merkle path of {len(json.loads(path.read_text())['merkle']['path'])} hash(es)")
        document = json.loads((proofs / "access.json").read_text())
        document["leaf"] = document["leaf"][:-4] + ("0000" if not document["leaf"].endswith("0000") else "1111")
        field = refused(lambda: verify_proof(genesis, document), "a tampered proof", ProofRejected, "field")
        lines.append(f"the same proof with one byte changed: rejected at {field}")
        lines.append(f"an outsider checks them with: yilian verify --genesis {self.s['genesis_path'].relative_to(self.dir)} proofs/*.json")
        return "\n".join(lines)

    # -- the end ------------------------------------------------------------------------------------------------

    def stop(self) -> str:
        if self.process is None:
            return "no nodes were started"
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                raise RuntimeError("the nodes did not stop within 60 s; killed") from None
        issuer = self.s.get("issuer")
        if issuer is not None:
            issuer.stop()
        return f"all four nodes stopped (exit code {self.process.returncode}); their logs are in {self.dir / 'localnet' / 'logs'}"

    def keep_message(self) -> str:
        issuer = self.s.get("issuer")
        if issuer is not None:
            issuer.stop()
        lines = [f"the localnet keeps running (process group {self.process.pid if self.process else '?'}); explore it:"]
        for letter, url in zip(CENTERS, self.s.get("urls", [])):
            lines.append(f"  center {letter}: {url}/docs  (REST /v1, JSON-RPC {url}/)")
        lines.append(f"  keys and tokens: {self.dir / 'localnet' / 'consortium' / 'centers'}")
        lines.append(f"  stop it with: kill -TERM -{self.process.pid if self.process else 0}")
        return "\n".join(lines)

