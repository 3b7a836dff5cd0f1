"""The BFT engine's transaction forwarder: asleep on an event, woken by the first transaction after a drain (from
the API's threads), batching what arrives meanwhile; nothing is lost or sent twice."""

from __future__ import annotations

import queue
import threading

import msgpack
import trio

from node.bft import TX, BftEngine


def _engine_with_recorded_broadcasts() -> tuple[BftEngine, list[list[bytes]]]:
    engine = object.__new__(BftEngine)  # only the forwarder's state: no chain, no network
    engine.outbox = queue.SimpleQueue()
    engine._outbox_woken = False
    engine._outbox_filled = None
    engine._trio_token = None
    engine._arrived = None
    sent: list[list[bytes]] = []

    def broadcast(protocol: str, payload: bytes) -> None:
        assert protocol == TX
        sent.append(list(msgpack.unpackb(payload)))

    engine._broadcast = broadcast  # type: ignore[method-assign]
    return engine, sent


def test_transactions_from_other_threads_wake_the_forwarder_after_every_quiet_spell() -> None:
    engine, sent = _engine_with_recorded_broadcasts()
    engine.gossip(b"queued before the engine ran")  # no trio yet: waits in the outbox

    async def main() -> None:
        engine._trio_token = trio.lowlevel.current_trio_token()
        engine._arrived = trio.Event()  # what an idle height's round 0 waits on; set with every batch
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine._forward_transactions)

            async def delivered(count: int) -> None:
                with trio.fail_after(10):  # a lost wake-up would leave them in the outbox for good
                    while sum(map(len, sent)) < count:
                        await trio.sleep(0.01)

            await delivered(1)
            for spell in range(3):  # each spell: a quiet forwarder, then transactions from two API threads at once
                await trio.sleep(0.3)  # past the batch interval: the forwarder waits on its event again
                waiting = engine._arrived  # what a proposer holding an idle height's round 0 waits on
                threads = [threading.Thread(target=lambda t=t: [engine.gossip(f"s{spell}-t{t}-{i}".encode()) for i in range(50)])
                           for t in range(2)]
                for thread in threads:
                    thread.start()
                await trio.to_thread.run_sync(lambda: [thread.join() for thread in threads])
                await delivered(1 + 100 * (spell + 1))
                assert waiting.is_set()  # this node's own submissions end the hold, not only gossiped ones
            nursery.cancel_scope.cancel()

    trio.run(main)
    everything = [raw for batch in sent for raw in batch]
    assert len(everything) == len(set(everything)) == 301
    assert everything[0] == b"queued before the engine ran"
