"""MemberHost in one process: framing, request/response, host names, garbage peers disconnected."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import trio

from node.crypto.peer_id import P2PIdentity
from node.errors import ValidationError
from node.harness import free_port_block
from node.p2p.host import CONSENSUS, MAX_STRIKES, SYNC, Handler, MemberHost


def ports(count: int) -> list[int]:
    start = free_port_block(count, spans=(0,))
    return list(range(start, start + count))


def two_members() -> tuple[P2PIdentity, P2PIdentity, dict[str, str], int, int]:
    a, b = P2PIdentity.generate(), P2PIdentity.generate()
    return a, b, {a.peer_id: "a", b.peer_id: "b"}, *ports(2)


async def connected(host: MemberHost, peer: str) -> None:
    with trio.fail_after(20):
        while peer not in host.connected:
            await trio.sleep(0.05)


@contextlib.asynccontextmanager
async def b_connected_to_a(on_consensus: Handler) -> AsyncIterator[tuple[MemberHost, MemberHost, str, str]]:
    """Two members on loopback, a handling consensus messages with ``on_consensus`` and b connected to it:
    (host a, host b, a's peer id, b's peer id); both stop when the block ends."""
    a, b, members, port_a, port_b = two_members()
    host_a = MemberHost(a, members, ("127.0.0.1", port_a))
    host_b = MemberHost(b, members, ("127.0.0.1", port_b), {a.peer_id: f"/ip4/127.0.0.1/tcp/{port_a}/p2p/{a.peer_id}"})
    host_a.handle(CONSENSUS, on_consensus)
    async with trio.open_nursery() as nursery:
        await nursery.start(host_a.run)
        await nursery.start(host_b.run)
        await connected(host_b, a.peer_id)
        yield host_a, host_b, a.peer_id, b.peer_id
        nursery.cancel_scope.cancel()


def test_members_talk_by_host_name_and_garbage_gets_a_peer_disconnected() -> None:
    a, b, members, port_a, port_b = two_members()
    received: list[bytes] = []
    outcome: dict = {}

    async def on_consensus(peer: str, payload: bytes) -> None:
        if payload.startswith(b"bad"):
            raise ValidationError("message", "not a consensus message")
        received.append(payload)
        return None

    async def on_sync(peer: str, payload: bytes) -> bytes:
        return payload[::-1]

    async def main() -> None:
        host_a = MemberHost(a, members, ("127.0.0.1", port_a))
        # b dials a by DNS name, as a config with host names would
        host_b = MemberHost(b, members, ("127.0.0.1", port_b), {a.peer_id: f"/dns4/localhost/tcp/{port_a}/p2p/{a.peer_id}"})
        host_a.handle(CONSENSUS, on_consensus)
        host_a.handle(SYNC, on_sync)
        async with trio.open_nursery() as nursery:
            await nursery.start(host_a.run)
            await nursery.start(host_b.run)
            await connected(host_b, a.peer_id)
            for i in range(20):
                await host_b.send(a.peer_id, CONSENSUS, b"msg%d" % i)
            outcome["answer"] = await host_b.send(a.peer_id, SYNC, b"abc", expect_answer=True)
            with trio.fail_after(10):
                while len(received) < 20:
                    await trio.sleep(0.02)
            # a peer that keeps sending garbage: some sends land on a stream the receiver has just reset,
            # so it takes at least MAX_STRIKES and at most a few more before the receiver cuts it off
            with trio.move_on_after(10):
                while host_a.cut_off == 0:  # (b redials at once, so "not connected" may last only a moment)
                    try:
                        await host_b.send(a.peer_id, CONSENSUS, b"bad frame content")
                    except Exception:
                        pass
                    await trio.sleep(0.1)
            outcome["strikes_needed"] = MAX_STRIKES
            outcome["disconnected"] = host_a.cut_off >= 1
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert received == [b"msg%d" % i for i in range(20)]
    assert outcome["answer"] == b"cba"
    assert outcome["disconnected"], "a peer that sent garbage three times is still connected"


def test_an_oversized_or_unfinished_frame_is_a_strike_and_never_read_into_memory(monkeypatch) -> None:
    """A member that announces a frame over MAX_FRAME is struck at once, before the body; one that stops in the
    middle of a frame (slow-loris) is struck when the frame's read deadline passes."""
    import struct

    import node.p2p.host as host_module

    monkeypatch.setattr(host_module, "READ_TIMEOUT_S", 1.0)
    handled: list[bytes] = []
    outcome: dict = {}

    async def on_consensus(peer: str, payload: bytes) -> None:
        handled.append(payload)

    async def main() -> None:
        async with b_connected_to_a(on_consensus) as (host_a, host_b, a, b):
            from libp2p.peer.id import ID

            stream = await host_b.host.new_stream(ID.from_base58(a), [CONSENSUS])
            await stream.write(struct.pack(">I", host_module.MAX_FRAME + 1) + b"x" * 100)  # 8 MiB + 1 announced
            with trio.fail_after(5):
                while host_a.strikes.get(b, 0) < 1:
                    await trio.sleep(0.05)
            outcome["oversized"] = host_a.strikes[b]
            stream = await host_b.host.new_stream(ID.from_base58(a), [CONSENSUS])
            await stream.write(struct.pack(">I", 1000) + b"only part of it")  # and then nothing more
            with trio.fail_after(5):
                while host_a.strikes.get(b, 0) < 2:
                    await trio.sleep(0.05)
            outcome["unfinished"] = host_a.strikes[b]

    trio.run(main)
    assert outcome == {"oversized": 1, "unfinished": 2} and handled == []
