"""web3.py and eth-account against a real solo node, exactly as a web3 user works; then native SM2 over REST."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from node.crypto import get_suite
from node.execution.artifacts import load_artifact
from chain_sdk.verify import Genesis, ProofRejected, verify_proof
from node.types import Transaction


def http(method: str, url: str, body: bytes | None = None, content_type: str = "application/json") -> tuple[int, dict, str]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), response.headers.get("content-type", "")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("content-type", "")


@pytest.fixture(scope="module")
def w3(localnet) -> Web3:
    return Web3(Web3.HTTPProvider(localnet.url + "/"))


@pytest.fixture(scope="module")
def accounts(localnet) -> list:
    return [Account.from_key(a["private_key"]) for a in localnet.description["accounts"] if a["suite"] == "ecdsa"]


def send(w3: Web3, account, built: dict) -> dict:
    built.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    signed = account.sign_transaction(built)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert tx_hash == signed.hash
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)


def deploy(w3: Web3, account, name: str):
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, account, factory.constructor().build_transaction({"from": account.address}))
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=artifact.abi), receipt


def test_chain_basics(w3: Web3, localnet) -> None:
    assert w3.is_connected()
    assert w3.eth.chain_id == localnet.description["chain_id"]
    assert w3.eth.gas_price == 0
    latest = w3.eth.get_block("latest")
    assert latest.number == w3.eth.block_number and latest.hash == w3.eth.get_block(latest.number).hash
    assert "YiLian" in w3.client_version


def test_deploy_call_transact_events_and_logs(w3: Web3, accounts) -> None:
    owner = accounts[0]
    store, deployment = deploy(w3, owner, "Store")
    assert store.functions.get().call() == 0
    receipt = send(w3, owner, store.functions.set(7).build_transaction({"from": owner.address}))
    assert receipt.status == 1 and store.functions.value().call() == 7
    (event,) = store.events.ValueChanged().process_receipt(receipt)
    assert event.args.by == owner.address and (event.args.oldValue, event.args.newValue) == (0, 7)
    receipt2 = send(w3, accounts[1], store.functions.increment().build_transaction({"from": accounts[1].address}))
    logs = store.events.ValueChanged.get_logs(from_block=deployment.blockNumber)
    assert [(log.args.oldValue, log.args.newValue) for log in logs] == [(0, 7), (7, 8)]
    assert logs[1].transactionHash == receipt2.transactionHash
    topic = logs[0].topics[0] if hasattr(logs[0], "topics") else w3.eth.get_logs({"address": store.address})[0]["topics"][0]
    by_topic = w3.eth.get_logs({"fromBlock": deployment.blockNumber, "topics": [topic]})
    assert len(by_topic) == 2
    assert w3.eth.get_logs({"fromBlock": deployment.blockNumber, "address": accounts[2].address}) == []
    assert w3.eth.get_storage_at(store.address, 0) == (8).to_bytes(32, "big")
    assert len(w3.eth.get_code(store.address)) > 0


def test_revert_reasons_reach_web3(w3: Web3, accounts) -> None:
    owner, other = accounts[0], accounts[1]
    store, _ = deploy(w3, owner, "Store")
    with pytest.raises(ContractLogicError, match="not today"):
        store.functions.failWith("not today").call()
    with pytest.raises(ContractCustomError):
        store.functions.ownerOnly().call({"from": other.address})
    store.functions.ownerOnly().call({"from": owner.address})
    # a failing transaction mined anyway (gas given, so no estimate): status 0 and the reason on the receipt
    receipt = send(w3, owner, store.functions.failWith("mined but failed").build_transaction({"from": owner.address, "gas": 100_000}))
    assert receipt.status == 0
    assert w3.provider.make_request("eth_getTransactionReceipt", ["0x" + bytes(receipt.transactionHash).hex()])["result"]["revertReason"] == "mined but failed"


def test_precompiles_from_solidity(w3: Web3, accounts, localnet) -> None:
    probe, _ = deploy(w3, accounts[0], "GmProbe")
    gm = get_suite("gm")
    assert probe.functions.sm3(b"abc").call() == gm.hash(b"abc")
    key = gm.generate_key()
    message = "授权: 91350100M000100Y43 的信用记录仅供 X 银行评估".encode()
    signature = key.sign(message)
    assert probe.functions.sm2Verify(key.public_key[1:], message, signature).call() is True
    assert probe.functions.sm2Verify(key.public_key[1:], message + b".", signature).call() is False
    with pytest.raises(ContractLogicError, match="64 bytes"):
        probe.functions.sm2Verify(key.public_key, message, signature).call()
    receipt = send(w3, accounts[0], probe.functions.checkAndRecord(key.public_key[1:], message, signature).build_transaction({"from": accounts[0].address}))
    (event,) = probe.events.Verified().process_receipt(receipt)
    assert event.args.valid is True and event.args.messageHash == gm.hash(message)


def test_stranger_and_bad_nonce_are_refused(w3: Web3, accounts) -> None:
    stranger = Account.create()
    signed = stranger.sign_transaction({"nonce": 0, "gas": 21_000, "to": accounts[0].address, "value": 0, "chainId": w3.eth.chain_id, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})
    with pytest.raises(Exception, match="not an admitted account"):
        w3.eth.send_raw_transaction(signed.raw_transaction)
    used = accounts[0].sign_transaction({"nonce": 0, "gas": 21_000, "to": accounts[1].address, "value": 0, "chainId": w3.eth.chain_id, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})
    with pytest.raises(Exception, match="already"):
        w3.eth.send_raw_transaction(used.raw_transaction)


def test_native_sm2_transaction_over_rest_with_a_checkable_proof(w3: Web3, accounts, localnet) -> None:
    store, _ = deploy(w3, accounts[0], "Store")
    dev = next(a for a in localnet.description["accounts"] if a["suite"] == "gm")
    key = get_suite("gm").key_from_secret(bytes.fromhex(dev["private_key"][2:]))
    status, account, _ = http("GET", f"{localnet.url}/v1/accounts/0x{key.address.hex()}")
    assert status == 200 and account["admitted"] is True
    data = bytes.fromhex(store.encode_abi("set", args=[99])[2:])
    head = w3.eth.block_number
    tx = Transaction(w3.eth.chain_id, account["nonce"], key.address, bytes.fromhex(store.address[2:]), 0, data, 200_000, head + 100).signed(key)
    status, body, _ = http("POST", f"{localnet.url}/v1/transactions?wait=20", json.dumps({"raw": "0x" + tx.encode().hex()}).encode())
    assert status == 202 and body["status"] == "committed" and body["kind"] == "native", body
    assert store.functions.get().call() == 99
    status, receipt, _ = http("GET", f"{localnet.url}/v1/transactions/{body['hash']}/receipt")
    assert status == 200 and receipt["succeeded"] and receipt["logs"][0]["address"].lower() == store.address.lower()
    # web3 sees the native transaction too
    assert w3.eth.get_transaction(body["hash"])["from"].lower() == "0x" + key.address.hex()
    # an auditor with only the genesis file checks the receipt proof
    genesis_path = localnet.directory / "consortium" / "genesis.json"
    genesis = Genesis.load(genesis_path)
    status, proof, _ = http("GET", f"{localnet.url}/v1/transactions/{body['hash']}/proof?kind=receipt")
    assert status == 200
    proven = verify_proof(genesis, proof)
    assert proven.height == body["height"] and proven.receipt["logs"][0][2][-32:] == (99).to_bytes(32, "big")
    forged = dict(proof, leaf=proof["leaf"][:-2] + ("00" if proof["leaf"][-2:] != "00" else "01"))
    with pytest.raises(ProofRejected):
        verify_proof(genesis, forged)
    # the same check from the command line, as an auditor runs it
    for name, document, expected in (("good.json", proof, 0), ("forged.json", forged, 1)):
        path = localnet.directory / name
        path.write_text(json.dumps(document))
        result = subprocess.run([sys.executable, "-m", "node.cli", "verify", "--genesis", str(genesis_path), str(path)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == expected, result.stdout + result.stderr
        assert ("proof OK" in result.stdout) if expected == 0 else ("REJECTED" in result.stderr and "Traceback" not in result.stderr)


def test_bad_input_gets_problem_json(localnet) -> None:
    status, body, content_type = http("POST", f"{localnet.url}/v1/transactions", b'{"raw": "0xdeadbeef"}')
    assert status == 400 and content_type.startswith("application/problem+json")
    assert body["type"].startswith("https://yilian.dev/problems/") and body["detail"]
    status, body, _ = http("POST", f"{localnet.url}/v1/transactions", b"not json")
    assert status == 422 and body["type"].endswith("invalid-request")
    status, body, _ = http("GET", f"{localnet.url}/v1/transactions/0x1234")
    assert status == 400 and body["field"] == "tx_hash"
    status, body, _ = http("GET", f"{localnet.url}/v1/transactions/0x" + "00" * 32)
    assert status == 404 and body["type"].endswith("not-found")
    status, body, _ = http("POST", f"{localnet.url}/", b'{"jsonrpc": "2.0", "id": 1, "method": "eth_nope", "params": []}')
    assert status == 200 and body["error"]["code"] == -32601


def test_clean_shutdown_keeps_keys_out_of_logs(localnet) -> None:
    code, stderr = localnet.stop()
    assert code == 0, stderr
    assert "database closed" in stderr and "Traceback" not in stderr
    for account in localnet.description["accounts"]:
        assert account["private_key"][2:] not in stderr
