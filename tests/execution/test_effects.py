"""A block's execution taken from another node (receipts and state writes) instead of re-executing it: the result is
the executing node's, byte for byte, and effects that do not fit the header are refused, naming what is wrong."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chainutil import eth_tx, native_tx, solo_chain
from node.chain import Chain
from node.execution.executor import EffectsMismatch, InvalidBlock
from node.execution.trie import decode_node
from node.ledger.db import STATE
from node.ledger.merkle import merkle_root
from node.types import Block

# set(slot, value): PUSH1 0x24 CALLDATALOAD PUSH1 0x04 CALLDATALOAD SSTORE STOP, behind an init that returns it
SLOTS_RUNTIME = bytes.fromhex("6024356004355500")
SLOTS_INIT = bytes.fromhex("6008600c60003960086000f3") + SLOTS_RUNTIME


def _effects(execution) -> tuple[list[bytes], dict[bytes, bytes]]:  # type: ignore[no-untyped-def]
    """What an executing node sends: encoded receipts and its state writes keyed by hash."""
    return [r.encode() for r in execution.receipts], {key[1:]: value for key, value in execution.state_writes.items()}


def _set(slot: int, value: int) -> bytes:
    return bytes(4) + slot.to_bytes(32, "big") + value.to_bytes(32, "big")


@pytest.fixture
def two(tmp_path: Path):
    """A chain that executes (with its pool and engine) and a second node of the same consortium that applies."""
    with solo_chain(tmp_path) as (consortium, chain, mempool, engine):
        other = Chain(tmp_path / "b", consortium.genesis)
        try:
            yield consortium, chain, mempool, engine, other
        finally:
            other.close()


def _deploy_and_fill(consortium, mempool, engine, other) -> bytes:  # type: ignore[no-untyped-def]
    """Block 1 deploys the slot contract and makes a transfer; the second node applies it. The contract address."""
    eth, gm = consortium.eth_accounts[0], consortium.gm_accounts[0]
    mempool.add(eth_tx(eth, 0, data=SLOTS_INIT))
    mempool.add(native_tx(gm, 0, to=b"\x11" * 20, data=b"hello"))
    first = engine.produce()
    other.commit(other.executor.apply_effects(Block.decode(first.block.encode()), *_effects(first)), engine.chain.store.certificate(1))
    return first.receipts[0].contract_address


def test_applied_block_gives_the_executing_nodes_state_and_receipts(two) -> None:
    consortium, chain, mempool, engine, other = two
    contract = _deploy_and_fill(consortium, mempool, engine, other)
    eth = consortium.eth_accounts[0]
    for nonce in range(1, 31):
        mempool.add(eth_tx(eth, nonce, to=contract, data=_set(nonce * 7919, nonce), gas=100_000))
    execution = engine.produce()
    assert execution.block.header.tx_count == 30
    applied = other.executor.apply_effects(Block.decode(execution.block.encode()), *_effects(execution))
    assert applied.block.header == execution.block.header and applied.receipts == execution.receipts
    other.commit(applied, chain.store.certificate(2))
    assert other.executor.call(sender=bytes(20), to=contract, data=b"").success
    assert [other.executor.state_at().get_storage(contract, n * 7919) for n in (1, 17, 30)] == [1, 17, 30]
    assert other.store.receipts(2) == chain.store.receipts(2)
    # the applied state is complete: the next block, executed on both, agrees
    mempool.add(eth_tx(eth, 31, to=contract, data=_set(5, 5), gas=100_000))
    third = engine.produce()
    assert other.validate(Block.decode(third.block.encode())).block.header == third.block.header


def test_effects_that_do_not_fit_the_header_are_refused(two) -> None:
    consortium, chain, mempool, engine, other = two
    contract = _deploy_and_fill(consortium, mempool, engine, other)
    eth = consortium.eth_accounts[0]
    for nonce in range(1, 6):
        mempool.add(eth_tx(eth, nonce, to=contract, data=_set(nonce, nonce), gas=100_000))
    execution = chain.propose(mempool.ready(10, chain.executor.head_nonce), 10**13, consortium.validator.address)
    block = Block.decode(execution.block.encode())
    receipts, writes = _effects(execution)
    apply = other.executor.apply_effects

    # a new trie node left out: the new state would be incomplete
    nodes = [key for key, value in writes.items() if value[:1] >= b"\xc0" and len(decode_node(value)) in (2, 17)]
    assert nodes
    for left_out in nodes:
        with pytest.raises(EffectsMismatch, match="neither written nor stored") as caught:
            apply(block, receipts, {k: v for k, v in writes.items() if k != left_out})
        assert caught.value.field == "writes"
    key = nodes[0]
    with pytest.raises(EffectsMismatch, match="not stored under the hash"):
        apply(block, receipts, {**writes, key: writes[key] + b"\x00"})
    with pytest.raises(EffectsMismatch, match="receipt_root"):
        apply(block, receipts[:-1] + [receipts[0]], writes)
    with pytest.raises(EffectsMismatch, match="5 receipts for 4"):
        four = block.transactions[:4]
        short = Block(dataclasses.replace(block.header, tx_count=4, tx_root=merkle_root(chain.suite, list(four))), four)
        apply(short, receipts, writes)
    # transactions that are not the header's (same header, other body): the block itself is wrong
    with pytest.raises(InvalidBlock) as caught:
        apply(Block(block.header, block.transactions[:4] + block.transactions[3:4]), receipts, writes)
    assert caught.value.field == "header.tx_root"
    # the state of another block: the roots do not match
    with pytest.raises(EffectsMismatch):
        apply(Block(dataclasses.replace(block.header, state_root=b"\x01" * 32), block.transactions), receipts, writes)
    # nothing was written while refusing; the honest effects still apply
    assert other.height == 1
    other_state = other.executor.apply_effects(block, receipts, writes)
    assert other_state.block.header == execution.block.header
    assert all(STATE + k in other_state.state_writes for k in writes)


def test_a_run_begun_ahead_is_continued_when_it_is_the_blocks_beginning(two) -> None:
    """An executor applies a proposal's first transactions while its proposer builds it (node.consensus.ahead); the
    block's validation continues that run only if it is the block's beginning, and gives the same block either way."""
    consortium, chain, mempool, engine, other = two
    contract = _deploy_and_fill(consortium, mempool, engine, other)
    eth = consortium.eth_accounts[0]
    for nonce in range(1, 9):
        mempool.add(eth_tx(eth, nonce, to=contract, data=_set(nonce, nonce), gas=100_000))
    announced: list = []
    execution = chain.propose(mempool.ready(10, chain.executor.head_nonce), 10**13, consortium.validator.address,
                              on_included=announced.append)
    block = Block.decode(execution.block.encode())
    assert [tx.hash for tx in announced] == [tx.hash for tx in execution.transactions]
    parent = other.head_header()

    run = other.executor.begin(parent, block.header.time_ms, block.header.proposer)
    for tx in announced[:5]:
        run.add(tx)
    assert other.validate(block, run=run).block.header == execution.block.header
    assert run.finished  # continued: the validation applied only the last 3

    for wrong in (dict(time_ms=block.header.time_ms + 1), dict(proposer=b"\x01" * 20)):
        args = {"time_ms": block.header.time_ms, "proposer": block.header.proposer, **wrong}
        stale = other.executor.begin(parent, args["time_ms"], args["proposer"])
        stale.add(announced[0])
        assert other.validate(block, run=stale).block.header == execution.block.header
        assert not stale.finished  # not the block's beginning: validated from the parent
    reordered = other.executor.begin(parent, block.header.time_ms, block.header.proposer)
    with pytest.raises(InvalidBlock, match="nonce"):
        reordered.add(announced[1])  # a strict run refuses what may not go in
    assert other.validate(block, run=reordered).block.header == execution.block.header
