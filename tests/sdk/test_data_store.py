"""The custodian's data store keeps a batch's Merkle tree under the batch's id, bound to its root, and still reads
the trees of stores written when entries named their batch by its root."""

from __future__ import annotations

import os

import pytest

from node import codec
from node.crypto import get_suite, sm4
from node.ledger.merkle import merkle_levels
from node.offchain.store import ROOT, TREE, DataStore, DataStoreError

KEY = bytes(range(16))


@pytest.fixture
def store(tmp_path):  # type: ignore[no-untyped-def]
    opened = DataStore(tmp_path / "data", KEY)
    yield opened
    opened.close()


def _levels(count: int) -> list[list[bytes]]:
    return merkle_levels(get_suite("gm"), [os.urandom(160) for _ in range(count)])


def test_a_batch_tree_is_read_back_by_the_id_its_entries_name(store):
    levels, batch = _levels(5), os.urandom(16)
    store.put_sealed([(b"\x01" * 32, b"box")], tree=(batch, levels))
    named = {"id": batch, "index": 3, "size": 5}
    assert store.tree(named) == levels
    assert store.batch_root(named) == levels[-1][0]
    store.delete_many([b"\x01" * 32], batch_id=batch)
    assert store.tree(named) is None and store.batch_root(named) is None and store.get(b"\x01" * 32) is None


def test_a_tree_moved_to_another_root_or_batch_is_refused(store):
    levels, batch, other = _levels(4), os.urandom(16), os.urandom(16)
    store.put_sealed([], tree=(batch, levels))
    store.db.put(ROOT + other, levels[-1][0])
    store.db.put(TREE + other, store.db.get(TREE + batch))  # the sealed tree under another batch id
    with pytest.raises(DataStoreError, match="cannot be decrypted"):
        store.tree({"id": other, "index": 0, "size": 4})
    store.db.put(ROOT + batch, os.urandom(32))  # the batch's root, changed
    with pytest.raises(DataStoreError, match="cannot be decrypted"):
        store.tree({"id": batch, "index": 0, "size": 4})


def test_trees_of_stores_written_before_batch_ids_are_still_read(store):
    levels = _levels(3)
    root = levels[-1][0]
    store.db.put(TREE + root, sm4.seal(KEY, codec.encode([b"".join(level) for level in levels]), TREE + root))  # the old layout
    named = {"root": root, "index": 1, "size": 3}
    assert store.tree(named) == levels
    assert store.batch_root(named) == root
