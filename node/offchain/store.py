"""Raw records of one custodian in LevelDB, encrypted at rest with SM4-GCM.

The data key is derived from the center's admin key (HKDF-SM3, info ``YILIAN/offchain/data-key/v1``), so
the database alone — a copied disk, a backup — reveals nothing; each value is sealed with the record id as
associated data, so values cannot be swapped between keys unnoticed. Layout: ``r/<record id>`` → sealed
canonical msgpack of the entry, or (a batch's entries) its 12-byte location in the entries database;
``b/<batch id>`` → a batch's Merkle root (public: it is on chain); ``t/<batch id>`` → its sealed tree (every level's
hashes, so any record's inclusion path is read, not recomputed, and not stored 10,000 times), bound to the id and
the root; ``n/<nonce>`` → expiry of a seen access-request nonce (replay guard).

A batch's sealed entries go to a second LevelDB (``entries/`` inside the store's directory), :data:`CHUNK` of them to
a value (a msgpack list) under sequential keys (batch sequence number, chunk): new batches only ever append there,
so LevelDB moves their tables down its levels without rewriting them, while the index of random record ids it does
keep compacting is ~10× smaller than the entries. With one database, every new table of random ids overlapped all older ones: over a long import the
custodian's CPU per batch of 10,000 grew with the store (in a node, 283 → 484 ms from 120,000 to 960,000 records,
LevelDB's compaction and the duplicate check's lookups most of the growth). The entries are written and synced
first, then the index that points at them, so a node killed in between leaves unreachable entries, never an index
entry without its record; an entry given up (a failed anchoring, an update) is blanked after its index entry, and a
chunk left empty is deleted.

A batch-anchored entry names its batch as ``{id, index, size}`` (the id is drawn before the tree exists, so entries
are sealed while they are prepared); stores written before that name ``{root, index, size}`` and keep the tree under
``t/<root>``, sealed alone — both are read, as are batch entries stored whole under ``r/`` before the entries database.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import msgpack
import plyvel
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from node import codec
from node.crypto import sm4
from node.errors import DecryptionError, YilianError

RECORD, TREE, ROOT, NONCE = b"r/", b"t/", b"b/", b"n/"
DATA_KEY_INFO = b"YILIAN/offchain/data-key/v1"
WRITE_BUFFER_BYTES = 32 << 20  # LevelDB's memtable (up to two live at once while one is written out)
ENTRIES_DIR = "entries"
LOCATION_SIZE = 12  # (batch sequence number: 8 bytes, place in the batch: 4), big-endian; a sealed box is at least 28
CHUNK = 64  # sealed entries per value of the entries database (one put each, not 10,000 a batch: a third of the write)


class DataStoreError(YilianError):
    """The data store cannot be opened or a value cannot be decrypted (wrong key or damaged database)."""


class DataStoreFull(DataStoreError):
    """The disk refused a write of the data store (full or read-only): the request is refused, nothing changed."""


def _writing(path: Path):  # type: ignore[no-untyped-def]
    @contextlib.contextmanager
    def guard():  # type: ignore[no-untyped-def]
        try:
            yield
        except (plyvel.Error, OSError) as exc:
            raise DataStoreFull(f"the data store {path} cannot write ({exc}); the disk may be full or read-only: free space, then "
                                "retry — nothing was stored or anchored") from None

    return guard()


def _chunk(location: bytes) -> tuple[bytes, int]:
    """(the key of the entries database's value holding the entry at ``location``, the entry's slot in it)."""
    place = int.from_bytes(location[8:], "big")
    return location[:8] + (place // CHUNK).to_bytes(4, "big"), place % CHUNK


def _pack(boxes: list[bytes]) -> bytes:
    return msgpack.packb(boxes, use_bin_type=True)


def seal_entry(key: bytes, record_id: bytes, entry: dict) -> bytes:
    """The stored form of an entry: canonical msgpack sealed with SM4-GCM, bound to its key (``r/<record id>``)."""
    return seal_encoded(key, record_id, codec.encode(entry))


def seal_encoded(key: bytes, record_id: bytes, encoded: bytes) -> bytes:
    """:func:`seal_entry` of an entry already in its canonical encoding (a batch packs its entries itself)."""
    return sm4.seal(key, encoded, RECORD + record_id)


def derive_data_key(admin_secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SM3(), length=sm4.KEY_SIZE, salt=None, info=DATA_KEY_INFO).derive(admin_secret)


class DataStore:
    def __init__(self, path: Path, key: bytes) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            # a bloom filter per table (10 bits a key): a batch's duplicate check is 10,000 lookups of ids not held,
            # which otherwise read a block of every table whose range covers them (in one process, alternating, 10,000
            # new ids in key order against 100,000 / 300,000 stored: medians 3.9 / 6.2 µs a lookup, 6.4 / 15.0 without)
            # no compression: every value is SM4-sealed, so snappy only spends CPU finding nothing to compress; a 32 MB
            # memtable instead of 4 MB: a batch of 10,000 (~4 MB) no longer flushes a level-0 table of its own, and
            # fewer, larger tables mean less compaction under the random record ids (in one process, 100 synced
            # batches of 10,000 random 330-byte entries: 142 → 96 ms of CPU a batch, compaction included, 16.4 → 5.6 s)
            self.db = plyvel.DB(str(path), create_if_missing=True, bloom_filter_bits=10, compression=None,
                                write_buffer_size=WRITE_BUFFER_BYTES)
        except plyvel.Error as exc:
            raise DataStoreError(f"cannot open the data store at {path}: {exc}; is another node using this directory?") from None
        try:  # read at known keys only (no bloom filter needed), written in key order
            self.entries = plyvel.DB(str(path / ENTRIES_DIR), create_if_missing=True, compression=None,
                                     write_buffer_size=WRITE_BUFFER_BYTES)
        except plyvel.Error as exc:
            self.db.close()
            raise DataStoreError(f"cannot open the data store's entries at {path / ENTRIES_DIR}: {exc}") from None
        self.key = key
        self.path = path
        self._lock = threading.Lock()
        self._uses = 0
        last = next(self.entries.iterator(reverse=True, include_value=False), None)  # (entries left by a crash included)
        self._next_batch = 0 if last is None else int.from_bytes(last[:8], "big") + 1
        self._batch_lock = threading.Lock()
        self._chunk_lock = threading.Lock()

    def close(self) -> None:
        self.db.close()
        self.entries.close()

    def put(self, record_id: bytes, entry: dict) -> None:
        """One entry, sealed whole under its id (a single ingest; an update replaces the entry stored before)."""
        with _writing(self.path):
            replaced = self.db.get(RECORD + record_id)
            self.db.put(RECORD + record_id, seal_entry(self.key, record_id, entry), sync=True)
            if replaced is not None and len(replaced) == LOCATION_SIZE:
                self._release([replaced])  # the batch's copy, no longer pointed at (always after the index)

    def put_sealed(self, boxes: list[tuple[bytes, bytes]], tree: tuple[bytes, list[list[bytes]]] | None = None) -> None:
        """Entries already sealed with :func:`seal_entry` under this store's key (and their batch's Merkle tree: batch
        id, levels): a bulk import is stored whole or not at all — the entries appended to the entries database,
        :data:`CHUNK` to a value, and synced, then their index (and the tree) in one synced write."""
        with self._batch_lock:
            number = self._next_batch
            self._next_batch += 1
        prefix = number.to_bytes(8, "big")
        with _writing(self.path):
            if boxes:
                with self.entries.write_batch(transaction=True, sync=True) as appended:
                    for first in range(0, len(boxes), CHUNK):
                        appended.put(prefix + (first // CHUNK).to_bytes(4, "big"), _pack([box for _, box in boxes[first : first + CHUNK]]))
            try:
                with self.db.write_batch(transaction=True, sync=True) as batch:
                    for place, (record_id, _) in enumerate(boxes):
                        batch.put(RECORD + record_id, prefix + place.to_bytes(4, "big"))
                    if tree is not None:
                        batch_id, levels = tree
                        root = levels[-1][0]
                        batch.put(ROOT + batch_id, root)
                        sealed = sm4.seal(self.key, codec.encode([b"".join(level) for level in levels]), TREE + batch_id + root)
                        batch.put(TREE + batch_id, sealed)
            except BaseException:
                with contextlib.suppress(plyvel.Error, OSError):  # unreachable either way: only space is at stake
                    self._release([prefix + place.to_bytes(4, "big") for place in range(0, len(boxes), CHUNK)], whole_chunks=True)
                raise

    def _release(self, locations: list[bytes], *, whole_chunks: bool = False) -> None:
        """Blank the entries at ``locations`` (after their index entries are gone); a chunk left empty is deleted.
        ``whole_chunks``: drop the chunks holding them outright (a batch taken back)."""
        chunks: dict[bytes, list[int]] = {}
        for location in locations:
            key, slot = _chunk(location)
            chunks.setdefault(key, []).append(slot)
        if not chunks:
            return
        with self._chunk_lock, self.entries.write_batch(transaction=True, sync=True) as changed:  # (read-modify-write)
            for key, slots in chunks.items():
                stored = None if whole_chunks else self.entries.get(key)
                boxes = [] if stored is None else msgpack.unpackb(stored)
                for slot in slots:
                    if slot < len(boxes):
                        boxes[slot] = b""
                if any(boxes):
                    changed.put(key, _pack(boxes))
                else:
                    changed.delete(key)

    def _entry(self, location: bytes) -> bytes | None:
        key, slot = _chunk(location)
        stored = self.entries.get(key)
        boxes = [] if stored is None else msgpack.unpackb(stored)
        return (boxes[slot] or None) if slot < len(boxes) else None  # (b"": blanked)

    def delete_many(self, record_ids: list[bytes], batch_id: bytes | None = None) -> None:
        with _writing(self.path):
            stored = (self.db.get(RECORD + record_id) for record_id in record_ids)
            locations = [value for value in stored if value is not None and len(value) == LOCATION_SIZE]
            with self.db.write_batch(transaction=True, sync=True) as batch:
                for record_id in record_ids:
                    batch.delete(RECORD + record_id)
                if batch_id is not None:
                    batch.delete(ROOT + batch_id)
                    batch.delete(TREE + batch_id)
            self._release(locations)

    def batch_root(self, batch: dict) -> bytes | None:
        """The Merkle root of the batch an entry names (its ``batch``), or None when its tree is missing."""
        if "root" in batch:  # written before batches had ids
            return batch["root"]
        return self.db.get(ROOT + batch["id"])

    def tree(self, batch: dict) -> list[list[bytes]] | None:
        """The levels of the Merkle tree of the batch an entry names (its ``batch``; leaf hashes first), or None."""
        if "root" in batch:  # written before batches had ids: the tree is under its root, sealed alone
            key = associated = TREE + batch["root"]
        else:
            key, root = TREE + batch["id"], self.batch_root(batch)
            associated = key + (root or b"")
        sealed = self.db.get(key)
        if sealed is None:
            return None
        try:
            levels = codec.decode(sm4.open_sealed(self.key, sealed, associated))
        except DecryptionError:
            raise DataStoreError(f"the Merkle tree under 0x{key[2:].hex()} cannot be decrypted: the data store belongs to another "
                                 "admin key or was modified") from None
        return [[level[i : i + 32] for i in range(0, len(level), 32)] for level in levels]

    def holds(self, record_id: bytes) -> bool:
        """Whether a record is stored under ``record_id`` (without decrypting it)."""
        return self.db.get(RECORD + record_id) is not None

    def get(self, record_id: bytes) -> dict | None:
        sealed = self.db.get(RECORD + record_id)
        if sealed is None:
            return None
        if len(sealed) == LOCATION_SIZE:
            location, sealed = sealed, self._entry(sealed)
            if sealed is None:
                raise DataStoreError(f"record 0x{record_id.hex()} is indexed but its entry (batch {int.from_bytes(location[:8], 'big')}, "
                                     f"place {int.from_bytes(location[8:], 'big')}) is missing from {self.path / ENTRIES_DIR}: restore "
                                     "the data store (both directories) from its backup")
        try:
            return codec.decode(sm4.open_sealed(self.key, sealed, RECORD + record_id))
        except DecryptionError:
            raise DataStoreError(f"record 0x{record_id.hex()} cannot be decrypted: the data store belongs to another admin key "
                                 "or was modified") from None

    def count(self) -> int:
        return sum(1 for _ in self.db.iterator(prefix=RECORD, include_value=False))

    def first_use(self, nonce: bytes, expires_at: float) -> bool:
        """Record an access-request nonce; False when it was seen before (a replay). Old nonces are pruned."""
        with self._lock:
            if self.db.get(NONCE + nonce) is not None:
                return False
            self.db.put(NONCE + nonce, int(expires_at).to_bytes(8, "big"), sync=True)
            self._uses += 1
            if self._uses % 256 == 0:  # prune now and then: a nonce only matters until its request expires
                now = time.time()
                for k in [k for k, v in self.db.iterator(prefix=NONCE) if int.from_bytes(v, "big") < now]:
                    self.db.delete(k)
            return True
