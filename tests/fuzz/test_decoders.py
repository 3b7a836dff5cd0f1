"""Every decoder that reads bytes from outside the process, fed garbage and mutated valid inputs (hypothesis).

A decoder may refuse with its documented error (:class:`node.errors.YilianError`: CodecError, ValidationError)
and nothing else: no IndexError, KeyError, TypeError, RecursionError or crash. Inputs per decoder:
``YILIAN_FUZZ_EXAMPLES`` (default 300 in the test run; the long version sets 12,500 → 100,000 over the eight).
"""

from __future__ import annotations

import os

import msgpack
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node import codec
from node.bft import parse_tx_batch
from node.consensus.verify import decode_message, encode_message
from node.crypto import get_suite
from node.errors import YilianError
from node.execution.transactions import decode_transaction
from node.types import Block, CommitCertificate, Header, Proposal, Receipt, Transaction, Vote, VoteType
from node.types.receipt import Log

EXAMPLES = int(os.environ.get("YILIAN_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SUITE = get_suite("gm")
KEY = SUITE.key_from_secret(b"\x01" * 32)
CHAIN = 6600


def _valid_inputs() -> dict[str, bytes]:
    vote = Vote(CHAIN, VoteType.PREVOTE, 5, 0, b"\x07" * 32, KEY.address).signed(KEY)
    proposal = Proposal(CHAIN, 5, 1, b"\x08" * 32, 0, KEY.address).signed(KEY)
    native = Transaction(CHAIN, 0, KEY.address, b"\x11" * 20, 0, b"data", 100_000, 50).signed(KEY).encode()
    eth = bytes(Account.from_key(b"\x02" * 32).sign_transaction(
        {"nonce": 1, "gas": 50_000, "to": "0x" + "11" * 20, "value": 0, "data": b"x", "chainId": CHAIN, "maxFeePerGas": 0,
         "maxPriorityFeePerGas": 0}).raw_transaction)
    header = Header(chain_id=CHAIN, height=5, time_ms=1, parent_hash=b"\x01" * 32, proposer=KEY.address, tx_root=b"\x02" * 32,
                    receipt_root=b"\x03" * 32, state_root=b"\x04" * 32, validators_hash=b"\x05" * 32, next_validators_hash=b"\x05" * 32,
                    gas_used=21_000, tx_count=2)
    certificate = CommitCertificate.from_votes([Vote(CHAIN, VoteType.PRECOMMIT, 5, 0, b"\x07" * 32, KEY.address).signed(KEY)])
    receipt = Receipt(tx_hash=b"\x09" * 32, status=1, gas_used=21_000, cumulative_gas_used=21_000,
                      logs=(Log(b"\x11" * 20, (b"\x12" * 32,), b"payload"),), contract_address=None, output=b"", revert_reason="")
    return {
        "vote": encode_message(vote), "proposal": encode_message(proposal), "native_tx": native, "eth_tx": eth,
        "header": header.encode(), "block": Block(header, (native, eth)).encode(), "certificate": certificate.encode(),
        "receipt": receipt.encode(), "tx_batch": msgpack.packb([native, eth]),
    }


VALID = _valid_inputs()


@st.composite
def mutated(draw, name: str) -> bytes:  # type: ignore[no-untyped-def]
    """A valid encoding with a few bytes flipped, inserted, deleted or the tail cut; or plain garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=400))
    data = bytearray(VALID[name])
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut", "byte"]))
        if action == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[position:position + draw(st.integers(1, 8))]
        elif action == "cut":
            del data[position:]
        else:
            data[position] = draw(st.integers(0, 255))
    return bytes(data)


def _only_documented_errors(decode, data: bytes) -> None:  # type: ignore[no-untyped-def]
    try:
        decode(data)
    except YilianError:
        pass


def test_the_valid_inputs_decode() -> None:
    decode_message(VALID["vote"]), decode_message(VALID["proposal"]), Block.decode(VALID["block"])
    assert decode_transaction(VALID["native_tx"], SUITE, CHAIN).nonce == 0
    assert decode_transaction(VALID["eth_tx"], SUITE, CHAIN).nonce == 1


@FUZZ
@given(mutated("vote") | mutated("proposal"))
def test_consensus_messages(data: bytes) -> None:
    _only_documented_errors(decode_message, data)


@FUZZ
@given(mutated("native_tx") | mutated("eth_tx"))
def test_transactions_of_either_kind(data: bytes) -> None:
    _only_documented_errors(lambda raw: decode_transaction(raw, SUITE, CHAIN), data)


@FUZZ
@given(mutated("block"))
def test_blocks(data: bytes) -> None:
    _only_documented_errors(Block.decode, data)


@FUZZ
@given(mutated("header"))
def test_headers(data: bytes) -> None:
    _only_documented_errors(Header.decode, data)


@FUZZ
@given(mutated("certificate"))
def test_certificates(data: bytes) -> None:
    _only_documented_errors(CommitCertificate.decode, data)


@FUZZ
@given(mutated("receipt"))
def test_receipts(data: bytes) -> None:
    _only_documented_errors(Receipt.decode, data)


@FUZZ
@given(mutated("tx_batch") | mutated("block"))
def test_the_generic_codec(data: bytes) -> None:
    _only_documented_errors(codec.decode, data)


@FUZZ
@given(mutated("tx_batch"))
def test_gossiped_transaction_batches(data: bytes) -> None:
    """The node's /yilian/tx/1 handler: the frame parsed as a batch, then each transaction decoded."""
    try:
        batch = parse_tx_batch(data)
    except YilianError:
        return
    for raw in batch:
        _only_documented_errors(lambda r: decode_transaction(r, SUITE, CHAIN), raw)
