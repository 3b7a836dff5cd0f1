"""Executing a proposal while its proposer builds it: the messages, and one executor's run of one stream.

A height's proposer executes its block alone before anyone can re-execute it. So, as it starts building, it
sends the other executors of the height (:mod:`node.bft`) a signed *opener* — height, round, parent, block time —
and then, every few milliseconds, the hashes of the transactions that went in so far, numbered. An executor that
checks the opener against the proposer of that height and round applies them from its own pool as they come, in a
strict :class:`~node.execution.executor.BlockRun` on a worker thread; when the block arrives, its validation
continues that run if the run is the block's beginning (same parent, time and proposer, its transactions the
block's first ones) and starts afresh otherwise. Nothing in a stream is trusted: a wrong one costs the work done
ahead, never a wrong verdict. A hash missing from the pool (its transaction not gossiped here yet) stops the run at
that point; the block's own bytes supply the rest.

Wire (on ``/yilian/consensus/1``): ``O`` + msgpack ``[height, round, parent_hash, time_ms, signature]``, the
signature over :func:`opener_signing_bytes`; ``T`` + msgpack ``[height, round, seq, [tx_hash, ...]]``.
"""

from __future__ import annotations

import dataclasses
import queue
from typing import Any

import msgpack

from node.codec import unpack_frame
from node.errors import CodecError, ValidationError

OPENER_DOMAIN = b"yilian-block-opener/1"
STREAM_S = 0.005  # the proposer sends the hashes included so far at most this often


def opener_signing_bytes(chain_id: int, height: int, round_: int, parent_hash: bytes, time_ms: int) -> bytes:
    """What a proposer signs to open a stream: domain-separated from every other signed message."""
    return OPENER_DOMAIN + msgpack.packb([chain_id, height, round_, parent_hash, time_ms])


def encode_opener(key, chain_id: int, height: int, round_: int, parent_hash: bytes, time_ms: int) -> bytes:  # type: ignore[no-untyped-def]
    signature = key.sign(opener_signing_bytes(chain_id, height, round_, parent_hash, time_ms))
    return b"O" + msgpack.packb([height, round_, parent_hash, time_ms, signature])


def encode_chunk(height: int, round_: int, seq: int, hashes: list[bytes]) -> bytes:
    return b"T" + msgpack.packb([height, round_, seq, hashes])


def _unpack(payload: bytes, shape: tuple[type, ...]) -> list[Any]:
    try:
        items = unpack_frame(payload[1:])
    except CodecError as exc:
        raise ValidationError("stream", str(exc)) from None
    if not isinstance(items, list) or len(items) != len(shape) or not all(isinstance(i, t) for i, t in zip(items, shape)):
        raise ValidationError("stream", "malformed opener or chunk")
    return items


def decode_opener(payload: bytes) -> tuple[int, int, bytes, int, bytes]:
    height, round_, parent_hash, time_ms, signature = _unpack(payload, (int, int, bytes, int, bytes))
    return height, round_, parent_hash, time_ms, signature


def decode_chunk(payload: bytes) -> tuple[int, int, int, list[bytes]]:
    height, round_, seq, hashes = _unpack(payload, (int, int, int, list))
    if not all(isinstance(h, bytes) and len(h) == 32 for h in hashes):
        raise ValidationError("stream", "a chunk holds 32-byte transaction hashes")
    return height, round_, seq, hashes


@dataclasses.dataclass(eq=False)
class Stream:
    """One opened stream at an executor: the run fed from it lives on a worker thread (:meth:`feed`)."""

    peer: str
    height: int
    round: int
    parent_hash: bytes
    time_ms: int
    proposer: bytes
    next_seq: int = 0
    inbox: queue.SimpleQueue = dataclasses.field(default_factory=queue.SimpleQueue)  # hash lists; None ends the run
    run: Any = None  # the BlockRun, once begun
    stopped: str = ""  # why the run stopped taking transactions ("" while it takes them)
    done: Any = None  # once the run has begun: a trio.Event set when its worker thread has returned

    def feed(self, begin, lookup) -> None:  # type: ignore[no-untyped-def]
        """Worker thread: begin the run (``begin()``), then apply each announced transaction (``lookup(hash)``, None if
        not in the pool) until the inbox yields None. After a missing transaction or a refused one, the rest is only
        drained: the run is a prefix of the block, and the block's bytes supply the rest."""
        self.run = begin()
        while (hashes := self.inbox.get()) is not None:
            if self.stopped:
                continue
            for tx_hash in hashes:
                tx = lookup(tx_hash)
                if tx is None:
                    self.stopped = f"transaction 0x{tx_hash.hex()[:12]}… is not in the pool yet"
                    break
                try:
                    self.run.add(tx)
                except ValidationError as exc:  # the stream is not the block's: the block's validation starts afresh
                    self.stopped = f"refused: {exc}"
                    self.run = None
                    break
