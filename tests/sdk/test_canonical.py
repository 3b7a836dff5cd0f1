"""A record's canonical bytes are ``json.dumps``'s (sorted keys, compact, raw UTF-8), whichever encoder wrote them."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain_sdk.records import canonical
from json_strategies import json_values


def _by_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_any_record_is_written_as_json_dumps_writes_it(record):
    try:
        expected = _by_json(record)
    except UnicodeEncodeError:  # a lone surrogate: not UTF-8, refused either way
        with pytest.raises(UnicodeEncodeError):
            canonical(record)
        return
    assert canonical(record) == expected


def test_what_orjson_writes_differently_is_written_by_json():
    for record in ({"x": 1e-07}, {"x": 1e-05}, {"x": 2.5e-05}, {"x": [1e22, {"y": -0.0}]}, {"x": 2**64}, {"x": -(2**63) - 1},
                   {2: "int key"}, {"x": math.nan}, {"x": True, "y": None, "z": [1, "é", "中"]}, {"x": (1, 2)}):
        assert canonical(record) == _by_json(record)
    for refused in ({"x": "\ud800"}, {"\udfff": 1}):
        with pytest.raises(UnicodeEncodeError):
            canonical(refused)
    with pytest.raises(TypeError):
        canonical({"x": 1, 2: "mixed keys"})  # json cannot sort them
