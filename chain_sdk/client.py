"""``Client``: one node's REST (``/v1``) and JSON-RPC (``/``) API, with waiting for inclusion and typed errors."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import orjson

from chain_sdk.errors import BatchFailed, InclusionTimeout, NodeBehind, NodeError, NodeUnavailable, SdkError

VALIDITY_BLOCKS = 10_000  # a transaction signed now may be included within this many blocks
BATCH = 100  # transactions a batch request submits (the node takes up to 1,000)
QUERY = 1_000  # receipts a request asks for (the node's limit)
MAX_WAIT_S = 60.0  # the longest a node waits within one request
_ORJSON_AS_JSON = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def exact_orjson(value: Any) -> bytes | None:
    """orjson's JSON of ``value`` (~12× faster than ``json.dumps`` for a bulk import's batch) when it is what
    ``json.dumps`` would write, value for value, else None: orjson refuses, with the options above, integers beyond
    64 bits, subclasses of str/int/dict/list, datetimes, dataclasses, non-string keys and lone surrogates, and it writes
    NaN and the infinities as ``null``, so any output holding ``null`` is refused too (a value with a real null just
    takes the slower path). Floats parse back to the same values either way; orjson also writes UUIDs and enums, which
    ``json.dumps`` refuses."""
    try:
        encoded = orjson.dumps(value, option=_ORJSON_AS_JSON)
    except TypeError:  # (orjson.JSONEncodeError)
        return None
    return None if b"null" in encoded else encoded


def encode_body(body: Any) -> bytes:
    """A request body as JSON (UTF-8): :func:`exact_orjson`'s where it gives one (a batch of 10,000 records: ~3
    instead of ~38 ms of the client's CPU), else ``json.dumps``'s."""
    return exact_orjson(body) or json.dumps(body).encode()


class Session:
    """The highest block, per chain, in which this program saw one of its writes committed (a receipt, an ingest).

    Clients sharing a session see their writes through any node: a client whose node has not yet applied that block
    waits for it (``GET /v1/blocks/{height}?wait=``) before its next request. A BFT block is final once committed,
    but each center applies it in its own time, so without this a call through center A right after a transaction
    through center C could see the state before it (a vote not counted yet, an account not admitted yet). Every
    client shares the process's session unless given its own; ``Session()`` keeps a group of clients apart.
    """

    def __init__(self) -> None:
        self._heights: dict[str, int] = {}  # genesis hash -> height
        self._lock = threading.Lock()

    def saw(self, genesis_hash: str, height: int) -> None:
        with self._lock:
            if height > self._heights.get(genesis_hash, -1):
                self._heights[genesis_hash] = height

    def height(self, genesis_hash: str) -> int:
        return self._heights.get(genesis_hash, 0)

    def __bool__(self) -> bool:
        return bool(self._heights)


SESSION = Session()


class Client:
    """Talks to any node of the consortium.

    >>> client = Client("http://127.0.0.1:8600")      # doctest: +SKIP
    >>> client.status()["height"]                     # doctest: +SKIP
    """

    def __init__(self, url: str, *, timeout: float = 30.0, session: Session | None = None, catch_up_s: float = 10.0) -> None:
        """``session``: whose writes this client must see (default: the process's, see ``Session``); ``catch_up_s``:
        how long a request waits for this node to reach them before raising ``NodeBehind``."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = SESSION if session is None else session
        self.catch_up_s = catch_up_s
        self._chain_id: int | None = None
        self._genesis: str | None = None
        self._node_height = 0  # this node is known to have applied this block
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- transport ----------------------------------------------------------------------

    def _http(self, method: str, path: str, body: Any = None, *, timeout: float | None = None, headers: dict | None = None) -> Any:
        self.catch_up()
        return self._request(method, path, body, timeout=timeout, headers=headers)

    def _request(self, method: str, path: str, body: Any = None, *, timeout: float | None = None, headers: dict | None = None) -> Any:
        data = None if body is None else encode_body(body)
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})})
        return self._send(request, timeout=timeout)

    def _send(self, request: urllib.request.Request, *, timeout: float | None = None) -> Any:
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {"title": error.reason, "detail": raw.decode(errors="replace")[:500]}
            raise _problem_error(problem, error.code) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            raise NodeUnavailable(f"no answer from {self.url}: {getattr(error, 'reason', error)}; is the node running?") from None

    # -- read-your-writes across nodes ---------------------------------------------------------

    def _identify(self) -> str:
        if self._genesis is None:
            self._learn(self._request("GET", "/v1/status"))
        assert self._genesis is not None
        return self._genesis

    def _learn(self, status: dict) -> None:
        self._genesis = str(status["genesis_hash"])
        self._chain_id = int(status["chain_id"])
        self._node_height = max(self._node_height, int(status["height"]))

    def catch_up(self) -> None:
        """Wait until this node has applied every block in which this client's session saw a write committed (every
        request does it first); raises ``NodeBehind`` after ``catch_up_s`` seconds."""
        if not self.session:
            return
        needed = self.session.height(self._identify())
        if needed <= self._node_height:
            return
        waited = min(self.catch_up_s, 60.0)
        try:
            self._request("GET", f"/v1/blocks/{needed}?wait={waited:g}", timeout=self.timeout + waited)
        except NodeError as error:
            if error.status != 404:
                raise
            raise NodeBehind(self.url, int(self._request("GET", "/v1/status")["height"]), needed, waited) from None
        self._node_height = max(self._node_height, needed)

    def observe(self, height: int) -> None:
        """Record that a write of this program was committed in block ``height`` of this node's chain (the SDK does it
        for every receipt and ingest answer; call it for writes made another way)."""
        self._node_height = max(self._node_height, height)
        self.session.saw(self._identify(), height)

    def get(self, path: str, **params: Any) -> Any:
        query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
        return self._http("GET", "/v1" + path + (f"?{query}" if query else ""))

    def rpc(self, method: str, *params: Any) -> Any:
        answer = self._http("POST", "/", {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        if "error" in answer:
            error = answer["error"]
            raise NodeError(400, f"JSON-RPC error {error.get('code')}", error.get("message", ""), body=error)
        return answer["result"]

    # -- chain ------------------------------------------------------------------------------

    def status(self) -> dict:
        status = self.get("/status")
        self._learn(status)
        return status

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self.status()
        assert self._chain_id is not None
        return self._chain_id

    def height(self) -> int:
        return int(self.status()["height"])

    def account(self, address: str) -> dict:
        return self.get(f"/accounts/{address}")

    def next_nonce(self, address: str, count: int = 1) -> int:
        """The nonce for a new transaction from ``address`` (the first of ``count`` consecutive ones, all reserved):
        the node's pending nonce, or one more than the last this client used (so several transactions can be sent
        without waiting)."""
        pending = int(self.account(address)["pending_nonce"])
        with self._lock:
            nonce = max(pending, self._nonces.get(address.lower(), 0))
            self._nonces[address.lower()] = nonce + count
        return nonce

    def forget_nonces(self, address: str) -> None:
        """Take the next nonce of ``address`` from the node again (the SDK does it when the node refuses one of its
        transactions: the nonces reserved after it would leave a gap no later transaction could pass)."""
        with self._lock:
            self._nonces.pop(address.lower(), None)

    def send_raw(self, raw: bytes, *, wait: float = 30.0) -> dict:
        """Submit a signed transaction; with ``wait`` > 0, return its receipt once included."""
        answer = self._http("POST", f"/v1/transactions?wait={wait}" if wait else "/v1/transactions", {"raw": "0x" + raw.hex()},
                            timeout=self.timeout + wait)
        if not wait:
            return answer
        if answer.get("status") != "committed":
            raise InclusionTimeout(f"transaction {answer.get('hash')} not included within {wait} s; it may still be; "
                                   f"check GET /v1/transactions/{answer.get('hash')}", str(answer.get("hash", "")))
        return self.receipt(answer["hash"])

    def send_raws(self, raws: Sequence[bytes], *, wait: float = 30.0) -> list[dict]:
        """Submit many signed transactions, :data:`BATCH` to a request, in order; with ``wait`` > 0 return their
        receipts, in order, once all are included (else ``{hash, status: pending}`` each). One HTTP request per hundred
        transactions instead of one each: on 4 validators the chain finalized 1.2–1.4× as many one-slot writes a second
        (``yilian bench localnet``, ``batched``). Raises :class:`BatchFailed` when the node refuses any (no request is made after the
        one holding the refusal) or, with ``wait``, when any is not included in time."""
        results: list = []
        errors: dict[int, SdkError] = {}
        for start in range(0, len(raws), BATCH):
            answer = self._http("POST", "/v1/transactions/batch", {"raws": ["0x" + raw.hex() for raw in raws[start:start + BATCH]]})
            for result in answer["results"]:
                if "error" in result:
                    errors[len(results)] = _problem_error(result["error"])
                    results.append(None)
                else:
                    results.append(result)
            if errors:
                unsent = list(range(len(results), len(raws)))
                raise BatchFailed(errors, results + [None] * len(unsent), unsent)
        if not wait:
            return results
        entries = self._receipt_entries([result["hash"] for result in results], wait)
        late: dict[int, SdkError] = {index: _not_included(entry, wait) for index, entry in enumerate(entries) if entry["state"] != "committed"}
        receipts = [entry.get("receipt") for entry in entries]
        if late:
            raise BatchFailed(late, receipts)
        return receipts

    def receipts(self, tx_hashes: Sequence[str], *, wait: float = 0.0) -> list[dict | None]:
        """The receipts of ``tx_hashes``, in order, None for a transaction not on chain (pending, dropped or unknown
        to this node); with ``wait``, once all are on chain or dropped, or after ``wait`` seconds."""
        return [entry.get("receipt") for entry in self._receipt_entries(tx_hashes, wait)]

    def _receipt_entries(self, tx_hashes: Sequence[str], wait: float) -> list[dict]:
        deadline = time.monotonic() + wait
        entries: list[dict] = [{} for _ in tx_hashes]
        todo = list(range(len(tx_hashes)))
        while todo:
            for start in range(0, len(todo), QUERY):
                part = todo[start:start + QUERY]
                waited = round(min(max(deadline - time.monotonic(), 0.0), MAX_WAIT_S), 3)
                answer = self._http("POST", f"/v1/receipts?wait={waited}" if waited else "/v1/receipts", {"hashes": [tx_hashes[i] for i in part]},
                                    timeout=self.timeout + waited)
                for index, entry in zip(part, answer["entries"]):
                    entries[index] = entry
            todo = [index for index in todo if entries[index]["state"] in ("pending", "unknown")]
            if time.monotonic() >= deadline:
                break
        heights = [int(entry["receipt"]["height"]) for entry in entries if entry.get("state") == "committed"]
        if heights:
            self.observe(max(heights))
        return entries

    def receipt(self, tx_hash: str) -> dict:
        receipt = self.get(f"/transactions/{tx_hash}/receipt")
        self.observe(int(receipt["height"]))
        return receipt

    def proof(self, tx_hash: str, kind: str = "receipt") -> dict:
        return self.get(f"/transactions/{tx_hash}/proof", kind=kind)

    def call(self, to: str, data: bytes, *, sender: str | None = None) -> bytes:
        """eth_call on the latest block."""
        message = {"to": to, "data": "0x" + data.hex()}
        if sender:
            message["from"] = sender
        return bytes.fromhex(self.rpc("eth_call", message, "latest").removeprefix("0x"))

    def logs(self, address: str, topics: list | None = None, from_block: int = 0, *, window: int = 10_000) -> list[dict]:
        """eth_getLogs from ``from_block`` to the head, asked in windows of ``window`` blocks (the nodes' limit)."""
        head, found = self.height(), []
        for start in range(from_block, head + 1, window):
            end = min(start + window - 1, head)
            found += self.rpc("eth_getLogs", {"address": address, "topics": topics or [], "fromBlock": hex(start), "toBlock": hex(end)})
        return found


def _problem_error(problem: dict, status: int | None = None) -> NodeError:
    """A problem+json body (an HTTP error's, or one item's of a batch answer) as the error the SDK raises."""
    return NodeError(status or int(problem.get("status", 400)), problem.get("title", "error"), problem.get("detail", ""),
                     problem.get("type", "about:blank"), problem)


def _not_included(entry: dict, wait: float) -> InclusionTimeout:
    """Why a transaction of a batch is not on chain after the wait, from its ``POST /v1/receipts`` entry."""
    reason = f"was dropped: {entry.get('detail')}" if entry["state"] == "dropped" else f"was not included within {wait:g} s; it may still be"
    return InclusionTimeout(f"transaction {entry['tx_hash']} {reason}", entry["tx_hash"])
