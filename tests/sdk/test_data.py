"""The grant-gated data path against a real node: ingest, serve under a grant, every refusal logged, bulk import."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from chain_sdk import Auditor, DataRefused, DataService, ImportInterrupted, NodeError, SdkError, TamperedRecord, Wallet, gm, records
from chain_sdk.data import access_request, open_answer
from chain_sdk.roles import FinancialInstitution
from chain_sdk.client import Client

USCC = "91350100M000100Y43"


def credit(rating: str = "AA", uscc: str = USCC) -> dict:
    return {"record_type": "credit", "schema_version": 1, "uscc": uscc, "rating": rating, "rated_by": "Center A",
            "rated_on": "2026-06-30", "blacklisted": False}


@pytest.fixture(scope="module")
def data(story) -> DataService:
    return DataService.for_home(story.url, story.home)


@pytest.fixture(scope="module")
def held(story, data) -> bytes:
    answer = data.ingest("credit", f"credit/{USCC}", story.enterprise.address, credit())
    assert answer["record_id"] == "0x" + records.record_id(story.center.address, f"credit/{USCC}").hex()
    return bytes.fromhex(answer["record_id"][2:])


def _grant(story, record_types=("credit",), *, max_uses=1, valid_s=3600, bank=None):  # type: ignore[no-untyped-def]
    bank = bank or story.bank
    request = bank.authorization_request(name="Bank K", purpose="credit review", record_types=list(record_types), max_uses=max_uses)
    grant = story.enterprise.approve(story.enterprise.scan(request.to_uri()), valid_s=valid_s)
    return bank.relay(grant)


def test_ingest_validates_against_the_standard_and_needs_the_token(story, data):
    with pytest.raises(NodeError) as bad:
        data.ingest("credit", "credit/bad", story.enterprise.address, {**credit(), "rating": "AAAA"})
    assert bad.value.status == 400 and bad.value.body["field"] == "record.rating"
    with pytest.raises(NodeError) as missing:
        data.ingest("credit", "credit/bad", story.enterprise.address, {k: v for k, v in credit().items() if k != "uscc"})
    assert missing.value.body["field"] == "record.uscc"
    with pytest.raises(NodeError) as unknown:
        data.ingest("salary", "x", story.enterprise.address, credit())
    assert unknown.value.body["field"] == "type"
    with pytest.raises(NodeError) as surrogate:  # JSON's "\ud800" is a str no UTF-8 can hold: refused, not a 500
        data.ingest("credit", "credit/\ud800", story.enterprise.address, credit())
    assert surrogate.value.status == 400 and surrogate.value.body["field"] == "local_id"
    with pytest.raises(NodeError) as in_record:
        data.ingest("credit", "credit/x", story.enterprise.address, {**credit(), "rated_by": "Center \udc00"})
    assert in_record.value.status == 400 and in_record.value.body["field"].startswith("record")
    batch = [{"type": "credit", "local_id": f"surrogate/{i}", "owner": story.enterprise.address, "record": credit()} for i in range(3)]
    batch[1]["local_id"] = "surrogate/\ud800"
    with pytest.raises(NodeError) as in_batch:
        data.ingest_batch(batch)
    assert in_batch.value.status == 422 and [p["field"] for p in in_batch.value.body["problems"]] == ["records[1].local_id"]
    with pytest.raises(NodeError) as unauthorized:
        DataService(story.url, "not-the-token").ingest("credit", "credit/x", story.enterprise.address, credit())
    assert unauthorized.value.status == 401 and unauthorized.value.type.endswith("/unauthorized")
    assert Client(story.url).get("/data/schemas")["types"] == ["credit", "enterprise_basic", "performance", "personnel", "project",
                                                                "qualification", "supervision"]


def test_granted_read_is_served_sealed_and_checked(story, held):
    grant_id = _grant(story, max_uses=2)
    shared = story.bank.read_record(held, grant_id)
    assert shared.record == credit() and shared.type == "credit" and shared.version == 1
    assert story.bank.read_record(held, grant_id).record == credit()  # second of two uses
    with pytest.raises(DataRefused) as used_up:
        story.bank.read_record(held, grant_id)
    assert used_up.value.status == 403 and "used up" in used_up.value.reason and used_up.value.refusal_tx
    described = Client(story.url).get(f"/data/records/0x{held.hex()}")
    assert described["held_here"] and described["anchored"]["owner"].lower() == story.enterprise.address and "record" not in described


def test_refusals_are_logged_on_chain(story, held):
    bank = story.bank
    with pytest.raises(DataRefused) as no_grant:
        bank.read_record(held, gm.sm3(b"no such grant"))
    assert no_grant.value.reason == "no such grant"
    out_of_scope = _grant(story, ("personnel",))
    with pytest.raises(DataRefused) as scope:
        bank.read_record(held, out_of_scope)
    assert "scope" in scope.value.reason
    revoked = _grant(story)
    story.enterprise.revoke(revoked)
    with pytest.raises(DataRefused) as gone:
        bank.read_record(held, revoked)
    assert "revoked" in gone.value.reason
    expiring = _grant(story, valid_s=3)
    time.sleep(4.5)
    with pytest.raises(DataRefused) as expired:
        bank.read_record(held, expiring)
    assert "expired" in expired.value.reason
    other_bank = FinancialInstitution(Client(story.url), Wallet.generate())
    theirs = _grant(story)
    with pytest.raises(DataRefused) as stolen:
        other_bank.read_record(held, theirs)
    assert "another grantee" in stolen.value.reason
    # an auditor sees every refusal, proven from genesis
    auditor = Auditor(Client(story.url), story.home / "genesis.json")
    reasons = [e.args["reason"] for step in auditor.access_log(held) for e in step.events if e.name == "AccessRefused"]
    assert {"no such grant", "the grant was revoked", "the grant expired", "the grant is for another grantee"} <= set(reasons)


def test_replayed_and_forged_requests_are_refused(story, held):
    bank = story.bank
    grant_id = _grant(story)
    request = access_request(bank.wallet, record_id=held, grant_id=grant_id, custodian=story.center.address)
    client = Client(story.url)
    assert client._http("POST", "/v1/data/access", request)["record_id"] == "0x" + held.hex()
    with pytest.raises(NodeError) as replay:
        client._http("POST", "/v1/data/access", request)
    assert replay.value.status == 409
    forged = dict(access_request(bank.wallet, record_id=held, grant_id=grant_id, custodian=story.center.address),
                  grantee_public_key="0x" + Wallet.generate().public_key.hex())
    with pytest.raises(NodeError) as unsigned:
        client._http("POST", "/v1/data/access", forged)
    assert unsigned.value.status == 401
    stale = access_request(bank.wallet, record_id=held, grant_id=grant_id, custodian=story.center.address)
    stale["timestamp"] -= 600
    with pytest.raises(NodeError) as old:
        client._http("POST", "/v1/data/access", stale)
    assert old.value.status == 401  # the signature no longer matches either: any change is refused
    with pytest.raises(NodeError) as malformed:
        client._http("POST", "/v1/data/access", {"record_id": "0x12"})
    assert malformed.value.status == 400


def test_tampered_bytes_are_detected(story, held, monkeypatch):
    """A custodian that sends other bytes than it anchored (here: the answer re-sealed with a changed rating)
    is caught by the grantee's check against the chain."""
    import chain_sdk.data as data_module

    grant_id = _grant(story)
    real_open = data_module.open_answer

    def tampering_custodian(wallet, answer):  # type: ignore[no-untyped-def]
        shared = real_open(wallet, answer)
        return type(shared)(**{**shared.__dict__, "record": {**shared.record, "rating": "AAA"}})

    monkeypatch.setattr(data_module, "open_answer", tampering_custodian)
    with pytest.raises(TamperedRecord):
        story.bank.read_record(held, grant_id)


