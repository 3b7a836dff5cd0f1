"""When the BFT engine counts a height as stalled (and resends its votes, asks every peer its height): after a second
on a healthy chain, after a few typical heights on a slow one, so that an overloaded network is not loaded further."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

import trio
import trio.testing

from node.bft import STALL_MAX_S, STALL_S, BftEngine


def _engine(durations: list[float]) -> BftEngine:
    engine = object.__new__(BftEngine)  # only the stall detector's state: no chain, no network
    engine.machine = SimpleNamespace(height=5, round=0)
    engine._idle_until = 0.0
    engine._height_durations = deque(durations, maxlen=8)
    return engine


def _stalls(engine: BftEngine, heights_every_s: float, moving_s: float, stuck_s: float) -> tuple[list[float], float]:
    """Heights advance every ``heights_every_s`` for ``moving_s``, then stand still for ``stuck_s``: the times the
    detector yielded, and the time the chain got stuck (mock clock)."""
    yields: list[float] = []
    stuck_at = [0.0]

    async def main() -> None:
        async def watch() -> None:
            async for _ in engine._while_stalled():
                yields.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            for _ in range(int(moving_s / heights_every_s)):
                await trio.sleep(heights_every_s)
                engine.machine.height += 1
            stuck_at[0] = trio.current_time()
            await trio.sleep(stuck_s)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return yields, stuck_at[0]


def test_a_healthy_chain_is_stalled_after_a_second_of_standing_still() -> None:
    yields, stuck_at = _stalls(_engine([0.2] * 8), heights_every_s=0.2, moving_s=10, stuck_s=5)
    assert yields and all(t > stuck_at for t in yields)
    assert yields[0] - stuck_at <= 2 * STALL_S


def test_slow_heights_are_not_stalls_but_a_stuck_one_still_is() -> None:
    # heights of 2-2.5 s (10 validators on 2 cores under load): sampled every second, each looked stalled
    yields, stuck_at = _stalls(_engine([2.0] * 8), heights_every_s=2.5, moving_s=30, stuck_s=30)
    assert yields, "a height that stands still for 30 s is stalled whatever the recent pace"
    assert all(t > stuck_at for t in yields), "a chain that moves every 2.5 s is slow, not stalled"
    assert 3 * 2.0 <= yields[0] - stuck_at <= 2 * 3 * 2.0


def test_the_threshold_never_exceeds_the_longest_pause() -> None:
    assert _engine([60.0] * 8)._stall_s() == STALL_MAX_S
    assert _engine([])._stall_s() == STALL_S
