"""The canonical codec: one encoding per value, everything else refused."""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node import codec
from node.codec import UInt256
from node.errors import CodecError

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.binary(max_size=64),
    st.text(max_size=32),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 1000), st.binary(max_size=8)), children, max_size=5),
    ),
    max_leaves=20,
)


@given(values)
@settings(max_examples=300)
def test_decode_inverts_encode(value: object) -> None:
    assert codec.decode(codec.encode(value)) == value


@given(st.binary(max_size=64))
@settings(max_examples=1000)
def test_every_accepted_byte_string_reencodes_identically(data: bytes) -> None:
    try:
        value = codec.decode(data)
    except CodecError:
        return
    assert codec.encode(value) == data


@given(values)
@settings(max_examples=200)
def test_any_msgpack_encoding_of_a_value_is_accepted_only_if_canonical(value: object) -> None:
    # msgpack's own packer with insertion-ordered maps: accepted iff identical to ours.
    data = msgpack.packb(value, use_bin_type=True)
    if data == codec.encode(value):
        assert codec.decode(data) == value
    else:
        with pytest.raises(CodecError):
            codec.decode(data)


def test_map_keys_are_sorted_whatever_the_insertion_order() -> None:
    assert codec.encode({"b": 1, "a": 2}) == codec.encode({"a": 2, "b": 1})


def test_unsorted_map_is_refused() -> None:
    data = msgpack.packb({"b": 1, "a": 2}, use_bin_type=True)
    with pytest.raises(CodecError, match="non-canonical"):
        codec.decode(data)


def test_duplicate_map_keys_are_refused() -> None:
    data = b"\x82\xa1a\x01\xa1a\x02"
    with pytest.raises(CodecError):
        codec.decode(data)


def test_long_integer_form_is_refused() -> None:
    # 1 written as uint32 instead of a positive fixint
    with pytest.raises(CodecError, match="non-canonical"):
        codec.decode(b"\xce\x00\x00\x00\x01")


def test_floats_are_refused_both_ways() -> None:
    with pytest.raises(CodecError):
        codec.encode(1.5)
    with pytest.raises(CodecError):
        codec.decode(msgpack.packb(1.5))


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(CodecError, match="trailing"):
        codec.decode(codec.encode(1) + b"\x00")


def test_truncated_input_is_refused() -> None:
    with pytest.raises(CodecError, match="truncated"):
        codec.decode(codec.encode(b"x" * 10)[:-1])


@pytest.mark.parametrize("depth", [65, 100, 500, 900, 1000, 1100, 5000])
def test_deeply_nested_values_are_a_codec_error_never_a_recursion_error(depth: int) -> None:
    with pytest.raises(CodecError):
        codec.decode(b"\x91" * depth + b"\x00")  # [[[…[0]…]]]
    deep: list = []
    for _ in range(depth):
        deep = [deep]
    with pytest.raises(CodecError, match="nested"):
        codec.encode(deep)


def test_values_nested_up_to_the_limit_round_trip() -> None:
    deep: list = [0]
    for _ in range(codec.MAX_DEPTH - 1):
        deep = [deep]  # 64 arrays
    assert codec.encode(codec.decode(codec.encode(deep))) == codec.encode(deep)
    nested = {"a": deep}
    with pytest.raises(CodecError, match=r"^\.a.*nested deeper than 64"):
        codec.encode(nested)


def test_oversize_input_is_refused_before_parsing() -> None:
    with pytest.raises(CodecError, match="exceeds"):
        codec.decode(codec.encode(b"x" * 100), max_size=50)


def test_extension_types_are_refused() -> None:
    with pytest.raises(CodecError):
        codec.decode(msgpack.packb(msgpack.ExtType(1, b"x")))


def test_out_of_range_integers_are_refused() -> None:
    with pytest.raises(CodecError, match="outside"):
        codec.encode(2**64)


@dataclasses.dataclass(frozen=True)
class Inner:
    tag: str
    blob: bytes


@dataclasses.dataclass(frozen=True)
class Outer:
    number: int
    amount: UInt256
    maybe: Optional[bytes]
    items: tuple[Inner, ...]
    flag: bool


@given(
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**256 - 1),
    st.one_of(st.none(), st.binary(max_size=8)),
    st.lists(st.builds(Inner, st.text(max_size=5), st.binary(max_size=5)), max_size=3).map(tuple),
    st.booleans(),
)
def test_structs_round_trip(number: int, amount: int, maybe: bytes | None, items: tuple, flag: bool) -> None:
    value = Outer(number, amount, maybe, items, flag)
    assert codec.decode_struct(Outer, codec.encode_struct(value)) == value


def test_struct_field_of_wrong_type_is_named() -> None:
    data = codec.encode((1, bytes(32), None, (("t", "not-bytes"),), True))
    with pytest.raises(CodecError, match=r"Outer.items\[0\].blob: expected bytes"):
        codec.decode_struct(Outer, data)


