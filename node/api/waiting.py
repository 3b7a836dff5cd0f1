"""Long-polls (``?wait=S``) that wait on the event loop for the next block, holding no worker thread.

They used to block a thread of asyncio's default executor each (``NodeService.wait_for`` on the chain's condition).
That pool has cores + 4 threads (6 on a 2-core node), and it also runs JSON-RPC batches, ``eth_call``, proofs and
bulk parses: six clients waiting for inclusion (the SDK waits after every transaction) stalled every other threaded
request of the node until a block came or their waits ran out. Here a waiter awaits an :class:`asyncio.Event` that the
chain's commit listener sets from the committing thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

RECHECK_S = 1.0  # a condition that no block changes (a transaction dropped from the pool) is looked at this often


class BlockWaiter:
    """Wakes the API's waiters after every committed block (per event loop: a test client may run its own)."""

    def __init__(self, chain) -> None:  # type: ignore[no-untyped-def]
        self._events: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}  # set at the next block, then replaced
        chain.commit_listeners.append(self._committed)

    def _committed(self, _header, _certificate) -> None:  # type: ignore[no-untyped-def]  # in the committing thread
        for loop in list(self._events):
            try:
                loop.call_soon_threadsafe(self._wake, loop)
            except RuntimeError:  # that loop closed
                self._events.pop(loop, None)

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        event = self._events.pop(loop, None)
        if event is not None:
            event.set()

    async def until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``done()`` (True) or ``timeout`` seconds pass (False). ``done`` runs on the loop after each block
        (and every :data:`RECHECK_S`), so it must be quick: lookups, no decoding. A block committed between its check
        and the wait sets the event taken before the check, so no wake-up is lost."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._events.get(loop)
            if event is None:
                event = self._events[loop] = asyncio.Event()
            if done():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), min(remaining, RECHECK_S))
            except asyncio.TimeoutError:
                pass
