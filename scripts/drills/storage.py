#!/usr/bin/env python3
"""Storage drill: damage one validator's ledger on disk in the ways disks and crashes do, and check that the
node either starts consistent or refuses to start with a message that names the damage and the remedy —
never serving wrong data — and that ``yilian node --repair`` brings it back by re-syncing from its peers.

Scenarios (on center D of a 4-node localnet; the others keep committing a steady load):

* ``truncated-log``: D is killed (-9) under load and the newest LevelDB log file loses its second half;
* ``corrupt-block``: a stored block record is altered (one transaction byte flipped) while D is stopped;
* ``corrupt-table``: bytes in the middle of a LevelDB table file (.ldb) are overwritten (bit rot).

The full disk and an unwritable data directory are drilled by tests/ops/test_operations.py.

    python scripts/drills/storage.py --json out.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from node.harness import LocalNet, SteadyLoad, check_agreement, drill_main, drill_session, exactly_once  # noqa: E402

VICTIM = 3


def _chain_dir(net: LocalNet) -> Path:
    return net.configs[VICTIM].data_dir / "chain"


def truncate_log(net: LocalNet) -> str:
    logs = sorted(_chain_dir(net).glob("*.log"), key=lambda p: p.stat().st_mtime)
    newest = logs[-1]
    size = newest.stat().st_size
    with open(newest, "r+b") as handle:
        handle.truncate(size // 2)
    return f"{newest.name} cut from {size} to {size // 2} bytes"


def corrupt_block(net: LocalNet) -> str:
    import plyvel

    from node.ledger.store import BLOCK, HASH_AT

    db = plyvel.DB(str(_chain_dir(net)))
    try:
        head = max(int.from_bytes(key[1:], "big") for key, _ in db.iterator(prefix=HASH_AT))
        for height in range(head, 0, -1):
            block_hash = db.get(HASH_AT + height.to_bytes(8, "big"))
            raw = bytearray(db.get(BLOCK + block_hash))
            if len(raw) > 400:  # a block that carries transactions: flip a byte near the end (in a transaction)
                raw[-40] ^= 0x01
                db.put(BLOCK + block_hash, bytes(raw), sync=True)
                return f"block {height} (head {head}): one transaction byte flipped"
        raise AssertionError("no block with transactions to corrupt")
    finally:
        db.close()


def corrupt_table(net: LocalNet) -> str:
    import plyvel

    db = plyvel.DB(str(_chain_dir(net)))
    db.compact_range()  # a young ledger may still be all in LevelDB's log: write it out as table files
    db.close()
    tables = sorted(_chain_dir(net).glob("*.ldb"), key=lambda p: p.stat().st_size)
    if not tables:
        raise AssertionError("no LevelDB table file yet")
    table = tables[-1]
    with open(table, "r+b") as handle:
        size = table.stat().st_size
        handle.seek(size // 3)
        handle.write(b"\xde\xad\xbe\xef" * 16)
    return f"{table.name}: 64 bytes overwritten at offset {table.stat().st_size // 3}"


SCENARIOS = {"truncated-log": (truncate_log, True), "corrupt-block": (corrupt_block, False), "corrupt-table": (corrupt_table, False)}


def _node_result(net: LocalNet, timeout_s: float = 60) -> tuple[str, str]:
    """Start D; 'caught-up' when it reaches the others' head, else 'refused' with its last log lines."""
    try:
        net.start(VICTIM, wait_s=timeout_s)
    except RuntimeError:
        net.stop(VICTIM)  # it may still run (it did not answer in time): never two processes on one ledger
        log = (net.directory / "logs" / f"{net.configs[VICTIM].name}.log").read_text(errors="replace").strip().splitlines()
        return "refused", "\n".join(log[-3:])
    head = max(net.height(i) for i in range(4) if i != VICTIM)
    deadline = time.monotonic() + timeout_s
    while net.height(VICTIM) < head:
        if time.monotonic() > deadline:
            return "stuck", f"at {net.height(VICTIM)} of {head}"
        time.sleep(0.2)
    return "caught-up", f"reached height {head}"


