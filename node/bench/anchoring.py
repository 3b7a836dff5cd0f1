"""Anchoring: records/s finalized through a center's custodian service, one transaction per record vs Merkle
batches (each record stored SM4-encrypted with its inclusion path), against the same run's single-record rate.

Every record is validated against the data standard, canonicalized, salted, committed with SM3 and stored
encrypted; "finalized" means the anchoring transaction is in a committed block when the call returns. Large batches
are prepared and sealed by the node's ingest worker processes where it has them (one per core, at most 4; none on one
core); a batch of 1,000 first starts them, as a node's first bulk import does. The full suite also times
batches of 10,000 on a node with the other setting (2 workers where the default is none, none where it has some),
the same-run comparison for what the workers buy on this machine, and then on a localnet of 4 validators (the
setting of the 20,000 records/s target): the same custodian work, with the anchoring transaction finalized by BFT
and three more node processes on the same cores, first one batch at a time, then with :data:`IN_FLIGHT` (3) in flight
(the SDK's and ``yilian data import``'s default: the node prepares the next batches while the chain finalizes the
last), the figure the target is compared with.

The largest batches (10,000; 1,000 with ``--quick``) are also counted in CPU time (:class:`CpuMeter`): each
process's share per batch and the rate the cores would allow at that cost, so that a figure below the target says
whether the cores sat idle or the work per record is too much for them.

The full suite also fills one data store with 1,000,000 records (:func:`store_growth`): the store's CPU a batch of
10,000 as it fills, the last 100,000 against the first, which says whether long imports slow down as a center's
store grows (with one LevelDB under random record ids they did, 2.5 → 75 ms of compaction a batch at 1 million).

The ceiling (:func:`custodian_work_per_s`), measured in this process before and after the nodes run, the better of
the two counting (the machine's speed drifts): the custodian's own work for a batch of 10,000 — prepare (validate,
canonicalize, salt, commit), refuse ids already held, build the tree, seal, store in one synced write — on one core,
without HTTP, JSON or the chain. A node does that work under the GIL, so without ingest workers its records/s stay
below this figure (with them, part of it runs in parallel); what lies between is the HTTP and JSON of 2.5 MB each
way, the anchoring transaction's commit, and the other processes on the same cores.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chain_sdk.data import IN_FLIGHT
from node.bench._solo import solo_localnet
from node.bench._speed import SpeedProbe, period
from node.harness import LocalNet, cpu_seconds, descendants, own_cpu_seconds
from node.offchain.custodian import held_indices, store_prepared
from node.offchain.ingest import WORKERS_ENV, IngestPool, collector_paused, configured_workers
from node.offchain.store import DataStore


def _record(i: int) -> dict:
    return {"record_type": "credit", "schema_version": 1, "uscc": "91350100M000100Y43", "rating": ("AAA", "AA", "A")[i % 3],
            "rated_by": "Center A", "rated_on": "2026-06-30", "blacklisted": False}


def _items(owner: str, size: int, tag: str) -> list[dict]:
    """A batch of ``size`` credit records of ``owner`` for the ingest API, local ids ``<tag>/<i>``."""
    return [{"type": "credit", "local_id": f"{tag}/{i}", "owner": owner, "record": _record(i)} for i in range(size)]


def custodian_work_per_s(size: int = 10_000, rounds: int = 3) -> float:
    """Records/s of a custodian's work on a batch of ``size`` in this process (one core, no HTTP, no chain), the best
    of ``rounds`` batches into one fresh data store: the node's code path from the parsed batch to the synced write."""
    owner = "0x" + os.urandom(20).hex()
    batches = [_items(owner, size, f"ceiling/{r}") for r in range(rounds)]
    pool = IngestPool(workers=1)  # no worker processes: one core, as the node's own share
    address, key = os.urandom(20), os.urandom(16)
    best = float("inf")
    with tempfile.TemporaryDirectory(prefix="yilian-bench-custodian-") as scratch:
        store = DataStore(Path(scratch), key)
        try:
            for items in batches:
                started = time.perf_counter()
                with collector_paused():  # as the node's batch endpoint
                    batch = os.urandom(16)
                    results, problems = pool.prepare(address, key, batch, items)
                    store_prepared(store, items, batch, results, problems, held_indices(store, address, items))
                    del results  # freed before the next batch, which then reuses its memory as a node's batches do
                best = min(best, time.perf_counter() - started)
        finally:
            store.close()
    return size / best


STORED_ENTRY_BYTES = 414  # a sealed entry of the benchmark's credit record: nonce, ~386 bytes of msgpack, tag


