"""Benchmarks behind ``yilian bench``: one module per benchmark.

Each module exposes ``run(quick: bool, progress: Callable[[str], None]) -> dict``
returning machine-readable results. A figure is reported next to its ceiling
measured in the same run wherever one exists, as ``ratio``.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def rate(operation: Callable[[int], None], *, seconds: float, batch: int = 100, first_index: int = 0) -> tuple[float, int]:
    """Run ``operation(i)`` in batches for about ``seconds``, with i counting up from ``first_index``.

    Returns (operations per second, the next unused index), so that repeated
    calls never feed an operation the same input twice.
    """
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for index in range(first_index + count, first_index + count + batch):
            operation(index)
        count += batch
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start), first_index + count


def compare(ours: Callable[[int], None], raw: Callable[[int], None], *, seconds: float, rounds: int = 3) -> dict:
    """Alternate ``raw`` and ``ours`` for ``rounds`` rounds; report the best of each and their ratio."""
    raw_rates, our_rates = [], []
    raw_index = our_index = 0
    for _ in range(rounds):
        raw_rate, raw_index = rate(raw, seconds=seconds / rounds, first_index=raw_index)
        our_rate, our_index = rate(ours, seconds=seconds / rounds, first_index=our_index)
        raw_rates.append(raw_rate)
        our_rates.append(our_rate)
    best_raw, best_ours = max(raw_rates), max(our_rates)
    return {"ours_per_s": round(best_ours, 1), "raw_per_s": round(best_raw, 1), "ratio": round(best_ours / best_raw, 3)}
