"""Tendermint (Buchman, Kwon, Milosevic 2018, "The latest gossip on BFT consensus", Algorithm 1).

:class:`Tendermint` is one validator's consensus state for the current height.
It is sans-IO: :meth:`Tendermint.step` takes an event and returns the actions
to carry out, in order. Comments cite the paper's line numbers.

Values are block hashes; the node holds the block bodies. ``valid(v)`` is
asked of the application with :class:`ValidateBlock` and answered with
:class:`BlockVerdict`; rules that need it wait for the answer.

Deviations, each on the safe side:

* A proposer also schedules ``timeoutPropose`` (if its application is slow to
  build a block, the round moves on).
* ``timeoutPropose`` does not fire while the round's proposal is here and its
  ``valid(v)`` is still being computed: the paper evaluates ``valid(v)`` at
  once, and a block that takes longer to re-execute than the timeout would
  otherwise never be accepted (every round would prevote nil on it). Only
  liveness is at stake: the answer always comes (the node gives up on a
  missing body after a few seconds), and the block gas limit bounds the work.
* Line 49 fires on +2/3 precommits for ``v`` once ``v`` is known valid, even
  if the PROPOSAL message itself was missed (the node fetches the body);
  safety rests on the precommit quorum, not on the proposal.
* Every own vote is recorded (``Persist``) before it is broadcast, and after
  a restart the recorded vote is re-sent instead of signing anew, so a crash
  can never make this validator equivocate.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional, Union

from node.config import ConsensusParams
from node.consensus.events import (
    Action,
    BlockVerdict,
    Broadcast,
    Commit,
    Event,
    Evidence,
    Persist,
    ProposalReady,
    ProposalReceived,
    ReportEvidence,
    RequestProposal,
    ScheduleTimeout,
    Step,
    SyncedCommit,
    TimeoutFired,
    TimeoutKind,
    ValidateBlock,
    VoteReceived,
)
from node.consensus.votes import HeightVotes
from node.crypto.suites import PrivateKey
from node.types import CommitCertificate, Proposal, ValidatorSet, Vote, VoteType

FUTURE_HEIGHTS = 2  # messages up to this many heights ahead are kept for later


class Tendermint:
    """One validator's consensus machine.

    Parameters:
        chain_id: the chain every signed message names.
        key: this validator's signing key (its ``address`` must be a validator).
        validators_at: the validator set in force at a height.
        params: timeouts (``timeout_*_ms``; each grows by ``timeout_delta_ms`` per round).
        height: the first height to decide (the ledger's head + 1).
        recovered: own proposals and votes from the WAL (after a restart).
        locking: False disables locking (the lock checks of lines 22/28 and
            re-proposing validValue, line 15) — only to show that the
            simulator's agreement check catches a broken algorithm.
    """

    def __init__(
        self,
        *,
        chain_id: int,
        key: PrivateKey,
        validators_at: Callable[[int], ValidatorSet],
        params: ConsensusParams,
        height: int,
        recovered: Iterable[Union[Proposal, Vote]] = (),
        locking: bool = True,
    ) -> None:
        self.chain_id = chain_id
        self.key = key
        self.address = key.address
        self.validators_at = validators_at
        self.params = params
        self.locking = locking
        self.signed: dict[tuple, Union[Proposal, Vote]] = {}
        for message in recovered:
            self.signed[self._signed_key(message)] = message
        self.future: dict[int, list[Event]] = {}
        self.evidence: list[Evidence] = []
        self.decisions: dict[int, bytes] = {}
        self._reset(height)

    # -- bookkeeping ------------------------------------------------------------------------

    @staticmethod
    def _signed_key(message: Union[Proposal, Vote]) -> tuple:
        if isinstance(message, Proposal):
            return ("proposal", message.height, message.round)
        return ("vote", message.height, message.round, int(message.type))

    def _reset(self, height: int) -> None:
        self.height = height
        self.validators = self.validators_at(height)
        self.round = 0
        self.step_p = Step.PROPOSE
        self.locked_value: Optional[bytes] = None
        self.locked_round = -1
        self.valid_value: Optional[bytes] = None
        self.valid_round = -1
        self.proposals: dict[int, Proposal] = {}
        self.verdicts: dict[bytes, bool] = {}
        self.asked: set[bytes] = set()
        self.votes = HeightVotes(height, self.validators)
        self.prevote_timeout_rounds: set[int] = set()
        self.precommit_timeout_rounds: set[int] = set()
        self.line36_rounds: set[int] = set()
        self.awaiting_value: Optional[tuple[int, int]] = None
        self.propose_deferred: set[int] = set()
        for key in [k for k in self.signed if k[1] < height - 1]:
            del self.signed[key]  # the WAL keeps them; the machine needs only recent ones

    def _timeout(self, kind: TimeoutKind) -> ScheduleTimeout:
        base = {
            TimeoutKind.PROPOSE: self.params.timeout_propose_ms,
            TimeoutKind.PREVOTE: self.params.timeout_prevote_ms,
            TimeoutKind.PRECOMMIT: self.params.timeout_precommit_ms,
        }[kind]
        return ScheduleTimeout(kind, self.height, self.round, base + self.params.timeout_delta_ms * self.round)

    @property
    def quorum(self) -> int:
        return self.validators.quorum

    # -- entry points -------------------------------------------------------------------------

    def start(self) -> list[Action]:
        """Begin the current height at round 0."""
        actions: list[Action] = []
        self._start_round(0, actions)
        self._evaluate(actions)
        return actions

    def step(self, event: Event) -> list[Action]:
        """Process one event; returns the actions to carry out in order."""
        actions: list[Action] = []
        self._handle(event, actions)
        self._evaluate(actions)
        self._settle_deferred(actions)
        return actions

    def _settle_deferred(self, actions: list[Action]) -> None:
        """A propose timeout held back while valid(v) was computed takes effect once the verdict is in, if no
        rule prevoted on it (e.g. a re-proposal whose polka this validator has not seen)."""
        if self.round not in self.propose_deferred or self.step_p != Step.PROPOSE:
            return
        proposal = self.proposals.get(self.round)
        if proposal is None or proposal.block_hash in self.verdicts:
            self.propose_deferred.discard(self.round)
            self._vote(VoteType.PREVOTE, None, actions)
            self.step_p = Step.PREVOTE
            self._evaluate(actions)

    def _handle(self, event: Event, actions: list[Action]) -> None:
        if isinstance(event, ProposalReceived):
            self._on_proposal(event.proposal, actions)
        elif isinstance(event, VoteReceived):
            self._on_vote(event.vote, actions)
        elif isinstance(event, TimeoutFired):
            self._on_timeout(event, actions)
        elif isinstance(event, ProposalReady):
            self._on_value(event, actions)
        elif isinstance(event, BlockVerdict):
            if event.height == self.height:
                self.verdicts[event.block_hash] = event.valid
        elif isinstance(event, SyncedCommit):
            if event.height >= self.height:
                self.decisions[event.height] = event.block_hash
                self._advance(event.height + 1, actions)

    def _defer(self, height: int, event: Event) -> bool:
        """Keep messages of the next heights; drop older ones. True when the event is not for now."""
        if height == self.height:
            return False
        if self.height < height <= self.height + FUTURE_HEIGHTS:
            self.future.setdefault(height, []).append(event)
        return True

    def _on_proposal(self, proposal: Proposal, actions: list[Action]) -> None:
        if proposal.chain_id != self.chain_id or self._defer(proposal.height, ProposalReceived(proposal)):
            return
        if proposal.proposer != self.validators.proposer(proposal.height, proposal.round).address:
            return  # only proposer(h, r) may propose (the node's check_message already refuses others)
        earlier = self.proposals.get(proposal.round)
        if earlier is not None:
            if earlier.block_hash != proposal.block_hash or earlier.pol_round != proposal.pol_round:
                self._report(Evidence(proposal.proposer, earlier, proposal), actions)
            return
        self.proposals[proposal.round] = proposal
        self._ask_validity(proposal.block_hash, actions)

    def _on_vote(self, vote: Vote, actions: list[Action]) -> None:
        if vote.chain_id != self.chain_id or self._defer(vote.height, VoteReceived(vote)):
            return
        counted, evidence = self.votes.add(vote)
        if evidence is not None:
            self._report(evidence, actions)

    def _report(self, evidence: Evidence, actions: list[Action]) -> None:
        self.evidence.append(evidence)
        actions.append(ReportEvidence(evidence))

    def _ask_validity(self, block_hash: bytes, actions: list[Action]) -> None:
        if block_hash not in self.verdicts and block_hash not in self.asked:
            self.asked.add(block_hash)
            actions.append(ValidateBlock(self.height, block_hash))

    def _on_value(self, event: ProposalReady, actions: list[Action]) -> None:
        if (event.height, event.round) != (self.height, self.round) or self.awaiting_value != (event.height, event.round):
            return
        self.awaiting_value = None
        self.verdicts[event.block_hash] = True  # our own application built it
        self._propose(event.block_hash, -1, actions)

    # -- lines 11-21: StartRound ------------------------------------------------------------------

    def _start_round(self, round_: int, actions: list[Action]) -> None:
        self.round = round_
        self.step_p = Step.PROPOSE
        if self.validators.proposer(self.height, round_).address == self.address:
            recorded = self.signed.get(("proposal", self.height, round_))
            if recorded is not None:  # restarted after proposing: re-send the same proposal
                self._propose(recorded.block_hash, recorded.pol_round, actions)  # type: ignore[union-attr]
            elif self.valid_value is not None and self.locking:  # line 15
                self._propose(self.valid_value, self.valid_round, actions)
            else:  # line 18: getValue()
                self.awaiting_value = (self.height, round_)
                actions.append(RequestProposal(self.height, round_))
        actions.append(self._timeout(TimeoutKind.PROPOSE))  # line 21 (for the proposer too)

    def _propose(self, block_hash: bytes, pol_round: int, actions: list[Action]) -> None:
        key = ("proposal", self.height, self.round)
        proposal = self.signed.get(key)
        if proposal is None:
            proposal = Proposal(self.chain_id, self.height, self.round, block_hash, pol_round, self.address).signed(self.key)
            self.signed[key] = proposal
            actions.append(Persist(proposal))
        actions.append(Broadcast(proposal))
        self._on_proposal(proposal, actions)  # line 19: broadcast includes ourselves

    def _vote(self, kind: VoteType, value: Optional[bytes], actions: list[Action]) -> None:
        key = ("vote", self.height, self.round, int(kind))
        vote = self.signed.get(key)
        if vote is None:
            vote = Vote(self.chain_id, kind, self.height, self.round, value, self.address).signed(self.key)
            self.signed[key] = vote
            actions.append(Persist(vote))
        # after a restart `vote` may differ from `value`: the recorded vote is what we said, and stays
        actions.append(Broadcast(vote))
        self.votes.add(vote)

    def regossip(self) -> list[Union[Proposal, Vote]]:
        """What to send again so that peers eventually hear it (call periodically).

        The paper assumes gossip eventually delivers every correct message; over
        a lossy link that takes relaying, as CometBFT's gossip routines do. This
        returns this height's own messages, every vote of the last two rounds,
        the prevotes of any round with a +2/3 polka (a peer locked on another
        value needs them to unlock, lines 28-33) and the proposals of those rounds.
        """
        messages: list[Union[Proposal, Vote]] = [m for k, m in sorted(self.signed.items(), key=lambda kv: kv[0]) if k[1] == self.height]
        for r in sorted(self.votes.rounds()):
            prevotes = self.votes.round_votes(r, VoteType.PREVOTE)
            polka = any(value is not None and count >= self.quorum for value, count in prevotes.count.items())
            if r >= self.round - 1 or polka:
                for kind in (VoteType.PREVOTE, VoteType.PRECOMMIT) if r >= self.round - 1 else (VoteType.PREVOTE,):
                    for votes in self.votes.round_votes(r, kind).by_value.values():
                        messages.extend(v for v in votes.values() if v.validator != self.address)
                proposal = self.proposals.get(r)
                if proposal is not None and proposal.proposer != self.address:
                    messages.append(proposal)
        proposal = self.proposals.get(self.round)
        if proposal is not None and proposal.proposer != self.address and proposal not in messages:
            messages.append(proposal)
        return messages

    # -- timeouts: lines 57-66 ---------------------------------------------------------------------

    def _on_timeout(self, event: TimeoutFired, actions: list[Action]) -> None:
        if event.height != self.height or event.round != self.round:
            return
        if event.kind == TimeoutKind.PROPOSE and self.step_p == Step.PROPOSE:  # line 57
            proposal = self.proposals.get(self.round)
            if proposal is not None and proposal.block_hash in self.asked and proposal.block_hash not in self.verdicts:
                self.propose_deferred.add(self.round)  # valid(v) is being computed: see _settle_deferred
                return
            self._vote(VoteType.PREVOTE, None, actions)
            self.step_p = Step.PREVOTE
        elif event.kind == TimeoutKind.PREVOTE and self.step_p == Step.PREVOTE:  # line 61
            self._vote(VoteType.PRECOMMIT, None, actions)
            self.step_p = Step.PRECOMMIT
        elif event.kind == TimeoutKind.PRECOMMIT:  # line 65
            self._start_round(self.round + 1, actions)

    # -- the "upon" rules, evaluated until none fires ------------------------------------------------

    def _evaluate(self, actions: list[Action]) -> None:
        while self._fire_one(actions):
            pass

    def _fire_one(self, actions: list[Action]) -> bool:
        height, round_ = self.height, self.round
        prevotes = self.votes.round_votes(round_, VoteType.PREVOTE)
        precommits = self.votes.round_votes(round_, VoteType.PRECOMMIT)
        proposal = self.proposals.get(round_)

        # lines 49-54: +2/3 precommits for a valid v in any round decide v
        for r in sorted(self.votes.rounds()):
            commits = self.votes.round_votes(r, VoteType.PRECOMMIT)
            for value, count in list(commits.count.items()):
                if value is None or count < self.quorum:
                    continue
                verdict = self.verdicts.get(value)
                if verdict is None:
                    self._ask_validity(value, actions)
                    continue
                if verdict:
                    certificate = CommitCertificate.from_votes(commits.votes_for(value))
                    self.decisions[height] = value
                    actions.append(Commit(height, value, certificate))
                    self._advance(height + 1, actions)
                    return True

        if self.step_p == Step.PROPOSE and proposal is not None:
            v = proposal.block_hash
            verdict = self.verdicts.get(v)
            if verdict is not None:
                if proposal.pol_round == -1:  # lines 22-27
                    ok = verdict and (not self.locking or self.locked_round == -1 or self.locked_value == v)
                    self._vote(VoteType.PREVOTE, v if ok else None, actions)
                    self.step_p = Step.PREVOTE
                    return True
                vr = proposal.pol_round
                if 0 <= vr < round_ and self.votes.round_votes(vr, VoteType.PREVOTE).for_value(v) >= self.quorum:  # lines 28-33
                    ok = verdict and (not self.locking or self.locked_round <= vr or self.locked_value == v)
                    self._vote(VoteType.PREVOTE, v if ok else None, actions)
                    self.step_p = Step.PREVOTE
                    return True

        if self.step_p == Step.PREVOTE and prevotes.total() >= self.quorum and round_ not in self.prevote_timeout_rounds:  # line 34
            self.prevote_timeout_rounds.add(round_)
            actions.append(self._timeout(TimeoutKind.PREVOTE))
            return True

        if proposal is not None and self.step_p >= Step.PREVOTE and round_ not in self.line36_rounds:  # lines 36-43
            v = proposal.block_hash
            if self.verdicts.get(v) and prevotes.for_value(v) >= self.quorum:
                self.line36_rounds.add(round_)
                if self.step_p == Step.PREVOTE:
                    self.locked_value, self.locked_round = v, round_
                    self._vote(VoteType.PRECOMMIT, v, actions)
                    self.step_p = Step.PRECOMMIT
                self.valid_value, self.valid_round = v, round_
                return True

        if self.step_p == Step.PREVOTE and prevotes.for_value(None) >= self.quorum:  # lines 44-46
            self._vote(VoteType.PRECOMMIT, None, actions)
            self.step_p = Step.PRECOMMIT
            return True

        if precommits.total() >= self.quorum and round_ not in self.precommit_timeout_rounds:  # lines 47-48
            self.precommit_timeout_rounds.add(round_)
            actions.append(self._timeout(TimeoutKind.PRECOMMIT))
            return True

        # lines 55-56: f+1 validators already in a higher round: skip to it
        for r in sorted(self.votes.rounds(), reverse=True):
            if r <= round_:
                break
            senders = self.votes.senders_in_round(r)
            if r in self.proposals:
                senders.add(self.proposals[r].proposer)
            if len(senders) >= self.validators.max_faulty + 1:
                self._start_round(r, actions)
                return True
        return False

    def _advance(self, height: int, actions: list[Action]) -> None:
        """Lines 54/10: move to ``height``, round 0, and replay what arrived early for it."""
        self._reset(height)
        self._start_round(0, actions)
        for event in self.future.pop(height, []):
            self._handle(event, actions)
        for old in [h for h in self.future if h < height]:
            del self.future[old]

