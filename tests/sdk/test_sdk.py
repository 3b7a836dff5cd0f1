"""The SDK against a real node: every role's verbs, the wallet's refusals and the typed errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time

import pytest

from chain_sdk import Client, KeystoreError, NodeBehind, NodeUnavailable, QrRefused, Session, TransactionFailed, Wallet, gm, qr
from chain_sdk.roles.center import new_guarantee_number


def test_sdk_does_not_import_node():
    code = "import sys, chain_sdk, chain_sdk.roles, chain_sdk.qr; bad = [m for m in sys.modules if m == 'node' or m.startswith('node.')]; " \
           "print(bad); sys.exit(1 if bad else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("suite", ["gm", "ecdsa"])
def test_keystore_roundtrip_and_refusals(tmp_path, suite):
    from node.crypto.keystore import load_keystore, save_keystore
    from node.crypto import get_suite

    wallet = Wallet.generate(suite)
    path = tmp_path / "me.json"
    wallet.save(path, b"correct horse")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert Wallet.load(path, b"correct horse").address == wallet.address
    assert wallet.key.secret.hex() not in path.read_text() and wallet.key.secret.hex() not in repr(wallet)
    with pytest.raises(KeystoreError, match="wrong password"):
        Wallet.load(path, b"wrong")
    document = path.read_text().replace(wallet.address[2:6], "ffff", 1)
    (tmp_path / "edited.json").write_text(document)
    with pytest.raises(KeystoreError):
        Wallet.load(tmp_path / "edited.json", b"correct horse")
    with pytest.raises(KeystoreError, match="empty"):
        wallet.save(tmp_path / "x.json", b"")
    # the node's tools open the SDK's keystores and the other way round
    assert "0x" + load_keystore(path, b"correct horse").address.hex() == wallet.address
    node_key = get_suite(suite).generate_key()
    save_keystore(tmp_path / "node.json", node_key, b"pw")
    assert Wallet.load(tmp_path / "node.json", b"pw").address == "0x" + node_key.address.hex()


def test_node_keystore_opens_in_the_sdk(story):
    """A center's admin key written by `yilian init` opens with the SDK, and it is the genesis admin."""
    assert story.center.members.call("isCenter", story.center.address)


def test_unreachable_node_is_a_clear_error():
    with pytest.raises(NodeUnavailable, match="is the node running"):
        Client("http://127.0.0.1:9", timeout=2).status()


def test_a_node_answers_only_once_it_has_applied_the_writes_this_program_saw(story):
    """Read-your-writes across centers: a block in which the session saw a write committed (through another node)
    must be applied by a node before it answers; a node that does not get there in time is named, with what to do."""
    session = Session()
    reader = Client(story.url, session=session)
    status = reader.status()
    session.saw(status["genesis_hash"], status["height"] + 1)  # as if a write through another center landed in the next block
    threading.Timer(0.5, lambda: story.center.admit(Wallet.generate().address)).start()  # this node gets there in ~0.5 s
    assert story.center.members.call("isCenter", story.center.address)  # another session: answered at once
    reader.call(story.center.members.address, story.center.members.encode("isCenter", story.center.address))
    assert Client(story.url, session=Session()).height() >= status["height"] + 1  # the read waited for the block

    session.saw(status["genesis_hash"], status["height"] + 1_000_000)
    with pytest.raises(NodeBehind, match=r"did not reach block .* check its /v1/status, or use another center's node") as caught:
        Client(story.url, session=session, catch_up_s=0.3).status()
    assert caught.value.needed == status["height"] + 1_000_000 and caught.value.height >= status["height"] + 1


def test_not_admitted_account_is_refused(story):
    stranger = Wallet.generate()
    raw = stranger.sign_transaction(chain_id=story.client.chain_id, nonce=0, to=bytes(20), valid_until=story.client.height() + 100)
    with pytest.raises(Exception) as caught:
        story.client.send_raw(raw)
    assert getattr(caught.value, "status", None) in (400, 403, 422), caught.value
    assert "admit" in str(caught.value).lower()


