"""MemberHost in one process: framing, request/response, host names, garbage peers disconnected."""

from __future__ import annotations

import socket

import trio

from node.crypto.peer_id import P2PIdentity
from node.errors import ValidationError
from node.p2p.host import CONSENSUS, MAX_STRIKES, SYNC, MemberHost


def ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    found = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return found


def test_members_talk_by_host_name_and_garbage_gets_a_peer_disconnected() -> None:
    a, b = P2PIdentity.generate(), P2PIdentity.generate()
    members = {a.peer_id: "a", b.peer_id: "b"}
    port_a, port_b = ports(2)
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
            with trio.fail_after(20):
                while a.peer_id not in host_b.connected:
                    await trio.sleep(0.05)
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
