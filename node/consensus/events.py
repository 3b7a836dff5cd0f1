"""What the node feeds the consensus machine, and what the machine asks the node to do.

Events in: a proposal or vote received (signature already checked by the node,
see :func:`node.consensus.verify.check_message`), a timeout fired, the
application's block for a proposal, the application's verdict on a proposed
block, a block committed by sync.

Actions out, to be carried out **in order**: ``Persist`` comes before the
``Broadcast`` of the vote it records, so a validator that crashes after
sending can never sign differently for the same height, round and step.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Optional, Union

from node.types import CommitCertificate, Proposal, Vote


class Step(enum.IntEnum):
    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


class TimeoutKind(enum.IntEnum):
    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


# -- events ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ProposalReceived:
    proposal: Proposal


@dataclasses.dataclass(frozen=True, slots=True)
class VoteReceived:
    vote: Vote


@dataclasses.dataclass(frozen=True, slots=True)
class TimeoutFired:
    kind: TimeoutKind
    height: int
    round: int


@dataclasses.dataclass(frozen=True, slots=True)
class ProposalReady:
    """The application built a block for (height, round): getValue() of the paper."""

    height: int
    round: int
    block_hash: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class BlockVerdict:
    """The application checked a proposed block: valid(v) of the paper."""

    height: int
    block_hash: bytes
    valid: bool


@dataclasses.dataclass(frozen=True, slots=True)
class SyncedCommit:
    """Block sync committed ``height`` with a verified certificate: move past it."""

    height: int
    block_hash: bytes


Event = Union[ProposalReceived, VoteReceived, TimeoutFired, ProposalReady, BlockVerdict, SyncedCommit]

# -- actions -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Broadcast:
    message: Union[Proposal, Vote]


@dataclasses.dataclass(frozen=True, slots=True)
class Persist:
    """Write this own vote (or proposal) to the WAL durably, before the next action."""

    message: Union[Proposal, Vote]


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    kind: TimeoutKind
    height: int
    round: int
    duration_ms: int


@dataclasses.dataclass(frozen=True, slots=True)
class RequestProposal:
    """Build a block for (height, round) and answer with ProposalReady."""

    height: int
    round: int


@dataclasses.dataclass(frozen=True, slots=True)
class ValidateBlock:
    """Check the block ``block_hash`` (its body came with the proposal) and answer with BlockVerdict."""

    height: int
    block_hash: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Commit:
    height: int
    block_hash: bytes
    certificate: CommitCertificate


@dataclasses.dataclass(frozen=True, slots=True)
class Evidence:
    """Two conflicting signed messages from one validator at one height and round."""

    validator: bytes
    first: Union[Proposal, Vote]
    second: Union[Proposal, Vote]


@dataclasses.dataclass(frozen=True, slots=True)
class ReportEvidence:
    evidence: Evidence


Action = Union[Broadcast, Persist, ScheduleTimeout, RequestProposal, ValidateBlock, Commit, ReportEvidence]

NIL: Optional[bytes] = None
