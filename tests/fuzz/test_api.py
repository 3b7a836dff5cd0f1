"""The node's HTTP API fuzzed from its own OpenAPI document and the JSON-RPC method list (hypothesis).

Every REST operation the node publishes is called with generated path parameters, query strings and bodies
(JSON values of any shape, or bytes that are not JSON); every JSON-RPC method with generated params. The node
must answer each with a status below 500 — a REST refusal as ``application/problem+json`` — and a refused
input must change nothing: no transaction waits or is committed afterwards that was not before.
Inputs: ``YILIAN_FUZZ_EXAMPLES`` per test (default 300; the long version in docs/RELIABILITY.md sets 5,000).
"""

from __future__ import annotations

import http.client
import json
import os
import re
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainutil import start_localnet

EXAMPLES = int(os.environ.get("YILIAN_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.timeout(900)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**300), 2**300) | st.floats(allow_nan=False) | st.text(max_size=40)
    | st.sampled_from(["0x", "0x00", "0x" + "ff" * 32, "latest", "pending", "earliest", "0x" + "1" * 40, "-1", "1e400"]),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
path_values = st.text(max_size=30) | st.integers(-5, 2**70).map(str) | st.sampled_from(["0x" + "ab" * 32, "0x" + "12" * 20, "latest", "..", "%00"])


class Api:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> tuple[int, str, bytes]:
        for attempt in (1, 2):
            try:
                headers = {"Content-Type": content_type} if body is not None else {}
                self.connection.request(method, path, body, headers)
                response = self.connection.getresponse()
                return response.status, response.getheader("Content-Type", ""), response.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def rpc(self, method: str, *params: object) -> object:
        status, _, body = self.call("POST", "/", json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode())
        assert status == 200
        return json.loads(body)["result"]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    node = start_localnet(tmp_path_factory.mktemp("fuzz"))
    yield Api(node.url)
    node.stop()


def _state(api: Api) -> tuple[int, int]:
    """(transactions waiting, transactions on chain): empty blocks may come and go, nothing else may change."""
    status, _, body = api.call("GET", "/v1/status")
    assert status == 200
    head = int(api.rpc("eth_blockNumber"), 16)  # type: ignore[arg-type]
    on_chain = sum(len(api.rpc("eth_getBlockByNumber", hex(h), False)["transactions"]) for h in range(head + 1))  # type: ignore[index]
    return json.loads(body)["pending_transactions"], on_chain


def _operations(api: Api) -> list[tuple[str, str]]:
    status, _, body = api.call("GET", "/openapi.json")
    assert status == 200
    document = json.loads(body)
    found = [(method.upper(), path) for path, item in document["paths"].items() for method in item if method in ("get", "post", "put", "delete", "patch")]
    assert len(found) >= 15, found
    return found


def test_rest_operations_never_fail_with_5xx_and_refusals_change_nothing(api: Api) -> None:
    operations = _operations(api)
    before = _state(api)
    seen: dict[int, int] = {}

    @FUZZ
    @given(st.sampled_from(operations), st.data())
    def one(operation: tuple[str, str], data: st.DataObject) -> None:
        method, template = operation
        path = re.sub(r"\{[^}]+\}", lambda _: quote(data.draw(path_values), safe=""), template)
        if data.draw(st.booleans()):
            path += "?" + "&".join(f"{quote(data.draw(st.text(max_size=8)))}={quote(str(data.draw(json_values)))}" for _ in range(data.draw(st.integers(1, 3))))
        body = None
        if method in ("POST", "PUT", "PATCH"):
            body = json.dumps(data.draw(json_values)).encode() if data.draw(st.integers(0, 4)) else data.draw(st.binary(max_size=200))
        status, content_type, payload = api.call(method, path, body)
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, f"{method} {path} body {body!r:.200} → {status}: {payload[:400]!r}"
        if status >= 400 and not path.startswith("/ui"):
            assert content_type.startswith("application/problem+json"), f"{method} {path} → {status} {content_type}"

    one()
    print(f"REST: {sum(seen.values())} requests over {len(operations)} operations, statuses {dict(sorted(seen.items()))}")
    assert _state(api) == before, "a refused request changed the node's state"
    assert any(400 <= status < 500 for status in seen), seen


def test_json_rpc_methods_never_fail_with_5xx(api: Api) -> None:
    from node.api.jsonrpc import EthApi

    methods = sorted(name for name in dir(EthApi) if name.startswith(("eth_", "net_", "web3_")))
    assert "eth_sendRawTransaction" in methods and "eth_getLogs" in methods
    before = _state(api)
    calls: list[str] = []

    @FUZZ
    @given(st.sampled_from(methods) | st.text(max_size=20), st.lists(json_values, max_size=4), st.booleans())
    def one(method: str, params: list, batch: bool) -> None:
        calls.append(method)
        request = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
        status, _, payload = api.call("POST", "/", json.dumps([request, request] if batch else request).encode())
        assert status == 200, f"{method}{params!r:.200} → {status}: {payload[:300]!r}"
        answers = json.loads(payload)
        for answer in answers if batch else [answers]:
            assert ("result" in answer) != ("error" in answer), answer
            if "error" in answer:
                assert answer["error"]["code"] in (-32000, -32001, -32600, -32601, -32602, 3), answer

    one()
    print(f"JSON-RPC: {len(calls)} requests, {len(set(calls) & set(methods))} of {len(methods)} methods")
    assert _state(api) == before
