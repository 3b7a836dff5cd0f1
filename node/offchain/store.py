"""Raw records of one custodian in LevelDB, encrypted at rest with SM4-GCM.

The data key is derived from the center's admin key (HKDF-SM3, info ``YILIAN/offchain/data-key/v1``), so
the database alone — a copied disk, a backup — reveals nothing; each value is sealed with the record id as
associated data, so values cannot be swapped between keys unnoticed. Layout: ``r/<record id>`` → sealed
canonical msgpack of the entry; ``t/<batch root>`` → sealed Merkle tree of a batch (every level's hashes, so any
record's inclusion path is read, not recomputed, and not stored 10,000 times); ``n/<nonce>`` → expiry of a seen
access-request nonce (replay guard).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import plyvel
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from node import codec
from node.crypto import sm4
from node.errors import DecryptionError, YilianError

RECORD, TREE, NONCE = b"r/", b"t/", b"n/"
DATA_KEY_INFO = b"YILIAN/offchain/data-key/v1"


class DataStoreError(YilianError):
    """The data store cannot be opened or a value cannot be decrypted (wrong key or damaged database)."""


class DataStoreFull(DataStoreError):
    """The disk refused a write of the data store (full or read-only): the request is refused, nothing changed."""


def _writing(path: Path):  # type: ignore[no-untyped-def]
    import contextlib

    @contextlib.contextmanager
    def guard():  # type: ignore[no-untyped-def]
        try:
            yield
        except (plyvel.Error, OSError) as exc:
            raise DataStoreFull(f"the data store {path} cannot write ({exc}); the disk may be full or read-only: free space, then "
                                "retry — nothing was stored or anchored") from None

    return guard()


def seal_entry(key: bytes, record_id: bytes, entry: dict) -> bytes:
    """The stored form of an entry: canonical msgpack sealed with SM4-GCM, bound to its key (``r/<record id>``)."""
    return sm4.seal(key, codec.encode(entry), RECORD + record_id)


def derive_data_key(admin_secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SM3(), length=sm4.KEY_SIZE, salt=None, info=DATA_KEY_INFO).derive(admin_secret)


class DataStore:
    def __init__(self, path: Path, key: bytes) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self.db = plyvel.DB(str(path), create_if_missing=True)
        except plyvel.Error as exc:
            raise DataStoreError(f"cannot open the data store at {path}: {exc}; is another node using this directory?") from None
        self.key = key
        self.path = path
        self._lock = threading.Lock()
        self._uses = 0

    def close(self) -> None:
        self.db.close()

    def put(self, record_id: bytes, entry: dict) -> None:
        with _writing(self.path):
            self.db.put(RECORD + record_id, seal_entry(self.key, record_id, entry), sync=True)

    def put_sealed(self, boxes: list[tuple[bytes, bytes]], tree: tuple[bytes, list[list[bytes]]] | None = None) -> None:
        """Entries already sealed with :func:`seal_entry` under this store's key (and the batch's Merkle tree: root,
        levels) in one synced write: a bulk import is stored whole or not at all."""
        with _writing(self.path), self.db.write_batch(transaction=True, sync=True) as batch:
            for record_id, box in boxes:
                batch.put(RECORD + record_id, box)
            if tree is not None:
                root, levels = tree
                batch.put(TREE + root, sm4.seal(self.key, codec.encode([b"".join(level) for level in levels]), TREE + root))

    def delete_many(self, record_ids: list[bytes], tree_root: bytes | None = None) -> None:
        with _writing(self.path), self.db.write_batch(transaction=True, sync=True) as batch:
            for record_id in record_ids:
                batch.delete(RECORD + record_id)
            if tree_root is not None:
                batch.delete(TREE + tree_root)

    def tree(self, root: bytes) -> list[list[bytes]] | None:
        """The levels of the batch tree stored under ``root`` (leaf hashes first), or None."""
        sealed = self.db.get(TREE + root)
        if sealed is None:
            return None
        try:
            levels = codec.decode(sm4.open_sealed(self.key, sealed, TREE + root))
        except DecryptionError:
            raise DataStoreError(f"batch tree 0x{root.hex()} cannot be decrypted: the data store belongs to another admin key "
                                 "or was modified") from None
        return [[level[i : i + 32] for i in range(0, len(level), 32)] for level in levels]

    def get(self, record_id: bytes) -> dict | None:
        sealed = self.db.get(RECORD + record_id)
        if sealed is None:
            return None
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
