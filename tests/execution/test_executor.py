"""Blocks built by one chain re-execute identically on another; every broken rule is named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from eth_account import Account

from chainutil import STORE_42_INIT, eth_tx, make_consortium, native_tx, solo_chain
from node.chain import Chain
from node.crypto import get_suite
from node.execution.executor import InvalidBlock
from node.execution.precompiles import SM2_VERIFY_ADDRESS, SM3_ADDRESS
from node.execution.transactions import decode_transaction
from node.mempool import TxRejected
from node.errors import ValidationError
from node.types import Block


@pytest.fixture
def net(tmp_path: Path):
    with solo_chain(tmp_path) as opened:
        yield opened


def test_mixed_block_reexecutes_identically_on_a_second_node(net, tmp_path: Path) -> None:
    consortium, chain, mempool, engine = net
    eth, gm = consortium.eth_accounts[0], consortium.gm_accounts[0]
    mempool.add(eth_tx(eth, 0, data=STORE_42_INIT, dynamic=False))
    mempool.add(native_tx(gm, 0, to=b"\x11" * 20, data=b"hello"))
    mempool.add(eth_tx(eth, 1, to=b"\x22" * 20))
    execution = engine.produce()
    assert [r.status for r in execution.receipts] == [1, 1, 1]
    assert execution.block.header.tx_count == 3 and len(mempool) == 0
    contract = execution.receipts[0].contract_address
    assert chain.executor.call(sender=bytes(20), to=contract, data=b"").output == (42).to_bytes(32, "big")

    other = Chain(tmp_path / "b", consortium.genesis)
    try:
        assert other.head_header() == chain.store.header(0)
        replay = other.validate(Block.decode(execution.block.encode()))
        assert replay.block.header == execution.block.header
        other.commit(replay, chain.store.certificate(1))
        assert other.executor.state_at().get_nonce(eth.address and bytes.fromhex(eth.address[2:])) == 2
    finally:
        other.close()


@pytest.mark.parametrize("field", ["state_root", "receipt_root", "tx_root", "gas_used", "time_ms", "parent_hash", "validators_hash"])
def test_tampered_header_is_refused_naming_the_field(net, field: str) -> None:
    consortium, chain, mempool, engine = net
    mempool.add(native_tx(consortium.gm_accounts[0], 0, to=b"\x11" * 20))
    execution = chain.propose(mempool.ready(10, lambda s: 0), 10**13, consortium.validator.address)
    header = execution.block.header
    bad = {"gas_used": header.gas_used + 1, "time_ms": 0}.get(field, b"\x07" * 32)
    tampered = Block(dataclasses.replace(header, **{field: bad}), execution.block.transactions)
    with pytest.raises(InvalidBlock) as caught:
        chain.validate(tampered)
    assert caught.value.field == f"header.{field}"
    assert chain.validate(execution.block).block.header == header  # the honest block passes


def test_block_with_a_transaction_from_a_stranger_is_refused(net) -> None:
    consortium, chain, mempool, engine = net
    stranger = Account.create()
    raw = eth_tx(stranger, 0, to=b"\x11" * 20)
    execution = chain.propose([decode_transaction(raw, chain.suite, chain.chain_id)], 10**13, consortium.validator.address)
    assert execution.block.header.tx_count == 0 and "not an admitted account" in execution.rejected[0][1]
    header = execution.block.header
    forged = Block(dataclasses.replace(header, tx_count=1), (raw,))
    with pytest.raises(InvalidBlock, match=r"transactions\[0\].*not an admitted account"):
        chain.validate(forged)


def test_pool_refuses_with_clear_reasons(net) -> None:
    consortium, chain, mempool, engine = net
    eth, gm = consortium.eth_accounts[0], consortium.gm_accounts[0]
    with pytest.raises(TxRejected, match="not an admitted account"):
        mempool.add(eth_tx(Account.create(), 0, to=b"\x11" * 20))
    with pytest.raises(ValidationError, match="chain_id"):
        mempool.add(eth_tx(eth, 0, to=b"\x11" * 20, chain_id=1))
    unprotected = eth.sign_transaction({"nonce": 0, "gas": 50_000, "gasPrice": 0, "to": "0x" + "11" * 20, "value": 0})
    with pytest.raises(ValidationError, match="EIP-155"):
        mempool.add(bytes(unprotected.raw_transaction))
    with pytest.raises(ValidationError, match="intrinsic"):
        mempool.add(native_tx(gm, 0, to=b"\x11" * 20, gas=20_000))
    with pytest.raises(ValidationError, match="signature|public_key"):
        raw = bytearray(native_tx(gm, 0, to=b"\x11" * 20))
        raw[-5] ^= 1
        mempool.add(bytes(raw))
    raw = native_tx(gm, 0, to=b"\x11" * 20, valid_until=1)
    mempool.add(raw)
    with pytest.raises(TxRejected, match="already waiting"):
        mempool.add(raw)
    engine.produce()
    with pytest.raises(TxRejected, match="already on chain"):
        mempool.add(raw)
    with pytest.raises(TxRejected, match="nonce 0 is already used"):
        mempool.add(native_tx(gm, 0, to=b"\x33" * 20))
    engine.produce()
    with pytest.raises(TxRejected, match="expired"):
        mempool.add(native_tx(gm, 1, to=b"\x11" * 20, valid_until=2))


def test_nonce_gap_waits_and_expired_waiting_tx_is_dropped(net) -> None:
    consortium, chain, mempool, engine = net
    gm = consortium.gm_accounts[0]
    later = native_tx(gm, 1, to=b"\x11" * 20)
    mempool.add(later)
    assert not mempool.has_ready(chain.executor.head_nonce)  # no proposer waits on it as if it were work
    assert engine.produce().block.header.tx_count == 0 and len(mempool) == 1
    mempool.add(native_tx(gm, 0, to=b"\x11" * 20))
    assert mempool.has_ready(chain.executor.head_nonce)
    assert engine.produce().block.header.tx_count == 2
    doomed = native_tx(gm, 3, to=b"\x11" * 20, valid_until=chain.height + 1)
    tx = mempool.add(doomed)
    engine.produce()
    engine.produce()
    assert len(mempool) == 0 and "expired" in mempool.dropped[tx.hash]


def test_precompiles_answer_calls(net) -> None:
    consortium, chain, mempool, engine = net
    gm_suite = get_suite("gm")
    assert chain.executor.call(sender=bytes(20), to=SM3_ADDRESS, data=b"abc").output == gm_suite.hash(b"abc")
    key = consortium.gm_accounts[0]
    message = b"grant: enterprise 91350100M000100Y43 allows bank X"
    signature = key.sign(message)
    call = lambda data: chain.executor.call(sender=bytes(20), to=SM2_VERIFY_ADDRESS, data=data).output  # noqa: E731
    assert call(key.public_key[1:] + signature + message) == (1).to_bytes(32, "big")
    assert call(key.public_key[1:] + signature + message + b"!") == bytes(32)
    assert call(bytes(64) + signature + message) == bytes(32)  # not a curve point: invalid, no revert
    assert call(b"short") == bytes(32)


def test_reopened_chain_refuses_another_genesis(net, tmp_path: Path) -> None:
    consortium, chain, mempool, engine = net
    engine.produce()
    chain.close()
    other = make_consortium(tmp_path / "other")
    from node.ledger.db import DatabaseError

    with pytest.raises(DatabaseError, match="belongs to another chain"):
        Chain(tmp_path / "a", other.genesis)
    reopened = Chain(tmp_path / "a", consortium.genesis)
    assert reopened.height == 1
    reopened.close()
    chain.database = reopened.database  # the fixture closes it again harmlessly


def test_prune_reads_each_sender_once_and_drops_used_and_expired(net) -> None:
    consortium, chain, mempool, engine = net
    eth, gm = consortium.eth_accounts[0], consortium.gm_accounts[0]
    from_eth = mempool.add(eth_tx(eth, 0, to=b"\x11" * 20))
    used = mempool.add(native_tx(gm, 0, to=b"\x11" * 20))
    waiting = mempool.add(native_tx(gm, 1, to=b"\x11" * 20))
    expiring = mempool.add(native_tx(consortium.gm_accounts[1], 0, to=b"\x11" * 20, valid_until=chain.height + 1))
    asked: list[bytes] = []

    def nonce_of(address: bytes) -> int:  # as if another center's block had used nonce 0 of gm's, none of eth's
        asked.append(address)
        return 1 if address == used.sender else 0

    assert mempool.prune(nonce_of, chain.height + 2) == 2
    assert sorted(asked) == sorted({from_eth.sender, used.sender, expiring.sender})  # one read per sender
    assert "nonce 0 was used" in mempool.dropped[used.hash] and "expired" in mempool.dropped[expiring.hash]
    assert len(mempool) == 2 and from_eth.hash not in mempool.dropped and waiting.hash not in mempool.dropped


def test_head_nonces_are_carried_across_a_commit(net) -> None:
    consortium, chain, mempool, engine = net
    gm, other = consortium.gm_accounts[0], consortium.gm_accounts[1]
    executor = chain.executor
    assert executor.head_nonce(gm.address) == 0 and executor.head_nonce(other.address) == 0
    mempool.add(native_tx(gm, 0, to=b"\x11" * 20))
    execution = engine.produce()
    assert len(execution.transactions) == 1 and execution.nonces_after[gm.address] == 1  # type: ignore[index]
    assert other.address not in execution.nonces_after  # type: ignore[operator]
    head, kept = executor._head_nonces  # type: ignore[misc]
    assert head == chain.store.head() and kept == {gm.address: 1, other.address: 0}
    executor._head_accounts = None
    with executor._head_lock:
        assert executor._head_view().get_nonce(gm.address) == 1  # what the state says
    # the validator updates read by the block's execution are the head's: validators_at need not read them again
    head, updates, _ = executor._head_sets  # type: ignore[misc]
    assert head == chain.store.head() and updates == list(execution.validator_updates or ())
    with executor._head_lock:
        from node.execution.system import validator_updates

        assert validator_updates(executor._head_view().get_storage) == updates  # what the state says
    unknown = dataclasses.replace(engine.produce(), nonces_after=None)  # a block whose writes are not known
    executor.carry_head(unknown)
    assert executor._head_nonces is None and executor.head_nonce(gm.address) == 1
