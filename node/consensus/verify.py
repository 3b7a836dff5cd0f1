"""Checking a consensus message before it reaches the machine: shape, chain, sender, signature.

The machine trusts what it is fed; the node (and the simulator) call
:func:`check_message` on every received message first. A
:class:`SignatureCache` remembers messages already checked, so a message that
arrives from several peers is verified once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Union

from node import codec
from node.crypto.suites import Suite
from node.errors import ValidationError
from node.types import Proposal, ValidatorSet, Vote

PROPOSAL_TAG, VOTE_TAG = b"P", b"V"
Message = Union[Proposal, Vote]


def encode_message(message: Message) -> bytes:
    return (PROPOSAL_TAG if isinstance(message, Proposal) else VOTE_TAG) + message.encode()


def decode_message(data: bytes) -> Message:
    """Parse a wire message; raises ValidationError (or CodecError) on anything malformed."""
    if not isinstance(data, bytes) or len(data) < 2:
        raise ValidationError("message", "too short")
    tag, body = data[:1], data[1:]
    if tag == PROPOSAL_TAG:
        return Proposal.decode(body)
    if tag == VOTE_TAG:
        return Vote.decode(body)
    raise ValidationError("message", f"unknown message tag {tag!r}")


class SignatureCache:
    """Signed messages already verified (bounded, least recently used first out). Thread-safe: the consensus loop
    checks arriving messages while a block commits in a worker thread with the same cache."""

    def __init__(self, size: int = 65536) -> None:
        self.size = size
        self._seen: OrderedDict[bytes, bool] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: bytes, verify: Callable[[], bool]) -> bool:
        with self._lock:
            known = self._seen.get(key)
            if known is not None:
                self._seen.move_to_end(key)
                return known
        result = verify()  # outside the lock: a signature check takes ~0.4 ms
        with self._lock:
            self._seen[key] = result
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return result


def check_message(message: Message, *, suite: Suite, chain_id: int, validators: ValidatorSet,
                  cache: SignatureCache | None = None) -> None:
    """Raise ValidationError unless ``message`` is well-formed, for this chain, from the right validator, and signed."""
    message.validate_shape()
    if message.chain_id != chain_id:
        raise ValidationError("chain_id", f"message is for chain {message.chain_id}, this chain is {chain_id}")
    if isinstance(message, Proposal):
        signer = message.proposer
        expected = validators.proposer(message.height, message.round).address
        if signer != expected:
            raise ValidationError("proposer", f"0x{signer.hex()} is not the proposer of height {message.height} round {message.round}")
    else:
        signer = message.validator
    validator = validators.get(signer)
    if validator is None:
        raise ValidationError("validator", f"0x{signer.hex()} is not a validator at height {message.height}")
    signing = message.signing_bytes()
    ok = (lambda: suite.verify(validator.public_key, signing, message.signature))
    valid = cache.check(signing + message.signature, ok) if cache is not None else ok()
    if not valid:
        raise ValidationError("signature", f"signature of 0x{signer.hex()} does not verify")
