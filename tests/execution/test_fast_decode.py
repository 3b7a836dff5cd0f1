"""The EIP-1559 fast decoder accepts exactly what the py-evm path accepts, with the same result, and never words a refusal."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.crypto import get_suite
from node.errors import ValidationError
from node.execution import transactions
from node.execution.transactions import decode_transaction

CHAIN_ID = 6600
ACCOUNT = Account.create()


def _slow(raw: bytes, chain_id: int = CHAIN_ID):  # type: ignore[no-untyped-def]
    """The py-evm path alone."""
    original = transactions._decode_dynamic_fee
    transactions._decode_dynamic_fee = lambda raw, chain_id: None
    try:
        return decode_transaction(raw, get_suite("gm"), chain_id)
    finally:
        transactions._decode_dynamic_fee = original


def _outcome(decode, raw: bytes):  # type: ignore[no-untyped-def]
    try:
        return ("ok", decode(raw))
    except ValidationError as exc:
        return ("refused", exc.field, exc.reason)


def _sign(nonce: int, to: bytes | None, value: int, data: bytes, gas: int, chain_id: int = CHAIN_ID, access_list: list | None = None) -> bytes:
    fields = {"nonce": nonce, "gas": gas, "value": value, "data": data, "chainId": chain_id, "maxFeePerGas": 7, "maxPriorityFeePerGas": 3,
              "type": 2}
    if to is not None:
        fields["to"] = to_checksum_address(to)
    if access_list is not None:
        fields["accessList"] = access_list
    return bytes(ACCOUNT.sign_transaction(fields).raw_transaction)


def test_non_canonical_rlp_is_refused_by_both_paths() -> None:
    import rlp
    from rlp.codec import encode_raw

    items = rlp.decode(_sign(5, b"\x11" * 20, 10, b"\x01\x02", 30_000)[1:])
    payload = b"".join(b"\x81" + item if index == 1 else encode_raw(item) for index, item in enumerate(items))  # nonce 5 as 0x81 0x05
    raw = b"\x02" + bytes([0xC0 + len(payload)]) if len(payload) < 56 else b"\x02" + b"\xf8" + bytes([len(payload)])
    raw += payload
    assert transactions._decode_dynamic_fee(raw, CHAIN_ID) is None
    assert _outcome(lambda r: decode_transaction(r, get_suite("gm"), CHAIN_ID), raw)[0] == "refused"


def test_a_plain_transfer_decodes_fast_and_equal() -> None:
    raw = _sign(5, b"\x11" * 20, 10, b"\x01\x02", 30_000)
    fast = transactions._decode_dynamic_fee(raw, CHAIN_ID)
    assert fast is not None and fast == _slow(raw)
    assert fast.sender == bytes.fromhex(ACCOUNT.address[2:]) and fast.evm.intrinsic_gas == _slow(raw).evm.intrinsic_gas


def test_other_shapes_go_to_py_evm() -> None:
    with_list = _sign(0, b"\x11" * 20, 0, b"", 60_000, access_list=[{"address": to_checksum_address(b"\x22" * 20), "storageKeys": ["0x" + "00" * 31 + "01"]}])
    assert transactions._decode_dynamic_fee(with_list, CHAIN_ID) is None
    assert transactions._decode_dynamic_fee(_sign(0, b"\x11" * 20, 0, b"", 30_000, chain_id=1), CHAIN_ID) is None  # worded by py-evm's path
    assert _outcome(lambda r: decode_transaction(r, get_suite("gm"), CHAIN_ID), _sign(0, b"\x11" * 20, 0, b"", 30_000, chain_id=1))[1] == "chain_id"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nonce=st.integers(0, 2**64), to=st.one_of(st.none(), st.binary(min_size=20, max_size=20)), value=st.integers(0, 2**70),
       data=st.binary(max_size=64), gas=st.integers(20_000, 200_000), cut=st.integers(0, 200), flip=st.integers(0, 4000),
       byte=st.integers(0, 255), mode=st.sampled_from(["valid", "valid", "flip", "flip", "truncate", "extend"]))
def test_fast_and_py_evm_agree_on_valid_and_mangled_bytes(nonce, to, value, data, gas, cut, flip, byte, mode) -> None:  # type: ignore[no-untyped-def]
    try:
        raw = _sign(min(nonce, 2**64 - 2), to, value, data, gas)
    except Exception:  # noqa: BLE001 - eth_account refuses some field values itself
        return
    if mode == "flip":
        position = flip % len(raw)
        raw = raw[:position] + bytes([byte]) + raw[position + 1:]
    elif mode == "truncate":
        raw = raw[: max(1, len(raw) - 1 - cut % len(raw))]
    elif mode == "extend":
        raw = raw + bytes([byte])
    fast = _outcome(lambda r: decode_transaction(r, get_suite("gm"), CHAIN_ID), raw)
    assert fast == _outcome(_slow, raw)


@pytest.mark.parametrize("size", [0, 1, 40, 56, 300, 70_000])  # list headers of 1, 2, 3 and 4 bytes
def test_the_signed_payload_cut_from_the_bytes_equals_its_re_encoding(size: int) -> None:
    import rlp
    from rlp.codec import encode_raw

    for nonce, value in ((0, 0), (127, 1), (128, 2**200)):
        raw = _sign(nonce, b"\x11" * 20, value, bytes(range(256)) * (size // 256) + bytes(size % 256), 10_000_000)
        items = rlp.decode(raw[1:], strict=True)
        assert transactions._unsigned_payload(raw, items) == b"\x02" + encode_raw(items[:9])
        assert decode_transaction(raw, get_suite("gm"), CHAIN_ID).sender == bytes.fromhex(ACCOUNT.address[2:])
