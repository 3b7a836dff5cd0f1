"""Block sync, sans-IO: fetch committed blocks with their certificates from peers, check, apply in order.

Events: :class:`PeerHeight` (a peer says it has committed up to a height),
:class:`BlockReceived` (a peer's answer), :class:`RequestFailed` (the node's
request timer ran out, or the peer refused), :class:`Applied` (the executor
applied a synced block), :class:`CommittedLocally` (consensus committed a
height by itself). Actions:
:class:`SendRequest`, :class:`ApplyBlock`, :class:`PeerMisbehaved`,
:class:`CaughtUp`.

A block is handed to the executor only when its certificate verifies against
the validator set in force at its height and certifies exactly that block,
and only in height order. A peer that sends a bad certificate is reported.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Union

from node.crypto.suites import Suite
from node.errors import ValidationError
from node.types import CommitCertificate, ValidatorSet

MAX_IN_FLIGHT = 16


@dataclasses.dataclass(frozen=True, slots=True)
class PeerHeight:
    peer: str
    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class BlockReceived:
    peer: str
    height: int
    block: bytes
    certificate: CommitCertificate


@dataclasses.dataclass(frozen=True, slots=True)
class RequestFailed:
    peer: str
    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class Applied:
    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class CommittedLocally:
    """Consensus committed ``height`` itself: sync need not fetch it."""

    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class SendRequest:
    peer: str
    height: int


@dataclasses.dataclass(frozen=True, slots=True)
class ApplyBlock:
    height: int
    block: bytes
    certificate: CommitCertificate


@dataclasses.dataclass(frozen=True, slots=True)
class PeerMisbehaved:
    peer: str
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class CaughtUp:
    height: int


SyncEvent = Union[PeerHeight, BlockReceived, RequestFailed, Applied, CommittedLocally]
SyncAction = Union[SendRequest, ApplyBlock, PeerMisbehaved, CaughtUp]


class BlockSync:
    """Catch up from ``next_height`` to the highest height peers report."""

    def __init__(self, *, suite: Suite, chain_id: int, validators_at: Callable[[int], ValidatorSet],
                 block_hash_of: Callable[[bytes], bytes], next_height: int) -> None:
        self.suite = suite
        self.chain_id = chain_id
        self.validators_at = validators_at
        self.block_hash_of = block_hash_of
        self.next_height = next_height
        self.peer_heights: dict[str, int] = {}
        self.in_flight: dict[int, str] = {}
        self.ready: dict[int, tuple[bytes, CommitCertificate, str]] = {}
        self.applying: int | None = None
        self._turn = 0

    @property
    def target(self) -> int:
        return max(self.peer_heights.values(), default=0)

    @property
    def syncing(self) -> bool:
        return self.target >= self.next_height

    def step(self, event: SyncEvent) -> list[SyncAction]:
        actions: list[SyncAction] = []
        if isinstance(event, PeerHeight):
            self.peer_heights[event.peer] = max(self.peer_heights.get(event.peer, 0), event.height)
        elif isinstance(event, RequestFailed):  # the node's request timer expired, or the peer said no
            if self.in_flight.get(event.height) == event.peer:
                del self.in_flight[event.height]
                self.peer_heights.pop(event.peer, None)
        elif isinstance(event, CommittedLocally):
            if event.height >= self.next_height and self.applying is None:
                self.next_height = event.height + 1
                for height in [h for h in self.in_flight if h <= event.height]:
                    del self.in_flight[height]
                for height in [h for h in self.ready if h <= event.height]:
                    del self.ready[height]
        elif isinstance(event, BlockReceived):
            self._on_block(event, actions)
        elif isinstance(event, Applied):
            if event.height == self.applying:
                self.applying = None
                self.next_height = event.height + 1
                if not self.syncing:
                    actions.append(CaughtUp(self.next_height))
        self._apply_next(actions)
        self._request_more(actions)
        return actions

    def _on_block(self, event: BlockReceived, actions: list[SyncAction]) -> None:
        if self.in_flight.get(event.height) != event.peer:
            return  # unsolicited or late
        del self.in_flight[event.height]
        certificate = event.certificate
        try:
            if certificate.height != event.height:
                raise ValidationError("certificate.height", f"{certificate.height} for a block at {event.height}")
            if certificate.block_hash != self.block_hash_of(event.block):
                raise ValidationError("certificate.block_hash", "does not certify the block sent")
        except ValidationError as exc:
            self._misbehaved(event.peer, f"bad block {event.height}: {exc}", actions)
            return
        # the signatures are checked when the block is next to apply: only then is the validator set of
        # its height known for sure (governance may change it at any height)
        self.ready[event.height] = (event.block, certificate, event.peer)

    def _misbehaved(self, peer: str, reason: str, actions: list[SyncAction]) -> None:
        actions.append(PeerMisbehaved(peer, reason))
        self.peer_heights.pop(peer, None)
        for height in [h for h, p in self.in_flight.items() if p == peer]:
            del self.in_flight[height]  # ask someone else for everything this peer owed us
        for height in [h for h, entry in self.ready.items() if entry[2] == peer]:
            del self.ready[height]

    def _apply_next(self, actions: list[SyncAction]) -> None:
        while self.applying is None and self.next_height in self.ready:
            block, certificate, peer = self.ready.pop(self.next_height)
            try:
                certificate.verify(self.suite, self.validators_at(self.next_height), chain_id=self.chain_id)
            except ValidationError as exc:
                self._misbehaved(peer, f"bad block {self.next_height}: {exc}", actions)
                continue
            self.applying = self.next_height
            actions.append(ApplyBlock(self.next_height, block, certificate))

    def _request_more(self, actions: list[SyncAction]) -> None:
        height = self.next_height
        while height <= self.target and len(self.in_flight) < MAX_IN_FLIGHT:
            if height not in self.in_flight and height not in self.ready and height != self.applying:
                peers = sorted(p for p, h in self.peer_heights.items() if h >= height)
                if not peers:
                    break
                peer = peers[self._turn % len(peers)]
                self._turn += 1
                self.in_flight[height] = peer
                actions.append(SendRequest(peer, height))
            height += 1