def store_growth(batches: int = 100, size: int = 10_000, window: int = 10,
                 progress: Callable[[str], None] | None = None) -> dict:
    """What a custodian's data store costs a batch as it fills: ``batches`` batches of ``size`` records into one fresh
    store, each the store's share of a bulk import — the duplicate check's lookup of every new id (in key order, as
    :func:`held_indices`) and :meth:`DataStore.put_sealed` of the sealed entries and the batch's tree — with random
    ids, entries of a credit record's size and a tree of that batch's size (neither prepared nor hashed: only the store
    is measured). CPU of this whole process over each ``window`` of batches, LevelDB's compaction thread included, less
    what making the batches cost the main thread: the first ``window`` batches against the last."""
    per_window = []
    with tempfile.TemporaryDirectory(prefix="yilian-bench-store-") as scratch:
        store = DataStore(Path(scratch), os.urandom(16))
        try:
            for first in range(0, batches, window):
                spent, making = time.process_time(), 0.0
                for _ in range(window):
                    started = time.thread_time()
                    ids = [os.urandom(32) for _ in range(size)]
                    boxes = [(record_id, os.urandom(STORED_ENTRY_BYTES)) for record_id in ids]
                    levels = [ids]
                    while len(levels[-1]) > 1:
                        levels.append(levels[-1][: (len(levels[-1]) + 1) // 2])
                    making += time.thread_time() - started
                    held = [record_id for record_id in sorted(ids) if store.holds(record_id)]
                    assert not held  # random ids: a hit would mean the store is broken
                    store.put_sealed(boxes, tree=(os.urandom(16), levels))
                per_window.append((time.process_time() - spent - making) / window)
                if progress is not None and (first + window) % (batches // 2) == 0:
                    progress(f"store growth: {(first + window) * size:,} records stored, {1000 * per_window[-1]:.0f} ms of CPU a batch")
        finally:
            store.close()
    return {"records": batches * size, "cpu_ms_per_batch_first": round(1000 * per_window[0], 1),
            "cpu_ms_per_batch_last": round(1000 * per_window[-1], 1), "ratio_last_vs_first": round(per_window[-1] / per_window[0], 2)}


class CpuMeter:
    """CPU seconds a phase costs on this machine, by role: the custodian node's process, its ingest workers (its
    descendants), the other validators, and this process (the client: it encodes each batch and parses the answer).
    A worker that exits during the phase takes its CPU with it (none does unless the pool breaks, which the node logs).

    The phase's records over its CPU time, times the cores, is the rate the machine could reach if every process were
    busy all the time: :meth:`report` gives it with the achieved rate's ratio to it (how much of the cores the phase
    left idle) and the CPU per batch of each role, which says where a faster rate would have to come from."""

    def __init__(self, custodian: int, validators: tuple[int, ...] = ()) -> None:
        self.custodian, self.validators = custodian, validators
        self.before = self._read()

    def _read(self) -> dict[str, dict[int, float]]:
        def of(pids):  # type: ignore[no-untyped-def]
            return {pid: cpu_seconds(pid) for pid in pids}

        return {"custodian_node": of([self.custodian]), "ingest_workers": of(descendants(self.custodian)),
                "other_validators": of(self.validators), "client": {0: own_cpu_seconds()}}

    def report(self, records: int, batches: int, wall_s: float) -> dict:
        after = self._read()
        spent = {role: sum(seconds - self.before[role].get(pid, 0.0) for pid, seconds in pids.items()) for role, pids in after.items()}
        total = sum(spent.values())
        cores = os.cpu_count() or 1
        bound = cores * records / total
        return {"cpu_ms_per_batch": {**{role: round(1000 * seconds / batches) for role, seconds in spent.items()},
                                     "total": round(1000 * total / batches)},
                "cpu_us_per_record": round(1e6 * total / records, 1),
                "cpu_bound_records_per_s": round(bound, 1), "ratio_vs_cpu_bound": round(records / wall_s / bound, 2)}


def run(quick: bool, progress: Callable[[str], None], speed: SpeedProbe | None = None) -> dict:
    """``speed``: the run's :class:`SpeedProbe`, told when the ceilings and the 4-validator phases ran."""
    from chain_sdk import DataService, Wallet

    singles = 20 if quick else 200
    batches = (100, 1000) if quick else (100, 1000, 10_000)
    results: dict = {}
    progress("ceiling: the custodian's work alone, the best of 3 batches of 10,000 in this process")
    with period(speed, "anchoring ceiling before"):
        ceiling_before = custodian_work_per_s()

    def batches_of(data, owner: str, size: int, rounds: int, tag: str, meter: CpuMeter | None = None):  # type: ignore[no-untyped-def]
        """Records/s of ``rounds`` batches of ``size``; with ``meter``, (records/s, the meter's report)."""
        started = time.perf_counter()
        for r in range(rounds):
            data.ingest_batch(_items(owner, size, f"{tag}{size}/{r}"))
        wall = time.perf_counter() - started
        return rounds * size / wall if meter is None else (rounds * size / wall, meter.report(rounds * size, rounds, wall))

    with solo_localnet() as (url, home, pid):
        data = DataService.for_home(url, home)
        owner = Wallet.generate().address
        progress(f"{singles} records, one anchoring transaction each")
        started = time.perf_counter()
        for i in range(singles):
            data.ingest("credit", f"single/{i}", owner, _record(i))
        single_rate = singles / (time.perf_counter() - started)
        results["single_records_per_s"] = round(single_rate, 1)
        progress("warm-up: one batch of 1,000 starts the ingest workers")
        batches_of(data, owner, 1000, 1, "warm")
        for size in batches:
            rounds = 2 if size >= 10_000 else 1 if quick else 3
            progress(f"{rounds} batch(es) of {size} records, one transaction each")
            if size < batches[-1]:
                batch_rate = batches_of(data, owner, size, rounds, "batch")
                cpu = {}
            else:  # the largest batches (10,000; 1,000 with --quick) counted in CPU time too
                batch_rate, cpu = batches_of(data, owner, size, rounds, "batch", CpuMeter(pid))
                del cpu["cpu_ms_per_batch"]["other_validators"]  # (none)
            results[f"batch_{size}"] = {"records_per_s": round(batch_rate, 1), "ratio_vs_single": round(batch_rate / single_rate, 1), **cpu}
    workers = configured_workers()
    results["workers"] = workers
    if not quick:
        other = 2 if workers <= 1 else 1
        progress(f"comparison: 2 batches of 10,000 on a node with {other if other > 1 else 'no'} ingest workers")
        with solo_localnet({WORKERS_ENV: str(other)}) as (url, home, _):
            data = DataService.for_home(url, home)
            other_owner = Wallet.generate().address
            batches_of(data, other_owner, 1000, 1, "warm")  # starts the workers, as above
            with_other = batches_of(data, other_owner, 10_000, 2, "other")
        results["batch_10000"][f"with_{other}_workers_records_per_s" if other > 1 else "without_workers_records_per_s"] = round(with_other, 1)
        results["batch_10000"]["ratio_vs_other_setting"] = round(results["batch_10000"]["records_per_s"] / with_other, 2)
        progress("4 validators: 4 batches of 10,000 through center 1's custodian, each finalized by BFT")
        with tempfile.TemporaryDirectory(prefix="yilian-bench-anchor4-") as scratch:
            net = LocalNet(4, Path(scratch), progress)
            try:
                net.start()
                data = DataService.for_home(net.configs[0].api_url, net.configs[0].home)
                owner4 = Wallet.generate().address
                batches_of(data, owner4, 1000, 1, "warm")
                pids = (net.processes[0].pid, tuple(p.pid for p in net.processes[1:]))  # type: ignore[union-attr]
                with period(speed, "anchoring 4 validators one at a time"):  # 4 batches, not 2: single batches vary widely on shared cores
                    on_four, cpu = batches_of(data, owner4, 10_000, 4, "four", CpuMeter(*pids))
                progress(f"4 validators: 6 batches of 10,000, {IN_FLIGHT} in flight (as `yilian data import` sends them)")
                items = _items(owner4, 60_000, "flight")
                with period(speed, f"anchoring 4 validators {IN_FLIGHT} in flight"):
                    meter, started = CpuMeter(*pids), time.perf_counter()
                    data.ingest_batches(items, batch_size=10_000, in_flight=IN_FLIGHT)
                    flight_s = time.perf_counter() - started
                in_flight = {"batches": IN_FLIGHT, "records_per_s": round(60_000 / flight_s, 1), **meter.report(60_000, 6, flight_s)}
            finally:
                net.stop()
        results["validators_4"] = {"batch_10000_records_per_s": round(on_four, 1),
                                   "ratio_vs_solo": round(on_four / results["batch_10000"]["records_per_s"], 2), **cpu,
                                   "in_flight": {**in_flight, "ratio_vs_one_at_a_time": round(in_flight["records_per_s"] / on_four, 2)},
                                   "ratio_vs_target": round(in_flight["records_per_s"] / 20_000, 2)}
    if not quick:
        progress("store growth: 100 batches of 10,000 into one data store (its lookups, writes and compaction)")
        with period(speed, "anchoring store growth"):
            results["store_growth"] = store_growth(progress=progress)
    progress("ceiling again, after the nodes")
    with period(speed, "anchoring ceiling after"):
        ceiling = max(ceiling_before, custodian_work_per_s())
    results["custodian_work_ceiling"] = {"records_per_s": round(ceiling, 1), "us_per_record": round(1e6 / ceiling, 1),
                                         "before_nodes_records_per_s": round(ceiling_before, 1)}
    for size in batches:
        results[f"batch_{size}"]["ratio_vs_ceiling"] = round(results[f"batch_{size}"]["records_per_s"] / ceiling, 2)
    if "validators_4" in results:
        results["validators_4"]["ratio_vs_ceiling"] = round(results["validators_4"]["in_flight"]["records_per_s"] / ceiling, 2)
    results["target_records_per_s"] = 20_000
    results["target_ratio_of_ceiling"] = round(20_000 / ceiling, 2)
    return results
