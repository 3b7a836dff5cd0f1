"""Messages queued for one peer leave in one write: the per-peer sender groups what is already waiting, in order and
by protocol, and the host frames each message so the receiver still handles them one by one."""

from __future__ import annotations

import types

import pytest
import trio

from node.bft import COALESCE_MAX, TX, BftEngine
from node.p2p.host import CONSENSUS, SYNC
from tests.network.test_p2p_host import b_connected_to_a


class RecordingHost:
    def __init__(self, peer: str) -> None:
        self.connected = {peer}
        self.sent: list[tuple[str, object]] = []

    async def send(self, peer: str, protocol: str, payload) -> None:  # type: ignore[no-untyped-def]
        self.sent.append((protocol, payload))


def run_sender(queued: list[tuple[str, bytes]]) -> list[tuple[str, object]]:
    host = RecordingHost("peer")
    engine = types.SimpleNamespace(host=host, members={"peer": "b"})  # only what the sender reads

    async def main() -> None:
        send, receive = trio.open_memory_channel[tuple](1000)
        for message in queued:  # all waiting before the sender first runs, as a block and its proposal are
            send.send_nowait(message)
        await send.aclose()
        await BftEngine._sender(engine, "peer", receive)  # type: ignore[arg-type]

    trio.run(main)
    return host.sent


def test_what_waits_for_a_peer_goes_in_one_write_per_protocol_in_order() -> None:
    sent = run_sender([(CONSENSUS, b"B block"), (CONSENSUS, b"P proposal"), (TX, b"txs"), (CONSENSUS, b"V vote")])
    assert sent == [(CONSENSUS, [b"B block", b"P proposal"]), (TX, b"txs"), (CONSENSUS, b"V vote")]


def test_a_long_queue_is_cut_into_writes_of_at_most_coalesce_max() -> None:
    messages = [(CONSENSUS, b"m%d" % i) for i in range(COALESCE_MAX + 3)]
    sent = run_sender(messages)
    assert [len(payload) for _, payload in sent] == [COALESCE_MAX, 3]
    assert [m for _, payload in sent for m in payload] == [m for _, m in messages]


def test_messages_written_together_arrive_one_by_one() -> None:
    received: list[bytes] = []
    refused: dict = {}

    async def on_consensus(peer: str, payload: bytes) -> None:
        received.append(payload)
        return None

    async def main() -> None:
        async with b_connected_to_a(on_consensus) as (_, host_b, a, _b):
            await host_b.send(a, CONSENSUS, b"first")
            await host_b.send(a, CONSENSUS, [b"second", b"", b"x" * 100_000, b"fourth"])
            await host_b.send(a, CONSENSUS, b"fifth")
            with pytest.raises(ValueError, match="one message"):
                await host_b.send(a, SYNC, [b"a", b"b"], expect_answer=True)
            refused["request"] = True
            with trio.fail_after(10):
                while len(received) < 6:
                    await trio.sleep(0.02)

    trio.run(main)
    assert received == [b"first", b"second", b"", b"x" * 100_000, b"fourth", b"fifth"]
    assert refused["request"]
