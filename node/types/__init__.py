"""Core types: everything here is an immutable dataclass with one canonical encoding."""

from node.types.block import Block, Header, ZERO_HASH
from node.types.certificate import CommitCertificate, CommitSig
from node.types.receipt import Log, Receipt
from node.types.transaction import Transaction, is_native_encoding
from node.types.validators import Validator, ValidatorSet
from node.types.vote import Proposal, Vote, VoteType

__all__ = [
    "Block",
    "CommitCertificate",
    "CommitSig",
    "Header",
    "Log",
    "Proposal",
    "Receipt",
    "Transaction",
    "Validator",
    "ValidatorSet",
    "Vote",
    "VoteType",
    "ZERO_HASH",
    "is_native_encoding",
]
