"""The messages of execution ahead (node.consensus.ahead): an opener only its signer's key verifies, and malformed
openers and chunks refused as ValidationError (a strike against the peer), never anything else."""

from __future__ import annotations

import msgpack
import pytest

from node.consensus.ahead import decode_chunk, decode_opener, encode_chunk, encode_opener, opener_signing_bytes
from node.crypto import get_suite
from node.errors import ValidationError


@pytest.mark.parametrize("suite_name", ["gm", "ecdsa"])
def test_an_opener_verifies_for_its_proposer_only(suite_name: str) -> None:
    suite = get_suite(suite_name)
    proposer, other = suite.key_from_secret(b"\x01" * 32), suite.key_from_secret(b"\x02" * 32)
    payload = encode_opener(proposer, 6600, 12, 1, b"\xaa" * 32, 1_700_000_000_000)
    height, round_, parent, time_ms, signature = decode_opener(payload)
    assert (height, round_, parent, time_ms) == (12, 1, b"\xaa" * 32, 1_700_000_000_000)
    signed = opener_signing_bytes(6600, height, round_, parent, time_ms)
    assert suite.verify(proposer.public_key, signed, signature)
    assert not suite.verify(other.public_key, signed, signature)
    for changed in (opener_signing_bytes(6601, 12, 1, parent, time_ms), opener_signing_bytes(6600, 12, 2, parent, time_ms),
                    opener_signing_bytes(6600, 12, 1, parent, time_ms + 1)):
        assert not suite.verify(proposer.public_key, changed, signature)


def test_chunks_round_trip_and_malformed_messages_are_validation_errors() -> None:
    hashes = [bytes([i]) * 32 for i in range(5)]
    assert decode_chunk(encode_chunk(7, 0, 3, hashes)) == (7, 0, 3, hashes)
    bad = [
        b"T",  # nothing after the tag
        b"T\xc1",  # not msgpack
        b"T" + msgpack.packb([7, 0, 3]),  # too short
        b"T" + msgpack.packb([7, 0, 3, [b"\x01" * 31]]),  # a hash of 31 bytes
        b"T" + msgpack.packb([7, 0, "3", []]),  # a field of another type
        b"T" + msgpack.packb([7, 0, 3, []]) + b"\x00",  # trailing bytes
        b"T" + msgpack.packb({"height": 7}),
    ]
    for payload in bad:
        with pytest.raises(ValidationError):
            decode_chunk(payload)
    for payload in (b"O" + msgpack.packb([1, 0, b"x" * 32, 5]), b"O" + msgpack.packb([1, 0, "parent", 5, b"sig"])):
        with pytest.raises(ValidationError):
            decode_opener(payload)
