"""Anchoring: records/s finalized through a center's custodian service, one transaction per record vs Merkle
batches (each record stored SM4-encrypted with its inclusion path), against the same run's single-record rate.

Every record is validated against the data standard, canonicalized, salted, committed with SM3 and stored
encrypted; "finalized" means the anchoring transaction is in a committed block when the call returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from node.bench._solo import solo_localnet


def _record(i: int) -> dict:
    return {"record_type": "credit", "schema_version": 1, "uscc": "91350100M000100Y43", "rating": ("AAA", "AA", "A")[i % 3],
            "rated_by": "Center A", "rated_on": "2026-06-30", "blacklisted": False}


def run(quick: bool, progress: Callable[[str], None]) -> dict:
    from chain_sdk import DataService, Wallet

    singles = 20 if quick else 200
    batches = (100, 1000) if quick else (100, 1000, 10_000)
    results: dict = {}
    with solo_localnet() as (url, home):
        data = DataService.for_home(url, home)
        owner = Wallet.generate().address
        progress(f"{singles} records, one anchoring transaction each")
        started = time.perf_counter()
        for i in range(singles):
            data.ingest("credit", f"single/{i}", owner, _record(i))
        single_rate = singles / (time.perf_counter() - started)
        results["single_records_per_s"] = round(single_rate, 1)
        for size in batches:
            rounds = 1 if size >= 10_000 or quick else 3
            progress(f"{rounds} batch(es) of {size} records, one transaction each")
            started = time.perf_counter()
            for r in range(rounds):
                data.ingest_batch([{"type": "credit", "local_id": f"batch{size}/{r}/{i}", "owner": owner, "record": _record(i)}
                                   for i in range(size)])
            batch_rate = rounds * size / (time.perf_counter() - started)
            results[f"batch_{size}"] = {"records_per_s": round(batch_rate, 1), "ratio_vs_single": round(batch_rate / single_rate, 1)}
    results["target_records_per_s"] = 20_000
    return results
