"""Votes of one height, by round and type: +2/3 and +1/3 counts, and equivocation detection.

Every validator has power 1. A second, different vote of a validator for a
(round, type) is equivocation: it is kept as evidence (see :class:`RoundVotes`
for how it is counted).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Optional

from node.consensus.events import Evidence
from node.types import ValidatorSet, Vote, VoteType


MAX_VALUES_PER_VALIDATOR = 3  # an equivocator's extra votes kept per (round, type); the rest are dropped


class RoundVotes:
    """Votes of one type in one round.

    A value's count is the number of distinct validators that signed a vote
    for it, *including* validators that also signed a conflicting vote. That
    is safe — two +2/3 sets still share an honest validator, and honest
    validators never sign two values — and needed for liveness: otherwise a
    node that heard an equivocator's other vote first could never see the
    polka that its peers saw (CometBFT admits such votes when a peer claims
    +2/3 for the value).
    """

    def __init__(self) -> None:
        self.by_validator: dict[bytes, Vote] = {}  # the first vote of each validator
        self.by_value: dict[Optional[bytes], dict[bytes, Vote]] = defaultdict(dict)
        self.count: dict[Optional[bytes], int] = defaultdict(int)

    def total(self) -> int:
        """Distinct validators that voted at all (for the "+2/3 of anything" rules)."""
        return len(self.by_validator)

    def for_value(self, value: Optional[bytes]) -> int:
        return self.count.get(value, 0)

    def votes_for(self, value: Optional[bytes]) -> list[Vote]:
        return list(self.by_value.get(value, {}).values())


class HeightVotes:
    """All prevotes and precommits of one height, for one validator set."""

    def __init__(self, height: int, validators: ValidatorSet) -> None:
        self.height = height
        self.validators = validators
        self._rounds: dict[tuple[int, VoteType], RoundVotes] = {}
        self.evidence: list[Evidence] = []

    def round_votes(self, round_: int, kind: VoteType) -> RoundVotes:
        key = (round_, kind)
        if key not in self._rounds:
            self._rounds[key] = RoundVotes()
        return self._rounds[key]

    def add(self, vote: Vote) -> tuple[bool, Optional[Evidence]]:
        """Count ``vote``; returns (newly counted, evidence when it conflicts with the validator's first vote)."""
        if vote.height != self.height or vote.validator not in self.validators:
            return False, None
        votes = self.round_votes(vote.round, vote.type)
        if vote.validator in votes.by_value.get(vote.block_hash, {}):
            return False, None
        first = votes.by_validator.get(vote.validator)
        evidence = None
        if first is None:
            votes.by_validator[vote.validator] = vote
        else:
            evidence = Evidence(vote.validator, first, vote)
            self.evidence.append(evidence)
            values = sum(1 for signers in votes.by_value.values() if vote.validator in signers)
            if values >= MAX_VALUES_PER_VALIDATOR:
                return False, evidence
        votes.by_value[vote.block_hash][vote.validator] = vote
        votes.count[vote.block_hash] += 1
        return True, evidence

    def voted_for(self, value: bytes) -> set[bytes]:
        """Validators that prevoted or precommitted ``value`` in any round of this height."""
        voters: set[bytes] = set()
        for votes in self._rounds.values():
            voters.update(votes.by_value.get(value, ()))
        return voters

    def rounds(self) -> set[int]:
        return {round_ for round_, _ in self._rounds}

    def senders_in_round(self, round_: int) -> set[bytes]:
        senders: set[bytes] = set()
        for kind in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            senders |= set(self.round_votes(round_, kind).by_validator)
        return senders
