"""The SDK's request bodies are orjson's where that is what ``json.dumps`` would send, and ``json.dumps``'s otherwise:
the node parses the same values either way."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math

from hypothesis import given, settings

from chain_sdk.client import encode_body
from json_strategies import json_values


def _as_sent_by_json_dumps(value: object) -> str:
    return json.dumps(json.loads(json.dumps(value)))


def test_a_bulk_batch_is_encoded_by_orjson_and_parses_back_to_itself():
    body = {"records": [{"type": "credit", "local_id": f"c/{i}", "owner": "0x" + "ab" * 20,
                         "record": {"rating": "AAA", "rated_on": "2026-06-30", "score": 91.5, "name": "福州建工", "blacklisted": False}}
                        for i in range(100)]}
    encoded = encode_body(body)
    assert json.loads(encoded) == body
    assert "福州建工".encode() in encoded and b", " not in encoded  # raw UTF-8, compact: orjson's, not json.dumps'


def test_what_orjson_would_write_differently_is_written_as_json_dumps_does():
    for value in ({"x": math.nan}, {"x": math.inf}, {"x": -math.inf}, {"x": 2**64}, {"x": -(2**63) - 1}, {1: "int key"},
                  {"x": "\ud800"}, {"x": None}):
        assert encode_body(value) == json.dumps(value).encode()
    assert json.loads(encode_body({"x": 2**200}))["x"] == 2**200


def test_values_json_dumps_refuses_are_still_refused():
    @dataclasses.dataclass
    class Point:
        x: int

    for value in ({"when": datetime.datetime(2026, 11, 27)}, {"point": Point(1)}, {"raw": b"bytes"}):
        try:
            encode_body(value)
        except TypeError:
            continue
        raise AssertionError(f"{value!r} was encoded")


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_reaches_the_node_as_json_dumps_would_send_it(value):
    assert json.dumps(json.loads(encode_body(value))) == _as_sent_by_json_dumps(value)
