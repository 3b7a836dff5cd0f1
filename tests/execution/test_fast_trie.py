"""FastHexaryTrie against py-trie: the same roots, the same nodes in the database, the same reads."""

from __future__ import annotations

import os

import pytest
import rlp
from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie
from trie.exceptions import MissingTrieNode

from node.execution.evm import YilianAccountDB
from node.execution.trie import FastHexaryTrie, decode_node, encode_node


def reachable(db: dict, root: bytes) -> dict[bytes, bytes]:
    """Every node stored by hash that the trie at ``root`` reaches."""
    found: dict[bytes, bytes] = {}
    stack = [root]
    while stack:
        reference = stack.pop()
        if isinstance(reference, list):
            node = reference
        else:
            if reference in found:
                continue
            found[reference] = db[reference]
            node = rlp.decode(db[reference])
        children = node[:16] if len(node) == 17 else ([node[1]] if node[0][0] >> 4 in (0, 1) else [])
        stack.extend(child for child in children if child != b"")
    return found


def write(changes: dict[bytes, bytes], *tries: HexaryTrie) -> None:
    """``changes`` into each trie as py-evm writes a block's accounts: in one ``squash_changes``."""
    for trie in tries:
        with trie.squash_changes() as batch:
            for key, value in changes.items():
                batch[key] = value


def both(initial: dict[bytes, bytes]) -> tuple[HexaryTrie, FastHexaryTrie, dict, dict]:
    slow_db, fast_db = {}, {}
    slow, fast = HexaryTrie(slow_db, prune=True), FastHexaryTrie(fast_db, prune=True)
    write(initial, slow, fast)
    return slow, fast, slow_db, fast_db


# keys that share long prefixes make extensions, splits and short (embedded) nodes; random ones make wide branches
prefixes = st.sampled_from([b"", b"\x00", b"\x12\x34", b"\x12\x35", b"\xab" * 15, b"\xab" * 30 + b"\x00"])
keys = st.builds(lambda prefix, tail: (prefix + tail)[:32].ljust(32, b"\x00"), prefixes, st.binary(min_size=0, max_size=32))
values = st.one_of(st.binary(min_size=1, max_size=3), st.binary(min_size=1, max_size=90))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=40), st.dictionaries(keys, values, min_size=1, max_size=25))
def test_batch_writes_give_py_trie_roots_nodes_and_reads(initial: dict, changes: dict) -> None:
    slow, fast, slow_db, fast_db = both(initial)
    assert fast.root_hash == slow.root_hash
    write(changes, slow, fast)
    assert fast.root_hash == slow.root_hash
    assert reachable(fast_db, fast.root_hash) == reachable(slow_db, slow.root_hash)
    everything = {**initial, **changes}
    for key in list(everything) + [os.urandom(32), b"\xab" * 31 + b"\x01"]:
        assert fast.get(key) == slow.get(key) == everything.get(key, b"")
    reader = HexaryTrie(fast_db, fast.root_hash)  # py-trie reads what the fast trie wrote
    assert all(reader.get(key) == value for key, value in everything.items())


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=30), st.data())
def test_deletions_and_empty_values_go_through_py_trie(initial: dict, data) -> None:  # type: ignore[no-untyped-def]
    slow, fast, _, _ = both(initial)
    doomed = data.draw(st.lists(st.sampled_from(sorted(initial)), min_size=1, unique=True))
    with slow.squash_changes() as memory, fast.squash_changes() as batch:
        for index, key in enumerate(doomed):
            if index % 2:
                memory[key] = batch[key] = b""  # an empty value deletes, in py-trie
            else:
                del memory[key]
                del batch[key]
            assert batch[key] == b""
    assert fast.root_hash == slow.root_hash
    for key in initial:
        assert fast.get(key) == slow.get(key)


def test_nothing_changes_when_the_block_raises() -> None:
    _, fast, _, fast_db = both({os.urandom(32): b"value"})
    root, stored = fast.root_hash, dict(fast_db)
    with pytest.raises(RuntimeError):
        with fast.squash_changes() as batch:
            batch[os.urandom(32)] = b"other"
            raise RuntimeError("the block failed")
    assert fast.root_hash == root and fast_db == stored


def test_a_missing_node_is_reported_as_py_trie_does() -> None:
    initial = {os.urandom(32): os.urandom(40) for _ in range(20)}
    _, fast, _, fast_db = both(initial)
    del fast_db[next(iter(k for k in fast_db if k != fast.root_hash))]
    lost = [key for key in initial if _raises_missing(fast, key)]
    assert lost, "the path of some stored key goes through the deleted node"
    with pytest.raises(MissingTrieNode):
        fast.get(lost[0])


def _raises_missing(trie: FastHexaryTrie, key: bytes) -> bool:
    try:
        trie.get(key)
    except MissingTrieNode:
        return True
    return False


@given(st.recursive(st.binary(max_size=70), lambda inner: st.lists(inner, max_size=17), max_leaves=30).filter(lambda x: isinstance(x, list)))
def test_node_codec_is_rlp(node: list) -> None:
    assert encode_node(node) == rlp.encode(node)
    assert decode_node(rlp.encode(node)) == rlp.decode(rlp.encode(node))


