"""Ethereum JSON-RPC at ``POST /`` (single and batch), the subset web3.py and eth-account need.

Differences from Ethereum a web3 user may notice: gas price is always 0 (no
fees), blocks are final when they appear (``safe``/``finalized`` = latest),
block hashes are the chain suite's hash of our header (SM3 on ``gm``
chains), and ``difficulty``/``nonce``/``uncles`` are zero or empty.
Revert errors use code 3 with the revert data in ``data``, as geth does, so
web3.py raises ``ContractLogicError`` with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable

from eth_bloom import BloomFilter
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from node.api.encoding import hx, parse_bytes, parse_quantity, qty
from node.codec import CodecError
from node.errors import ValidationError, YilianError
from node.execution.transactions import ETHEREUM
from node.service import VERSION, NodeService, NotFound

log = logging.getLogger("yilian.api")
router = APIRouter()
MAX_BATCH = 100
EMPTY_UNCLES = bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def _bloom(logs) -> bytes:  # type: ignore[no-untyped-def]
    bloom = BloomFilter()
    for log in logs:
        bloom.add(log.address)
        for topic in log.topics:
            bloom.add(topic)
    return int(bloom).to_bytes(256, "big")


class EthApi:
    """One method per JSON-RPC method; parameters arrive as the JSON list."""

    def __init__(self, node: NodeService) -> None:
        self.node = node
        self.chain = node.chain

    # -- chain info -------------------------------------------------------------------
    def eth_chainId(self) -> str:
        return qty(self.chain.chain_id)

    def net_version(self) -> str:
        return str(self.chain.chain_id)

    def web3_clientVersion(self) -> str:
        return f"YiLian/v{VERSION}/python"

    def eth_blockNumber(self) -> str:
        return qty(self.chain.height)

    def eth_syncing(self) -> bool:
        return False

    def eth_gasPrice(self) -> str:
        return "0x0"

    def eth_maxPriorityFeePerGas(self) -> str:
        return "0x0"

    def eth_accounts(self) -> list:
        return []

    def eth_feeHistory(self, count: Any, newest: Any, percentiles: Any = None) -> dict:
        blocks = min(parse_quantity(count, "blockCount") if isinstance(count, str) else int(count), 1024)
        newest_height = self.node.resolve_height(newest)
        oldest = max(0, newest_height - blocks + 1)
        heights = range(oldest, newest_height + 1)
        ratios = [self.chain.store.header(h).gas_used / self.chain.genesis.consensus.max_block_gas for h in heights]  # type: ignore[union-attr]
        result = {"oldestBlock": qty(oldest), "baseFeePerGas": ["0x0"] * (len(ratios) + 1), "gasUsedRatio": ratios}
        if percentiles:
            result["reward"] = [["0x0"] * len(percentiles) for _ in ratios]
        return result

    # -- blocks -----------------------------------------------------------------------------
    def _block(self, block, full: bool) -> dict:  # type: ignore[no-untyped-def]
        header = block.header
        suite = self.chain.suite
        block_hash = block.hash(suite)
        receipts = self.chain.store.receipts(header.height)
        if full:
            transactions = [self._tx(self.node.transaction(r.tx_hash)) for r in receipts]
        else:
            transactions = [hx(r.tx_hash) for r in receipts]
        return {
            "number": qty(header.height), "hash": hx(block_hash), "parentHash": hx(header.parent_hash),
            "nonce": "0x0000000000000000", "sha3Uncles": hx(EMPTY_UNCLES),
            "logsBloom": hx(_bloom([log for r in receipts for log in r.logs])),
            "transactionsRoot": hx(header.tx_root), "stateRoot": hx(header.state_root), "receiptsRoot": hx(header.receipt_root),
            "miner": hx(header.proposer), "difficulty": "0x0", "totalDifficulty": "0x0", "extraData": "0x",
            "size": qty(len(block.encode())), "gasLimit": qty(self.chain.genesis.consensus.max_block_gas),
            "gasUsed": qty(header.gas_used), "timestamp": qty(header.time_ms // 1000), "transactions": transactions,
            "uncles": [], "baseFeePerGas": "0x0", "mixHash": hx(header.parent_hash),
        }

    def eth_getBlockByNumber(self, tag: Any, full: bool = False) -> dict | None:
        try:
            return self._block(self.node.block(self.node.resolve_height(tag)), bool(full))
        except NotFound:
            return None

    def eth_getBlockByHash(self, block_hash: Any, full: bool = False) -> dict | None:
        try:
            return self._block(self.node.block_by_hash(parse_bytes(block_hash, "blockHash", 32)), bool(full))
        except NotFound:
            return None

    def eth_getBlockTransactionCountByNumber(self, tag: Any) -> str:
        return qty(self.node.block(self.node.resolve_height(tag)).header.tx_count)

    # -- transactions -------------------------------------------------------------------------
    def _tx(self, record) -> dict:  # type: ignore[no-untyped-def]
        tx = record.tx
        body = {
            "hash": hx(tx.hash), "nonce": qty(tx.nonce), "blockHash": hx(record.block_hash),
            "blockNumber": None if record.height is None else qty(record.height),
            "transactionIndex": None if record.index is None else qty(record.index),
            "from": hx(tx.sender), "to": hx(tx.to), "value": qty(tx.value), "gas": qty(tx.gas),
            "gasPrice": "0x0", "input": hx(tx.data), "chainId": qty(tx.chain_id),
        }
        if tx.kind == ETHEREUM:
            v_or_parity, r, s = tx.signature_fields
            body.update(type=qty(tx.eth_type), r=qty(r), s=qty(s), v=qty(v_or_parity))
            if tx.eth_type:
                body["yParity"] = qty(v_or_parity)
                body["accessList"] = []
            if tx.eth_type == 2:
                body.update(maxFeePerGas=qty(tx.max_fee_per_gas), maxPriorityFeePerGas=qty(tx.max_priority_fee_per_gas))
        else:
            signature = tx.signature_fields[0]
            body.update(type="0x0", v="0x0", r=qty(int.from_bytes(signature[:32], "big")), s=qty(int.from_bytes(signature[32:64], "big")),
                        yilianKind="native", yilianValidUntil=qty(tx.valid_until), yilianPublicKey=hx(tx.public_key))
        return body

    def eth_getTransactionByHash(self, tx_hash: Any) -> dict | None:
        try:
            return self._tx(self.node.transaction(parse_bytes(tx_hash, "hash", 32)))
        except NotFound:
            return None

    def eth_getTransactionReceipt(self, tx_hash: Any) -> dict | None:
        try:
            record, receipt = self.node.receipt(parse_bytes(tx_hash, "hash", 32))
        except NotFound:
            return None
        receipts = self.chain.store.receipts(record.height)
        first_log = sum(len(r.logs) for r in receipts[: record.index])
        logs = [
            {
                "address": hx(log.address), "topics": [hx(t) for t in log.topics], "data": hx(log.data),
                "blockNumber": qty(record.height), "blockHash": hx(record.block_hash), "transactionHash": hx(receipt.tx_hash),
                "transactionIndex": qty(record.index), "logIndex": qty(first_log + i), "removed": False,
            }
            for i, log in enumerate(receipt.logs)
        ]
        tx = record.tx
        return {
            "transactionHash": hx(receipt.tx_hash), "transactionIndex": qty(record.index), "blockHash": hx(record.block_hash),
            "blockNumber": qty(record.height), "from": hx(tx.sender), "to": hx(tx.to),
            "cumulativeGasUsed": qty(receipt.cumulative_gas_used), "gasUsed": qty(receipt.gas_used), "effectiveGasPrice": "0x0",
            "contractAddress": hx(receipt.contract_address), "logs": logs, "logsBloom": hx(_bloom(receipt.logs)),
            "status": qty(receipt.status), "type": qty(tx.eth_type or 0), "revertReason": receipt.revert_reason or None,
        }

    def eth_sendRawTransaction(self, raw: Any) -> str:
        tx = self.node.submit(parse_bytes(raw, "data"))
        return hx(tx.hash)

    def eth_getTransactionCount(self, address: Any, tag: Any = "latest") -> str:
        account = parse_bytes(address, "address", 20)
        nonce = self._state(tag).get_nonce(account)
        if tag == "pending":
            nonce = self.node.mempool.pending_nonce(account, nonce)
        return qty(nonce)

    # -- state ---------------------------------------------------------------------------------------
    def _state(self, tag: Any):  # type: ignore[no-untyped-def]
        if isinstance(tag, dict):
            if "blockHash" in tag:
                tag = self.node.block_by_hash(parse_bytes(tag["blockHash"], "blockHash", 32)).header.height
            elif "blockNumber" in tag:
                tag = tag["blockNumber"]
        return self.chain.executor.state_at(self.node.resolve_height(tag))

    def eth_getBalance(self, address: Any, tag: Any = "latest") -> str:
        return qty(self._state(tag).get_balance(parse_bytes(address, "address", 20)))

    def eth_getCode(self, address: Any, tag: Any = "latest") -> str:
        return hx(self._state(tag).get_code(parse_bytes(address, "address", 20)))  # type: ignore[return-value]

    def eth_getStorageAt(self, address: Any, slot: Any, tag: Any = "latest") -> str:
        value = self._state(tag).get_storage(parse_bytes(address, "address", 20), parse_quantity(slot, "slot"))
        return hx(value.to_bytes(32, "big"))  # type: ignore[return-value]

    def _call_args(self, call: Any) -> dict:
        if not isinstance(call, dict):
            raise ValidationError("transaction", "expected a call object")
        data = call.get("data", call.get("input", "0x"))
        return {
            "sender": parse_bytes(call["from"], "from", 20) if call.get("from") else bytes(20),
            "to": parse_bytes(call["to"], "to", 20) if call.get("to") else None,
            "data": parse_bytes(data, "data"),
            "value": parse_quantity(call.get("value", "0x0"), "value"),
        }

    def _height_of(self, tag: Any) -> int:
        if isinstance(tag, dict):
            return self._state(tag).block_number - 1
        return self.node.resolve_height(tag)

    @staticmethod
    def _raise_failure(result) -> None:  # type: ignore[no-untyped-def]
        if result.output:
            raise RpcError(3, f"execution reverted: {result.error}", hx(result.output))
        raise RpcError(-32000, result.error or "execution failed")

    def eth_call(self, call: Any, tag: Any = "latest", *_overrides: Any) -> str:
        args = self._call_args(call)
        gas = parse_quantity(call["gas"], "gas") if call.get("gas") else None
        result = self.chain.executor.call(**args, gas=gas, height=self._height_of(tag))
        if not result.success:
            self._raise_failure(result)
        return hx(result.output)  # type: ignore[return-value]

    def eth_estimateGas(self, call: Any, tag: Any = "latest", *_overrides: Any) -> str:
        result = self.chain.executor.estimate_gas(**self._call_args(call), height=self._height_of(tag))
        if not result.success:
            self._raise_failure(result)
        return qty(result.gas_used)

    # -- logs -------------------------------------------------------------------------------------------
    def eth_getLogs(self, criteria: Any) -> list:
        if not isinstance(criteria, dict):
            raise ValidationError("filter", "expected a filter object")
        if criteria.get("blockHash"):
            height = self.node.block_by_hash(parse_bytes(criteria["blockHash"], "blockHash", 32)).header.height
            start = end = height
        else:
            start = self.node.resolve_height(criteria.get("fromBlock", "latest"))
            end = self.node.resolve_height(criteria.get("toBlock", "latest"))
        address = criteria.get("address")
        addresses = [] if address is None else [parse_bytes(a, "address", 20) for a in (address if isinstance(address, list) else [address])]
        topics: list[list[bytes] | None] = []
        for position, topic in enumerate(criteria.get("topics") or []):
            if topic is None:
                topics.append(None)
            else:
                options = topic if isinstance(topic, list) else [topic]
                topics.append([parse_bytes(t, f"topics[{position}]", 32) for t in options])
        return [
            {
                "address": hx(r.address), "topics": [hx(t) for t in r.topics], "data": hx(r.data), "blockNumber": qty(r.height),
                "blockHash": hx(r.block_hash), "transactionHash": hx(r.tx_hash), "transactionIndex": qty(r.tx_index),
                "logIndex": qty(r.log_index), "removed": False,
            }
            for r in self.node.logs(start, end, addresses, topics)
        ]


def _dispatch(api: EthApi, request: Any) -> dict | None:
    request_id = request.get("id") if isinstance(request, dict) else None
    try:
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
            raise RpcError(-32600, "invalid request: expected {'jsonrpc': '2.0', 'method': ..., 'params': [...], 'id': ...}")
        method_name = request["method"]
        method: Callable | None = getattr(api, method_name, None) if not method_name.startswith("_") else None
        if method is None or not (method_name.startswith(("eth_", "net_", "web3_"))):
            raise RpcError(-32601, f"the method {method_name} does not exist/is not available")
        params = request.get("params", [])
        if not isinstance(params, list):
            raise RpcError(-32602, "params must be a list")
        try:
            result = method(*params)
        except TypeError as exc:
            raise RpcError(-32602, f"invalid params for {method_name}: {exc}") from None
        response: dict = {"jsonrpc": "2.0", "id": request_id, "result": result}
    except RpcError as exc:
        error: dict = {"code": exc.code, "message": exc.message}
        if exc.data is not None:
            error["data"] = exc.data
        response = {"jsonrpc": "2.0", "id": request_id, "error": error}
    except NotFound as exc:
        response = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32001, "message": str(exc)}}
    except ValidationError as exc:
        code = -32000 if request.get("method") == "eth_sendRawTransaction" else -32602
        response = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": str(exc)}}
    except (YilianError, CodecError) as exc:
        response = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32000, "message": str(exc)}}
    except (KeyError, ValueError) as exc:
        response = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": f"invalid params: {exc}"}}
    except (TypeError, AttributeError, IndexError, OverflowError) as exc:
        # params of the wrong JSON type reaching a method that did not check them (found by fuzzing): the
        # caller's mistake, said as such, never an HTTP 500
        log.info("JSON-RPC %s: params %.200r refused late (%s: %s)", request.get("method"), request.get("params"), type(exc).__name__, exc)
        response = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": f"invalid params: {type(exc).__name__}: {exc}"}}
    return response


@router.post("/", summary="Ethereum JSON-RPC (single or batch)")
async def json_rpc(request: Request) -> JSONResponse:
    # a node serves POST / through node.api.app.JsonRpcFastPath; this route documents it and serves the app alone
    return JSONResponse(await answer(request.app.state.service, await request.body()))


# Methods answered on the event loop itself: they read what the node keeps in memory (a submission decodes one
# transaction, ~0.1 ms, and reads its sender's nonce and admission from the head's caches, LevelDB only on a miss), so
# the hand-off to a worker thread and back would cost more than the work
ON_THE_LOOP = frozenset({"eth_sendRawTransaction", "eth_chainId", "eth_blockNumber", "net_version", "web3_clientVersion"})


async def answer(service: NodeService, body: bytes) -> Any:
    """The JSON-RPC answer to a request body (one request or a batch); the methods run in a worker thread, but for
    :data:`ON_THE_LOOP`'s alone."""
    api = EthApi(service)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error: body is not JSON"}}
    if isinstance(payload, list):
        if not payload or len(payload) > MAX_BATCH:
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": f"a batch holds 1 to {MAX_BATCH} requests"}}
        return await asyncio.to_thread(lambda: [_dispatch(api, item) for item in payload])
    if isinstance(payload, dict) and payload.get("method") in ON_THE_LOOP:
        return _dispatch(api, payload)
    return await asyncio.to_thread(_dispatch, api, payload)
