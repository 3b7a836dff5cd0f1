#!/usr/bin/env python3
"""Partition drill on a 4-node localnet under steady load, through the p2p layer's fault-injection hook
(``YILIAN_FAULT_FILE``, which only drills and tests set: the listed peers' messages are dropped both ways).

Each round: cut one node off (the other three go on; it does not), heal (it catches up by itself), then split
the network 2/2 (no side has a quorum: nothing may commit, so nothing can fork), heal (progress again). After
every step all nodes must agree on every block hash; at the end every acknowledged transaction is committed
exactly once.

    python scripts/drills/partition.py --rounds 20          # the long version
    python scripts/drills/partition.py --rounds 1 --json out.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from node.harness import LocalNet, SteadyLoad, check_agreement, drill_main, drill_session, exactly_once  # noqa: E402


def _wait_height(net: LocalNet, nodes: list[int], height: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(net.height(i) >= height for i in nodes):
            return True
        time.sleep(0.1)
    return False


def drill(rounds: int, seed: int, rate: float, directory: Path, split_s: float = 5.0, say=print) -> dict:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    net = LocalNet(4, directory, lambda message: None, faults=True)
    load = SteadyLoad(net, rate)
    result: dict = {"drill": "partition", "rounds": rounds, "seed": seed, "cuts": 0, "splits": 0, "committed_during_split": 0}
    with drill_session(result, net, load, say):
        say(f"starting 4 nodes in {directory}")
        net.start()
        load.start()
        everyone = [0, 1, 2, 3]
        checked = 1  # agreement is checked from a little below the last checked height (the whole chain at the end)
        for round_ in range(1, rounds + 1):
            # one node cut off: the other three keep committing, it does not
            alone = rng.randrange(4)
            rest = [i for i in everyone if i != alone]
            net.partition([[alone], rest])
            result["cuts"] += 1
            before = {i: net.height(i) for i in everyone}
            time.sleep(split_s)
            if not _wait_height(net, rest, max(before[i] for i in rest) + 2, 20):
                raise AssertionError(f"round {round_}: the three connected nodes made no progress while {net.configs[alone].name} was cut off")
            if net.height(alone) > before[alone] + 1:
                raise AssertionError(f"round {round_}: {net.configs[alone].name} committed blocks while cut off")
            net.heal()
            head = max(net.height(i) for i in rest)
            if not _wait_height(net, [alone], head, 30):
                raise AssertionError(f"round {round_}: {net.configs[alone].name} did not catch up after the cut healed")
            checked = check_agreement(net, max(1, checked - 2))
            # a 2/2 split: no quorum on either side
            pair = rng.sample(everyone, 2)
            other = [i for i in everyone if i not in pair]
            net.partition([pair, other])
            result["splits"] += 1
            time.sleep(1.0)  # a block whose precommits were already on the wire may still land
            before = {i: net.height(i) for i in everyone}
            time.sleep(split_s)
            # a node that was a block behind may still fetch that block from its side (it was decided before the
            # split); what must not happen is a block beyond the highest one any node had: a new decision
            grew = max(net.height(i) for i in everyone) - max(before.values())
            result["committed_during_split"] += max(grew, 0)
            if grew > 0:
                raise AssertionError(f"round {round_}: {grew} new block(s) decided during a 2/2 split")
            checked = check_agreement(net, max(1, checked - 2))
            net.heal()
            if not _wait_height(net, everyone, max(before.values()) + 2, 45):
                raise AssertionError(f"round {round_}: no progress within 45 s after the 2/2 split healed")
            head = checked = check_agreement(net, max(1, checked - 2))
            say(f"round {round_}/{rounds}: cut {net.configs[alone].name} off and back; split "
                f"{'+'.join(net.configs[i].name for i in pair)} | {'+'.join(net.configs[i].name for i in other)}: nothing committed, "
                f"healed; all agree up to {head}")
        load.stop()
        head = check_agreement(net)  # once more over the whole chain
        result.update(height=exactly_once(net, load), acknowledged=len(load.acknowledged), resent=load.resent, agreed=head)
        say(f"PASS: {rounds} round(s); {len(load.acknowledged)} acknowledged txs each committed exactly once")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--rate", type=float, default=10.0)
    return drill_main(parser, lambda args, scratch: drill(args.rounds, args.seed, args.rate, scratch))


if __name__ == "__main__":
    sys.exit(main())
