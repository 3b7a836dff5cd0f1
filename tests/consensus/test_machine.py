"""The Tendermint machine fed events by hand: happy path, timeouts, locks, evidence, restart without double signing."""

from __future__ import annotations

import hashlib

import pytest

from node.config import ConsensusParams
from node.consensus.events import (
    BlockVerdict, Broadcast, Commit, Persist, ProposalReady, ProposalReceived, ReportEvidence, RequestProposal,
    ScheduleTimeout, Step, TimeoutFired, TimeoutKind, ValidateBlock, VoteReceived,
)
from node.consensus.machine import Tendermint
from node.consensus.verify import SignatureCache, check_message, decode_message, encode_message
from node.crypto import get_suite
from node.errors import ValidationError
from node.types import Proposal, Validator, ValidatorSet, Vote, VoteType

SUITE = get_suite("ecdsa")
PARAMS = ConsensusParams(timeout_propose_ms=1000, timeout_prevote_ms=500, timeout_precommit_ms=500, timeout_delta_ms=250)
A = hashlib.sha256(b"A").digest()
B = hashlib.sha256(b"B").digest()


@pytest.fixture
def keys():
    keys = sorted((SUITE.key_from_secret(hashlib.sha256(bytes([i])).digest()) for i in range(4)), key=lambda k: k.address)
    return keys


@pytest.fixture
def validators(keys) -> ValidatorSet:
    return ValidatorSet.of([Validator(k.address, k.public_key) for k in keys])


def machine(key, validators, **kwargs) -> Tendermint:
    return Tendermint(chain_id=1, key=key, validators_at=lambda h: validators, params=PARAMS, height=kwargs.pop("height", 1), **kwargs)


def vote(key, kind, value, round_=0, height=1) -> Vote:
    return Vote(1, kind, height, round_, value, key.address).signed(key)


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def test_happy_path_commits_with_a_certificate(keys, validators) -> None:
    proposer = validators.proposer(1, 0).address
    me = next(k for k in keys if k.address != proposer)
    others = [k for k in keys if k.address not in (proposer, me.address)]
    pkey = next(k for k in keys if k.address == proposer)
    m = machine(me, validators)
    start = m.start()
    assert of(start, ScheduleTimeout)[0].duration_ms == 1000 and not of(start, RequestProposal)
    proposal = Proposal(1, 1, 0, A, -1, proposer).signed(pkey)
    actions = m.step(ProposalReceived(proposal))
    assert of(actions, ValidateBlock) == [ValidateBlock(1, A)] and m.step_p == Step.PROPOSE
    actions = m.step(BlockVerdict(1, A, True))  # line 22: prevote A
    persisted, sent = of(actions, Persist), of(actions, Broadcast)
    assert persisted[0].message == sent[0].message and sent[0].message.block_hash == A
    assert actions.index(persisted[0]) < actions.index(sent[0])  # recorded before it is sent
    for k in (pkey, others[0]):
        actions = m.step(VoteReceived(vote(k, VoteType.PREVOTE, A)))
    assert m.locked_value == A and m.locked_round == 0 and m.step_p == Step.PRECOMMIT  # line 36
    assert of(actions, Broadcast)[-1].message.type == VoteType.PRECOMMIT
    m.step(VoteReceived(vote(pkey, VoteType.PRECOMMIT, A)))
    actions = m.step(VoteReceived(vote(others[0], VoteType.PRECOMMIT, A)))
    (commit,) = of(actions, Commit)
    assert commit.height == 1 and commit.block_hash == A
    commit.certificate.verify(SUITE, validators, chain_id=1)
    assert m.height == 2 and m.round == 0


