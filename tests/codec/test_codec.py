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
