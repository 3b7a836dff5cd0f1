"""What a node keeps in memory instead of reading LevelDB again: state entries (safe because each is keyed by the hash
of its value and never deleted), the head (written only by the block store's commit) and genesis admissions (never
withdrawn). Each must agree with the ledger on disk."""

from __future__ import annotations

import time
from pathlib import Path

import msgpack
import pytest

from chainutil import STORE_42_INIT, eth_tx, native_tx, solo_chain
from node.chain import Chain
from node.crypto import keccak256
from node.ledger.db import STATE, StateNodeCache
from node.ledger.store import HEAD_KEY, BlockStore
from node.mempool import Mempool
from node.solo import SoloEngine
from node.types import Block

@pytest.fixture
def net(tmp_path: Path):
    with solo_chain(tmp_path) as opened:
        yield opened


def _busy_blocks(consortium, mempool: Mempool, engine: SoloEngine, blocks: int) -> list:  # type: ignore[no-untyped-def]
    eth, gm = consortium.eth_accounts[0], consortium.gm_accounts[0]
    made = []
    for _ in range(blocks):
        done = engine.chain.height  # blocks made so far, each with 2 transactions of eth and 1 of gm
        mempool.add(eth_tx(eth, 2 * done, data=STORE_42_INIT, dynamic=False))  # a contract, its code and a storage slot
        mempool.add(eth_tx(eth, 2 * done + 1, to=b"\x22" * 20))
        mempool.add(native_tx(gm, done, to=b"\x11" * 20, data=b"hello"))
        made.append(engine.produce())
    return made


def test_every_state_entry_is_keyed_by_the_hash_of_its_value(net) -> None:
    """The state cache needs no invalidation only because of this: a py-evm upgrade that stored anything else under
    the state prefix (a key whose value can change) would fail here."""
    consortium, chain, mempool, engine = net
    _busy_blocks(consortium, mempool, engine, 4)
    entries = list(chain.database.iterate(STATE, STATE + b"\xff"))
    assert len(entries) > 20  # genesis contracts, their storage, the deployed contracts
    for key, value in entries:
        assert len(key) == 33 and keccak256(value) == key[1:], f"state key {key.hex()} is not the hash of its value"


def test_blocks_built_with_a_tiny_state_cache_re_execute_identically(net, tmp_path: Path) -> None:
    consortium, chain, mempool, engine = net
    chain.database.state_nodes = StateNodeCache(8)  # evicts all the time: most reads go to LevelDB
    made = _busy_blocks(consortium, mempool, engine, 3)
    assert len(chain.database.state_nodes) <= 8
    other = Chain(tmp_path / "b", consortium.genesis)
    try:
        for execution in made:
            height = execution.block.header.height
            replay = other.validate(Block.decode(execution.block.encode()))
            assert replay.block.header == execution.block.header  # state roots agree
            other.commit(replay, chain.store.certificate(height))
        assert len(other.database.state_nodes) > 0
    finally:
        other.close()


def test_the_cache_keeps_the_newest_entries_within_its_capacity() -> None:
    cache = StateNodeCache(100)
    cache.add_many((i.to_bytes(32, "big"), b"v%d" % i) for i in range(250))
    assert len(cache) <= 100
    assert cache.get((249).to_bytes(32, "big")) == b"v249" and cache.get((0).to_bytes(32, "big")) is None


def test_the_head_in_memory_moves_with_each_commit_and_matches_the_ledger(net) -> None:
    consortium, chain, mempool, engine = net
    for _ in range(2):
        execution = _busy_blocks(consortium, mempool, engine, 1)[0]
        header = execution.block.header
        assert chain.store.head() == (header.height, execution.block_hash)
        assert tuple(msgpack.unpackb(chain.database.get(HEAD_KEY))) == chain.store.head()
    assert BlockStore(chain.database, chain.suite).head() == chain.store.head()  # a fresh store reads it from disk


def test_a_transaction_on_chain_is_refused_as_a_duplicate_by_pool_and_block(net) -> None:
    """The on-chain index is read only once a transaction's nonce is found used: the refusal still says why."""
    consortium, chain, mempool, engine = net
    gm = consortium.gm_accounts[0]
    tx = mempool.add(native_tx(gm, 0, to=b"\x11" * 20))
    engine.produce()
    with pytest.raises(Exception, match="already on chain"):
        mempool.add(tx.raw)
    execution = chain.propose([tx], int(time.time() * 1000), consortium.validator.address)
    assert [reason for _, reason in execution.rejected] == ["is a duplicate of a transaction already on chain"]
    fresh = mempool.add(native_tx(gm, 1, to=b"\x11" * 20))
    execution = chain.propose([fresh, fresh], int(time.time() * 1000), consortium.validator.address)
    assert execution.transactions == (fresh,)
    assert [reason for _, reason in execution.rejected] == ["is a duplicate of a transaction already on chain"]