def test_authorization_by_qr_and_checked_read(story):
    center, enterprise, bank = story.center, story.enterprise, story.bank
    credit = {"uscc": "91330100MA2GXXXX1X", "rating": "AA", "year": 2026, "score": 87}
    anchored = center.anchor("credit-2026-E", "credit", enterprise.address, credit)
    assert not bank.authorization.call("isAuthorized", bank.address, anchored.record_id)

    request = bank.authorization_request(name="Bank K", purpose="credit review for bid guarantees", record_types=["credit"], max_uses=3)
    png, svg = request.to_png(), request.to_svg()
    assert png.startswith(b"\x89PNG") and "<svg" in svg
    uri = request.to_uri()
    seen = enterprise.scan(uri)
    assert "Bank K" in enterprise.describe(seen) and "credit" in enterprise.describe(seen)
    grant = enterprise.approve(seen)
    grant_id = bank.relay(grant)
    assert grant_id == grant.grant_id
    assert bank.authorization.call("isAuthorized", bank.address, anchored.record_id)

    assert bank.check_record(anchored.record_id, credit, anchored.salt)
    assert not bank.check_record(anchored.record_id, {**credit, "rating": "AAA"}, anchored.salt)
    assert not bank.check_record(anchored.record_id, credit, os.urandom(32))

    # the same QR request again is refused by the wallet; the same signed grant again by the chain
    with pytest.raises(QrRefused) as replayed:
        enterprise.scan(uri)
    assert replayed.value.reason == "replayed"
    with pytest.raises(TransactionFailed) as again:
        bank.relay(grant)
    assert again.value.error == "NonceUsed"

    enterprise.revoke(grant_id)
    assert not bank.authorization.call("isAuthorized", bank.address, anchored.record_id)
    with pytest.raises(TransactionFailed) as twice:
        enterprise.revoke(grant_id)
    assert twice.value.error == "GrantRevoked"


def test_wallet_refuses_bad_qr_requests(story):
    bank, enterprise = story.bank, story.enterprise
    request = bank.authorization_request(name="Bank K", purpose="credit review", record_types=["credit"])

    other_chain = qr.make_request(bank.wallet.key, kind="authorize", chain_id=story.client.chain_id + 1, requester_name="Bank K",
                                  purpose="x", record_types=["credit"])
    expired = qr.make_request(bank.wallet.key, kind="authorize", chain_id=story.client.chain_id, requester_name="Bank K", purpose="x",
                              record_types=["credit"], valid_s=-1)
    widened = dataclasses.replace(request, record_types=("credit", "personnel"))  # scope changed after signing
    impostor = dataclasses.replace(request, requester_name="Bank K", requester="0x" + "11" * 20)
    wrong_key = qr.make_request(Wallet.generate().key, kind="authorize", chain_id=story.client.chain_id, requester_name="Bank K",
                                purpose="x", record_types=["credit"])
    wrong_key = dataclasses.replace(wrong_key, requester=bank.address)  # claims to be the bank, signed by someone else
    cases = {"other-chain": other_chain.to_uri(), "expired": expired.to_uri(), "bad-signature": widened.to_uri()}
    for reason, uri in cases.items():
        with pytest.raises(QrRefused) as refused:
            enterprise.scan(uri)
        assert refused.value.reason == reason, (reason, refused.value)
    for forged in (impostor, wrong_key):
        with pytest.raises(QrRefused) as refused:
            enterprise.scan(forged.to_uri())
        assert refused.value.reason == "bad-signature"
    for junk in ("https://example.com", "yilian:!!!", "yilian:" + "A" * 40):
        with pytest.raises(QrRefused) as refused:
            enterprise.scan(junk)
        assert refused.value.reason == "malformed"
    assert enterprise.scan(request.to_uri()).nonce == request.nonce  # the untouched one still passes


def _certify(story) -> bytes:
    fingerprint = gm.sm3(b"certificate of " + story.enterprise.address.encode())
    now = int(time.time())
    story.center.bind_certificate(fingerprint=fingerprint, issuer=story.ca.address, uscc="91330100MA2GXXXX1X",
                                  public_key=story.enterprise.wallet.public_key, not_before=now - 60, not_after=now + 86400)
    return fingerprint


