"""``yilian simulate``: run many seeded consensus schedules and check agreement, validity and progress."""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from pathlib import Path

import click


@click.command("simulate")
@click.option("--nodes", type=click.IntRange(1, 31), default=4, show_default=True)
@click.option("--byzantine", type=click.IntRange(0, 10), default=None, help="Byzantine validators (default: 0..f at random per schedule).")
@click.option("--seeds", type=click.IntRange(1, 1_000_000), default=100, show_default=True, help="Number of schedules (seeds 0..N-1 after --first-seed).")
@click.option("--first-seed", type=int, default=0, show_default=True)
@click.option("--seed", type=int, default=None, help="Run exactly this one schedule (reproduction).")
@click.option("--behaviour", type=click.Choice(["equivocate", "silent", "garbage"]), default=None, help="With --seed: the Byzantine behaviour.")
@click.option("--drop", type=float, default=None, help="With --seed: drop probability before GST.")
@click.option("--duplicate", type=float, default=None, help="With --seed: duplication probability before GST.")
@click.option("--partition", is_flag=True, help="With --seed: split the honest nodes until GST.")
@click.option("--crashes", type=int, default=None, help="With --seed: honest nodes that crash and restart.")
@click.option("--gst-ms", type=int, default=None, help="With --seed: global stabilisation time (ms of simulated time).")
@click.option("--heights", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--no-locking", is_flag=True, help="Disable the lock rules (shows that the checker catches a broken algorithm).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the summary as JSON.")
def command(nodes: int, byzantine: int | None, seeds: int, first_seed: int, seed: int | None, behaviour: str | None,
            drop: float | None, duplicate: float | None, partition: bool, crashes: int | None, gst_ms: int | None,
            heights: int, no_locking: bool, out: Path | None) -> None:
    """Run seeded schedules of NODES validators under faults; exit 1 if any schedule violates a property."""
    from node.consensus.sim import Faults, random_faults, run_schedule
    from node.errors import ConfigError

    f = (nodes - 1) // 3
    if byzantine is not None and byzantine > f and not no_locking:
        raise ConfigError(f"{byzantine} Byzantine validators of {nodes} exceeds f = {f}: Tendermint promises nothing there")
    started = time.perf_counter()
    if seed is not None:
        schedules = [(seed, Faults(byzantine=byzantine or 0, behaviour=behaviour or "equivocate", drop=drop or 0.0,
                                   duplicate=duplicate or 0.0, partition=partition, crashes=crashes or 0,
                                   gst_ms=gst_ms or 0, locking=not no_locking))]
    else:
        schedules = []
        for s in range(first_seed, first_seed + seeds):
            faults = random_faults(random.Random(s), nodes, byzantine)
            schedules.append((s, faults if not no_locking else Faults(**{**faults.__dict__, "locking": False})))
    failures = []
    rounds_by_mix: dict[str, list[int]] = defaultdict(list)
    commits = 0
    for index, (s, faults) in enumerate(schedules):
        result = run_schedule(nodes, s, faults, heights)
        mix = f"byz={faults.byzantine}:{faults.behaviour}" if faults.byzantine else "byz=0"
        mix += (", network chaos" if faults.drop or faults.duplicate or faults.partition else "") + (", crashes" if faults.crashes else "")
        rounds_by_mix[mix].extend(result.rounds)
        commits += len(result.rounds)
        if not result.ok:
            failures.append((result, faults))
            click.secho(f"seed {s} ({faults.describe()}): {result.violations[0]}", fg="red", err=True)
            click.secho(f"  reproduce: {result.reproduce()}", fg="red", err=True)
        if (index + 1) % 100 == 0:
            click.echo(f"  … {index + 1}/{len(schedules)} schedules, {len(failures)} violating", err=True)
    elapsed = time.perf_counter() - started
    summary = {
        "nodes": nodes, "schedules": len(schedules), "violating": len(failures), "commits": commits, "seconds": round(elapsed, 1),
        "mean_rounds_per_height": {mix: round(sum(r) / len(r), 3) for mix, r in sorted(rounds_by_mix.items()) if r},
        "failures": [{"seed": r.seed, "violations": r.violations, "reproduce": r.reproduce()} for r, _ in failures],
    }
    click.echo(f"{len(schedules)} schedules of {nodes} validators in {elapsed:.1f} s: {commits} commits, {len(failures)} violating")
    for mix, mean in summary["mean_rounds_per_height"].items():
        click.echo(f"  mean rounds per height [{mix}]: {mean}")
    if out is not None:
        out.write_text(json.dumps(summary, indent=2) + "\n")
    if failures:
        raise SystemExit(1)
