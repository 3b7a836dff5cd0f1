"""How fast the machine runs Python while the benchmarks run: a fixed piece of work, timed every few seconds.

On a shared virtual machine the CPU time of the same code changes with what the host's other tenants do. Here, on an
idle machine, the ingest workers' per-record work (``prepare_chunk`` on the same 5,000 records, 16 times in one
process, 0.3 s apart) cost 25-27 µs of user time a record in some calls and 44-54 in others, with no page faults and
no system time to tell them apart; twice this probe's work, timed every 0.25 s for 10 s, took 11-13 ms in the fast
spells and 19-26 ms in the others, in step with a pure integer loop (2.5-3.3 vs 3.8-4.4 ms). In the day's full runs
the probe's fastest samples took 5.4-5.5 ms and its medians 10.0-10.5: mostly slow, with fast spells of a second or
a few. A figure and its ceiling measured minutes apart can therefore differ by up to 2× for no reason in the code,
which is why every ratio the suite reports comes from the same run, and why the run also records this probe: it says
how fast the machine was while each benchmark (and each ceiling) ran. The py-evm ceiling is the best of three runs
of about a second, so it can land in a fast spell that a localnet running for minutes mostly misses: in three runs
whose probe medians were alike, the ceiling was 2,390, 3,437 and 3,031 tx/s (runs 1,951 / 1,864 / 2,972 in one).

The probe is a process of its own (``python -m node.bench._speed``), so it never holds the GIL of the benchmark
process, whose in-process ceilings run on one thread; it times itself in CPU time, so waiting for a core does not
count: what it sees is how much work a core does per unit of CPU time (the host's frequency, a neighbour on the same
physical core, cache contention). It costs ~0.6-1.2 % of one core (6-12 ms a second), for every benchmark alike.
While a benchmark keeps both cores busy the probe also feels that benchmark's own pressure on the caches, as the
nodes do: periods of like load (a ceiling and another ceiling, an idle spell and another) compare best.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

REFERENCE_ROUNDS = 1_000  # ~6 ms of CPU on this machine in its fast state, ~12 in its slow one
EVERY_S = 1.0


def reference_ms() -> float:
    """Milliseconds of this thread's CPU time for a fixed piece of the node's kind of work: small dicts built,
    encoded as canonical JSON and hashed (allocation, the interpreter, C extensions), the same input every time."""
    started = time.thread_time()
    for i in range(REFERENCE_ROUNDS):
        record = {"uscc": "91350100M000100Y43", "rating": "AAA", "n": i, "items": [i, i + 1, str(i)]}
        hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).digest()
    return (time.thread_time() - started) * 1000


def period(probe: "SpeedProbe | None", name: str) -> contextlib.AbstractContextManager:
    """``probe.period(name)``, or nothing without a probe (a benchmark module run on its own)."""
    return probe.period(name) if probe is not None else contextlib.nullcontext()


def _sample_forever(every_s: float) -> None:
    """The probe process: one sample a line on stdout until the reader goes away."""
    try:
        while True:
            print(round(reference_ms(), 2), flush=True)
            time.sleep(every_s)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


class SpeedProbe:
    """Times :func:`reference_ms` every ``every_s`` seconds in a process of its own from :meth:`start` until
    :meth:`stop`; :meth:`summary` gives the samples of a period and :meth:`report` the whole run."""

    def __init__(self, every_s: float = EVERY_S) -> None:
        self.every_s = every_s
        self.started = time.perf_counter()
        self.samples: list[tuple[float, float]] = []  # (seconds since start when read, reference ms)
        self.periods: dict[str, tuple[float, float]] = {}
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> "SpeedProbe":
        self._process = subprocess.Popen([sys.executable, "-m", "node.bench._speed", str(self.every_s)], stdout=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, args=(self._process,), name="bench-speed-probe", daemon=True)
        self._reader.start()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
        if self._reader is not None:
            self._reader.join(10)

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            self.samples.append((round(time.perf_counter() - self.started, 2), float(line)))

    def now(self) -> float:
        return time.perf_counter() - self.started

    def mark(self, name: str, start: float, end: float) -> None:
        """Name the period from ``start`` to ``end`` (from :meth:`now`), e.g. one benchmark."""
        self.periods[name] = (start, end)

    @contextlib.contextmanager
    def period(self, name: str) -> Iterator[None]:
        """``with probe.period(name): ...`` marks the block's run as the period ``name``."""
        began = self.now()
        try:
            yield
        finally:
            self.mark(name, began, self.now())

    def summary(self, start: float, end: float) -> dict:
        """The samples taken from ``start`` to ``end``: their count and the reference's p10/p50/p90 in ms."""
        values = sorted(ms for at, ms in self.samples if start <= at <= end)
        if not values:
            return {"samples": 0}
        if len(values) == 1:
            return {"samples": 1, "p10_ms": values[0], "p50_ms": values[0], "p90_ms": values[0]}
        deciles = statistics.quantiles(values, n=10, method="inclusive")
        return {"samples": len(values), "p10_ms": round(deciles[0], 2), "p50_ms": round(statistics.median(values), 2),
                "p90_ms": round(deciles[-1], 2)}

    def report(self) -> dict:
        """The whole run: the fastest sample, each named period's summary with its median's slowdown against that
        fastest sample (1.0 = as fast as the machine ever was in this run), and every sample (seconds, ms)."""
        fastest = min((ms for _, ms in self.samples), default=0.0)
        periods = {}
        for name, (start, end) in self.periods.items():
            summary = self.summary(start, end)
            if summary["samples"] and fastest > 0:
                summary["p50_vs_fastest"] = round(summary["p50_ms"] / fastest, 2)
            periods[name] = {"from_s": round(start, 1), "to_s": round(end, 1), **summary}
        return {"reference": f"{REFERENCE_ROUNDS:,} small records built, JSON-encoded and hashed; CPU time, every {self.every_s:g} s",
                "fastest_ms": fastest, "periods": periods, "samples": [list(sample) for sample in self.samples]}


if __name__ == "__main__":
    _sample_forever(float(sys.argv[1]) if len(sys.argv) > 1 else EVERY_S)