@pytest.fixture(scope="module")
def certified(story) -> bytes:
    return _certify(story)


def test_qr_login_once(story, certified):
    center, enterprise = story.center, story.enterprise
    request = center.login_request(name="Center C")
    seen = enterprise.scan(request.to_uri())
    signature = enterprise.sign_login(seen)
    center.accept_login(request, enterprise.address, signature)
    with pytest.raises(TransactionFailed) as replay:
        center.accept_login(request, enterprise.address, signature)
    assert replay.value.error == "ChallengeUsed"
    other = center.login_request(name="Center C")
    with pytest.raises(TransactionFailed) as wrong:
        center.accept_login(other, enterprise.address, signature)  # a signature for another challenge
    assert wrong.value.error == "BadSignature"


def test_document_signature_attested(story, certified):
    document = b"contract for project P, signed 2026-11-26"
    story.enterprise.sign_document(document, certified)
    signed = story.enterprise.certificates.call("signatureOf", gm.sm3(document), certified)
    assert signed[1].lower() == story.enterprise.address


def test_guarantee_issued_automatically_and_verified(story, certified):
    center, enterprise, bank = story.center, story.enterprise, story.bank
    project = center.anchor("P-2026-001", "project", center.address, {"name": "Road 7 resurfacing", "budget": 3_000_000})
    bank.set_credit_line(enterprise.address, 1_000_000)
    issuer = bank.auto_issue(lambda application: application.amount <= 200_000)
    try:
        started = time.monotonic()
        application = enterprise.apply_guarantee(project.record_id, beneficiary=center.address, amount=150_000, institution=bank.address)
        while application not in issuer.issued and time.monotonic() - started < 30:
            time.sleep(0.1)
        assert application in issuer.issued, issuer.errors
    finally:
        issuer.stop()
    check = center.verify_guarantee(issuer.issued[application])
    assert check.valid and check.status == "Issued" and check.amount == 150_000
    assert check.enterprise.lower() == enterprise.address and check.institution.lower() == bank.address
    assert bank.guarantees.call("availableCredit", bank.address, enterprise.address) == 850_000

    forged = center.verify_guarantee(new_guarantee_number())
    assert not forged.valid and forged.status == "None"
    with pytest.raises(TransactionFailed) as twice:
        enterprise.apply_guarantee(project.record_id, beneficiary=center.address, amount=10, institution=bank.address)
    assert twice.value.error == "ApplicationExists"


def test_sealed_bid_opens_only_after_the_deadline(story, certified):
    center, enterprise = story.center, story.enterprise
    project = gm.sm3(b"tender " + os.urandom(8))
    deadline = int(time.time()) + 4
    center.open_tender(project, deadline)
    bid = b"bid file: price 2,750,000 CNY; schedule 120 days"
    sealed = enterprise.seal_bid(project, bid, center.wallet.public_key)
    assert bid not in sealed
    with pytest.raises(TransactionFailed) as early:
        enterprise.open_bid(project, sealed, center.wallet)
    assert early.value.error == "NotYetOpen"
    while time.time() < deadline + 2:
        time.sleep(0.5)
    assert enterprise.open_bid(project, sealed, center.wallet) == bid
    recorded = enterprise.certificates.call("bidOf", project, enterprise.address)
    assert gm.sm3(bid) in recorded and gm.sm3(sealed) in recorded


def test_secp256k1_wallet_transacts(story):
    """An Ethereum-style account, once admitted, sends EIP-1559 transactions through the same bindings."""
    from chain_sdk import Contract

    wallet = Wallet.generate("ecdsa")
    story.center.admit(wallet.address)
    with pytest.raises(TransactionFailed) as refused:
        Contract(story.client, "Authorization").transact(wallet, "revoke", b"\x01" * 32)
    assert refused.value.error == "UnknownGrant" and refused.value.receipt["height"] > 0
    assert story.client.account(wallet.address)["nonce"] == 1
