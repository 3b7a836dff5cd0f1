"""NodeService.wait_for: a block committed between the waiter's lookup and its wait still wakes it."""

from __future__ import annotations

import threading
import time
import types

from node.service import NodeService, TxRecord


def test_a_block_committed_right_after_the_lookup_wakes_the_waiter() -> None:
    chain = types.SimpleNamespace(new_block=threading.Condition())
    service = NodeService(chain, mempool=None)  # type: ignore[arg-type]
    written = threading.Event()

    def commit() -> None:  # as Chain.commit: write the block, then notify under the condition
        written.set()
        with chain.new_block:
            chain.new_block.notify_all()

    def transaction(tx_hash: bytes) -> TxRecord:
        if written.is_set() and lookups:
            return TxRecord(None, 7, 0, b"")  # type: ignore[arg-type]
        lookups.append(tx_hash)
        committer = threading.Thread(target=commit)
        committer.start()
        committer.join(0.2)  # the block lands after this lookup read "waiting" (it can notify only once the waiter waits)
        return TxRecord(None)  # type: ignore[arg-type]

    lookups: list[bytes] = []
    service.transaction = transaction  # type: ignore[method-assign]
    started = time.monotonic()
    record = service.wait_for(b"tx", timeout=30)
    assert record.height == 7 and len(lookups) == 1
    # woken by that block's notification (~0.2 s here), not by the one-second re-check that a lost wake-up falls back on
    assert time.monotonic() - started < 0.9
