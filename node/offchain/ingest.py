"""The per-record work of an ingest, and a pool of worker processes that spreads a bulk import's share of it over
the machine's cores.

One record costs about 100 µs of Python (validation against the data standard, canonical JSON, salt, SM3
commitment and record id, then the stored entry's encoding and SM4-GCM seal); the GIL keeps that on one core
however many requests arrive. A batch of 10,000 is therefore split into one chunk per worker, which prepares and
seals its records in one call and sends back bytes only (record id, Merkle leaf hash, sealed entry): each entry
names its batch by an id drawn before the tree exists, not by the root. The parent keeps the parts that need the
whole batch or the database: the duplicate check (while the workers run), the tree, the one synced write, the
anchoring transaction.

The pool is an accelerator only: every result is the same as the serial path's (the functions below are the serial
path), and when the pool fails (a worker died, a value pickle refuses) the batch is done serially.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import msgpack
import orjson

from chain_sdk import records
from chain_sdk.client import exact_orjson
from node.crypto import get_suite
from node.errors import ValidationError
from node.ledger.merkle import leaf_hasher
from node.offchain import standard
from node.offchain.store import seal_encoded

log = logging.getLogger("yilian.custodian")

WORKERS_ENV = "YILIAN_INGEST_WORKERS"
POOL_MIN_BATCH = 1_000  # below this, shipping records to workers and back costs more than it saves


class _CollectorPause:
    """Holds CPython's cyclic garbage collector off while any bulk import builds its entries.

    A batch of 10,000 records makes ~100,000 containers that all stay alive until the batch is written; the collector
    counts allocations, not garbage, so per batch it ran ~140 young passes, ~14 middle ones and a full one over them
    (and over every object of the node), finding nothing: 57 ms per batch of 10,000 in a process holding 300,000 other
    objects (measured with gc.callbacks). In a node, an experiment that only made young passes 14× rarer lifted
    batches of 10,000 from 12.3k to 16.5k records/s (medians of 6, alternating). Reference counting still frees
    everything meanwhile; only cycles wait for the collector, which resumes (and catches up by its own thresholds) when
    the last import in the process ends. The collector is per process, so the count is too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._was_enabled:
                    gc.enable()


collector_paused = _CollectorPause()
"""``with collector_paused(): ...`` around a bulk import's work (nestable, from any thread)."""


def prepare(custodian: bytes, item: Any, where: str, record_id_of: Callable[[str], bytes] | None = None,
            salt: bytes | None = None) -> tuple[bytes, dict]:
    """Validate one ``{type, local_id, owner, record}`` and make its entry: canonical bytes, a fresh salt, the SM3
    commitment; the record id is SM3(custodian ‖ local id) (``record_id_of``: ``records.record_id_of(custodian)``,
    which a batch makes once; ``salt``: 32 fresh random bytes, which a batch draws at once). Raises ValidationError
    naming the field."""
    if not isinstance(item, dict):
        raise ValidationError(where.rstrip(".") or "body", "an object {type, local_id, owner, record}")
    record_type, local_id, owner, record = item.get("type"), item.get("local_id"), item.get("owner"), item.get("record")
    if not isinstance(record_type, str):
        raise ValidationError(f"{where}type", "the record type, e.g. 'credit'")
    if not isinstance(owner, str) or len(owner) != 42 or not owner.startswith("0x"):
        raise ValidationError(f"{where}owner", "the owner's 0x address (the enterprise for its private data, else the center)")
    try:
        owner_bytes = bytes.fromhex(owner[2:])
    except ValueError:
        raise ValidationError(f"{where}owner", "not a hex address") from None
    try:
        standard.validate(record_type, record)
    except ValidationError as exc:
        raise ValidationError(where + exc.field, exc.reason) from None
    if not isinstance(local_id, str) or not 0 < len(local_id) <= 200:
        raise ValidationError(f"{where}local_id", "a non-empty string of at most 200 characters")
    try:
        record_id = (record_id_of or records.record_id_of(custodian))(local_id)
    except UnicodeEncodeError:  # JSON can carry a lone surrogate ("\ud800"), which UTF-8 cannot
        raise ValidationError(f"{where}local_id", "not valid Unicode text (a lone surrogate)") from None
    salt = salt or os.urandom(32)
    try:
        canonical = records.canonical(record)  # type: ignore[arg-type]
    except UnicodeEncodeError:
        raise ValidationError(f"{where}record", "holds text that is not valid Unicode (a lone surrogate)") from None
    schema_version = int(record.get("schema_version", 1))  # type: ignore[union-attr]
    entry = {"type": record_type, "local_id": local_id, "owner": owner_bytes, "record": canonical, "salt": salt,
             "commitment": records.commitment(canonical, salt), "schema_version": schema_version, "version": 1, "batch": None}
    return record_id, entry


