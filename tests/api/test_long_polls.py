"""Long-polls (``?wait=S``) hold no worker thread: many clients waiting for a block do not stall the node's other
requests (JSON-RPC batches and ``eth_call`` run in worker threads; asyncio's default pool has cores + 4)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from node.runner import API_THREADS

WAITERS = API_THREADS + 8  # more than the node's worker threads (asyncio's default: cores + 4)


def test_many_waiting_clients_do_not_hold_up_other_requests(localnet) -> None:
    url = localnet.url
    with urllib.request.urlopen(f"{url}/v1/status", timeout=10) as response:
        far = json.loads(response.read())["height"] + 100_000
    answered: list[int] = []

    def wait() -> None:
        try:
            urllib.request.urlopen(f"{url}/v1/blocks/{far}?wait=8", timeout=30)
        except urllib.error.HTTPError as error:
            answered.append(error.code)

    waiters = [threading.Thread(target=wait) for _ in range(WAITERS)]
    for waiter in waiters:
        waiter.start()
    time.sleep(1.0)  # (ordering only: let the waits reach the node)
    batch = [{"jsonrpc": "2.0", "id": i, "method": method, "params": params} for i, (method, params) in
             enumerate([("eth_blockNumber", []), ("eth_call", [{"to": "0x" + "00" * 19 + "01", "data": "0x"}, "latest"])])]
    request = urllib.request.Request(url + "/", data=json.dumps(batch).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answers = json.loads(response.read())
    assert [answer["id"] for answer in answers] == [0, 1] and all("result" in answer for answer in answers), answers
    assert answered == [], "the batch was answered only after waiting clients gave up"
    for waiter in waiters:
        waiter.join()
    assert answered == [404] * WAITERS  # each waited its 8 s for a block that never came, then got the problem
