"""A consortium of four centers driving the system contracts through real blocks on our executor."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3 import Web3

from chainutil import PASSWORD, native_tx
from node.chain import Chain
from node.config import load_node_config
from node.consortium import (AUTHORIZATION_ADDRESS, CERTIFICATE_REGISTRY_ADDRESS, GUARANTEE_ADDRESS, MEMBER_REGISTRY_ADDRESS,
                             RECORD_REGISTRY_ADDRESS)
from node.crypto import get_suite
from node.crypto.keystore import load_keystore
from node.execution.artifacts import load_artifact
from node.mempool import Mempool
from node.solo import SoloEngine

SYSTEM = {"MemberRegistry": MEMBER_REGISTRY_ADDRESS, "RecordRegistry": RECORD_REGISTRY_ADDRESS, "Authorization": AUTHORIZATION_ADDRESS,
          "CertificateRegistry": CERTIFICATE_REGISTRY_ADDRESS, "Guarantee": GUARANTEE_ADDRESS}
CONTRACTS = {name: Web3().eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi) for name, address in SYSTEM.items()}
ERRORS = {
    function_signature_to_4byte_selector(f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"): e["name"]
    for name in SYSTEM for e in load_artifact(name).abi if e["type"] == "error"
}


@functools.lru_cache(maxsize=None)
def _consortium(centers: int):  # type: ignore[no-untyped-def]
    """Admin keys, genesis (one validator) and validator key of a fresh consortium, made once per test session:
    three quarters of a contract test's set-up was the keystores' scrypt. Each test still gets its own chain."""
    from node.consortium import create_consortium

    scratch = tempfile.mkdtemp(prefix="yilian-contracts-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # made once per session, removed when it ends
    info = create_consortium(Path(scratch) / "c", centers, dev_accounts=1, password=PASSWORD)
    configs = [load_node_config(center.home) for center in info.centers]
    admins = [load_keystore(c.admin_key_path, PASSWORD) for c in configs]
    genesis = configs[0].load_genesis()
    # one validator is enough to execute blocks here; the registry itself knows all four centers
    genesis = type(genesis)(**{**genesis.__dict__, "validators": genesis.validators[:1]})
    validator = next(key for key in (load_keystore(c.validator_key_path, PASSWORD) for c in configs)
                     if key.address == genesis.validators[0].address)
    return admins, genesis, validator


class Harness:
    """Four centers' admin keys driving the registry through real blocks (solo engine, one validator)."""

    def __init__(self, tmp: Path, centers: int = 4) -> None:
        self.admins, genesis, self.validator = _consortium(centers)
        self.chain = Chain(tmp / "data", genesis)
        self.mempool = Mempool(self.chain)
        self.engine = SoloEngine(self.chain, self.mempool, self.validator)
        self.nonces: dict[bytes, int] = {}
        self.outsider = get_suite("gm").generate_key()

    def call(self, fn: str, *args, types: list[str], contract: str = "MemberRegistry"):  # type: ignore[no-untyped-def]
        target = CONTRACTS[contract]
        result = self.chain.executor.call(sender=bytes(20), to=bytes.fromhex(target.address[2:]),
                                          data=bytes.fromhex(target.encode_abi(fn, args=list(args))[2:]))
        assert result.success, result.error
        return decode(types, result.output)

    def view(self, fn: str, *args, contract: str):  # type: ignore[no-untyped-def]
        """A view call decoded with the ABI's output types (tuples stay positional); one output is unwrapped."""
        from eth_utils.abi import collapse_if_tuple

        (entry,) = [e for e in load_artifact(contract).abi if e.get("name") == fn and e["type"] == "function"
                    and len(e["inputs"]) == len(args)]
        out = self.call(fn, *args, types=[collapse_if_tuple(o) for o in entry["outputs"]], contract=contract)
        return out[0] if len(out) == 1 else out

    def govern(self, action: int, subject: bytes, name: str = "") -> None:
        """Pass a governance proposal with three of the four centers' votes."""
        (count,) = self.call("proposalCount", types=["uint256"])
        assert self.send(self.admins[0], "propose", action, to_checksum_address(subject), name, b"", 0).status == 1
        for admin in self.admins[1:3]:
            assert self.send(admin, "vote", count).status == 1

    def now(self) -> int:
        """Unix seconds of the next block (block time never goes back, even after a block made ``later_s``)."""
        return max(int(time.time()), self.chain.head_header().time_ms // 1000 + 1)

    def produce_signed(self, signers: list, later_s: int = 0):  # type: ignore[no-untyped-def,type-arg]
        """One block from the waiting transactions, certified by ``signers``, timed ``later_s`` seconds from now."""
        from node.types import CommitCertificate, Vote, VoteType

        candidates = self.mempool.ready(100, self.chain.executor.head_nonce)
        execution = self.chain.propose(candidates, (self.now() + later_s) * 1000, signers[0].address)
        header = execution.block.header
        votes = [Vote(self.chain.chain_id, VoteType.PRECOMMIT, header.height, 0, execution.block_hash, key.address).signed(key)
                 for key in signers]
        self.chain.commit(execution, CommitCertificate.from_votes(votes))
        self.mempool.remove(list(execution.transactions))
        return execution

    def send(self, key, fn: str, *args, contract: str = "MemberRegistry", signers: list | None = None,  # type: ignore[no-untyped-def,type-arg]
             later_s: int = 0):
        target = CONTRACTS[contract]
        nonce = self.nonces.get(key.address, 0)
        data = bytes.fromhex(target.encode_abi(fn, args=list(args))[2:])
        self.mempool.add(native_tx(key, nonce, to=bytes.fromhex(target.address[2:]), data=data, gas=5_000_000, chain_id=self.chain.chain_id))
        self.nonces[key.address] = nonce + 1
        execution = self.engine.produce() if signers is None and not later_s else self.produce_signed(signers or [self.validator], later_s)
        (receipt,) = execution.receipts
        return receipt

    def refused(self, key, fn: str, *args, contract: str = "MemberRegistry", later_s: int = 0) -> str:  # type: ignore[no-untyped-def]
        receipt = self.send(key, fn, *args, contract=contract, later_s=later_s)
        assert receipt.status == 0, f"{fn} should have been refused"
        return ERRORS.get(receipt.output[:4], receipt.revert_reason)

    def events(self, receipt, name: str, contract: str = "MemberRegistry") -> list:  # type: ignore[no-untyped-def]
        event = getattr(CONTRACTS[contract].events, name)()
        topic = bytes(Web3.keccak(text=event.abi["name"] + "(" + ",".join(i["type"] for i in event.abi["inputs"]) + ")"))
        found = []
        for log in receipt.logs:
            if log.topics and log.topics[0] == topic:
                entry = {"address": to_checksum_address(log.address), "topics": [t for t in log.topics], "data": log.data,
                         "blockHash": b"\0" * 32, "blockNumber": 0, "transactionHash": b"\0" * 32, "transactionIndex": 0, "logIndex": 0}
                found.append(SimpleNamespace(**event.process_log(entry)["args"]))
        return found
