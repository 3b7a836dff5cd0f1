"""Yamux flow-control credit goes back once half the receive window is consumed (go-yamux's rule), not after every
read: many small messages cost no frames back, and frames larger than the window still arrive whole."""

from __future__ import annotations

import pytest
import trio
from libp2p.stream_muxer.yamux.yamux import DEFAULT_WINDOW_SIZE, YamuxStream

from node.p2p.host import CONSENSUS
from tests.network.test_p2p_host import b_connected_to_a


@pytest.fixture
def window_updates(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The increments of every WINDOW_UPDATE a stream sends to return credit."""
    sent: list[int] = []
    original = YamuxStream.send_window_update

    async def counting(self: YamuxStream, increment: int, skip_lock: bool = False) -> None:
        sent.append(increment)
        await original(self, increment, skip_lock)

    monkeypatch.setattr(YamuxStream, "send_window_update", counting)
    return sent


def exchange(payloads: list[bytes]) -> list[bytes]:
    """Send ``payloads`` from b to a one at a time, each handled before the next leaves; what a received."""
    received: list[bytes] = []
    handled = trio.Semaphore(0)

    async def on_consensus(peer: str, payload: bytes) -> None:
        received.append(payload)
        handled.release()
        return None

    async def main() -> None:
        async with b_connected_to_a(on_consensus) as (_, host_b, peer_a, _):
            with trio.fail_after(60):
                for payload in payloads:
                    await host_b.send(peer_a, CONSENSUS, payload)
                    await handled.acquire()

    trio.run(main)
    return received


def test_small_messages_read_one_by_one_send_no_credit_back(window_updates: list[int]) -> None:
    messages = [b"vote %03d " % i + b"x" * 140 for i in range(300)]  # ~45 kB in all: under half the window
    assert exchange(messages) == messages
    assert window_updates == []  # py-libp2p 0.8.1 by itself sent one for nearly every message read


def test_frames_larger_than_the_window_arrive_whole_with_credit_in_half_windows(window_updates: list[int]) -> None:
    messages = [bytes([i]) * size for i, size in enumerate((1024 * 1024, 300_000, 10, 3 * DEFAULT_WINDOW_SIZE + 7))]
    assert exchange(messages) == messages
    total = sum(len(m) + 4 for m in messages)  # (the u32 length before each)
    # each update returns at least half a window (py-libp2p's auto-tuning may add growth to it), so there are few
    assert window_updates and all(increment >= DEFAULT_WINDOW_SIZE // 2 for increment in window_updates)
    assert len(window_updates) <= total // (DEFAULT_WINDOW_SIZE // 2)
