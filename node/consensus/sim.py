"""A deterministic network simulator that tries to break consensus.

One schedule = n validators (real :class:`Tendermint` machines with real
secp256k1 keys and signatures) on a simulated network driven by a seeded
``random.Random``: random delays (hence reordering), drops and duplicates and
an optional partition until the global stabilisation time (GST), crashes with
restarts from the WAL, and Byzantine validators that equivocate (conflicting
proposals and votes to different peers), stay silent, or send garbage.
Lagging or restarted nodes catch up with :class:`BlockSync`.

After every schedule the checker looks for violations of
**agreement** (two honest nodes committed different blocks at one height),
**validity** (an honest node committed a block no honest application built),
and **progress** (after GST with at most f faulty, every honest node reached
the target height within the time bound).

The same seed always gives the same schedule: a failing one is reproduced by
the command printed with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import random
from typing import Any, Optional

from node.config import ConsensusParams
from node.consensus.events import (
    BlockVerdict,
    Broadcast,
    Commit,
    Persist,
    ProposalReady,
    ProposalReceived,
    ReportEvidence,
    RequestProposal,
    ScheduleTimeout,
    SyncedCommit,
    TimeoutFired,
    ValidateBlock,
    VoteReceived,
)
from node.consensus.machine import Tendermint
from node.consensus.sync import Applied, ApplyBlock, BlockReceived, BlockSync, CommittedLocally, PeerHeight, RequestFailed, SendRequest
from node.consensus.verify import SignatureCache, check_message, decode_message, encode_message
from node.consensus.wal import MemoryWal
from node.crypto import get_suite
from node.errors import YilianError
from node.types import CommitCertificate, Proposal, Validator, ValidatorSet, Vote, VoteType

BEHAVIOURS = ("equivocate", "silent", "garbage")
SUITE = get_suite("ecdsa")  # SM2 signs at ~4k/s; the simulator signs hundreds of thousands of votes


@dataclasses.dataclass(frozen=True)
class Faults:
    """The fault mix of a schedule."""

    byzantine: int = 0
    behaviour: str = "equivocate"
    drop: float = 0.0
    duplicate: float = 0.0
    partition: bool = False
    crashes: int = 0
    gst_ms: int = 0
    locking: bool = True

    def describe(self) -> str:
        parts = [f"byz={self.byzantine}:{self.behaviour}" if self.byzantine else "byz=0"]
        if self.drop:
            parts.append(f"drop={self.drop}")
        if self.duplicate:
            parts.append(f"dup={self.duplicate}")
        if self.partition:
            parts.append("partition")
        if self.crashes:
            parts.append(f"crashes={self.crashes}")
        if not self.locking:
            parts.append("NO-LOCKING")
        return ",".join(parts)


@dataclasses.dataclass
class Result:
    n: int
    seed: int
    faults: Faults
    heights: int
    violations: list[str]
    committed: dict[int, dict[int, bytes]]
    rounds: list[int]
    sim_time_ms: int
    messages: int
    evidence: int

    @property
    def ok(self) -> bool:
        return not self.violations

    def reproduce(self) -> str:
        f = self.faults
        command = f"yilian simulate --nodes {self.n} --byzantine {f.byzantine} --behaviour {f.behaviour} --seed {self.seed} --heights {self.heights}"
        if f.drop:
            command += f" --drop {f.drop}"
        if f.duplicate:
            command += f" --duplicate {f.duplicate}"
        if f.partition:
            command += " --partition"
        if f.crashes:
            command += f" --crashes {f.crashes}"
        if f.gst_ms:
            command += f" --gst-ms {f.gst_ms}"
        if not f.locking:
            command += " --no-locking"
        return command


PARAMS = ConsensusParams(timeout_propose_ms=300, timeout_prevote_ms=150, timeout_precommit_ms=150, timeout_delta_ms=100)
CHAIN_ID = 6600
DELAY_MS = (1, 40)
GOSSIP_MS = 400
SYNC_TIMEOUT_MS = 500
PROGRESS_MS_PER_HEIGHT = 10_000


class _Node:
    def __init__(self, index: int, key, sim: "Simulation") -> None:  # type: ignore[no-untyped-def]
        self.index = index
        self.key = key
        self.sim = sim
        self.wal = MemoryWal()
        self.cache = SignatureCache()
        self.committed: dict[int, bytes] = {}
        self.certificates: dict[int, CommitCertificate] = {}
        self.alive = True
        self.epoch = 0  # timeouts and answers from before a crash are void
        self.machine: Optional[Tendermint] = None
        self.sync: Optional[BlockSync] = None

    @property
    def next_height(self) -> int:
        return max(self.committed, default=0) + 1

    def boot(self) -> None:
        height = self.next_height
        self.machine = Tendermint(
            chain_id=CHAIN_ID, key=self.key, validators_at=lambda h: self.sim.validators, params=PARAMS,
            height=height, recovered=[m for m in self.wal.records() if m.height >= height], locking=self.sim.faults.locking,
        )
        self.sync = BlockSync(suite=SUITE, chain_id=CHAIN_ID, validators_at=lambda h: self.sim.validators,
                              block_hash_of=lambda block: block, next_height=height)
        self.run(self.machine.start())

    def run(self, actions: list) -> None:  # type: ignore[type-arg]
        sim = self.sim
        for action in actions:
            if isinstance(action, Persist):
                self.wal.append(action.message)
            elif isinstance(action, Broadcast):
                sim.broadcast(self.index, encode_message(action.message))
            elif isinstance(action, ScheduleTimeout):
                sim.schedule(action.duration_ms, "timeout", self.index, (self.epoch, TimeoutFired(action.kind, action.height, action.round)))
            elif isinstance(action, RequestProposal):
                block = sim.new_block(action.height, action.round, self.index)
                sim.schedule(1, "event", self.index, (self.epoch, ProposalReady(action.height, action.round, block)))
            elif isinstance(action, ValidateBlock):
                valid = action.block_hash in sim.valid_blocks
                sim.schedule(1, "event", self.index, (self.epoch, BlockVerdict(action.height, action.block_hash, valid)))
            elif isinstance(action, Commit):
                self.commit(action.height, action.block_hash, action.certificate)
            elif isinstance(action, ReportEvidence):
                sim.evidence += 1

    def commit(self, height: int, block_hash: bytes, certificate: CommitCertificate) -> None:
        if height in self.committed:
            if self.committed[height] != block_hash:
                self.sim.violations.append(
                    f"node {self.index} committed two blocks at height {height}: {self.committed[height].hex()[:12]} and {block_hash.hex()[:12]}"
                )
            return
        self.committed[height] = block_hash
        self.certificates[height] = certificate
        if self.sync is not None:
            self.sync_step(CommittedLocally(height))
        self.wal.prune_below(height + 1)
        self.sim.rounds.append(certificate.round + 1)

    def feed(self, event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, RequestFailed):
            self.sync_step(event)
        elif self.alive and self.machine is not None:
            self.run(self.machine.step(event))

    def receive(self, data: bytes, sender: int) -> None:
        sim = self.sim
        if data[:1] == b"S":  # sync protocol
            self.receive_sync(data, sender)
            return
        try:
            message = sim.decoded.get(data) or decode_message(data)
            check_message(message, suite=SUITE, chain_id=CHAIN_ID, validators=sim.validators, cache=self.cache)
        except (YilianError, ValueError):
            sim.rejected += 1
            return
        sim.decoded[data] = message
        if message.height > self.next_height:
            self.sync_step(PeerHeight(str(sender), message.height - 1))
        self.feed(ProposalReceived(message) if isinstance(message, Proposal) else VoteReceived(message))

    # block sync over the simulated network: "SQ" request, "SB" block + certificate
    def sync_step(self, event) -> None:  # type: ignore[no-untyped-def]
        if self.sync is None:
            return
        for action in self.sync.step(event):
            if isinstance(action, SendRequest):
                self.sim.send(self.index, int(action.peer), b"SQ" + action.height.to_bytes(8, "big"))
                self.sim.schedule(SYNC_TIMEOUT_MS, "event", self.index, (self.epoch, RequestFailed(action.peer, action.height)))
            elif isinstance(action, ApplyBlock):
                if action.height >= self.next_height:
                    self.commit(action.height, action.block, action.certificate)
                    self.feed(SyncedCommit(action.height, action.block))
                self.sync_step(Applied(action.height))

    def receive_sync(self, data: bytes, sender: int) -> None:
        if data[:2] == b"SQ":
            height = int.from_bytes(data[2:10], "big")
            if height in self.certificates:
                self.sim.send(self.index, sender, b"SB" + self.certificates[height].encode())
        elif data[:2] == b"SB":
            try:
                certificate = CommitCertificate.decode(data[2:])
            except (YilianError, ValueError):
                return
            self.sync_step(BlockReceived(str(sender), certificate.height, certificate.block_hash, certificate))


class _Byzantine:
    """A faulty validator: equivocates, stays silent, or sends garbage."""

    def __init__(self, index: int, key, sim: "Simulation", behaviour: str) -> None:  # type: ignore[no-untyped-def]
        self.index, self.key, self.sim, self.behaviour = index, key, sim, behaviour
        self.done: set[tuple] = set()
        self.alive = True

    def receive(self, data: bytes, sender: int) -> None:
        if self.behaviour == "silent" or data[:1] == b"S":
            return
        try:
            message = self.sim.decoded.get(data) or decode_message(data)
        except (YilianError, ValueError):
            return
        if self.behaviour == "garbage":
            self.spray_garbage(message)
        else:
            self.equivocate(message)

    def equivocate(self, message) -> None:  # type: ignore[no-untyped-def]
        """Tell half the network one thing and the other half another, at every height and round it sees."""
        sim = self.sim
        height, round_ = message.height, message.round
        others = [i for i in range(sim.n) if i != self.index]
        if (height, round_) not in self.done:
            self.done.add((height, round_))
            if sim.validators.proposer(height, round_).address == self.key.address:
                a, b = sim.new_block(height, round_, self.index), sim.new_block(height, round_ + 1000, self.index)
                self.split([Proposal(CHAIN_ID, height, round_, value, -1, self.key.address).signed(self.key) for value in (a, b)], others)
        if isinstance(message, Proposal) and ("voted", height, round_, message.block_hash) not in self.done:
            self.done.add(("voted", height, round_, message.block_hash))
            for kind in (VoteType.PREVOTE, VoteType.PRECOMMIT):
                self.split([Vote(CHAIN_ID, kind, height, round_, value, self.key.address).signed(self.key)
                            for value in (message.block_hash, None)], others)

    def split(self, pair: list, others: list[int]) -> None:  # type: ignore[type-arg]
        """Send pair[0] to a random half of ``others`` and pair[1] to the rest."""
        shuffled = list(others)
        self.sim.rng.shuffle(shuffled)
        middle = len(shuffled) // 2
        for position, target in enumerate(shuffled):
            self.sim.send(self.index, target, encode_message(pair[0] if position < middle else pair[1]))

    def spray_garbage(self, seen) -> None:  # type: ignore[no-untyped-def]
        sim = self.sim
        key = (seen.height, seen.round)
        if key in self.done:
            return
        self.done.add(key)
        invalid_block = hashlib.sha256(f"invalid/{sim.seed}/{seen.height}/{seen.round}".encode()).digest()
        forged = Vote(CHAIN_ID, VoteType.PRECOMMIT, seen.height, seen.round, invalid_block,
                      sim.validators.validators[(self.index + 1) % sim.n].address, signature=bytes(65))
        wrong_chain = Vote(CHAIN_ID + 1, VoteType.PREVOTE, seen.height, seen.round, None, self.key.address).signed(self.key)
        for target in range(sim.n):
            if target != self.index:
                sim.send(self.index, target, bytes(sim.rng.getrandbits(8) for _ in range(sim.rng.randint(0, 80))))
                sim.send(self.index, target, encode_message(forged))
                sim.send(self.index, target, encode_message(wrong_chain))


class Simulation:
    def __init__(self, n: int, seed: int, faults: Faults, heights: int = 3, time_limit_ms: int | None = None) -> None:
        if faults.byzantine > (n - 1) // 3 and faults.locking:
            raise YilianError(f"{faults.byzantine} Byzantine of {n} exceeds f = {(n - 1) // 3}; the algorithm promises nothing there")
        # progress bound: after GST every height gets PROGRESS_MS_PER_HEIGHT of simulated time (many rounds' worth)
        limit = time_limit_ms if time_limit_ms is not None else faults.gst_ms + PROGRESS_MS_PER_HEIGHT * heights + 2000
        self.n, self.seed, self.faults, self.heights, self.time_limit_ms = n, seed, faults, heights, limit
        self.rng = random.Random(seed)
        keys = [SUITE.key_from_secret(hashlib.sha256(f"yilian-sim/{seed}/{i}".encode()).digest()) for i in range(n)]
        keys.sort(key=lambda k: k.address)
        self.validators = ValidatorSet.of([Validator(k.address, k.public_key) for k in keys])
        byzantine = set(self.rng.sample(range(n), faults.byzantine))
        self.nodes: list[Any] = [
            _Byzantine(i, keys[i], self, faults.behaviour) if i in byzantine else _Node(i, keys[i], self) for i in range(n)
        ]
        self.honest = [node for node in self.nodes if isinstance(node, _Node)]
        self.valid_blocks: set[bytes] = set()
        self.decoded: dict[bytes, Any] = {}
        self.queue: list = []
        self.counter = 0
        self.now = 0
        self.violations: list[str] = []
        self.rounds: list[int] = []
        self.messages = self.rejected = self.evidence = 0
        honest_ids = [node.index for node in self.honest]
        self.rng.shuffle(honest_ids)
        self.group = {i: (0 if position < len(honest_ids) // 2 else 1) for position, i in enumerate(honest_ids)}
        for i in byzantine:
            self.group[i] = 2  # Byzantine nodes talk to both sides

    def new_block(self, height: int, round_: int, proposer: int) -> bytes:
        """A well-formed block: valid for every application (a Byzantine proposer may propose two of them)."""
        block = hashlib.sha256(f"block/{self.seed}/{height}/{round_}/{proposer}".encode()).digest()
        self.valid_blocks.add(block)
        return block

    def schedule(self, delay_ms: int, kind: str, target: int, payload: Any) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (self.now + delay_ms, self.counter, kind, target, payload))

    def send(self, sender: int, target: int, data: bytes) -> None:
        self.messages += 1
        before_gst = self.now < self.faults.gst_ms
        if before_gst:
            if self.rng.random() < self.faults.drop:
                return
            if self.faults.partition and 2 not in (self.group[sender], self.group[target]) and self.group[sender] != self.group[target]:
                return
        copies = 2 if before_gst and self.rng.random() < self.faults.duplicate else 1
        for _ in range(copies):
            self.schedule(self.rng.randint(*DELAY_MS), "message", target, (sender, data))

    def broadcast(self, sender: int, data: bytes) -> None:
        for target in range(self.n):
            if target != sender:
                self.send(sender, target, data)

    def _plan_crashes(self) -> None:
        candidates = [node.index for node in self.honest]
        self.rng.shuffle(candidates)
        for index in candidates[: self.faults.crashes]:
            down = self.rng.randint(50, max(60, self.faults.gst_ms or 1500))
            self.schedule(down, "crash", index, None)
            self.schedule(down + self.rng.randint(100, 1500), "restart", index, None)

    def run(self) -> Result:
        for node in self.honest:
            node.boot()
            self.schedule(GOSSIP_MS + node.index, "gossip", node.index, None)
        self._plan_crashes()
        while self.queue:
            when, _, kind, target, payload = heapq.heappop(self.queue)
            self.now = when
            if self.now > self.time_limit_ms or self.violations:
                break
            node = self.nodes[target]
            if kind == "message":
                if node.alive:
                    node.receive(payload[1], payload[0])
            elif kind in ("timeout", "event"):
                epoch, event = payload
                if node.alive and epoch == node.epoch:
                    node.feed(event)
            elif kind == "crash":
                node.alive = False
                node.epoch += 1
                node.machine = None
            elif kind == "restart":
                node.alive = True
                node.boot()
            elif kind == "gossip":
                if node.alive and node.machine is not None:
                    for message in node.machine.regossip():
                        self.broadcast(target, encode_message(message))
                self.schedule(GOSSIP_MS, "gossip", target, None)
            if all(len(n.committed) >= self.heights for n in self.honest) and self.now >= self.faults.gst_ms:
                break
        self._check()
        return Result(self.n, self.seed, self.faults, self.heights, self.violations,
                      {node.index: dict(node.committed) for node in self.honest}, self.rounds, self.now, self.messages, self.evidence)

    def _check(self) -> None:
        by_height: dict[int, set[bytes]] = {}
        for node in self.honest:
            for height, block in node.committed.items():
                by_height.setdefault(height, set()).add(block)
                if block not in self.valid_blocks:
                    self.violations.append(f"validity: node {node.index} committed {block.hex()[:12]} at height {height}, which is not a valid proposed block")
        for height, blocks in sorted(by_height.items()):
            if len(blocks) > 1:
                self.violations.append(f"agreement: honest nodes committed {len(blocks)} different blocks at height {height}")
        if self.faults.locking and self.faults.byzantine <= (self.n - 1) // 3:
            behind = [node.index for node in self.honest if len(node.committed) < self.heights]
            if behind:
                self.violations.append(
                    f"progress: nodes {behind} did not reach height {self.heights} within {self.time_limit_ms} ms of simulated time "
                    f"(GST {self.faults.gst_ms} ms)"
                )


def run_schedule(n: int, seed: int, faults: Faults, heights: int = 3, time_limit_ms: int | None = None) -> Result:
    return Simulation(n, seed, faults, heights, time_limit_ms).run()


def random_faults(rng: random.Random, n: int, byzantine: int | None = None) -> Faults:
    """A fault mix drawn from ``rng``: up to f Byzantine nodes (or exactly ``byzantine``), network chaos, crashes."""
    f = (n - 1) // 3
    count = rng.randint(0, f) if byzantine is None else byzantine
    chaos = n > 1 and rng.random() < 0.7  # a lone validator has no network to disturb
    return Faults(
        byzantine=count,
        behaviour=rng.choice(BEHAVIOURS),
        drop=rng.choice([0.0, 0.05, 0.2]) if chaos else 0.0,
        duplicate=rng.choice([0.0, 0.1]) if chaos else 0.0,
        partition=chaos and n >= 4 and rng.random() < 0.3,
        crashes=rng.randint(0, max(0, f - count)) if n >= 4 else 0,
        gst_ms=rng.choice([0, 1000, 3000]) if chaos else 0,
    )