def batch_leaf(record_id: bytes, type_id: bytes, owner: bytes, commitment: bytes, schema_version: int) -> bytes:
    """A batch leaf, as ``RecordRegistry.anchorFromBatch`` re-computes it: ``abi.encode(bytes32, bytes32, address,
    bytes32, uint32)`` — five 32-byte words, packed by hand (eth_abi takes 27 µs a leaf; a batch has 10,000)."""
    if not (len(record_id) == len(type_id) == len(commitment) == 32 and len(owner) == 20 and 0 <= schema_version < 2**32):
        raise ValueError("a batch leaf needs 32-byte ids and commitment, a 20-byte owner and a uint32 schema version")
    return record_id + type_id + bytes(12) + owner + commitment + schema_version.to_bytes(32, "big")


Prepared = list[tuple[bytes, bytes, bytes] | None]
"""Per item of a batch: (record id, its Merkle leaf's hash, sealed entry), or None where the item failed."""


def prepare_chunk(custodian: bytes, key: bytes, batch: bytes, size: int, items: list, first: int) -> tuple[Prepared, list[dict]]:
    """Prepare and seal ``items``, entries ``first``, ``first + 1``, … of the batch ``batch`` (its id) of ``size``
    records: per item its (record id, leaf hash, sealed entry) or None, and the problems, each ``{index, field, detail}``.
    Each entry names its batch and place (``{id, index, size}``) before the tree exists: the batch's tree, stored under
    its id, gives the root and the path (:meth:`DataStore.tree`), so a worker seals in the same call that prepares.

    The same entries as :func:`prepare` and :func:`node.offchain.store.seal_entry` make one at a time (a test compares
    them), with what every record shares done once: SM3 over the custodian's address (record ids) and over the leaf
    prefix (leaf hashes), and the entry packed in its canonical key order without the codec's generic walk."""
    entries: list[tuple[bytes, dict] | None] = []
    problems = []
    prepared: Prepared = []
    record_id_of = records.record_id_of(custodian)
    leaf_hash_of = leaf_hasher(get_suite("gm"))  # batch trees are SM3 on every chain (RecordRegistry.verifyInBatch)
    pack = msgpack.Packer(use_bin_type=True).pack
    with collector_paused():  # also in a worker process, which has its own collector
        salts = os.urandom(32 * len(items))  # one system call, not one a record (~0.7 of ~30 µs)
        for index, item in enumerate(items, first):  # all prepared, then all sealed: ~10 % faster than each in turn
            at = 32 * (index - first)
            try:
                entries.append(prepare(custodian, item, f"records[{index}].", record_id_of, salts[at : at + 32]))
            except ValidationError as exc:
                entries.append(None)
                problems.append({"index": index, "field": exc.field, "detail": exc.reason})
        for index, result in enumerate(entries, first):
            if result is None:
                prepared.append(None)
                continue
            record_id, entry = result
            owner, commitment, schema_version = entry["owner"], entry["commitment"], entry["schema_version"]
            packed = pack({"salt": entry["salt"], "type": entry["type"], "batch": {"id": batch, "size": size, "index": index},
                           "owner": owner, "record": entry["record"], "version": 1, "local_id": entry["local_id"],
                           "commitment": commitment, "schema_version": schema_version})  # canonical order: by length, then bytes
            leaf = batch_leaf(record_id, records.record_type(entry["type"]), owner, commitment, schema_version)
            prepared.append((record_id, leaf_hash_of(leaf), seal_encoded(key, record_id, packed)))
    return prepared, problems


def shipped(items: list) -> bytes | list:
    """A chunk of a batch as a worker receives it: orjson's JSON of the items where that reads back as the same values,
    else the items themselves (pickled by the pool): :func:`chain_sdk.client.exact_orjson`, which refuses NaN and the
    infinities, integers beyond 64 bits, lone surrogates, any null and what JSON parsing never makes. A chunk of 5,000 records costs the node ~2 ms to encode, against
    ~11 ms to pickle, and its worker ~12 ms to read, against ~15 to unpickle; the node's pickling was ~13 % of its
    GIL time during a 4-validator import."""
    return exact_orjson(items) or items


