"""A validator that signs two different prevotes for one height and round: the others keep the evidence, serve it
at /v1/evidence, and anyone can check both signatures (the centers then vote its center out, as
tests/network/test_membership.py does for a center that leaves)."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from pathlib import Path

import pytest
import trio

from node.config import load_node_config
from node.consensus.verify import decode_message, encode_message
from node.crypto.keystore import load_ed25519_keystore
from node.crypto.peer_id import P2PIdentity
from node.harness import LocalNet, free_port
from node.p2p.host import CONSENSUS, MemberHost
from node.types import Vote, VoteType

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def _evidence(url: str) -> list[dict]:
    with urllib.request.urlopen(url + "/v1/evidence", timeout=5) as response:
        return json.loads(response.read())["evidence"]


def test_equivocation_is_recorded_served_and_checkable(tmp_path: Path) -> None:
    net = LocalNet(4, tmp_path, lambda message: None)
    net.start()
    try:
        net.stop(3)  # center D's own node is down; its keys now speak for it
        config = net.configs[3]
        identity = P2PIdentity.from_seed(load_ed25519_keystore(config.p2p_key_path, config.password()))
        key = config.load_validator_key()
        a = net.configs[0]
        members = {peer: c.name for peer, c in zip(net.peer_ids, net.configs)}
        height = net.height(0) + 2  # a height A keeps messages for until it gets there
        votes = [Vote(net.chain_id, VoteType.PREVOTE, height, 0, hashlib.sha256(value).digest(), key.address).signed(key)
                 for value in (b"one block", b"another block")]

        async def equivocate() -> None:
            host = MemberHost(identity, members, ("127.0.0.1", free_port()), {net.peer_ids[0]: f"/ip4/127.0.0.1/tcp/{a.p2p_port}/p2p/{net.peer_ids[0]}"})
            async with trio.open_nursery() as nursery:
                await nursery.start(host.run)
                with trio.fail_after(30):
                    while net.peer_ids[0] not in host.connected:
                        await trio.sleep(0.1)
                for vote in votes:
                    await host.send(net.peer_ids[0], CONSENSUS, encode_message(vote))
                await trio.sleep(1)
                nursery.cancel_scope.cancel()

        trio.run(equivocate)
        deadline = time.monotonic() + 30
        while not (found := [e for e in _evidence(a.api_url) if e["validator"] == "0x" + key.address.hex()]):
            assert time.monotonic() < deadline, "no evidence at center A after 30 s"
            time.sleep(0.5)
        (entry,) = found
        assert entry["height"] == height and entry["round"] == 0 and entry["kind"] == "prevote"
        first, second = (decode_message(bytes.fromhex(entry[k][2:])) for k in ("first", "second"))
        assert {first.block_hash, second.block_hash} == {v.block_hash for v in votes}
        for message in (first, second):
            message.verify(load_node_config(config.home).load_genesis().suite, key.public_key)
        # kept across a restart of the node that saw it
        net.stop(0)
        net.start(0)
        assert [e["validator"] for e in _evidence(a.api_url)] == [entry["validator"]]
    finally:
        net.stop()
