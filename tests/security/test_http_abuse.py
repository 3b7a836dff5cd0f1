"""Abusive HTTP clients against a real node: oversized bodies, slow-loris connections, and responses that must
never carry a secret."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chainutil import start_localnet

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):
    started = start_localnet(tmp_path_factory.mktemp("abuse"))
    yield started
    started.stop()


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def test_an_oversized_body_is_refused_before_it_is_read(node) -> None:
    for path in ("/", "/v1/transactions"):
        connection = _connection(node.url)
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(64 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()  # answered without the 64 MiB ever being sent
        body = json.loads(response.read())
        assert response.status == 413 and response.getheader("Content-Type").startswith("application/problem+json")
        assert body["type"].endswith("body-too-large") and "MiB" in body["detail"]
    # a body that streams in without a declared length is cut off as well
    connection = _connection(node.url)
    connection.putrequest("POST", "/")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    chunk = b"x" * (1024 * 1024)
    try:
        for _ in range(40):
            connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        connection.send(b"0\r\n\r\n")
        status = connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        status = 413  # the node answered and closed while we were still sending
    assert status == 413


def test_deeply_nested_json_is_refused_and_the_node_lives(node) -> None:
    """py_ecc raises Python's recursion limit to 100,000; at that limit a JSON body nested 100,000 deep overflowed
    the C stack inside the json module and killed the node with SIGSEGV. Now every JSON entry point answers 4xx."""
    home = Path(node.description["nodes"][0]["home"])
    token = (home / "secrets" / "data-token").read_text().strip()
    deep = b"[" * 200_000 + b"]" * 200_000
    for path, headers in (("/", {}), ("/v1/data/records", {"Authorization": f"Bearer {token}"}),
                          ("/v1/data/batches", {"Authorization": f"Bearer {token}"}), ("/v1/data/access", {}),
                          ("/v1/transactions", {}), ("/v1/verify/record", {})):
        for body in (deep, b'{"jsonrpc":"2.0","id":1,"method":"eth_call","params":' + deep + b"}"):
            connection = _connection(node.url)
            connection.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
            response = connection.getresponse()
            answer = json.loads(response.read())
            if path == "/":
                assert response.status == 200 and answer["error"]["code"] in (-32700, -32600), answer
            else:
                assert 400 <= response.status < 500 and "detail" in answer, (path, response.status, answer)
            connection.close()
    assert node.process.poll() is None
    connection = _connection(node.url)
    connection.request("GET", "/v1/status")
    assert connection.getresponse().status == 200


def test_slow_loris_connections_do_not_stop_service(node) -> None:
    parts = urlsplit(node.url)
    slow = []
    for _ in range(300):
        sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        sock.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")  # and never finish the headers
        slow.append(sock)
    try:
        for _ in range(5):
            started = time.monotonic()
            connection = _connection(node.url)
            connection.request("GET", "/v1/status")
            response = connection.getresponse()
            assert response.status == 200 and json.loads(response.read())["height"] >= 0
            assert time.monotonic() - started < 2, "a normal client waited behind slow ones"
            for sock in slow[:50]:
                sock.sendall(b"X-Slow: 1\r\n")  # one more header line now and then
            time.sleep(0.2)
    finally:
        for sock in slow:
            sock.close()


def test_no_response_carries_a_key_or_the_ingest_token(node) -> None:
    description = json.loads((Path(node.directory) / "localnet.json").read_text())
    secrets = {a["private_key"].removeprefix("0x").lower() for a in description["accounts"]}
    home = Path(description["nodes"][0]["home"])
    token = (home / "secrets" / "data-token").read_text().strip() if (home / "secrets" / "data-token").exists() else None
    connection = _connection(node.url)
    connection.request("GET", "/openapi.json")
    document = json.loads(connection.getresponse().read())
    bodies = []
    paths = [p for p, item in document["paths"].items() if "get" in item and "{" not in p]
    paths += ["/v1/blocks/latest", "/v1/blocks/0", "/metrics", "/ui", "/ui/blocks", "/ui/members", "/docs"]
    for path in paths:
        connection.request("GET", path)
        bodies.append(connection.getresponse().read().decode(errors="replace").lower())
    for method in ("eth_accounts", "eth_coinbase", "web3_clientVersion", "eth_getBlockByNumber"):
        connection.request("POST", "/", json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": ["latest", True] if "Block" in method else []}),
                           {"Content-Type": "application/json"})
        bodies.append(connection.getresponse().read().decode(errors="replace").lower())
    assert len(bodies) >= 12
    for body in bodies:
        for secret in secrets:
            assert secret not in body
        if token:
            assert token.lower() not in body