def test_node_decoder_refuses_what_is_not_one_list() -> None:
    for bad in (b"", b"\x80", rlp.encode([b"a"]) + b"\x00", b"\xc4\x82ab", b"\xc2\x83ab"):
        with pytest.raises((ValueError, IndexError)):
            decode_node(bad)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3), st.integers(0, 10**6)), min_size=1, max_size=60))
def test_account_state_roots_match_py_evm(operations: list) -> None:
    """Nonces, balances and storage set and accounts deleted on a few accounts, persisted block by block:
    YilianAccountDB's roots are py-evm's AccountDB's."""
    addresses = [bytes([i]) * 20 for i in range(8)]
    ours, theirs = YilianAccountDB(AtomicDB(), BLANK_ROOT_HASH), AccountDB(AtomicDB(), BLANK_ROOT_HASH)
    for step, (who, kind, amount) in enumerate(operations):
        for db in (ours, theirs):
            address = addresses[who]
            if kind == 0:
                db.set_balance(address, amount)
            elif kind == 1:
                db.set_storage(address, amount % 5, amount)
            elif kind == 2:
                db.set_nonce(address, amount)
            else:
                db.delete_account(address)
            if step % 7 == 6:
                db.persist()
        if step % 7 == 6:
            assert ours.state_root == theirs.state_root
    ours.persist()
    theirs.persist()
    assert ours.state_root == theirs.state_root
    fresh = YilianAccountDB(ours._raw_store_db.wrapped_db if hasattr(ours._raw_store_db, "wrapped_db") else ours._raw_store_db, ours.state_root)
    for address in addresses:
        assert fresh.get_balance(address) == theirs.get_balance(address)
        assert fresh.get_nonce(address) == theirs.get_nonce(address)


def test_other_key_lengths_go_through_py_trie() -> None:
    slow, fast, _, _ = both({os.urandom(32): b"x" * 40 for _ in range(5)})
    extra = {os.urandom(20): b"y" * 40 for _ in range(5)}
    write(extra, slow, fast)
    assert fast.root_hash == slow.root_hash
    assert all(fast.get(key) == value for key, value in extra.items())


def test_the_pipes_are_py_evms_over_the_fast_tries() -> None:
    """YilianAccountDB rebuilds py-evm's account and storage pipes over FastHexaryTrie: the same attributes of the
    same types as py-evm builds them (a py-evm upgrade that changes them fails here), the tries underneath ours."""
    ours, theirs = YilianAccountDB(AtomicDB(), BLANK_ROOT_HASH), AccountDB(AtomicDB(), BLANK_ROOT_HASH)
    assert set(vars(ours)) - {"written"} == set(vars(theirs))
    assert all(type(vars(ours)[name]) is type(vars(theirs)[name]) for name in vars(theirs))
    assert type(ours._trie._db) is FastHexaryTrie
    address = b"\x01" * 20
    ours.set_storage(address, 1, 7)
    theirs.set_storage(address, 1, 7)
    mine, py_evms = ours._get_address_store(address), theirs._get_address_store(address)
    assert set(vars(mine)) == set(vars(py_evms))
    assert all(type(vars(mine)[name]) is type(vars(py_evms)[name]) or name == "_storage_lookup" for name in vars(py_evms))
    assert type(mine._storage_lookup._get_read_trie()) is FastHexaryTrie
    ours.persist()
    theirs.persist()
    assert ours.state_root == theirs.state_root and ours.get_storage(address, 1) == 7


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 30), st.one_of(st.just(0), st.integers(1, 2**256 - 1)), st.booleans()),
                min_size=1, max_size=120))
def test_storage_written_in_one_pass_gives_py_evms_roots(writes: list) -> None:
    """A block's slot writes go to each contract's storage trie in one pass (``_StorageLookup.squashed``): many slots,
    zeros (deletions), a slot written and put back, persisted at random points — the roots and the slots read back are
    py-evm's."""
    addresses = [bytes([0x40 + i]) * 20 for i in range(4)]
    ours, theirs = YilianAccountDB(AtomicDB(), BLANK_ROOT_HASH), AccountDB(AtomicDB(), BLANK_ROOT_HASH)
    expected: dict[tuple[int, int], int] = {}
    for who, slot, value, persist in writes:
        for db in (ours, theirs):
            db.set_nonce(addresses[who], 1)  # (an account with storage exists)
            db.set_storage(addresses[who], slot, value)
            db.set_storage(addresses[who], slot + 1000, 5)
            db.set_storage(addresses[who], slot + 1000, 0)  # written and put back within the block
        expected[(who, slot)] = value
        if persist:
            ours.persist()
            theirs.persist()
            assert ours.state_root == theirs.state_root
    ours.persist()
    theirs.persist()
    assert ours.state_root == theirs.state_root
    fresh = YilianAccountDB(ours._raw_store_db, ours.state_root)
    assert all(fresh.get_storage(addresses[who], slot) == value for (who, slot), value in expected.items())


def test_an_account_whose_storage_was_only_read_keeps_its_root() -> None:
    ours = YilianAccountDB(AtomicDB(), BLANK_ROOT_HASH)
    address = b"\x42" * 20
    ours.set_storage(address, 3, 9)
    ours.persist()
    root = ours.state_root
    assert ours.get_storage(address, 3) == 9 and ours.get_storage(address, 4) == 0
    ours.set_balance(address, 0)  # dirty, no slot written
    ours.persist()
    assert ours.state_root == root and not ours._get_address_store(address)._storage_lookup.has_changed_root