def prepare_shipped(custodian: bytes, key: bytes, batch: bytes, size: int, chunk: bytes | list, first: int) -> tuple[Prepared, list[dict]]:
    """:func:`prepare_chunk` of a chunk made by :func:`shipped` (in a worker process)."""
    return prepare_chunk(custodian, key, batch, size, orjson.loads(chunk) if isinstance(chunk, bytes) else chunk, first)


def configured_workers() -> int:
    """Worker processes when node.json does not say: ``$YILIAN_INGEST_WORKERS``, else :func:`default_workers`."""
    return int(os.environ.get(WORKERS_ENV) or default_workers())


def default_workers() -> int:
    """One per core, at most 4 (so none on one core). The node process waits while its workers prepare and seal, and
    does its own part (parse, duplicate check, tree, write) while they wait, so the two take turns rather than share.
    Measured on 2 cores, batches of 10,000, alternating runs: on 4 validators 2 workers beat none in 5 of 5 pairs
    (medians 11.6k vs 9.5k records/s), on a solo node in 3 of 3 (14.2k vs 11.5k). When workers sealed in a second round
    trip (the root first, then the entries naming it), 2 workers on 2 cores had shown no clear gain (0.67× to 1.29×)."""
    return max(1, min(os.cpu_count() or 1, 4))


def _worker_init(node_pid: int) -> None:
    def exit_with_the_node() -> None:  # a node killed with SIGKILL cannot stop its workers: they notice and leave
        while os.getppid() == node_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=exit_with_the_node, name="ingest-watchdog", daemon=True).start()
    import node.execution.evm  # noqa: F401 - the node's recursion limit (py_ecc raises Python's to 100,000)

    # compile the data standard's schemas now, while the pool starts (~50 ms): a worker that got no chunk of the batch
    # that started the pool paid it in a later batch, which showed as ~40 ms more a chunk in the first measured one
    standard.record_types()


class IngestPool:
    """Worker processes (spawned, so none inherits the node's threads) started on the first large batch and kept
    until the node stops. ``workers`` ≤ 1 means no pool: every batch is done in the calling thread."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = configured_workers() if workers is None else workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def usable(self, size: int) -> bool:
        return self.workers > 1 and size >= POOL_MIN_BATCH and not self._closed

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                log.info("starting %d ingest worker processes for bulk imports", self.workers)
                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_worker_init, initargs=(os.getpid(),))
            return self._executor

    def _chunks(self, size: int) -> list[tuple[int, int]]:
        step = -(-size // self.workers)
        return [(start, min(start + step, size)) for start in range(0, size, step)]

    def prepare(self, custodian: bytes, key: bytes, batch: bytes, items: list,
                meanwhile: Callable[[], None] | None = None) -> tuple[Prepared, list[dict]]:
        """:func:`prepare_chunk` over all ``items`` (as parsed from JSON) of batch ``batch``, in parallel when worth it
        (same result either way, salts apart). ``meanwhile()`` runs in the calling thread while the workers prepare
        (first, without them); what it raises is raised here."""
        size = len(items)
        futures = None
        if self.usable(size):
            try:
                pool = self._pool()
                futures = [pool.submit(prepare_shipped, custodian, key, batch, size, shipped(items[a:b]), a) for a, b in self._chunks(size)]
            except Exception as exc:  # noqa: BLE001 - a broken pool or an unpicklable value: the serial path decides
                self._broken(exc)
        if meanwhile is not None:
            meanwhile()
        if futures is not None:
            try:
                prepared: Prepared = []
                problems: list[dict] = []
                for future in futures:
                    chunk_prepared, chunk_problems = future.result()
                    prepared += chunk_prepared
                    problems += chunk_problems
                return prepared, problems
            except Exception as exc:  # noqa: BLE001
                self._broken(exc)
        return prepare_chunk(custodian, key, batch, size, items, 0)

    def _broken(self, exc: BaseException) -> None:
        log.warning("ingest workers failed (%s: %s); this batch is done in the node process, and the workers restart on the "
                    "next large batch", type(exc).__name__, exc)
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