def test_timeouts_grow_per_round_and_nil_path_moves_rounds(keys, validators) -> None:
    me = next(k for k in keys if k.address != validators.proposer(1, 0).address and k.address != validators.proposer(1, 1).address)
    m = machine(me, validators)
    m.start()
    actions = m.step(TimeoutFired(TimeoutKind.PROPOSE, 1, 0))  # line 57: prevote nil
    assert of(actions, Broadcast)[0].message.block_hash is None and m.step_p == Step.PREVOTE
    others = [k for k in keys if k.address != me.address]
    for k in others[:2]:
        actions = m.step(VoteReceived(vote(k, VoteType.PREVOTE, None)))
    assert m.step_p == Step.PRECOMMIT  # line 44: +2/3 nil prevotes
    for k in others[:2]:
        actions = m.step(VoteReceived(vote(k, VoteType.PRECOMMIT, None)))
    assert of(actions, ScheduleTimeout)[0].kind == TimeoutKind.PRECOMMIT  # line 47
    actions = m.step(TimeoutFired(TimeoutKind.PRECOMMIT, 1, 0))  # line 65
    assert m.round == 1 and of(actions, ScheduleTimeout)[0].duration_ms == 1000 + 250


def test_propose_timeout_waits_for_the_verdict_on_a_proposal_being_validated(keys, validators) -> None:
    """A block that takes longer to re-execute than timeoutPropose is still voted for once it checks out."""
    proposer = validators.proposer(1, 0).address
    pkey = next(k for k in keys if k.address == proposer)
    me = next(k for k in keys if k.address != proposer)
    m = machine(me, validators)
    m.start()
    m.step(ProposalReceived(Proposal(1, 1, 0, A, -1, proposer).signed(pkey)))
    assert not of(m.step(TimeoutFired(TimeoutKind.PROPOSE, 1, 0)), Broadcast) and m.step_p == Step.PROPOSE
    (sent,) = of(m.step(BlockVerdict(1, A, True)), Broadcast)
    assert sent.message.type == VoteType.PREVOTE and sent.message.block_hash == A
    # without a proposal (or with its verdict already in) the timeout prevotes nil at once, as before
    idle = machine(me, validators)
    idle.start()
    (nil,) = of(idle.step(TimeoutFired(TimeoutKind.PROPOSE, 1, 0)), Broadcast)
    assert nil.message.block_hash is None


def test_held_back_timeout_prevotes_nil_when_the_verdict_enables_no_rule(keys, validators) -> None:
    """A re-proposal (pol_round 0) whose polka this validator never saw: once valid(v) is known, the held-back
    timeout takes effect (prevote nil) rather than leaving the round without a prevote."""
    proposer = validators.proposer(1, 1).address
    pkey = next(k for k in keys if k.address == proposer)
    me = next(k for k in keys if k.address != proposer)
    m = machine(me, validators)
    m.start()
    m._start_round(1, [])  # round 0 failed without a polka this validator saw (as after timeoutPrecommit)
    m.step(ProposalReceived(Proposal(1, 1, 1, A, 0, proposer).signed(pkey)))
    assert not of(m.step(TimeoutFired(TimeoutKind.PROPOSE, 1, 1)), Broadcast)
    (sent,) = of(m.step(BlockVerdict(1, A, True)), Broadcast)
    assert sent.message.type == VoteType.PREVOTE and sent.message.round == 1 and sent.message.block_hash is None


def test_locked_validator_refuses_another_value_without_a_newer_polka(keys, validators) -> None:
    me = keys[0]
    m = machine(me, validators)
    m.start()
    m.locked_value, m.locked_round, m.round = A, 0, 1
    proposer = next(k for k in keys if k.address == validators.proposer(1, 1).address)
    m.step(BlockVerdict(1, B, True))
    actions = m.step(ProposalReceived(Proposal(1, 1, 1, B, -1, proposer.address).signed(proposer)))
    prevote = [a.message for a in of(actions, Broadcast) if isinstance(a.message, Vote)][0]
    assert prevote.block_hash is None  # lines 22-27: locked on A, B gets nil


def test_skips_to_a_round_where_f_plus_1_validators_are(keys, validators) -> None:
    m = machine(keys[0], validators)
    m.start()
    for k in keys[1:3]:
        m.step(VoteReceived(vote(k, VoteType.PREVOTE, None, round_=5)))
    assert m.round == 5  # line 55