def test_uint256_is_a_fixed_width_field() -> None:
    data = codec.encode((1, b"\x01", None, (), False))
    with pytest.raises(CodecError, match="32-byte uint256"):
        codec.decode_struct(Outer, data)


def test_out_of_range_integers_inside_containers_are_refused_with_their_path() -> None:
    for value, path in (({"a": [1, 2**64]}, ".a[1]"), ({"a": {"b": -(2**63) - 1}}, ".a.b"), ([0, [2**70]], "[1][0]")):
        with pytest.raises(CodecError, match=re.escape(path)):
            codec.encode(value)
    # the refused value left the thread's packer clean: the next encoding is the reference one
    assert codec.encode({"b": 1, "a": [2**64 - 1, -(2**63)]}) == msgpack.packb({"a": [2**64 - 1, -(2**63)], "b": 1}, use_bin_type=True)


def _real_values() -> list:
    """One value of each struct the node puts on the wire or on disk."""
    from node.types import Block, CommitCertificate, Header, Proposal, Vote
    from node.types.receipt import Log, Receipt
    from node.types.transaction import Transaction
    from node.types.vote import VoteType

    header = Header(chain_id=6600, height=5, time_ms=1, parent_hash=b"\x01" * 32, proposer=b"\x02" * 20, tx_root=b"\x03" * 32,
                    receipt_root=b"\x04" * 32, state_root=b"\x05" * 32, validators_hash=b"\x06" * 32,
                    next_validators_hash=b"\x07" * 32, gas_used=5, tx_count=2)
    vote = Vote(6600, VoteType.PRECOMMIT, 5, 0, b"\x08" * 32, b"\x09" * 20, b"\x0a" * 64)
    return [
        Outer(7, 2**200, None, (Inner("a", b"b"),), True),
        header,
        Block(header, (b"tx-one", b"tx-two")),
        vote,
        Vote(6600, VoteType.PREVOTE, 5, 1, None, b"\x09" * 20, b""),
        Proposal(6600, 5, 0, b"\x08" * 32, -1, b"\x02" * 20, b"\x0b" * 64),
        CommitCertificate.from_votes([vote]),
        Receipt(b"\x0c" * 32, 1, 21_000, 42_000, (Log(b"\x0d" * 20, (b"\x0e" * 32,), b"data"),), None, b"", ""),
        Receipt(b"\x0c" * 32, 0, 21_000, 42_000, (), b"\x0f" * 20, b"out", "Reason"),
        Transaction(6600, 3, b"\x10" * 20, None, 2**100, b"code", 50_000, 99),
    ]


_REPLACEMENTS = (0, 1, -1, 2, 2**70, True, False, None, b"", b"\x00" * 32, b"\x01" * 20, b"\x02" * 64, "x", "", (), (b"a",),
                 (1, 2), ((b"a", b"b"),))


def _mutated(plain: object, rng) -> object:  # type: ignore[no-untyped-def]
    """``plain`` with one randomly chosen part (a leaf or a whole array) replaced, or an array item dropped or added."""
    if not isinstance(plain, tuple) or (plain and rng.random() < 0.25) or not plain:
        return rng.choice(_REPLACEMENTS)
    index = rng.randrange(len(plain))
    roll = rng.random()
    if roll < 0.1:
        return plain[:index] + plain[index + 1:]
    if roll < 0.2:
        return plain[:index] + (rng.choice(_REPLACEMENTS),) + plain[index:]
    return plain[:index] + (_mutated(plain[index], rng),) + plain[index + 1:]


@given(st.randoms(use_true_random=False))
@settings(max_examples=400, deadline=None)
def test_the_compiled_decoders_never_accept_what_the_checked_walk_refuses_or_decode_it_differently(rng) -> None:  # type: ignore[no-untyped-def]
    for value in _real_values():
        kind = type(value)
        plain = codec.to_obj(value)
        assert codec._decoder(kind)(plain) == value  # a valid value takes the fast path
        mutated = _mutated(plain, rng)
        try:
            fast = codec._decoder(kind)(mutated)
        except codec._Refused:
            continue  # from_obj asks the checked walk, which decides
        assert codec._from_obj_checked(kind, mutated) == fast


def test_to_obj_writes_what_the_field_by_field_conversion_did() -> None:
    # the arrays as the codec's first version built them (one to_obj per field, types from the hints): the bytes of
    # blocks, votes and receipts already on chains must not change
    def reference(value: object) -> object:
        if dataclasses.is_dataclass(value):
            out = []
            for name, tp in codec._fields(type(value)):
                item = getattr(value, name)
                uint256 = getattr(tp, "__metadata__", ()) and codec.UINT256 in tp.__metadata__
                out.append(item.to_bytes(32, "big") if uint256 else reference(item))
            return tuple(out)
        if isinstance(value, __import__("enum").Enum):
            return value.value
        if isinstance(value, (list, tuple)):
            return tuple(reference(item) for item in value)
        return value

    for value in _real_values():
        assert codec.to_obj(value) == reference(value)
        assert codec.encode_struct(value) == codec.encode(reference(value))
