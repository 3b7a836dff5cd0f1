"""The custodian's data store keeps a batch's Merkle tree under the batch's id, bound to its root, and still reads
the trees of stores written when entries named their batch by its root; a batch's entries are appended to the entries
database and indexed by record id, written so that a crash or a failed write never leaves an index entry without its
record."""

from __future__ import annotations

import os

import msgpack
import plyvel
import pytest

from node import codec
from node.crypto import get_suite, sm4
from node.ledger.merkle import merkle_levels
from node.offchain.store import CHUNK, LOCATION_SIZE, RECORD, ROOT, TREE, DataStore, DataStoreError, DataStoreFull, seal_entry

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


def _entry(local_id: str) -> dict:
    return {"type": "credit", "local_id": local_id, "owner": bytes(20), "record": b"{}", "salt": bytes(32), "commitment": bytes(32),
            "schema_version": 1, "version": 1, "batch": None}


def _boxes(count: int) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    ids = [os.urandom(32) for _ in range(count)]
    return ids, [(record_id, seal_entry(KEY, record_id, _entry(f"r/{i}"))) for i, record_id in enumerate(ids)]


def test_batches_append_their_entries_in_order_and_the_index_points_at_them(tmp_path):
    store = DataStore(tmp_path / "data", KEY)
    first_ids, first = _boxes(CHUNK * 2 + 3)
    second_ids, second = _boxes(2)
    store.put_sealed(first, tree=(os.urandom(16), _levels(3)))
    store.put_sealed(second)
    locations = [store.db.get(RECORD + record_id) for record_id in first_ids + second_ids]
    assert all(len(location) == LOCATION_SIZE for location in locations) and locations == sorted(locations)
    chunks = list(store.entries.iterator(include_value=False))  # appended: 3 chunks of the first batch, 1 of the second
    assert len(chunks) == 4 and chunks == sorted(chunks) and chunks[-1][:8] == locations[-1][:8] > chunks[0][:8]
    expected = [f"r/{i}" for i in range(len(first))] + ["r/0", "r/1"]
    assert [store.get(record_id)["local_id"] for record_id in first_ids + second_ids] == expected
    store.close()
    reopened = DataStore(tmp_path / "data", KEY)  # numbering goes on after the last batch
    third_ids, third = _boxes(1)
    reopened.put_sealed(third)
    assert reopened.db.get(RECORD + third_ids[0]) > locations[-1]
    assert reopened.get(first_ids[CHUNK + 1])["local_id"] == f"r/{CHUNK + 1}" and reopened.count() == len(expected) + 1
    reopened.close()


def test_entries_left_by_a_crash_before_their_index_stay_unreachable_and_are_never_reused(tmp_path):
    store = DataStore(tmp_path / "data", KEY)
    ids, boxes = _boxes(2)
    orphan = (7).to_bytes(8, "big") + (0).to_bytes(4, "big")  # as if the node died between the two synced writes
    store.entries.put(orphan, msgpack.packb([box for _, box in boxes]), sync=True)
    store.close()
    store = DataStore(tmp_path / "data", KEY)
    assert store.get(ids[0]) is None and store.count() == 0
    store.put_sealed(boxes)
    assert store.db.get(RECORD + ids[0]) > orphan and store.get(ids[0])["local_id"] == "r/0"
    store.close()


class _IndexWriteFails:
    """The store's index database, whose batch writes fail as on a full disk."""

    def __init__(self, db) -> None:  # type: ignore[no-untyped-def]
        self.db = db

    def write_batch(self, **options):  # type: ignore[no-untyped-def]
        raise plyvel.IOError("No space left on device")

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.db, name)


def test_a_batch_whose_index_cannot_be_written_takes_its_entries_back(store):
    ids, boxes = _boxes(3)
    index, store.db = store.db, _IndexWriteFails(store.db)
    with pytest.raises(DataStoreFull, match="nothing was stored"):
        store.put_sealed(boxes)
    store.db = index
    assert list(store.entries.iterator()) == [] and store.get(ids[0]) is None


def test_given_up_and_updated_batch_entries_leave_the_entries_database(store):
    ids, boxes = _boxes(3)
    batch = os.urandom(16)
    store.put_sealed(boxes, tree=(batch, _levels(3)))
    store.put(ids[0], _entry("updated"))  # a single ingest's update: stored whole, the batch's copy dropped
    assert len(store.db.get(RECORD + ids[0])) > LOCATION_SIZE and store.get(ids[0])["local_id"] == "updated"
    assert msgpack.unpackb(store.entries.get(store.db.get(RECORD + ids[1])[:8] + bytes(4)))[0] == b""  # blanked
    assert store.get(ids[1])["local_id"] == "r/1"
    store.delete_many(ids, batch_id=batch)  # a failed anchoring's cleanup
    assert list(store.entries.iterator()) == [] and all(store.get(record_id) is None for record_id in ids)


def test_an_index_entry_pointing_at_another_records_entry_or_at_none_is_refused(store):
    ids, boxes = _boxes(2)
    store.put_sealed(boxes)
    store.db.put(RECORD + ids[0], store.db.get(RECORD + ids[1]))  # swapped: the entry is sealed to the other id
    with pytest.raises(DataStoreError, match="cannot be decrypted"):
        store.get(ids[0])
    store.delete_many([ids[0]])  # its index entry pointed at the other record's entry: that one is blanked
    with pytest.raises(DataStoreError, match="is missing from .*restore"):
        store.get(ids[1])


def test_batch_entries_stored_whole_under_their_id_by_earlier_stores_are_still_read(store):
    ids, boxes = _boxes(1)
    store.db.put(RECORD + ids[0], boxes[0][1])  # the layout before the entries database
    assert store.get(ids[0])["local_id"] == "r/0" and store.holds(ids[0])
    store.delete_many(ids)
    assert store.get(ids[0]) is None
