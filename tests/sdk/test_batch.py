"""Many transactions at once: ``POST /v1/transactions/batch`` and ``POST /v1/receipts`` on a real node, and the SDK's
``send_raws`` / ``transact_many`` / ``admit_many`` over them, with each way a batch can partly fail."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from eth_utils import to_checksum_address

from chain_sdk import BatchFailed, Contract, InclusionTimeout, NodeError, TransactionFailed, Wallet
from chain_sdk.client import BATCH, VALIDITY_BLOCKS


def post(url: str, path: str, body: object) -> tuple[int, str, dict]:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["content-type"], json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], json.loads(error.read())


def admissions(story, wallet: Wallet, enterprises: list[str], first_nonce: int) -> list[bytes]:
    members, client = Contract(story.client, "MemberRegistry"), story.client
    valid_until = client.height() + VALIDITY_BLOCKS
    return [wallet.sign_transaction(chain_id=client.chain_id, nonce=first_nonce + i, to=bytes.fromhex(members.address[2:]),
                                    data=members.encode("admit", to_checksum_address(e)), gas=3_000_000, valid_until=valid_until)
            for i, e in enumerate(enterprises)]


def test_a_center_admits_a_register_of_enterprises_in_a_few_requests(story):
    enterprises = [Wallet.generate().address for _ in range(2 * BATCH + 30)]
    hashes = story.center.admit_many(enterprises)
    assert len(hashes) == len(enterprises) and len(set(hashes)) == len(hashes)
    for enterprise in (enterprises[0], enterprises[BATCH], enterprises[-1]):
        assert story.client.account(enterprise)["admitted"] is True
    receipts = story.client.receipts(hashes)
    assert all(r is not None and r["status"] == 1 for r in receipts)
    assert [r["tx_hash"] for r in receipts] == hashes
    # and the center's single transactions still get the right nonce after it
    assert story.center.admit(Wallet.generate().address)


def test_reverted_transactions_of_a_batch_are_reported_by_index(story):
    fresh, admitted = Wallet.generate().address, story.enterprise.address
    with pytest.raises(BatchFailed) as caught:
        story.center.members.transact_many(story.center.wallet, [("admit", fresh), ("admit", admitted), ("admit", fresh)])
    failed = caught.value
    assert sorted(failed.errors) == [1, 2] and not failed.unsent
    assert all(isinstance(error, TransactionFailed) and error.error == "AlreadyAdmitted" for error in failed.errors.values())
    assert failed.results[0].height > 0 and failed.results[1] is None and failed.results[2] is None
    assert "2 of 3 transactions failed (first: #1" in str(failed)
    assert story.client.account(fresh)["admitted"] is True


def test_a_refused_transaction_stops_the_requests_after_it_and_the_rest_still_land(story):
    stranger = Wallet.generate()  # never admitted: the node refuses its transactions
    center, client = story.center, story.client
    enterprises = [Wallet.generate().address for _ in range(BATCH + 10)]
    first = client.next_nonce(center.address, BATCH - 1)
    raws = admissions(story, center.wallet, enterprises[:BATCH - 1], first)
    raws.append(admissions(story, stranger, enterprises[BATCH - 1:BATCH], 0)[0])  # the last of the first request
    raws += admissions(story, center.wallet, enterprises[BATCH:], first + BATCH - 1)
    with pytest.raises(BatchFailed) as caught:
        client.send_raws(raws)
    failed = caught.value
    assert list(failed.errors) == [BATCH - 1] and failed.unsent == list(range(BATCH, len(raws)))
    error = failed.errors[BATCH - 1]
    assert isinstance(error, NodeError) and error.status == 400 and "not an admitted account" in error.detail
    accepted = [result["hash"] for result in failed.results[:BATCH - 1]]
    assert all(result["status"] == "pending" for result in failed.results[:BATCH - 1]) and failed.results[BATCH:] == [None] * 10
    assert all(receipt["status"] == 1 for receipt in client.receipts(accepted, wait=30))
    client.forget_nonces(center.address)
    assert client.send_raws(admissions(story, center.wallet, enterprises[BATCH:], client.next_nonce(center.address, 10)))[-1]["status"] == 1
    assert client.account(enterprises[-1])["admitted"] is True


def test_transactions_not_included_in_time_are_reported(story):
    center, client = story.center, story.client
    gap = client.next_nonce(center.address, 2) + 1  # nonce gap: the first is never sent, so the second cannot be included
    raws = admissions(story, center.wallet, [Wallet.generate().address], gap)
    with pytest.raises(BatchFailed) as caught:
        client.send_raws(raws, wait=1.0)
    assert isinstance(caught.value.errors[0], InclusionTimeout) and "not included within 1 s" in str(caught.value.errors[0])
    client.forget_nonces(center.address)
    center.admit(Wallet.generate().address)  # fills the gap: the waiting one lands too
    assert client.receipts([caught.value.errors[0].tx_hash], wait=30)[0]["status"] == 1


def test_the_batch_endpoints_refuse_bad_input_with_problems(story):
    url = story.url
    status, kind, body = post(url, "/v1/transactions/batch", {"raws": []})
    assert status == 422 and kind == "application/problem+json" and "raws" in body["detail"]
    status, _, body = post(url, "/v1/transactions/batch", {"raws": ["0x00"] * 1001})
    assert status == 422
    status, _, body = post(url, "/v1/transactions/batch", {"raws": ["0xzz", "0x", "0x0102"]})
    assert status == 200 and body["accepted"] == 0 and body["refused"] == 3
    assert body["results"][0]["error"]["field"] == "raws[0]" and body["results"][0]["error"]["status"] == 400
    assert all(result["error"]["type"].startswith("https://yilian.dev/problems/") for result in body["results"])
    status, kind, body = post(url, "/v1/receipts", {"hashes": ["0x12"]})
    assert status == 400 and kind == "application/problem+json" and body["field"] == "hashes[0]"
    status, _, body = post(url, "/v1/receipts?wait=61", {"hashes": ["0x" + "00" * 32]})
    assert status == 422
    status, _, body = post(url, "/v1/receipts?wait=0.2", {"hashes": ["0x" + "00" * 32]})
    assert status == 200 and body["entries"] == [{"tx_hash": "0x" + "00" * 32, "state": "unknown", "detail": body["entries"][0]["detail"]}]
