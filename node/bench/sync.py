"""Catch-up: how fast a restarted validator replays what it missed, against how fast the chain made it.

On a 4-center localnet, center D is stopped; the others commit a steady transaction load (D is a quarter of
the votes, so they keep going); when the load is committed D is started again and the clock runs until its
head reaches the head the others had when it started. Catch-up blocks/s (from the moment D's API answers;
process start-up is reported apart, and in a second ratio) are set against the rate at which the same blocks
were produced while D was away: the ratio is the figure (target ≥ 5).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from node.harness import LocalNet


def run(quick: bool, progress: Callable[[str], None]) -> dict:
    rate, seconds = (60.0, 8.0) if quick else (80.0, 40.0)
    with tempfile.TemporaryDirectory(prefix="yilian-bench-sync-") as scratch:
        net = LocalNet(4, Path(scratch), progress)
        try:
            progress("starting a 4-center localnet")
            net.start()
            net.stop(3)
            start_height = net.height(0)
            started = time.perf_counter()
            progress(f"center D is down; the others commit {rate:.0f} tx/s for {seconds:.0f} s")
            load = net.offer(rate, seconds, targets=[0, 1, 2])
            produced_s = time.perf_counter() - started
            target = net.height(0)
            blocks = target - start_height
            progress(f"{blocks} blocks ({load['committed']} txs) made in {produced_s:.1f} s; restarting center D")
            restarted = time.perf_counter()
            net.start(3)
            answering = time.perf_counter()
            first = net.height(3)
            while net.height(3) < target:
                time.sleep(0.05)
            done = time.perf_counter()
        finally:
            net.stop()
    production = blocks / produced_s
    catch_up = (target - first) / max(done - answering, 1e-3)
    return {
        "blocks_missed": blocks,
        "transactions_missed": load["committed"],
        "production_blocks_per_s": round(production, 2),
        "production_tx_per_s": round(load["committed"] / produced_s, 1),
        "restart_to_api_s": round(answering - restarted, 2),
        "catch_up_s": round(done - answering, 2),
        "catch_up_blocks_per_s": round(catch_up, 2),
        "ratio_vs_production": round(catch_up / production, 2),
        "ratio_including_restart": round(blocks / (done - restarted) / production, 2),
        "target_ratio": 5,
    }
