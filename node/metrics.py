"""Prometheus metrics of one node (``GET /metrics``): a registry per node, never the process-global one.

Counters and histograms are updated where things happen (a block committed, an API request served, p2p bytes
moved); gauges (height, mempool, peers, database size) are read when Prometheus scrapes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.blocks = Counter("yilian_blocks_committed", "Blocks committed by this node", registry=r)
        self.transactions = Counter("yilian_transactions_committed", "Transactions in committed blocks (rate() gives tx/s)", registry=r)
        self.rounds = Histogram("yilian_rounds_per_height", "Consensus rounds a height needed (1 = no failed round)",
                                buckets=(1, 2, 3, 4, 6, 10), registry=r)
        self.commit_latency = Histogram("yilian_commit_latency_seconds", "From the block's timestamp to its local commit",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.api_latency = Histogram("yilian_api_request_seconds", "API request handling time", ["method", "route", "status"],
                                     buckets=LATENCY_BUCKETS, registry=r)
        self.last_commit: dict = {}

    def block_committed(self, height: int, time_ms: int, tx_count: int, round_: int, signers: list[bytes]) -> None:
        self.blocks.inc()
        self.transactions.inc(tx_count)
        self.rounds.observe(round_ + 1)
        latency = max(0.0, time.time() - time_ms / 1000)
        self.commit_latency.observe(latency)
        self.last_commit = {"height": height, "latency_s": latency, "round": round_, "signers": signers, "at": time.time()}

    def attach(self, service, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
        """Gauges read from the running node at scrape time."""
        self.registry.register(_NodeCollector(service, data_dir))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _NodeCollector:
    def __init__(self, service, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
        self.service, self.data_dir = service, data_dir

    def describe(self) -> list:
        return []

    def collect(self):  # type: ignore[no-untyped-def]
        service = self.service
        yield GaugeMetricFamily("yilian_height", "Height of the last committed block", value=service.chain.height)
        yield GaugeMetricFamily("yilian_mempool_transactions", "Transactions waiting in the pool", value=len(service.mempool))
        peers = getattr(getattr(service.engine, "host", None), "connected", ())
        yield GaugeMetricFamily("yilian_peers", "Connected consortium peers", value=len(peers))
        yield GaugeMetricFamily("yilian_validators", "Validators in force for the next block", value=len(service.chain.validators))
        yield GaugeMetricFamily("yilian_db_size_bytes", "Bytes on disk under the data directory", value=_size(self.data_dir))
        moved = {"in": 0, "out": 0}
        if getattr(service.engine, "host", None) is not None:  # a solo node has no p2p host (and never loads libp2p)
            from node.p2p.host import TRAFFIC as moved
        traffic = CounterMetricFamily("yilian_p2p_bytes", "Bytes of p2p frames sent and received", labels=["direction"])
        for direction, value in moved.items():
            traffic.add_metric([direction], value)
        yield traffic
        checked = getattr(service.engine, "proposals_checked", None)  # (a BFT engine's)
        if checked is not None:
            family = CounterMetricFamily("yilian_proposals_checked", "Proposed blocks this validator checked, by how: executed, "
                                         "applied (the executors' effects, once they vouched), unvouched (an executor's vote or the "
                                         "effects did not come in time: executed), effects_refused (effects that did not fit: executed)",
                                         labels=["how"])
            for how, value in checked.items():
                family.add_metric([how], value)
            yield family
            when = CounterMetricFamily("yilian_proposed_transactions_executed", "Transactions of other validators' proposals this "
                                       "validator re-executed: ahead (an executor, while the proposer built the block) or on_arrival",
                                       labels=["when"])
            for label, value in service.engine.executed_when.items():
                when.add_metric([label], value)
            yield when


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total
