"""JSON-RPC methods that only read memory are answered on the event loop; every other one in a worker thread."""

from __future__ import annotations

import asyncio
import json
import types

import pytest

from node.api import jsonrpc


class _Service:
    def __init__(self) -> None:
        self.chain = types.SimpleNamespace(chain_id=6600, height=41)


@pytest.fixture()
def handoffs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = asyncio.to_thread

    async def counted(function, *args):  # type: ignore[no-untyped-def]
        seen.append(getattr(function, "__name__", "?"))
        return await real(function, *args)

    monkeypatch.setattr(jsonrpc.asyncio, "to_thread", counted)
    return seen


def _ask(method: str, params: list | None = None) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    return asyncio.run(jsonrpc.answer(_Service(), body))  # type: ignore[arg-type]


def test_every_method_named_for_the_loop_exists() -> None:
    assert jsonrpc.ON_THE_LOOP <= {name for name in dir(jsonrpc.EthApi) if name.startswith(("eth_", "net_", "web3_"))}


def test_memory_reads_skip_the_thread_and_answer_alike(handoffs: list[str]) -> None:
    assert _ask("eth_chainId")["result"] == hex(6600)
    assert _ask("eth_blockNumber")["result"] == hex(41)
    assert _ask("net_version")["result"] == "6600"
    assert handoffs == []


def test_a_refused_submission_on_the_loop_is_a_json_rpc_error(handoffs: list[str]) -> None:
    answer = _ask("eth_sendRawTransaction", ["0xzz"])
    assert answer["error"]["code"] == -32602 and handoffs == []


def test_other_methods_and_batches_still_run_in_a_thread(handoffs: list[str]) -> None:
    _ask("eth_getBalance", ["0x" + "11" * 20, "latest"])  # (the stand-in service has no state: what matters is where it ran)
    body = json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}]).encode()
    assert asyncio.run(jsonrpc.answer(_Service(), body))[0]["result"] == hex(6600)  # type: ignore[arg-type]
    assert handoffs == ["_dispatch", "<lambda>"]
