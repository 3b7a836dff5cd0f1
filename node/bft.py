"""The BFT engine of a multi-validator node: consensus machine + libp2p + chain, in one trio thread.

The seam between the two event loops of a node process:

* **asyncio** (uvicorn/FastAPI, main thread) serves the API. Accepted
  transactions go into the thread-safe :class:`~node.mempool.Mempool` and, by
  :meth:`BftEngine.gossip`, onto :attr:`BftEngine.outbox` (a ``queue.SimpleQueue``);
  the first one after a quiet spell also wakes the forwarding task.
* **trio** (this engine's thread) runs libp2p and the consensus driver. One
  task (:meth:`_consume`) takes events from a trio channel and feeds them to
  the sans-IO :class:`Tendermint` machine one at a time, then carries out the
  returned actions in order. Blocking work — executing, validating and
  committing blocks, fsyncing the WAL — runs in ``trio.to_thread`` so the
  network keeps flowing, but the consumer awaits it, so actions never overlap.
  (The one exception: an executor applying a proposal while it is built, on a
  worker thread of its own that only reads the ledger; its validation takes
  the run over once that thread has returned.)

Wire messages on ``/yilian/consensus/1`` are tagged: ``P`` proposal, ``V``
vote (see :mod:`node.consensus.verify`), ``B`` a proposed block's bytes (sent
before its proposal), ``E`` a proposed block's effects (sent after it: the
block hash, its height as 8 bytes, then msgpack of its encoded receipts and
its state writes; nothing more when they would not fit in a frame), ``O`` and
``T`` a block's opener and the hashes of its transactions as its proposer
builds it (:mod:`node.consensus.ahead`, sent to the other executors).
``/yilian/tx/1`` carries raw transactions;
``/yilian/sync/1`` answers ``H`` (status: my height) and ``G`` + height (the
block and its certificate).

Not every validator executes every block. At each height the proposer of round 0
and the next ``f`` in the rotation (``f`` = the faults the set tolerates) are its
*executors*: they build or re-execute each proposal, the others while its
proposer builds it (:mod:`node.consensus.ahead`). The others take
the execution from the proposer's ``E`` message once every executor has voted for
the block (a prevote or precommit, any round): ``f + 1`` validators that executed
it vouch for its header, so at least one honest one did, and the header's
``state_root`` and ``receipt_root`` are the block's true results.
:meth:`~node.execution.executor.Executor.apply_effects` then checks the receipts
and every state write against those roots (nothing is taken on trust but the
roots). An executor that is not connected or whose vote does not come within
two propose timeouts, or effects that do not fit, make the node execute the
block itself; it then
executes every height that executor is to vouch for during the next
:data:`UNVOUCHED_HEIGHTS` heights. Executors never take effects, so a vote that
vouches always stands on an execution. With 4 validators each transaction runs
on 2 of them instead of 4, with 10 on 4.

An idle consortium does not propose a block per round: round 0 of a height
waits (the proposer's build and every validator's propose timer) until a
transaction can go in, or until ``empty_block_interval_ms`` has passed since
the head block, as Tendermint's ``create_empty_blocks = false`` with an
interval (:meth:`BftEngine._idle_round`). The empty blocks that remain keep the
chain's clock moving for contract deadlines.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import statistics
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

import msgpack
import trio

from node.chain import Chain
from node.codec import unpack_frame
from node.config import Genesis
from node.consensus.ahead import STREAM_S, Stream, decode_chunk, decode_opener, encode_chunk, encode_opener, opener_signing_bytes
from node.consensus.events import (
    BlockVerdict, Broadcast, Commit, Persist, ProposalReady, ProposalReceived, ReportEvidence, RequestProposal,
    ScheduleTimeout, SyncedCommit, TimeoutFired, TimeoutKind, ValidateBlock, VoteReceived,
)
from node.consensus.machine import Tendermint
from node.consensus.sync import Applied, ApplyBlock, BlockReceived, BlockSync, CommittedLocally, PeerHeight, PeerMisbehaved, RequestFailed, SendRequest
from node.consensus.verify import SignatureCache, check_message, decode_message, encode_message
from node.consensus.wal import FileWal
from node.crypto.peer_id import P2PIdentity
from node.crypto.suites import PrivateKey
from node.errors import CodecError, ValidationError, YilianError
from node.execution.executor import DOES_NOT_FIT, BlockExecution, EffectsMismatch, InvalidBlock
from node.ledger.db import StorageCorruption
from node.mempool import Mempool
from node.p2p.host import CONSENSUS, DATA, MAX_FRAME, SYNC, TX, MemberHost
from node.types import Block, CommitCertificate, Proposal

log = logging.getLogger("yilian.bft")

STALL_S = 1.0  # regossip and height polls start after the height and round stood still this long, at the least
STALL_MAX_S = 8.0
STALL_HEIGHTS = 3  # ... or this many times the recent heights' median duration, when the chain is slow (see _stall_s)
SYNC_TIMEOUT_S = 5.0
MEMBERSHIP_S = 1.0
MAX_BLOCKS_KEPT = 64
# a gossiped batch this small is checked on the trio thread (~0.1 ms a transaction): a hand-off to a worker thread and
# back costs more CPU than that on a loaded node, and holds the network loop no longer than a few milliseconds
INLINE_TX_BATCH = 16
TX_GOSSIP_S = 0.2  # the least time between two gossiped batches: under load each message costs more than its transactions
# (4 validators on 2 cores, same run: at 120 tx/s p50 757 ms with 50 ms batches, 512 ms with 200 ms; at 50 tx/s 302 vs 357 ms)
COALESCE_MAX = 64  # messages to one peer in one write, at the most
BUILD_SHARE = 0.3  # of the round's propose timeout, the most a proposer spends executing its block
MAX_STREAMS = 4  # proposals executed ahead at once, at most (a proposer in every later round could open one)
UNVOUCHED_HEIGHTS = 16  # after an executor's vote did not come in time, this node executes its heights this long
VOUCH_WAIT_PROPOSE_TIMEOUTS = 2  # how long a node waits for the executors' votes, in propose timeouts (unless one is
# not connected): they re-execute a block its proposer built in a third of one, and may share the cores with others


class EvidenceLog:
    """Equivocation evidence this node saw: two conflicting messages signed by one validator for one height and
    round. Kept in ``<data>/evidence.jsonl`` (one JSON object per line, fsynced), served at ``GET /v1/evidence``
    so that the centers can vote its center out (``yilian governance propose remove-center``); anyone can
    re-check both signatures from the encoded messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[dict] = []
        self._lock = threading.Lock()
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self.items.append(json.loads(line))
                except ValueError:
                    log.warning("skipping an unreadable line of %s (cut short by a crash?)", path)

    def record(self, evidence) -> None:  # type: ignore[no-untyped-def]
        first, second = evidence.first, evidence.second
        item = {"validator": "0x" + evidence.validator.hex(), "height": first.height, "round": first.round,
                "kind": type(first).__name__.lower() if isinstance(first, Proposal) else first.type.name.lower(),
                "first": "0x" + encode_message(first).hex(), "second": "0x" + encode_message(second).hex(),
                "seen_at_ms": int(time.time() * 1000)}
        key = (item["validator"], item["height"], item["round"], item["kind"])
        with self._lock:
            if any((i["validator"], i["height"], i["round"], i["kind"]) == key for i in self.items):
                return
            self.items.append(item)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(item) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        log.warning("EQUIVOCATION: validator %s signed two different %ss at height %d round %d; evidence kept in %s "
                    "and at /v1/evidence; the centers can vote its center out (yilian governance propose remove-center)", item["validator"], item["kind"], item["height"],
                    item["round"], self.path)