def test_update_makes_a_new_version(story, data, held):
    answer = data.ingest("credit", f"credit/{USCC}", story.enterprise.address, credit("A"))
    assert answer["version"] == 2
    shared = story.bank.read_record(held, _grant(story))
    assert shared.record["rating"] == "A" and shared.version == 2
    history = Auditor(Client(story.url), story.home / "genesis.json").record_history(held)
    assert [step.events[0].name for step in history] == ["Anchored", "Updated"]


def test_bulk_import_and_sharing_a_batched_record(story, tmp_path):
    owners = [Wallet.generate() for _ in range(3)]
    lines = [{"type": "credit", "local_id": f"bulk/{i}", "owner": owners[i % 3].address,
              "record": credit(["AAA", "AA", "A"][i % 3], uscc=f"913501{i:06d}M000100Y"[:18])} for i in range(250)]
    jsonl = tmp_path / "credit.jsonl"
    jsonl.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = subprocess.run([sys.executable, "-m", "node.cli", "data", "import", str(jsonl), "--home", str(story.home), "--url", story.url,
                             "--batch-size", "100"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "anchored 250 records" in result.stdout and "3 batch transaction(s)" in result.stdout
    # one of them shared: the custodian opens it from its batch on first access
    enterprise_wallet = owners[1]
    from chain_sdk import Enterprise

    enterprise = Enterprise(Client(story.url), enterprise_wallet)
    request = story.bank.authorization_request(name="Bank K", purpose="credit review", record_types=["credit"])
    grant_id = story.bank.relay(enterprise.approve(enterprise.scan(request.to_uri())))
    record_id = records.record_id(story.center.address, "bulk/4")
    shared = story.bank.read_record(record_id, grant_id, custodian=story.center.address)
    assert shared.record == lines[4]["record"]
    # a batch with a bad row is refused whole, naming the row; the command says which rows were anchored
    bad = tmp_path / "bad.csv"
    bad.write_text("local_id,owner,schema_version,uscc,rating,rated_by,rated_on,blacklisted\n"
                   f"csv/1,{owners[0].address},1,{USCC},AA,Center A,2026-06-30,false\n"
                   f"csv/2,{owners[0].address},1,{USCC},ZZ,Center A,2026-06-30,false\n"
                   f"csv/3,{owners[0].address},1,{USCC},A,Center A,2026-06-30,false\n")
    refused = subprocess.run([sys.executable, "-m", "node.cli", "data", "import", str(bad), "--home", str(story.home), "--url", story.url,
                              "--type", "credit"], capture_output=True, text=True)
    assert refused.returncode == 1 and "bad.csv:3: records[1].record.rating" in refused.stderr and "Traceback" not in refused.stderr
    assert "anchored: records none (0 of 3); not anchored: records 1-3" in refused.stderr
    describe = Client(story.url).get(f"/data/records/0x{records.record_id(story.center.address, 'csv/1').hex()}")
    assert not describe["held_here"] and describe["anchored"] is None
    one_by_one = subprocess.run([sys.executable, "-m", "node.cli", "data", "import", str(bad), "--home", str(story.home), "--url", story.url,
                                 "--type", "credit", "--batch-size", "1", "--in-flight", "1"], capture_output=True, text=True)
    assert one_by_one.returncode == 1 and "bad.csv:3: records[0].record.rating" in one_by_one.stderr
    assert "anchored: records 1-1 (1 of 3); not anchored: records 2-2, 3-3" in one_by_one.stderr
    good = tmp_path / "good.csv"
    good.write_text(bad.read_text().splitlines()[0] + "\n" + bad.read_text().splitlines()[3] + "\n")
    assert subprocess.run([sys.executable, "-m", "node.cli", "data", "import", str(good), "--home", str(story.home), "--url", story.url,
                           "--type", "credit"], capture_output=True, text=True).returncode == 0
    assert Client(story.url).get(f"/data/records/0x{records.record_id(story.center.address, 'csv/3').hex()}")["held_here"]


def test_batches_in_flight_keep_their_order_and_an_interruption_says_what_was_anchored(story, data):
    owner = story.enterprise.address
    items = [{"type": "credit", "local_id": f"flight/{i}", "owner": owner, "record": credit()} for i in range(25)]
    seen = []
    results = data.ingest_batches(items, batch_size=10, in_flight=2, progress=lambda done, total: seen.append((done, total)))
    assert [r["size"] for r in results] == [10, 10, 5]  # in the items' order, whichever finished first
    assert [r["records"][0]["local_id"] for r in results] == ["flight/0", "flight/10", "flight/20"]
    assert sorted(seen)[-1] == (25, 25) and len(seen) == 3
    # the second batch holds a bad record: no batch is sent after it fails; the first is anchored; the last never sent
    items = [{"type": "credit", "local_id": f"flight2/{i}", "owner": owner, "record": credit()} for i in range(40)]
    items[13]["record"] = {**credit(), "rating": "ZZ"}
    with pytest.raises(ImportInterrupted) as stopped:
        data.ingest_batches(items, batch_size=10, in_flight=2)
    exc = stopped.value
    assert list(exc.failed) == [10] and exc.failed[10].body["problems"][0]["index"] == 3
    assert 0 in exc.results and 30 in exc.unsent and set(exc.results) | set(exc.unsent) == {0, 20, 30}
    assert exc.anchored == 10 * len(exc.results) and "records 11-20 was not anchored" in str(exc)
    for start in exc.unsent:  # nothing of a batch never sent is held
        describe = Client(story.url).get(f"/data/records/0x{records.record_id(story.center.address, f'flight2/{start}').hex()}")
        assert not describe["held_here"]
    with pytest.raises(SdkError):
        data.ingest_batches(items, batch_size=10_001)


def test_a_batch_leaf_is_the_abi_encoding_the_contract_recomputes():
    import os

    from eth_abi import encode

    from node.offchain.ingest import batch_leaf

    for version in (0, 1, 2**32 - 1):
        fields = [os.urandom(32), os.urandom(32), os.urandom(20), os.urandom(32), version]
        assert batch_leaf(*fields) == encode(["bytes32", "bytes32", "address", "bytes32", "uint32"], fields)
    with pytest.raises(ValueError):
        batch_leaf(os.urandom(32), os.urandom(32), os.urandom(20), os.urandom(32), 2**32)