def test_equivocation_is_reported_as_evidence(keys, validators) -> None:
    m = machine(keys[0], validators)
    m.start()
    m.step(VoteReceived(vote(keys[1], VoteType.PREVOTE, A)))
    actions = m.step(VoteReceived(vote(keys[1], VoteType.PREVOTE, B)))
    (report,) = of(actions, ReportEvidence)
    assert report.evidence.validator == keys[1].address and {report.evidence.first.block_hash, report.evidence.second.block_hash} == {A, B}
    proposer = next(k for k in keys if k.address == validators.proposer(1, 0).address)
    if proposer.address != keys[0].address:
        m.step(ProposalReceived(Proposal(1, 1, 0, A, -1, proposer.address).signed(proposer)))
        actions = m.step(ProposalReceived(Proposal(1, 1, 0, B, -1, proposer.address).signed(proposer)))
        assert of(actions, ReportEvidence)


def test_restart_resends_the_recorded_vote_instead_of_signing_anew(keys, validators) -> None:
    me = next(k for k in keys if k.address != validators.proposer(1, 0).address)
    m = machine(me, validators)
    m.start()
    proposer = next(k for k in keys if k.address == validators.proposer(1, 0).address)
    m.step(ProposalReceived(Proposal(1, 1, 0, A, -1, proposer.address).signed(proposer)))
    actions = m.step(BlockVerdict(1, A, True))
    wal = [a.message for a in of(actions, Persist)]
    assert wal and wal[0].block_hash == A
    # crash; after restart the proposal is gone and the propose timeout fires: the rule says prevote nil,
    # but this validator already prevoted A at (1, 0) — it must say A again, never nil
    restarted = machine(me, validators, recovered=wal)
    restarted.start()
    actions = restarted.step(TimeoutFired(TimeoutKind.PROPOSE, 1, 0))
    assert not of(actions, Persist)
    (sent,) = [a.message for a in of(actions, Broadcast)]
    assert sent == wal[0]


def test_own_proposal_comes_from_the_application(keys, validators) -> None:
    proposer = next(k for k in keys if k.address == validators.proposer(1, 0).address)
    m = machine(proposer, validators)
    actions = m.start()
    assert of(actions, RequestProposal) == [RequestProposal(1, 0)]
    actions = m.step(ProposalReady(1, 0, A))
    proposal = [a.message for a in of(actions, Broadcast) if isinstance(a.message, Proposal)][0]
    assert proposal.block_hash == A and proposal.pol_round == -1
    assert any(isinstance(a.message, Vote) and a.message.block_hash == A for a in of(actions, Broadcast))


def test_check_message_refuses_forgeries(keys, validators) -> None:
    proposer = next(k for k in keys if k.address == validators.proposer(1, 0).address)
    other = next(k for k in keys if k.address != proposer.address)
    cache = SignatureCache()
    good = Proposal(1, 1, 0, A, -1, proposer.address).signed(proposer)
    check_message(decode_message(encode_message(good)), suite=SUITE, chain_id=1, validators=validators, cache=cache)
    with pytest.raises(ValidationError, match="not the proposer"):
        check_message(Proposal(1, 1, 0, A, -1, other.address).signed(other), suite=SUITE, chain_id=1, validators=validators)
    with pytest.raises(ValidationError, match="chain"):
        check_message(vote(other, VoteType.PREVOTE, A), suite=SUITE, chain_id=2, validators=validators)
    stranger = SUITE.generate_key()
    with pytest.raises(ValidationError, match="not a validator"):
        check_message(Vote(1, VoteType.PREVOTE, 1, 0, A, stranger.address).signed(stranger), suite=SUITE, chain_id=1, validators=validators)
    forged = Vote(1, VoteType.PREVOTE, 1, 0, A, other.address, signature=vote(other, VoteType.PREVOTE, B).signature)
    with pytest.raises(ValidationError, match="signature"):
        check_message(forged, suite=SUITE, chain_id=1, validators=validators, cache=cache)
    with pytest.raises(Exception):
        decode_message(b"V\xff\x00garbage")