def parse_tx_batch(payload: bytes) -> list[bytes]:
    """A ``/yilian/tx/1`` frame: a msgpack list of raw transactions; raises ValidationError on anything else."""
    try:
        batch = unpack_frame(payload)
    except CodecError as exc:
        raise ValidationError("transactions", str(exc)) from None
    if not isinstance(batch, list) or not all(isinstance(raw, bytes) for raw in batch):
        raise ValidationError("transactions", "expected a msgpack list of raw transactions")
    return batch


class BftEngine:
    """Runs consensus for one validator; start with :meth:`start`, stop with :meth:`stop`."""

    def __init__(self, chain: Chain, mempool: Mempool, key: PrivateKey, identity: P2PIdentity, *, listen: tuple[str, int],
                 peers: dict[str, str], wal_path) -> None:  # type: ignore[no-untyped-def]
        genesis: Genesis = chain.genesis
        self.chain, self.mempool, self.key = chain, mempool, key
        self.identity = identity
        self.members = {m.peer_id: m.name for m in genesis.members if m.peer_id}
        joined = identity.peer_id not in self.members  # a center added by governance after genesis
        for peer in peers:
            self.members.setdefault(peer, next((m.name for m in genesis.members if m.peer_id == peer), peer[-8:]))
        self.peer_ids = [p for p in self.members if p != identity.peer_id]
        # dial only peers that sort after us; the others dial us (one connection per pair). A center that joined
        # later dials everyone: the others do not know its address.
        dial = {p: f"{a}/p2p/{p}" for p, a in peers.items() if p > identity.peer_id or joined}
        self.host = MemberHost(identity, self.members, listen, dial)
        self.members = self.host.members  # one dict: the gate and the engine see the same members
        self.wal = FileWal(wal_path)
        self.evidence = EvidenceLog(Path(wal_path).with_name("evidence.jsonl"))
        self.cache = SignatureCache()
        self.outbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._outbox_woken = False  # a wake-up of the forwarder is under way (set from API threads, cleared in trio)
        self._outbox_filled: trio.Event | None = None
        self._arrived: trio.Event | None = None  # set (and replaced) when transactions reach the pool; trio side
        self._idle_until = 0.0  # trio time until which round 0 waits for work: an idle height is not a stalled one
        self._height_began = 0.0  # trio time the current height's work began (its commit, or the end of its idle wait)
        self._height_durations: deque[float] = deque(maxlen=8)  # of the last heights, idle waits left out
        self.blocks: OrderedDict[bytes, bytes] = OrderedDict()  # proposed block bytes by hash
        self.executions: dict[bytes, BlockExecution] = {}
        self.effects: OrderedDict[bytes, bytes] = OrderedDict()  # a proposed block's effects (``E`` payload) by hash
        self.proposals_checked = {"executed": 0, "applied": 0, "unvouched": 0, "effects_refused": 0}  # (metrics)
        self.streams: dict[tuple[int, int], Stream] = {}  # proposals being executed ahead here, by (height, round)
        self.executed_when = {"ahead": 0, "on_arrival": 0}  # transactions of proposals this executor re-executed (metrics)
        self._unvouched: dict[bytes, int] = {}  # executor address → the last height this node executes in its place
        self._peer_of = {m.validator: m.peer_id for m in genesis.members if m.validator and m.peer_id}  # (genesis centers)
        self._progress: trio.Event | None = None  # set (and replaced) after each consensus event and effects arrival
        self.last_error = ""
        self.peer_heights: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._trio_token: Any = None
        self._cancel: trio.CancelScope | None = None

    # -- lifecycle (called from the main thread) ---------------------------------------------

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: trio.run(self._main, ready), name="bft-engine", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise YilianError("the network did not start within 30 s; check the p2p port is free")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop consensus and the network after the current action (a block write completes first)."""
        self._stopping.set()
        if self._trio_token is not None and self._cancel is not None:
            try:
                trio.from_thread.run_sync(self._cancel.cancel, trio_token=self._trio_token)
            except (trio.RunFinishedError, RuntimeError):
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        self.wal.close()

    def gossip(self, raw: bytes) -> None:
        """Queue an accepted transaction for the other centers (thread-safe; called from the API's threads). Only the
        first after the forwarder drained the queue costs a cross-thread wake-up: the forwarder sleeps on an event
        instead of polling (a 5 ms poll was ~200 trio wake-ups a second on an idle node)."""
        self.outbox.put(raw)
        token = self._trio_token
        if not self._outbox_woken and token is not None:
            self._outbox_woken = True
            try:
                token.run_sync_soon(self._wake_forwarder)
            except trio.RunFinishedError:  # the engine stopped: nothing gossips any more
                pass

    def _wake_forwarder(self) -> None:
        if self._outbox_filled is not None:
            self._outbox_filled.set()

    # -- the trio side ----------------------------------------------------------------------------

    async def _main(self, ready: threading.Event) -> None:
        self._trio_token = trio.lowlevel.current_trio_token()
        self._arrived = trio.Event()
        self._progress = trio.Event()
        self.events_in, self.events_out = trio.open_memory_channel[Any](10_000)
        height = self.chain.height + 1
        recovered = [m for m in self.wal.records() if m.height >= height]
        self.machine = Tendermint(chain_id=self.chain.chain_id, key=self.key, validators_at=self.chain.validators_at,
                                  params=self.chain.genesis.consensus, height=height, recovered=recovered)
        self.sync = BlockSync(suite=self.chain.suite, chain_id=self.chain.chain_id, validators_at=self.chain.validators_at,
                              block_hash_of=lambda raw: Block.decode(raw).hash(self.chain.suite), next_height=height)
        self.host.handle(CONSENSUS, self._on_consensus)
        self.host.handle(TX, self._on_tx)
        self.host.handle(SYNC, self._on_sync)
        self.host.handle(DATA, self._on_data)
        with trio.CancelScope() as scope:
            self._cancel = scope
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                await nursery.start(self.host.run)
                # per peer: one queue for consensus and sync traffic, one for transaction batches, so a
                # burst of transactions never delays votes
                self.senders = {}
                self.tx_senders = {}
                for peer in self.peer_ids:
                    send, receive = trio.open_memory_channel[tuple](1000)
                    tx_send, tx_receive = trio.open_memory_channel[tuple](1000)
                    self.senders[peer], self.tx_senders[peer] = send, tx_send
                    nursery.start_soon(self._sender, peer, receive)
                    nursery.start_soon(self._sender, peer, tx_receive)
                log.info("consensus starting at height %d with %d peers configured (%d recovered WAL records)",
                         height, len(self.peer_ids), len(recovered))
                await self.events_in.send(("actions", self.machine.start()))
                nursery.start_soon(self._consume)
                nursery.start_soon(self._regossip)
                nursery.start_soon(self._status)
                nursery.start_soon(self._forward_transactions)
                nursery.start_soon(self._membership)
                ready.set()

    async def _sender(self, peer: str, receive) -> None:  # type: ignore[no-untyped-def]
        """One task per peer: sends in order; a slow or absent peer does not hold up the others. Messages already
        queued for the peer behind the first (a proposal behind its block, votes that piled up while a write was
        under way) go in the same write: frames delimit themselves, and each write through libp2p costs the sender
        a yamux frame, an encryption and a socket call, and the receiver a read."""
        async for protocol, payload in receive:
            groups = [(protocol, [payload])]
            while len(groups) == 1 and len(groups[0][1]) < COALESCE_MAX:
                try:
                    following, more = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):  # (closed when the peer leaves: these still go, then the loop ends)
                    break
                if following == protocol:
                    groups[0][1].append(more)
                else:
                    groups.append((following, [more]))  # another protocol's stream: sent after these
            for group_protocol, payloads in groups:
                if peer not in self.host.connected:
                    continue  # it will catch up by regossip and sync when it is back
                try:
                    await self.host.send(peer, group_protocol, payloads if len(payloads) > 1 else payloads[0])
                except Exception as exc:
                    log.debug("send to %s failed: %s", self.members.get(peer), exc)

    def _broadcast(self, protocol, payload: bytes) -> None:  # type: ignore[no-untyped-def]
        for channel in (self.tx_senders if protocol == TX else self.senders).values():
            try:
                channel.send_nowait((protocol, payload))
            except trio.WouldBlock:
                pass  # the peer is far behind; regossip and sync will cover what it misses

    async def _consume(self) -> None:
        async for kind, item in self.events_out:
            try:
                if kind == "actions":
                    await self._run(item)
                elif kind == "sync":
                    await self._sync_step(item)
                else:
                    await self._run(self.machine.step(item))
                    self._progressed()
                self.last_error = ""
            except Exception as exc:  # keep consensus alive; the error shows in logs and /v1/status
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("consensus step failed")

    async def _feed(self, event) -> None:  # type: ignore[no-untyped-def]
        await self.events_in.send(("event", event))

    async def _run(self, actions: list) -> None:  # type: ignore[type-arg]
        for action in actions:
            if isinstance(action, Persist):
                # on this thread, as Tendermint writes its WAL in its consensus routine: a record and its fsync take
                # ~0.25 ms here, less than handing it to a worker thread and back (2-3 a height on every node)
                self.wal.append(action.message)
            elif isinstance(action, Broadcast):
                message = action.message
                if isinstance(message, Proposal) and message.block_hash in self.blocks:
                    self._broadcast(CONSENSUS, b"B" + self.blocks[message.block_hash])
                self._broadcast(CONSENSUS, encode_message(message))
                if isinstance(message, Proposal):  # its effects, for the validators that do not execute it
                    effects = self.effects.get(message.block_hash)
                    if effects is None and message.block_hash in self.executions:  # (a re-proposal, or a regossip)
                        effects = self.effects[message.block_hash] = await trio.to_thread.run_sync(
                            self._effects_message, self.executions[message.block_hash])
                    if effects is not None:
                        self._broadcast(CONSENSUS, effects)
            elif isinstance(action, ScheduleTimeout):
                self.nursery.start_soon(self._timer, action)
            elif isinstance(action, RequestProposal):
                self.nursery.start_soon(self._build, action)
            elif isinstance(action, ValidateBlock):
                self.nursery.start_soon(self._validate, action)
            elif isinstance(action, Commit):
                await self._commit(action.height, action.block_hash, action.certificate)
            elif isinstance(action, ReportEvidence):
                await trio.to_thread.run_sync(self.evidence.record, action.evidence)

    async def _timer(self, action: ScheduleTimeout) -> None:
        if action.kind == TimeoutKind.PROPOSE and action.round == 0:
            await self._idle_round(action.height)  # nobody times the proposer out while there is nothing to propose
        await trio.sleep(action.duration_ms / 1000)
        await self._feed(TimeoutFired(action.kind, action.height, action.round))

    def _progressed(self) -> None:
        """Wake what waits for votes or effects (:meth:`_take_effects`); trio thread only."""
        assert self._progress is not None
        self._progress.set()
        self._progress = trio.Event()

    def _transactions_arrived(self) -> None:
        """Wake what waits for work (:meth:`_await_work`); trio thread only."""
        assert self._arrived is not None
        self._arrived.set()
        self._arrived = trio.Event()

    async def _idle_round(self, height: int) -> None:
        """Round 0 of ``height``: wait for work (:meth:`_await_work`) until ``empty_block_interval_ms`` after the head
        block was made. The proposer builds only then and every validator starts its propose timer only then, so the
        round does not time out on a proposer that is waiting for work; meanwhile the height is idle, not stalled."""
        interval = self.chain.genesis.consensus.empty_block_interval_ms / 1000
        due = self.chain.head_header().time_ms / 1000 + interval
        deadline = trio.current_time() + min(interval, max(0.0, due - time.time()))  # (a head from a fast clock waits no longer)
        self._idle_until = deadline
        await self._await_work(height, deadline)
        if self._idle_until == deadline:  # (not a later height's wait)
            self._idle_until = 0.0
            self._height_began = trio.current_time()

    async def _await_work(self, height: int, deadline: float) -> None:
        """Return once a transaction can go in (one behind a nonce gap cannot), at trio time ``deadline``, or when the
        height is decided without this node."""
        assert self._arrived is not None
        while self.chain.height + 1 == height and trio.current_time() < deadline:
            arrived = self._arrived  # taken before looking: an arrival after the look sets this one
            if self.mempool.has_ready(self.chain.executor.head_nonce):
                return
            with trio.move_on_at(deadline):
                await arrived.wait()

    async def _build(self, action: RequestProposal) -> None:
        consensus = self.chain.genesis.consensus
        round_s = (consensus.timeout_propose_ms + consensus.timeout_delta_ms * action.round) / 1000
        if action.round == 0:
            await self._idle_round(action.height)
        else:  # wait a little for work, but propose (possibly an empty block) well before the others time out
            await self._await_work(action.height, trio.current_time() + min(round_s / 2, consensus.empty_block_interval_ms / 1000))
        if self.chain.height + 1 != action.height:
            return

        # execute for at most a share of the propose timeout: the others must get the block, re-execute it and
        # vote before the round's timeouts; what is left waits for the next block
        build_s = BUILD_SHARE * round_s
        head = self.chain.head_header()
        time_ms = max(int(time.time() * 1000), head.time_ms + 1)
        peers = self._executor_peers(action.height)  # they execute the block as it is built (node.consensus.ahead)
        included: list[bytes] = []

        def build() -> tuple[BlockExecution, bytes]:
            candidates = self.mempool.ready(self.chain.genesis.consensus.max_block_txs, self.chain.executor.head_nonce)
            execution = self.chain.propose(candidates, time_ms, self.key.address, time.perf_counter() + build_s,
                                           (lambda tx: included.append(tx.hash)) if peers else None)
            permanent = {tx.hash: reason for tx, reason in execution.rejected if not reason.startswith(DOES_NOT_FIT)}
            if permanent:
                self.mempool.remove([tx for tx, _ in execution.rejected if tx.hash in permanent], permanent)
            return execution, self._effects_message(execution)

        started = time.perf_counter()
        finished = trio.Event()
        async with trio.open_nursery() as nursery:
            if peers:
                self._send_to(peers, encode_opener(self.key, self.chain.chain_id, action.height, action.round, head.hash(self.chain.suite), time_ms))
                nursery.start_soon(self._stream_out, peers, action.height, action.round, included, finished)
            try:
                execution, effects = await trio.to_thread.run_sync(build)
            finally:
                finished.set()
        log.debug("built block %d (round %d): %d txs in %.3f s", action.height, action.round, len(execution.transactions),
                  time.perf_counter() - started)
        self._keep(execution.block_hash, execution.block.encode(), execution)
        self.effects[execution.block_hash] = effects
        await self._feed(ProposalReady(action.height, action.round, execution.block_hash))

    def _executor_peers(self, height: int) -> list[str]:
        """The connected peers of the other executors of ``height`` (genesis centers: their peer IDs are known)."""
        return [peer for address in self._executors(height) if address != self.key.address
                and (peer := self._peer_of.get(address)) is not None and peer in self.senders and peer in self.host.connected]

    def _send_to(self, peers: list[str], payload: bytes) -> None:
        for peer in peers:
            try:
                self.senders[peer].send_nowait((CONSENSUS, payload))
            except trio.WouldBlock:
                pass

    async def _stream_out(self, peers: list[str], height: int, round_: int, included: list[bytes], finished: trio.Event) -> None:
        """While the block is built: every :data:`STREAM_S`, the hashes of the transactions that went in since."""
        sent = seq = 0
        while not finished.is_set():
            with trio.move_on_after(STREAM_S):
                await finished.wait()
            count = len(included)  # (appended by the build thread; a list's length is read atomically)
            if count > sent and not finished.is_set():
                self._send_to(peers, encode_chunk(height, round_, seq, included[sent:count]))
                seq, sent = seq + 1, count

    def _on_opener(self, peer: str, payload: bytes) -> None:
        height, round_, parent_hash, time_ms, signature = decode_opener(payload)
        if not self.chain.height < height <= self.chain.height + 2 or (height, round_) in self.streams or len(self.streams) >= MAX_STREAMS:
            return  # (each started stream holds a worker thread until its height is committed)
        if round_ > (self.machine.round + 1 if height == self.machine.height else 0):
            return  # a round far ahead: its proposer would only fill the slots
        proposer = self.chain.validators_at(height).proposer(height, round_)
        if proposer.address == self.key.address or self.key.address not in self._executors(height):
            return
        if not self.chain.suite.verify(proposer.public_key, opener_signing_bytes(self.chain.chain_id, height, round_, parent_hash, time_ms), signature):
            raise ValidationError("opener", f"not signed by the proposer of height {height} round {round_}")
        stream = self.streams[(height, round_)] = Stream(peer, height, round_, parent_hash, time_ms, proposer.address)
        self._start_stream(stream)

    def _on_chunk(self, peer: str, payload: bytes) -> None:
        height, round_, seq, hashes = decode_chunk(payload)
        stream = self.streams.get((height, round_))
        if stream is None or stream.peer != peer:
            return
        if seq != stream.next_seq:
            stream.stopped = stream.stopped or f"chunk {stream.next_seq} did not come"
            return
        stream.next_seq += 1
        stream.inbox.put(hashes)

    def _start_stream(self, stream: Stream) -> None:
        """Begin executing ``stream`` once the node is at its parent (its opener may come just before this node's commit)."""
        if stream.done is not None or stream.height != self.chain.height + 1:
            return
        stream.done = trio.Event()
        head = self.chain.head_header()
        if head.hash(self.chain.suite) != stream.parent_hash:
            stream.stopped = "not on this node's head"
            stream.done.set()
            return
        self.nursery.start_soon(self._feed_stream, stream, head)

    async def _feed_stream(self, stream: Stream, head) -> None:  # type: ignore[no-untyped-def]
        try:
            await trio.to_thread.run_sync(stream.feed, lambda: self.chain.executor.begin(head, stream.time_ms, stream.proposer),
                                          self.mempool.get)
        except Exception as exc:  # noqa: BLE001 - only work done ahead is lost: the block is validated from its parent
            stream.stopped, stream.run = f"failed: {type(exc).__name__}: {exc}", None
            log.debug("executing ahead at height %d stopped: %s", stream.height, stream.stopped)
        finally:
            stream.done.set()

    def _streams_after_commit(self) -> None:
        """End the runs of committed heights; begin those opened for the next one. Drop the effects of committed
        heights."""
        for block_hash in [h for h, payload in self.effects.items() if int.from_bytes(payload[33:41], "big") <= self.chain.height]:
            del self.effects[block_hash]
        for key, stream in list(self.streams.items()):
            if stream.height <= self.chain.height:
                stream.inbox.put(None)
                del self.streams[key]
            else:
                self._start_stream(stream)

    async def _run_ahead(self, block: Block):  # type: ignore[no-untyped-def]
        """The run of ``block`` begun ahead here, ended and handed over (None if there is none)."""
        header = block.header
        for key, stream in list(self.streams.items()):
            if (stream.height, stream.proposer, stream.time_ms, stream.parent_hash) == (header.height, header.proposer, header.time_ms, header.parent_hash) \
                    and stream.done is not None:
                del self.streams[key]
                stream.inbox.put(None)
                await stream.done.wait()
                return stream.run
        return None

    def _keep(self, block_hash: bytes, raw: bytes, execution: BlockExecution | None) -> None:
        self.blocks[block_hash] = raw
        if execution is not None:
            self.executions[block_hash] = execution
        while len(self.blocks) > MAX_BLOCKS_KEPT:
            old, _ = self.blocks.popitem(last=False)
            self.executions.pop(old, None)
        while len(self.effects) > MAX_BLOCKS_KEPT:
            self.effects.popitem(last=False)

    def _effects_message(self, execution: BlockExecution) -> bytes:
        """The ``E`` message of an executed block; without a body when the effects would not fit in a frame (then the
        others execute the block themselves, at once)."""
        head = b"E" + execution.block_hash + execution.block.header.height.to_bytes(8, "big")
        payload = head + msgpack.packb(
            [[receipt.encode() for receipt in execution.receipts], {key[1:]: value for key, value in execution.state_writes.items()}])
        if len(payload) > MAX_FRAME:
            log.debug("the effects of block 0x%s… take %d bytes, over a frame: not sent", execution.block_hash.hex()[:12], len(payload))
            return head
        return payload

    def _executors(self, height: int) -> set[bytes]:
        """The validators that execute every proposal at ``height``: the proposer of round 0 and the next ``f``."""
        validators = self.chain.validators_at(height)
        return {validators.proposer(height, i).address for i in range(validators.max_faulty + 1)}

    async def _take_effects(self, height: int, block_hash: bytes, block: Block) -> BlockExecution | None:
        """The proposal's execution from its effects, once every executor of ``height`` has voted for it; None when
        this node must execute it (it is an executor, an executor is not connected or did not vote in time, the
        effects did not come or do not fit). Raises InvalidBlock for a block that is wrong whatever its effects."""
        executors = self._executors(height)
        if self.key.address in executors or any(self._unvouched.get(a, -1) >= height for a in executors):
            return None
        deadline = trio.current_time() + VOUCH_WAIT_PROPOSE_TIMEOUTS * self.chain.genesis.consensus.timeout_propose_ms / 1000
        while True:
            if self.machine.height != height:
                return None
            missing = executors - self.machine.votes.voted_for(block_hash)
            payload = self.effects.get(block_hash)
            if payload is not None and len(payload) == 41:
                return None  # too big to send: execute it
            if not missing and payload is not None:
                break
            gone = {a for a in missing if a in self._peer_of and self._peer_of[a] not in self.host.connected}
            if gone or trio.current_time() >= deadline:
                self.proposals_checked["unvouched"] += 1
                if missing:
                    for address in missing:
                        self._unvouched[address] = height + UNVOUCHED_HEIGHTS
                    log.info("block %d: no vote from executor%s %s (%s); executing it here, and its heights for the next %d",
                             height, "s" if len(missing) > 1 else "", ", ".join("0x" + a.hex()[:8] + "…" for a in sorted(missing)),
                             "not connected" if gone else "within the wait", UNVOUCHED_HEIGHTS)
                else:
                    log.info("block %d: its effects did not come within the wait; executing it here", height)
                return None
            progress = self._progress
            assert progress is not None
            with trio.move_on_at(deadline):
                await progress.wait()
        try:
            return await trio.to_thread.run_sync(self._apply_effects, block, payload)
        except EffectsMismatch as exc:
            self.proposals_checked["effects_refused"] += 1
            log.warning("the effects sent for block %d do not fit its header (%s); executing it here", height, exc)
            return None

    def _apply_effects(self, block: Block, payload: bytes) -> BlockExecution:
        try:
            receipts, writes = unpack_frame(payload[41:], strict_map_key=False)
        except (CodecError, ValueError, TypeError) as exc:  # (not msgpack; not a pair)
            raise EffectsMismatch("effects", f"not [receipts, writes]: {exc}") from None
        if not (isinstance(receipts, list) and all(isinstance(r, bytes) for r in receipts) and isinstance(writes, dict)
                and all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in writes.items())):
            raise EffectsMismatch("effects", "expected a list of receipts and a map of writes, all bytes")
        return self.chain.executor.apply_effects(block, receipts, writes, self.mempool.checked)

    async def _validate(self, action: ValidateBlock) -> None:
        deadline = trio.current_time() + 5
        while action.block_hash not in self.blocks and trio.current_time() < deadline:
            await trio.sleep(0.01)  # the body travels just ahead of the proposal; allow for reordering
        raw = self.blocks.get(action.block_hash)
        if raw is None:
            log.info("no body for proposed block 0x%s… at height %d", action.block_hash.hex()[:12], action.height)
            await self._feed(BlockVerdict(action.height, action.block_hash, False))
            return
        if action.block_hash in self.executions:
            await self._feed(BlockVerdict(action.height, action.block_hash, True))
            return
        try:
            block = Block.decode(raw)
            if self.chain.height + 1 != action.height or block.header.height != action.height:
                raise InvalidBlock("header.height", f"block {block.header.height} is not next (head {self.chain.height})")
            started = time.perf_counter()
            execution, how = await self._take_effects(action.height, action.block_hash, block), "applied"
            if execution is None:
                run = await self._run_ahead(block)
                ahead = len(run.included) if run is not None else 0  # (counted before the validation continues it)
                execution, how = await trio.to_thread.run_sync(self.chain.validate, block, self.mempool.checked, run), "executed"
                if run is None or not run.finished:  # not the block's beginning: validated from the parent
                    ahead = 0
                self.executed_when["ahead"] += ahead
                self.executed_when["on_arrival"] += len(block.transactions) - ahead
            self.proposals_checked[how] += 1
            log.debug("%s proposed block %d: %d txs in %.3f s", how, action.height, len(block.transactions), time.perf_counter() - started)
            self.executions[action.block_hash] = execution
            valid = True
        except (ValidationError, YilianError) as exc:
            log.warning("proposed block 0x%s… at height %d is invalid: %s", action.block_hash.hex()[:12], action.height, exc)
            valid = False
        await self._feed(BlockVerdict(action.height, action.block_hash, valid))

    async def _commit(self, height: int, block_hash: bytes, certificate: CommitCertificate) -> None:
        execution = self.executions.get(block_hash)
        if execution is None:
            raw = self.blocks.get(block_hash)
            if raw is None:
                raise YilianError(f"committed block 0x{block_hash.hex()} at height {height} is not here; block sync will fetch it")
            execution = await trio.to_thread.run_sync(self.chain.validate, Block.decode(raw), self.mempool.checked)
        await trio.to_thread.run_sync(self._commit_blocking, execution, certificate)
        self.executions.clear()
        self._streams_after_commit()
        now = trio.current_time()
        if self._height_began:
            self._height_durations.append(now - self._height_began)
        self._height_began = now
        await self._sync_step(CommittedLocally(height))

    def _commit_blocking(self, execution: BlockExecution, certificate: CommitCertificate) -> None:
        self.chain.commit(execution, certificate, checked=self.cache.check)  # precommits were verified on arrival
        self.mempool.remove(list(execution.transactions))
        self.mempool.prune(self.chain.executor.head_nonce, execution.block.header.height + 1)
        self.wal.prune_below(execution.block.header.height + 1)
        header = execution.block.header
        log.info("block %d 0x%s… %d txs, round %d", header.height, execution.block_hash.hex()[:12], header.tx_count, certificate.round)

    # -- inbound ------------------------------------------------------------------------------

    async def _on_consensus(self, peer: str, payload: bytes) -> None:
        if payload[:1] == b"O":
            self._on_opener(peer, payload)
            return None
        if payload[:1] == b"T":
            self._on_chunk(peer, payload)
            return None
        if payload[:1] == b"E":
            height = int.from_bytes(payload[33:41], "big")
            if len(payload) >= 41 and payload[1:33] not in self.effects and self.chain.height < height <= self.chain.height + 2:
                self.effects[payload[1:33]] = payload  # (checked when used: _take_effects)
                while len(self.effects) > MAX_BLOCKS_KEPT:
                    self.effects.popitem(last=False)
                self._progressed()
            return None
        if payload[:1] == b"B":
            try:
                block = Block.decode(payload[1:])
            except (YilianError, ValueError) as exc:
                raise ValidationError("block", str(exc)) from None
            if block.header.height >= self.chain.height + 1:
                self._keep(block.hash(self.chain.suite), payload[1:], None)
            return None
        message = decode_message(payload)
        if message.height > self.chain.height + 1:
            # the set of a later height may still change with the blocks before it: check against the
            # set known now, and on a mismatch only take the hint that we are behind
            await self.events_in.send(("sync", PeerHeight(peer, message.height - 1)))
            try:
                check_message(message, suite=self.chain.suite, chain_id=self.chain.chain_id,
                              validators=self.chain.validators_at(message.height), cache=self.cache)
            except ValidationError as exc:
                if exc.field not in ("validator", "proposer"):
                    raise
                log.debug("message for height %d not checkable yet: %s", message.height, exc)
                return None
        else:
            check_message(message, suite=self.chain.suite, chain_id=self.chain.chain_id,
                          validators=self.chain.validators_at(message.height), cache=self.cache)
        await self._feed(ProposalReceived(message) if isinstance(message, Proposal) else VoteReceived(message))
        return None

    async def _on_tx(self, peer: str, payload: bytes) -> None:
        batch = parse_tx_batch(payload)

        def add_all() -> None:
            for raw in batch:
                try:
                    self.mempool.add(raw)
                except YilianError as exc:
                    log.debug("gossiped transaction from %s refused: %s", self.members.get(peer), exc)

        if len(batch) <= INLINE_TX_BATCH:
            add_all()
        else:
            await trio.to_thread.run_sync(add_all)
        self._transactions_arrived()
        return None

    async def _on_sync(self, peer: str, payload: bytes) -> bytes:
        if payload[:1] == b"H":
            return msgpack.packb(self.chain.height)
        if payload[:1] == b"G":
            height = int.from_bytes(payload[1:9], "big")
            try:
                block = self.chain.store.block(height)
                certificate = self.chain.store.certificate(height)
            except StorageCorruption as exc:  # our disk's fault, not the asking peer's: say we do not have it
                log.error("cannot serve block %d to %s: %s", height, self.members.get(peer), exc)
                return msgpack.packb(None)
            if block is None or certificate is None:
                return msgpack.packb(None)
            return msgpack.packb([block.encode(), certificate.encode()])
        raise ValidationError("sync", "unknown request")

    # -- the custodian data service between centers ------------------------------------------

    data_handler = None  # set by the runner: bytes -> bytes (Custodian.handle_p2p), run in a worker thread

    async def _on_data(self, peer: str, payload: bytes) -> bytes:
        handler = self.data_handler
        if handler is None:
            return b'{"problem": {"status": 503, "slug": "no-data-service", "detail": "this center runs no data service"}}'
        return await trio.to_thread.run_sync(handler, payload)

    def request(self, peer: str, payload: bytes, *, timeout: float = 60.0) -> bytes:
        """From any thread: send a data request to ``peer`` and wait for its answer."""
        async def ask() -> bytes:
            with trio.fail_after(timeout):
                answer = await self.host.send(peer, DATA, payload, expect_answer=True)
            return answer or b""

        if self._trio_token is None:
            raise RuntimeError("the network is not running yet")
        return trio.from_thread.run(ask, trio_token=self._trio_token)

    # -- membership: the centers in MemberRegistry are the peers -------------------------------

    def _current_members(self) -> dict[str, str]:
        """Peer ID → name of every active center: genesis centers by the genesis file, later ones by the peer ID
        they registered on chain (``MemberRegistry.setPeerId``)."""
        from node.views import view

        genesis = {m.admin: m.peer_id for m in self.chain.genesis.members if m.peer_id}
        found = {}
        for admin in view(self.chain, "MemberRegistry", "centers"):
            peer = view(self.chain, "MemberRegistry", "peerIdOf", admin) or genesis.get(bytes.fromhex(admin[2:]), "")
            if peer:
                found[peer] = view(self.chain, "MemberRegistry", "members", admin)[2]
        return found

    def _registry_touched(self, after: int, upto: int) -> bool:
        """Whether a block in (after, upto] has a MemberRegistry event (only then can the member list change)."""
        from node.consortium import MEMBER_REGISTRY_ADDRESS

        registry = bytes.fromhex(MEMBER_REGISTRY_ADDRESS.removeprefix("0x"))
        # the log index by address, not the receipts: decoding every receipt of every block once a second was ~1 % of
        # a loaded validator's GIL time (4 validators, 375 tx/s)
        return next(iter(self.chain.store.log_positions(after + 1, upto, [registry])), None) is not None

    async def _membership(self) -> None:
        seen_height = -1
        while True:
            await trio.sleep(MEMBERSHIP_S)
            head = self.chain.height
            if head == seen_height:
                continue
            if seen_height >= 0 and not await trio.to_thread.run_sync(self._registry_touched, seen_height, head):
                seen_height = head
                continue
            seen_height = head
            try:
                current = await trio.to_thread.run_sync(self._current_members)
            except Exception as exc:  # noqa: BLE001 - keep the last known members
                log.debug("reading the members failed: %s", exc)
                continue
            if current:
                await self._apply_members(current)

    async def _apply_members(self, current: dict[str, str]) -> None:
        own = self.identity.peer_id
        for peer, name in current.items():
            if peer in self.members or peer == own:
                continue
            self.members[peer] = name
            self.peer_ids.append(peer)
            send, receive = trio.open_memory_channel[tuple](1000)
            tx_send, tx_receive = trio.open_memory_channel[tuple](1000)
            self.senders[peer], self.tx_senders[peer] = send, tx_send
            self.nursery.start_soon(self._sender, peer, receive)
            self.nursery.start_soon(self._sender, peer, tx_receive)
            log.info("center %s joined the consortium network (peer %s)", name, peer)
        for peer in [p for p in self.members if p not in current and p != own]:
            name = self.members.pop(peer)
            if peer in self.peer_ids:
                self.peer_ids.remove(peer)
            for channels in (self.senders, self.tx_senders):
                channel = channels.pop(peer, None)
                if channel is not None:
                    await channel.aclose()
            log.info("center %s is no longer a member; disconnecting peer %s", name, peer)
            try:
                from libp2p.peer.id import ID

                await self.host.host.disconnect(ID.from_base58(peer))
            except Exception as exc:  # noqa: BLE001 - it may not be connected
                log.debug("disconnecting %s: %s", peer, exc)

    # -- periodic ----------------------------------------------------------------------------

    async def _regossip(self) -> None:
        """Send this height's messages again while the height makes no progress (a lost message, a peer that
        reconnected); a chain that commits needs none of it. The pause doubles (1, 2, 4, 8 s) while it stays
        stuck: on an overloaded network, resending every vote to every peer each second is what keeps it stuck."""
        async for _ in self._while_stalled():
            await self.events_in.send(("actions", [Broadcast(m) for m in self.machine.regossip()]))

    async def _status(self) -> None:
        """Ask every peer its height while this node's height stands still (a node that commits is not behind;
        consensus messages for later heights also tell it when it is); same backoff as :meth:`_regossip`."""
        async for _ in self._while_stalled():
            for peer in list(self.host.connected):
                self.nursery.start_soon(self._ask_height, peer)

    async def _while_stalled(self):  # type: ignore[no-untyped-def]
        """Yields each time the height and round have not moved for a while: after 1 s, then 2, 4 and every 8 s.
        Waiting for work (:meth:`_idle_round`) is not standing still: on 10 idle validators, asking 9 peers their
        height twice per empty block cost each node more CPU than the blocks did (a node that falls behind still
        hears of it from the next height's messages)."""
        seen, pause = None, STALL_S
        while True:
            await trio.sleep(pause)
            now = (self.machine.height, self.machine.round)
            if now != seen or trio.current_time() < self._idle_until:
                seen, pause = now, self._stall_s()
                continue
            yield
            pause = min(pause * 2, STALL_MAX_S)

    def _stall_s(self) -> float:
        """How long a height and round must stand still to count as stalled: :data:`STALL_S`, or
        :data:`STALL_HEIGHTS` times the median of the last heights' durations when the chain is that slow (at most
        :data:`STALL_MAX_S`). On an overloaded network every height is slow, and resending each vote to every peer
        and asking each peer its height once per height made it slower still: 10 validators on 2 cores at 60 tx/s
        had p50 3.9-11 s, 7-11 blocks in 20 s and failed rounds with a fixed 1 s; 1.0-2.3 s, 18-39 blocks and
        none with this threshold."""
        if not self._height_durations:
            return STALL_S
        return min(STALL_MAX_S, max(STALL_S, STALL_HEIGHTS * statistics.median(self._height_durations)))

    async def _ask_height(self, peer: str) -> None:
        try:
            with trio.fail_after(SYNC_TIMEOUT_S):
                answer = await self.host.send(peer, SYNC, b"H", expect_answer=True)
            height = msgpack.unpackb(answer)
            if isinstance(height, int):
                self.peer_heights[peer] = height
                if height > self.chain.height:
                    await self.events_in.send(("sync", PeerHeight(peer, height)))
        except Exception as exc:
            log.debug("status from %s failed: %s", self.members.get(peer), exc)

    async def _sync_step(self, event) -> None:  # type: ignore[no-untyped-def]
        for action in self.sync.step(event):
            if isinstance(action, SendRequest):
                self.nursery.start_soon(self._fetch, action.peer, action.height)
            elif isinstance(action, ApplyBlock):
                if action.height == self.chain.height + 1:
                    block = Block.decode(action.block)
                    execution = await trio.to_thread.run_sync(self.chain.validate, block, self.mempool.checked)
                    await trio.to_thread.run_sync(self._commit_blocking, execution, action.certificate)
                    self.executions.clear()
                    self._streams_after_commit()
                    log.info("synced block %d from a peer", action.height)
                    await self._run(self.machine.step(SyncedCommit(action.height, action.certificate.block_hash)))
                await self._sync_step(Applied(action.height))
            elif isinstance(action, PeerMisbehaved):
                log.warning("peer %s sent a bad block: %s", self.members.get(action.peer), action.reason)

    async def _fetch(self, peer: str, height: int) -> None:
        try:
            with trio.fail_after(SYNC_TIMEOUT_S):
                answer = await self.host.send(peer, SYNC, b"G" + height.to_bytes(8, "big"), expect_answer=True)
            decoded = msgpack.unpackb(answer)
            if decoded is None:
                raise YilianError("peer does not have it")
            raw, certificate = decoded
            await self.events_in.send(("sync", BlockReceived(peer, height, raw, CommitCertificate.decode(certificate))))
        except Exception as exc:
            log.debug("fetching block %d from %s failed: %s", height, self.members.get(peer), exc)
            await self.events_in.send(("sync", RequestFailed(peer, height)))

    async def _forward_transactions(self) -> None:
        """Gossip transactions accepted by this node's API to every peer (full mesh: no relaying needed): a
        transaction arriving after a quiet spell goes out at once (:meth:`gossip` wakes this task), and under load
        one batch leaves every :data:`TX_GOSSIP_S` at most, however many transactions it holds."""
        while True:
            self._outbox_filled = trio.Event()
            self._outbox_woken = False  # before looking: a transaction queued after this line wakes the next wait
            if self.outbox.empty():
                await self._outbox_filled.wait()
            batch: list[bytes] = []
            while len(batch) < 2000:
                try:
                    batch.append(self.outbox.get_nowait())
                except queue.Empty:
                    break
            if batch:  # (none after a stale wake-up: then wait again at once)
                self._transactions_arrived()  # this node's own submissions are in its pool already
                self._broadcast(TX, msgpack.packb(batch))
                await trio.sleep(TX_GOSSIP_S)
