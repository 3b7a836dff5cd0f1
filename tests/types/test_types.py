"""Core types: canonical encodings, hashing by suite, signatures, field-naming validation."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.errors import CodecError, ValidationError
from node.types import (
    Block,
    CommitCertificate,
    CommitSig,
    Header,
    Log,
    Proposal,
    Receipt,
    Transaction,
    Validator,
    ValidatorSet,
    Vote,
    VoteType,
    is_native_encoding,
)

CHAIN = 6600


def _validators(suite, n: int):
    keys = [suite.generate_key() for _ in range(n)]
    return keys, ValidatorSet.of([Validator(k.address, k.public_key) for k in keys])


def _tx(key, **changes) -> Transaction:
    fields = dict(chain_id=CHAIN, nonce=0, sender=key.address, to=b"\x01" * 20, value=0, data=b"\x12\x34", gas_limit=100_000, valid_until=100)
    fields.update(changes)
    return Transaction(**fields)


def test_signed_transaction_round_trips_and_verifies(suite) -> None:
    key = suite.generate_key()
    tx = _tx(key, value=10**30).signed(key)
    raw = tx.encode()
    assert is_native_encoding(raw)
    again = Transaction.decode(raw)
    assert again == tx
    again.verify(suite, CHAIN)
    assert again.hash(suite) == suite.hash(raw)


def test_transaction_for_another_chain_is_refused(suite) -> None:
    key = suite.generate_key()
    tx = _tx(key, chain_id=1).signed(key)
    with pytest.raises(ValidationError, match="chain_id"):
        tx.verify(suite, CHAIN)


def test_altered_transaction_fails_signature_check(suite) -> None:
    key = suite.generate_key()
    tx = _tx(key).signed(key)
    with pytest.raises(ValidationError, match="signature"):
        dataclasses.replace(tx, nonce=1).verify(suite, CHAIN)


def test_transaction_with_someone_elses_key_is_refused(suite) -> None:
    key, other = suite.generate_key(), suite.generate_key()
    tx = _tx(key).signed(key)
    with pytest.raises(ValidationError, match="public_key"):
        dataclasses.replace(tx, public_key=other.public_key).verify(suite, CHAIN)


def test_signing_with_a_key_not_of_the_sender_is_refused(suite) -> None:
    key, other = suite.generate_key(), suite.generate_key()
    with pytest.raises(ValidationError, match="sender"):
        _tx(key).signed(other)


@pytest.mark.parametrize(
    "field, value",
    [("sender", b"\x01" * 19), ("to", b"\x01" * 21), ("nonce", -1), ("value", 2**256), ("data", b"x" * (512 * 1024 + 1))],
)
def test_malformed_transaction_fields_are_named(gm, field: str, value: object) -> None:
    key = gm.generate_key()
    tx = dataclasses.replace(_tx(key).signed(key), **{field: value})
    with pytest.raises(ValidationError, match=field):
        tx.validate_shape()


def test_contract_creation_without_code_is_refused(gm) -> None:
    key = gm.generate_key()
    with pytest.raises(ValidationError, match="data"):
        _tx(key, to=None, data=b"").signed(key).validate_shape()


def test_ethereum_raw_transactions_are_not_mistaken_for_native_ones() -> None:
    from eth_account import Account

    account = Account.create()
    legacy = account.sign_transaction({"nonce": 0, "gasPrice": 0, "gas": 21000, "to": account.address, "value": 0, "chainId": CHAIN})
    dynamic = account.sign_transaction(
        {"nonce": 0, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "gas": 21000, "to": account.address, "value": 0, "chainId": CHAIN}
    )
    assert not is_native_encoding(bytes(legacy.raw_transaction))
    assert not is_native_encoding(bytes(dynamic.raw_transaction))


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_transaction_decoder_never_crashes_on_garbage(data: bytes) -> None:
    try:
        Transaction.decode(data)
    except CodecError:
        pass


def test_votes_and_proposals_sign_and_verify(suite) -> None:
    keys, validators = _validators(suite, 4)
    key = keys[0]
    vote = Vote(CHAIN, VoteType.PREVOTE, 3, 1, b"\x07" * 32, key.address).signed(key)
    assert Vote.decode(vote.encode()) == vote
    vote.verify(suite, key.public_key)
    with pytest.raises(ValidationError, match="signature"):
        dataclasses.replace(vote, type=VoteType.PRECOMMIT).verify(suite, key.public_key)
    nil_vote = Vote(CHAIN, VoteType.PRECOMMIT, 3, 1, None, key.address).signed(key)
    assert Vote.decode(nil_vote.encode()).block_hash is None
    proposal = Proposal(CHAIN, 3, 2, b"\x07" * 32, 1, key.address).signed(key)
    assert Proposal.decode(proposal.encode()) == proposal
    proposal.verify(suite, key.public_key)
    with pytest.raises(ValidationError, match="pol_round"):
        Proposal(CHAIN, 3, 1, b"\x07" * 32, 1, key.address).validate_shape()


def test_commit_certificate_needs_a_quorum_of_distinct_validators(suite) -> None:
    keys, validators = _validators(suite, 4)
    block_hash = b"\x09" * 32
    votes = [Vote(CHAIN, VoteType.PRECOMMIT, 5, 0, block_hash, k.address).signed(k) for k in keys]
    certificate = CommitCertificate.from_votes(votes[:3])
    certificate.verify(suite, validators, chain_id=CHAIN)
    assert CommitCertificate.decode(certificate.encode()) == certificate
    with pytest.raises(ValidationError, match="quorum of 3"):
        CommitCertificate.from_votes(votes[:2]).verify(suite, validators)
    duplicated = dataclasses.replace(certificate, signatures=certificate.signatures[:2] + certificate.signatures[:1])
    with pytest.raises(ValidationError, match="signed twice"):
        duplicated.verify(suite, validators)


def test_commit_certificate_refuses_outsiders_and_forged_signatures(suite) -> None:
    keys, validators = _validators(suite, 4)
    outsider = suite.generate_key()
    block_hash = b"\x09" * 32
    votes = [Vote(CHAIN, VoteType.PRECOMMIT, 5, 0, block_hash, k.address).signed(k) for k in keys[:2] + [outsider]]
    with pytest.raises(ValidationError, match="is not a validator"):
        CommitCertificate.from_votes(votes).verify(suite, validators)
    good = CommitCertificate.from_votes([Vote(CHAIN, VoteType.PRECOMMIT, 5, 0, block_hash, k.address).signed(k) for k in keys[:3]])
    forged = dataclasses.replace(good, block_hash=b"\x0a" * 32)
    with pytest.raises(ValidationError, match="does not verify"):
        forged.verify(suite, validators)
    wrong_sig = CommitSig(good.signatures[0].validator, good.signatures[1].signature)
    with pytest.raises(ValidationError, match="does not verify"):
        dataclasses.replace(good, signatures=(wrong_sig,) + good.signatures[1:]).verify(suite, validators)


def test_commit_certificate_reuses_precommits_checked_on_arrival(suite) -> None:
    from node.consensus.verify import SignatureCache, check_message

    keys, validators = _validators(suite, 4)
    block_hash = b"\x09" * 32
    votes = [Vote(CHAIN, VoteType.PRECOMMIT, 5, 0, block_hash, k.address).signed(k) for k in keys]
    cache = SignatureCache()
    for vote in votes[:2]:  # two arrived over the network and were checked; the third was not
        check_message(vote, suite=suite, chain_id=CHAIN, validators=validators, cache=cache)
    calls = []

    class Counting:
        def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
            calls.append(public_key)
            return suite.verify(public_key, message, signature)

    certificate = CommitCertificate.from_votes(votes[:3])
    certificate.verify(Counting(), validators, chain_id=CHAIN, checked=cache.check)  # type: ignore[arg-type]
    assert calls == [validators.get(votes[2].validator).public_key]  # only the one not checked on arrival
    forged = dataclasses.replace(certificate, signatures=tuple(  # the unchecked entry carries another validator's signature
        CommitSig(entry.validator, votes[3].signature) if entry.validator == votes[2].validator else entry for entry in certificate.signatures))
    with pytest.raises(ValidationError, match="does not verify"):
        forged.verify(suite, validators, chain_id=CHAIN, checked=cache.check)


@pytest.mark.parametrize("n, f, quorum", [(1, 0, 1), (2, 0, 2), (3, 0, 3), (4, 1, 3), (7, 2, 5), (10, 3, 7)])
def test_quorum_is_more_than_two_thirds(gm, n: int, f: int, quorum: int) -> None:
    _, validators = _validators(gm, n)
    assert validators.max_faulty == f
    assert validators.quorum == quorum
    assert 3 * validators.quorum > 2 * n


def test_proposer_rotates_over_all_validators(gm) -> None:
    _, validators = _validators(gm, 4)
    proposers = {validators.proposer(10, r).address for r in range(4)}
    assert proposers == {v.address for v in validators.validators}


def test_block_and_receipt_round_trip(gm) -> None:
    header = Header(CHAIN, 1, 1_700_000_000_000, bytes(32), b"\x01" * 20, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, b"\x05" * 32, b"\x05" * 32, 21_000, 1)
    header.validate_shape()
    block = Block(header, (b"\x91\x01",))
    assert Block.decode(block.encode()) == block
    assert block.hash(gm) == gm.hash(header.encode())
    receipt = Receipt(b"\x06" * 32, 1, 21_000, 21_000, (Log(b"\x01" * 20, (b"\x02" * 32,), b"data"),), None, b"", "")
    assert Receipt.decode(receipt.encode()) == receipt


def test_malformed_header_names_the_field(gm) -> None:
    header = Header(CHAIN, 1, 0, bytes(31), b"\x01" * 20, *(bytes(32),) * 5, 0, 0)
    with pytest.raises(ValidationError, match="header.parent_hash"):
        header.validate_shape()