def _reads_right_or_refused(net: LocalNet) -> int:
    """Every block D serves equals the others' (or D refuses to serve it: a read that hit damage). Returns refusals."""
    from node.harness import rpc

    refused = 0
    head = min(net.height(i) for i in range(4))
    for height in range(1, head + 1):
        reference = rpc(net.urls[0], "eth_getBlockByNumber", hex(height), False)["hash"]  # type: ignore[index]
        try:
            served = rpc(net.urls[VICTIM], "eth_getBlockByNumber", hex(height), False)["hash"]  # type: ignore[index]
        except RuntimeError:
            refused += 1
            continue
        if served != reference:
            raise AssertionError(f"{net.configs[VICTIM].name} serves a wrong block at height {height}")
    return refused


def _repair(net: LocalNet) -> None:
    home = net.configs[VICTIM].home
    log_path = net.directory / "logs" / f"{net.configs[VICTIM].name}.log"
    with open(log_path, "ab") as log:
        net.processes[VICTIM] = subprocess.Popen([sys.executable, "-m", "node.cli", "node", "--home", str(home), "--repair",
                                                  "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _victim_state(net: LocalNet) -> str:
    """Whether D still runs, and the last lines of its log: what a failed repair leaves to read."""
    process = net.processes[VICTIM]
    code = None if process is None else process.poll()
    log = (net.directory / "logs" / f"{net.configs[VICTIM].name}.log").read_text(errors="replace").strip().splitlines()
    return ("running" if code is None else f"exited with code {code}") + "; log ends: " + " | ".join(log[-8:])


def drill(directory: Path, say=print) -> dict:  # type: ignore[no-untyped-def]
    net = LocalNet(4, directory, lambda message: None)
    load = SteadyLoad(net, 15)
    result: dict = {"drill": "storage", "scenarios": {}, "failures": []}
    with drill_session(result, net, load, say):
        net.start()
        load.start()
        for name, (damage, hard_kill) in SCENARIOS.items():
            time.sleep(3)  # some blocks with transactions
            net.stop(VICTIM, hard=hard_kill)
            what = damage(net)
            outcome, detail = _node_result(net)
            entry = {"damage": what, "outcome": outcome, "detail": detail}
            if outcome == "caught-up":
                entry["reads_refused"] = _reads_right_or_refused(net)
                net.stop(VICTIM)
                check = subprocess.run([sys.executable, "-m", "node.cli", "node", "--home", str(net.configs[VICTIM].home), "--check"],
                                       capture_output=True, text=True)
                entry["node_check"] = "ok" if check.returncode == 0 else (check.stderr.strip().splitlines() or ["?"])[-1]
                if check.returncode != 0:
                    outcome = "refused"
                    detail += f"; `yilian node --check` found the damage: {entry['node_check']}"
                else:
                    net.start(VICTIM)
                if entry["reads_refused"] and outcome == "caught-up":
                    net.stop(VICTIM)
                    outcome = "refused"
                    detail += f"; {entry['reads_refused']} damaged block(s) refused when read"
            if outcome == "refused":
                if "Traceback" in detail or "repair" not in detail:
                    result["failures"].append(f"{name}: refused without naming the remedy: {detail}")
                _repair(net)
                time.sleep(1)
                head = max(net.height(i) for i in range(4) if i != VICTIM)
                deadline = time.monotonic() + 90
                while True:
                    try:
                        if net.height(VICTIM) >= head:
                            break
                    except OSError:
                        pass
                    if time.monotonic() > deadline or net.processes[VICTIM].poll() is not None:  # type: ignore[union-attr]
                        result["failures"].append(f"{name}: --repair did not catch up ({_victim_state(net)})")
                        break
                    time.sleep(0.3)
                entry["repaired"] = True
                entry["reads_refused_after_repair"] = _reads_right_or_refused(net)
                if entry["reads_refused_after_repair"]:
                    result["failures"].append(f"{name}: still refuses reads after --repair")
            elif outcome != "caught-up":
                result["failures"].append(f"{name}: {outcome} ({detail})")
            try:
                check_agreement(net)
            except AssertionError as exc:
                result["failures"].append(f"{name}: {exc}")
            result["scenarios"][name] = entry
            say(f"{name}: {what} → {outcome}{' → repaired by --repair' if entry.get('repaired') else ''}; {detail.splitlines()[-1] if detail else ''}")
        load.stop()
        result.update(height=exactly_once(net, load, index=VICTIM), acknowledged=len(load.acknowledged))
    say("PASS" if result["passed"] else f"FAIL: {result['failures']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    return drill_main(parser, lambda args, scratch: drill(scratch))


if __name__ == "__main__":
    sys.exit(main())
