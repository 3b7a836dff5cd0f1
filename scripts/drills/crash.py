#!/usr/bin/env python3
"""Crash drill: under steady load on a 4-node localnet, ``kill -9`` a random validator at a random moment
(never more than f = 1 down at once), restart it after a random delay, and check after every cycle that the
nodes agree on every block hash; at the end, that every acknowledged transaction is committed exactly once
and every node reached the same head by itself (no manual repair).

    python scripts/drills/crash.py --cycles 100            # the long version (about 15 minutes)
    python scripts/drills/crash.py --cycles 3 --json out.json

Exit status 0 when every check passed, 1 otherwise; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from node.harness import LocalNet, SteadyLoad, check_agreement, drill_main, drill_session, exactly_once  # noqa: E402


def drill(cycles: int, seed: int, rate: float, directory: Path, say=print) -> dict:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    net = LocalNet(4, directory, lambda message: None)
    load = SteadyLoad(net, rate)
    result: dict = {"drill": "crash", "cycles": cycles, "seed": seed, "rate_per_s": rate, "kills": 0}
    catch_up: list[float] = []
    with drill_session(result, net, load, say):
        say(f"starting 4 nodes in {directory}")
        net.start()
        load.start()
        checked = 1
        for cycle in range(1, cycles + 1):
            time.sleep(rng.uniform(0.3, 2.5))
            victim = rng.randrange(4)
            net.stop(victim, hard=True)
            result["kills"] += 1
            down = rng.uniform(0.2, 3.0)
            time.sleep(down)
            restarted = time.monotonic()
            net.start(victim)
            head = max(net.height(i) for i in range(4) if i != victim)
            while net.height(victim) < head:
                if time.monotonic() - restarted > 60:
                    raise AssertionError(f"cycle {cycle}: {net.configs[victim].name} did not reach height {head} within 60 s")
                time.sleep(0.1)
            catch_up.append(time.monotonic() - restarted)
            checked = check_agreement(net, max(1, checked - 2))
            say(f"cycle {cycle}/{cycles}: killed {net.configs[victim].name} for {down:.1f} s, back at height {head} after "
                f"{catch_up[-1]:.1f} s; all agree up to {checked}; {len(load.acknowledged)} txs acknowledged")
        load.stop()
        head = exactly_once(net, load)
        result.update(height=head, acknowledged=len(load.acknowledged), resent=load.resent,
                      catch_up_s_max=round(max(catch_up, default=0), 2),
                      catch_up_s_p50=round(sorted(catch_up)[len(catch_up) // 2], 2) if catch_up else 0)
        say(f"PASS: {cycles} kills, {len(load.acknowledged)} acknowledged txs each committed exactly once "
            f"({load.resent} resent by the client after a crash), 4 nodes agree on {head} blocks")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--rate", type=float, default=20.0, help="transactions per second offered during the drill")
    return drill_main(parser, lambda args, scratch: drill(args.cycles, args.seed, args.rate, scratch))


if __name__ == "__main__":
    sys.exit(main())
