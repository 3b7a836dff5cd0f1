"""Membership in practice, on a real 4-center localnet, with the operator commands: a fifth center is prepared,
voted in, registers its peer ID, syncs from genesis and signs blocks from the decided height; then a center is
voted out and the set shrinks while the chain goes on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from node.harness import free_port_block
from test_bft_localnet import Net, get

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def yilian(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "node.cli", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def signers(url: str, height: int) -> set[str]:
    return {s["validator"] for s in get(f"{url}/v1/blocks/{height}/certificate")["signatures"]}


def test_a_fifth_center_joins_and_a_center_leaves(tmp_path):
    net = Net(tmp_path, empty_block_interval_ms=1000)  # the set changes at stated heights: an idle block a second gets there sooner
    for index in range(4):
        net.start(index)
    try:
        for index in range(4):
            net.wait_height(index, 2, timeout=90)
        api = free_port_block(1)
        p2p = api + 1000
        created = yilian("center", "new", "--consortium", str(tmp_path / "c"), "--name", "center-e", "--api-port", str(api),
                         "--p2p-port", str(p2p))
        home_e = tmp_path / "c" / "centers" / "center-e"
        assert "yilian governance propose add-center" in created.stdout
        proposed = yilian("governance", "propose", "add-center", "--home", str(net.homes[0]), "--center-home", str(home_e),
                          "--effective-in", "12")
        proposal = int(re.search(r"proposal (\d+)", proposed.stdout).group(1))
        effective = int(re.search(r"effective at block (\d+)", proposed.stdout).group(1))
        yilian("governance", "vote", str(proposal), "--home", str(net.homes[1]))
        assert "executed" in yilian("governance", "vote", str(proposal), "--home", str(net.homes[2])).stdout
        yilian("governance", "join", "--home", str(home_e), "--url", net.urls[0])
        log = open(tmp_path / "logs" / "e.log", "ab")
        node_e = subprocess.Popen([sys.executable, "-m", "node.cli", "node", "--home", str(home_e)], stdout=log, stderr=subprocess.STDOUT)
        net.processes[4] = node_e
        net.urls.append(f"http://127.0.0.1:{api}")
        net.wait_height(4, effective + 6, timeout=120)  # synced from genesis and following
        validator_e = "0x" + json.loads((home_e / "keys" / "validator.json").read_text())["address"].removeprefix("0x")
        assert validator_e in get(net.urls[0] + "/v1/status")["validators"] and len(get(net.urls[0] + "/v1/status")["validators"]) == 5
        head = net.wait_height(0, effective + 8)
        assert any(validator_e in signers(net.urls[0], h) for h in range(effective, head + 1)), "E never signed a block"
        assert all(validator_e not in signers(net.urls[0], h) for h in range(2, effective))
        upto = min(net.height(4), net.height(0))
        assert net.block_hashes(4, upto) == net.block_hashes(0, upto)
        status = yilian("governance", "status", "--url", net.urls[4]).stdout
        assert "center-e" in status and "peer 12D3Koo" in status

        # center D leaves: 4 of the 5 centers vote (A proposes; B, C and the newcomer E vote)
        admin_d = json.loads((net.homes[3] / "keys" / "admin.json").read_text())["address"]
        proposed = yilian("governance", "propose", "remove-center", "--home", str(net.homes[0]), "--subject", admin_d, "--effective-in", "8")
        proposal = int(re.search(r"proposal (\d+)", proposed.stdout).group(1))
        leaves_at = int(re.search(r"effective at block (\d+)", proposed.stdout).group(1))
        for voter in (net.homes[1], net.homes[2]):
            yilian("governance", "vote", str(proposal), "--home", str(voter))
        assert "executed" in yilian("governance", "vote", str(proposal), "--home", str(home_e), "--url", net.urls[4]).stdout
        net.wait_height(0, leaves_at)
        deadline = time.monotonic() + 30
        while len(get(net.urls[0] + "/v1/status")["validators"]) != 4 and time.monotonic() < deadline:
            time.sleep(0.2)  # the stated height, or two blocks after the deciding vote if that came later
        validators = get(net.urls[0] + "/v1/status")["validators"]
        validator_d = "0x" + json.loads((net.homes[3] / "keys" / "validator.json").read_text())["address"].removeprefix("0x")
        assert len(validators) == 4 and validator_d not in validators and validator_e in validators
        net.processes[3].terminate()
        net.processes[3].wait(30)
        before = net.height(0)
        net.wait_height(0, before + 5, timeout=60)  # four validators, quorum 3: the chain goes on without D
        four = get(f"{net.urls[0]}/v1/blocks/{before + 5}")["validators_hash"]
        shrunk_at = next(h for h in range(leaves_at, before + 6) if get(f"{net.urls[0]}/v1/blocks/{h}")["validators_hash"] == four)
        assert shrunk_at <= leaves_at + 6  # the stated height, or two blocks after the deciding vote
        assert all(validator_d not in signers(net.urls[0], h) for h in range(shrunk_at, before + 5))
    finally:
        net.stop_all()
