"""Auditor: time to verify a receipt proof from the genesis alone (chain_sdk.verify), next to the same run's raw
cost of the signature checks it cannot avoid (quorum × SM2 verify) as the floor."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from node.bench._solo import solo_localnet


def run(quick: bool, progress: Callable[[str], None]) -> dict:
    from chain_sdk import Client, DataService, Wallet, gm
    from chain_sdk.verify import Genesis, verify_proof

    count = 20 if quick else 200
    with solo_localnet() as (url, home, _):
        data = DataService.for_home(url, home)
        owner = Wallet.generate().address
        progress(f"anchoring {count} records to have {count} receipts to prove")
        txs = [data.ingest("credit", f"audit/{i}", owner, {"record_type": "credit", "schema_version": 1, "uscc": "91350100M000100Y43",
                                                          "rating": "AA", "rated_by": "Center A", "rated_on": "2026-06-30",
                                                          "blacklisted": False})["tx_hash"] for i in range(count)]
        client = Client(url)
        proofs = [client.proof(tx, "receipt") for tx in txs]
        genesis = Genesis.load(home / "genesis.json")
    progress(f"verifying {count} proofs from the genesis")
    times = []
    for proof in proofs:
        started = time.perf_counter()
        verify_proof(genesis, proof)
        times.append(time.perf_counter() - started)
    key = Wallet.generate()
    message, signature = b"x" * 200, key.sign(b"x" * 200)
    started = time.perf_counter()
    for _ in range(count):
        gm.sm2_verify(key.public_key, message, signature)
    sm2_s = (time.perf_counter() - started) / count
    floor = sm2_s * genesis.validators.quorum
    p50 = statistics.median(times)
    return {"proofs": count, "verify_ms_p50": round(p50 * 1000, 2), "verify_ms_p99": round(sorted(times)[int(0.99 * (count - 1))] * 1000, 2),
            "floor_signature_checks_ms": round(floor * 1000, 2), "ratio_vs_floor": round(p50 / floor, 2), "target_ms": 50}
