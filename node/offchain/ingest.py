"""The per-record work of an ingest, and a pool of worker processes that spreads a bulk import's share of it over
the machine's cores.

One record costs about 100 µs of Python (validation against the data standard, canonical JSON, salt, SM3
commitment and record id, then the stored entry's encoding and SM4-GCM seal); the GIL keeps that on one core
however many requests arrive. A batch of 10,000 is therefore split into one chunk per worker, twice: first to
prepare (everything up to the commitment, which the Merkle tree needs), then — once the parent has built the tree
and knows the root every entry names — to encode and seal. The parent keeps the parts that need the whole batch or
the database: duplicate checks, the tree, the one synced write, the anchoring transaction.

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
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from chain_sdk import records
from node.errors import ValidationError
from node.offchain import standard
from node.offchain.store import seal_entry

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


def prepare(custodian: bytes, item: Any, where: str) -> tuple[bytes, dict]:
    """Validate one ``{type, local_id, owner, record}`` and make its entry: canonical bytes, a fresh salt, the SM3
    commitment; the record id is SM3(custodian ‖ local id). Raises ValidationError naming the field."""
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
    record_id = records.record_id("0x" + custodian.hex(), local_id)
    salt = os.urandom(32)
    canonical = records.canonical(record)  # type: ignore[arg-type]
    schema_version = int(record.get("schema_version", 1))  # type: ignore[union-attr]
    entry = {"type": record_type, "local_id": local_id, "owner": owner_bytes, "record": canonical, "salt": salt,
             "commitment": records.commitment(canonical, salt), "schema_version": schema_version, "version": 1, "batch": None}
    return record_id, entry


Prepared = list[tuple[bytes, dict] | None]


def prepare_chunk(custodian: bytes, items: list, first: int) -> tuple[Prepared, list[dict]]:
    """Prepare ``items`` (indices from ``first``): per item its (record id, entry) or None, and the problems, each
    ``{index, field, detail}``."""
    prepared: Prepared = []
    problems = []
    with collector_paused():  # also in a worker process, which has its own collector
        for index, item in enumerate(items, first):
            try:
                prepared.append(prepare(custodian, item, f"records[{index}]."))
            except ValidationError as exc:
                prepared.append(None)
                problems.append({"index": index, "field": exc.field, "detail": exc.reason})
    return prepared, problems


def seal_chunk(key: bytes, root: bytes, size: int, first: int, prepared: list[tuple[bytes, dict]]) -> list[bytes]:
    """Seal batch entries ``first``, ``first + 1``, … of the tree ``root``, each naming its place in it."""
    sealed = []
    with collector_paused():
        for index, (record_id, entry) in enumerate(prepared, first):
            entry["batch"] = {"root": root, "index": index, "size": size}
            sealed.append(seal_entry(key, record_id, entry))
    return sealed


def configured_workers() -> int:
    """Worker processes when node.json does not say: ``$YILIAN_INGEST_WORKERS``, else :func:`default_workers`."""
    return int(os.environ.get(WORKERS_ENV) or default_workers())


def default_workers() -> int:
    """One per core beyond the first, at most 4: the node process itself (the chain, the API, the Merkle tree and the
    write) keeps a core. On a 2-core machine that is none: measured there, two workers gave no clear gain (batches of
    10,000: 0.91× to 1.29× the rate without them across four runs, within that machine's run-to-run noise; alternating
    runs, medians 11.0k vs 10.7k records/s) since the node and the uploading client need the second core too."""
    return max(1, min((os.cpu_count() or 1) - 1, 4))


def _worker_init(node_pid: int) -> None:
    def exit_with_the_node() -> None:  # a node killed with SIGKILL cannot stop its workers: they notice and leave
        while os.getppid() == node_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=exit_with_the_node, name="ingest-watchdog", daemon=True).start()
    import node.execution.evm  # noqa: F401 - the node's recursion limit (py_ecc raises Python's to 100,000)


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

    def prepare(self, custodian: bytes, items: list) -> tuple[Prepared, list[dict]]:
        """:func:`prepare_chunk` over all ``items``, in parallel when worth it (same result either way)."""
        if not self.usable(len(items)):
            return prepare_chunk(custodian, items, 0)
        try:
            pool = self._pool()
            futures = [pool.submit(prepare_chunk, custodian, items[a:b], a) for a, b in self._chunks(len(items))]
            prepared: Prepared = []
            problems: list[dict] = []
            for future in futures:
                chunk_prepared, chunk_problems = future.result()
                prepared += chunk_prepared
                problems += chunk_problems
            return prepared, problems
        except Exception as exc:  # noqa: BLE001 - a broken pool or an unpicklable value: the serial path decides
            self._broken(exc)
            return prepare_chunk(custodian, items, 0)

    def seal(self, key: bytes, root: bytes, prepared: list[tuple[bytes, dict]]) -> list[bytes]:
        """:func:`seal_chunk` over the whole batch; also sets each entry's ``batch`` (root, index, size)."""
        size = len(prepared)
        if self.usable(size):
            try:
                pool = self._pool()
                futures = [pool.submit(seal_chunk, key, root, size, a, prepared[a:b]) for a, b in self._chunks(size)]
                sealed = [box for future in futures for box in future.result()]
                for index, (_, entry) in enumerate(prepared):
                    entry["batch"] = {"root": root, "index": index, "size": size}
                return sealed
            except Exception as exc:  # noqa: BLE001
                self._broken(exc)
        return seal_chunk(key, root, size, 0, prepared)

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
