"""LevelDB (plyvel) under one node: key prefixes, atomic batches, and py-evm's DB interface.

Everything a node stores lives in one LevelDB so that a block, its state
changes and its indexes can be written in **one** write batch: LevelDB
applies a batch atomically (it goes to the write-ahead log as one record),
so a process killed at any moment leaves either all of it or none of it.

Key prefixes (one byte, then the key):

====  =====================================================
``s``  state trie nodes and contract code (py-evm's keys)
``b``  block by hash; ``h`` block hash by height
``c``  commit certificate by height
``r``  receipts of a block by height
``t``  tx hash → (height, index)
``a``  log index by address; ``o`` log index by topic
``p``  admitted accounts
``m``  metadata (head, genesis hash, schema version)
====  =====================================================
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Iterator

import plyvel
from eth.db.backends.base import BaseAtomicDB
from eth.db.atomic import AtomicDBWriteBatch

from node.errors import YilianError

STATE = b"s"
STATE_NODES_CACHED = 65_536  # ~25 MB: the trie nodes of the last blocks and the hot paths of the state


class DatabaseError(YilianError):
    """The node's database cannot be opened or is inconsistent."""


class StorageFailure(DatabaseError):
    """The disk refused a write (full, read-only, failing): the node must stop; nothing partial was written."""


REPAIR_HINT = ("stop the node and run `yilian node --home <home> --repair`: it moves the damaged ledger aside and "
               "re-syncs every block from the other centers (keys, WAL and custodian data are kept)")


class StorageCorruption(DatabaseError):
    """Stored data fails its checks (LevelDB checksums, block hashes, the chain's links): never serve it."""


class Database:
    """The node's LevelDB. Opening takes LevelDB's own lock: one process per data directory."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self.state_nodes = StateNodeCache(STATE_NODES_CACHED)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = plyvel.DB(str(self.path), create_if_missing=create, paranoid_checks=True)
        except plyvel.IOError as exc:
            if "lock" in str(exc).lower():
                raise DatabaseError(
                    f"the database {self.path} is in use by another process (is a node already running on this home?)"
                ) from None
            raise DatabaseError(f"cannot open the database {self.path}: {exc}") from None
        except plyvel.CorruptionError as exc:
            raise StorageCorruption(f"the database {self.path} is corrupt ({exc}); {REPAIR_HINT}") from None
        except plyvel.Error as exc:
            raise DatabaseError(f"cannot open the database {self.path}: {exc}") from None

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._db.get(key, verify_checksums=True)
        except plyvel.CorruptionError as exc:  # LevelDB's block checksums (paranoid checks) caught damage on disk
            raise StorageCorruption(f"the database {self.path} is corrupt ({exc}); {REPAIR_HINT}") from None

    def iterate(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Items with ``start <= key < stop`` in key order."""
        try:
            yield from self._db.iterator(start=start, stop=stop, verify_checksums=True)
        except plyvel.CorruptionError as exc:
            raise StorageCorruption(f"the database {self.path} is corrupt ({exc}); {REPAIR_HINT}") from None

    def write(self, puts: dict[bytes, bytes], deletes: set[bytes] | frozenset[bytes] = frozenset()) -> None:
        """Apply ``puts`` and ``deletes`` atomically and durably (fsync); raises StorageFailure when the disk refuses."""
        try:
            with self._db.write_batch(transaction=True, sync=True) as batch:
                for key in deletes:
                    batch.delete(key)
                for key, value in puts.items():
                    batch.put(key, value)
        except (plyvel.Error, OSError) as exc:
            raise StorageFailure(f"writing to {self.path} failed ({exc}); the disk may be full or read-only: free space or fix "
                                 "the disk, then restart the node — it resumes from its last complete block") from None
        self.state_nodes.add_many((key[1:], value) for key, value in puts.items() if key[:1] == STATE)

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()
        _forget_tries()

    @property
    def closed(self) -> bool:
        return self._db.closed

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _forget_tries() -> None:
    """Drop py-trie's memo of encoded nodes: it is one LRU cache for all tries (``HexaryTrie.
    _cached_create_node_to_db_mapping``, 4,096 entries) whose keys hold the tries, hence the databases under them. Left
    alone it keeps a closed ledger alive until interpreter shutdown, where plyvel's destructor fails with a bare "Error
    in sys.excepthook" on stderr; cleared, the ledger is freed now. (Only a cache: the next writes refill it.)"""
    from trie.hexary import HexaryTrie

    HexaryTrie._cached_create_node_to_db_mapping.cache_clear()


class StateNodeCache:
    """The most recently written or read entries of the state (trie nodes and contract code), in memory.

    Every state key is the keccak hash of its value (py-evm stores trie nodes and code by hash; a test checks a
    ledger's every state entry), and the node never deletes one, so an entry cannot go stale: no invalidation is
    needed. Without it each block re-read the same trie paths from LevelDB, and each read gave up the GIL: under
    load a read took 70-110 µs of wall time in a node (4 validators, 80 tx/s, ~8 state reads per transaction per
    node), against ~1 µs alone. Oldest entries leave first once ``capacity`` is passed."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: dict[bytes, bytes] = {}
        self._lock = threading.Lock()  # writers only: a read is one dict lookup, atomic under the GIL

    def get(self, key: bytes) -> bytes | None:
        return self._entries.get(key)

    def add(self, key: bytes, value: bytes) -> None:
        self.add_many(((key, value),))

    def add_many(self, items) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self._entries.update(items)
            excess = len(self._entries) - self.capacity
            if excess > 0:
                for key in list(itertools.islice(self._entries, excess + self.capacity // 8)):  # evict in steps
                    del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class StagedStateDB(BaseAtomicDB):
    """py-evm's database interface over the node's LevelDB, with writes held back.

    py-evm writes trie nodes as it persists state. Here those writes collect in
    memory (:attr:`pending`), readable at once, and reach LevelDB only when
    the block store writes them in the same batch as the block.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self.pending: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self.pending.get(key)
        if value is not None:
            return value
        cache = self._database.state_nodes
        value = cache.get(key)
        if value is not None:
            return value
        value = self._database.get(STATE + key)
        if value is None:
            raise KeyError(key)
        cache.add(key, value)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.pending[key] = value

    def __delitem__(self, key: bytes) -> None:
        # Trie nodes are content-addressed and shared between versions: never deleted.
        pass

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def atomic_batch(self):  # type: ignore[override]
        return AtomicDBWriteBatch._commit_unless_raises(self)

    def state_writes(self) -> dict[bytes, bytes]:
        """The pending writes as LevelDB keys, ready for the block's batch."""
        return {STATE + key: value for key, value in self.pending.items()}
