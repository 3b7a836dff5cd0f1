"""REST resources under ``/v1``: status, blocks, transactions, receipts, proofs, accounts."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from node.api.encoding import header_json, hx, parse_bytes, receipt_json, tx_json
from node.api.problems import Problem, described
from node.api.waiting import BlockWaiter
from node.errors import ValidationError
from node.service import NodeService, NotFound
from node.types import Transaction

router = APIRouter(prefix="/v1")
MSGPACK = "application/msgpack"
MAX_WAIT_S = 60.0
MAX_BATCH = 1_000  # transactions a batch submits, receipts a query asks for


def service(request: Request) -> NodeService:
    return request.app.state.service


def waiter(request: Request) -> BlockWaiter:
    return request.app.state.blocks


class NativeTxFields(BaseModel):
    """A signed native transaction as JSON (bytes as 0x-hex, value as a decimal string)."""

    chain_id: int
    nonce: int
    sender: str
    to: Optional[str] = None
    value: str = "0"
    data: str = "0x"
    gas_limit: int
    valid_until: int
    public_key: str
    signature: str

    def to_transaction(self) -> Transaction:
        try:
            value = int(self.value)
        except ValueError:
            raise ValidationError("value", "must be a decimal integer string") from None
        return Transaction(
            self.chain_id, self.nonce, parse_bytes(self.sender, "sender", 20),
            None if self.to is None else parse_bytes(self.to, "to", 20), value, parse_bytes(self.data, "data"),
            self.gas_limit, self.valid_until, parse_bytes(self.public_key, "public_key"), parse_bytes(self.signature, "signature"),
        )


class SubmitTx(BaseModel):
    """Either ``raw`` (wire bytes of a native or Ethereum transaction) or ``transaction`` (native fields)."""

    raw: Optional[str] = Field(default=None, description="0x-hex wire bytes")
    transaction: Optional[NativeTxFields] = None


async def _raw_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    body = await request.body()
    if content_type == MSGPACK:
        return body
    try:
        document = SubmitTx.model_validate_json(body)
    except ValueError as exc:
        raise Problem(422, "invalid-request", "Invalid request", f"expected JSON {{'raw': '0x…'}} or {{'transaction': {{…}}}} or an {MSGPACK} body: {exc}") from None
    if (document.raw is None) == (document.transaction is None):
        raise Problem(422, "invalid-request", "Invalid request", "give exactly one of 'raw' and 'transaction'")
    if document.raw is not None:
        return parse_bytes(document.raw, "raw")
    return document.transaction.to_transaction().encode()  # type: ignore[union-attr]


@router.get("/status", summary="Chain id, head, validators, peers")
def get_status(node: NodeService = Depends(service)) -> dict:
    return node.status()


@router.get("/evidence", summary="Equivocation evidence this node saw (two conflicting signed messages per entry)")
def get_evidence(node: NodeService = Depends(service)) -> dict:
    log = getattr(node.engine, "evidence", None)
    return {"evidence": list(log.items) if log is not None else [],
            "decode": "first/second are consensus messages as on the wire (tag P or V, then the canonical encoding); "
                      "check both signatures against the validator's key in the genesis or registry"}


def _block_json(node: NodeService, block, full: bool) -> dict:  # type: ignore[no-untyped-def]
    block_hash = block.hash(node.chain.suite)
    certificate = node.chain.store.certificate(block.header.height)
    body: dict[str, Any] = header_json(block.header, block_hash)
    body["certified"] = certificate is not None
    body["transactions"] = [hx(raw) for raw in block.transactions] if full else len(block.transactions)
    return body


@router.get("/blocks/{block_id}", summary="A block by height, hash or tag (latest, earliest); ?wait=S waits up to S seconds "
                                      "for a height this node has not reached (the SDK's read-your-writes across nodes)")
async def get_block(block_id: str, full: bool = False, wait: float = Query(0, ge=0, le=MAX_WAIT_S), blocks: BlockWaiter = Depends(waiter),
                    node: NodeService = Depends(service)) -> dict:
    if block_id.startswith("0x") and len(block_id) == 66:
        block = node.block_by_hash(parse_bytes(block_id, "block_id", 32))
    else:
        if wait and block_id.isascii() and block_id.isdigit() and int(block_id) > node.chain.height:  # ("²" is a digit int() refuses)
            height = int(block_id)
            await blocks.until(lambda: node.chain.height >= height, wait)
        block = node.block(node.resolve_height(block_id))
    return _block_json(node, block, full)


@router.get("/blocks/{height}/certificate", summary="The commit certificate of a block")
def get_certificate(height: int, node: NodeService = Depends(service)) -> dict:
    node.block(height)
    certificate = node.chain.store.certificate(height)
    if certificate is None:
        raise Problem(404, "not-found", "Not found", "the genesis block has no certificate: the genesis file certifies it")
    return {
        "chain_id": certificate.chain_id, "height": certificate.height, "round": certificate.round,
        "block_hash": hx(certificate.block_hash),
        "signatures": [{"validator": hx(s.validator), "signature": hx(s.signature)} for s in certificate.signatures],
        "encoded": hx(certificate.encode()),
    }


@router.post("/transactions", status_code=202, summary="Submit a signed transaction (JSON or msgpack)")
async def post_transaction(request: Request, wait: float = Query(0, ge=0, le=MAX_WAIT_S, description="seconds to wait for inclusion"),
                           node: NodeService = Depends(service), blocks: BlockWaiter = Depends(waiter)) -> dict:
    raw = await _raw_body(request)
    tx = await asyncio.to_thread(node.submit, raw)
    if wait:
        await blocks.until(lambda: node.decided(tx.hash), wait)
        return tx_json(await asyncio.to_thread(node.transaction, tx.hash))  # (NotFound if it was dropped)
    return {"hash": hx(tx.hash), "status": "pending", "kind": tx.kind}


class SubmitBatch(BaseModel):
    raws: list[str] = Field(min_length=1, max_length=MAX_BATCH, description="0x-hex wire bytes of each transaction, in the order to submit them")


def _submit_each(node: NodeService, raws: list[str]) -> list[dict]:
    results = []
    for index, raw in enumerate(raws):
        try:
            tx = node.submit(parse_bytes(raw, f"raws[{index}]"))
        except Exception as exc:  # noqa: BLE001 - a refusal is that item's answer; anything else is the node's fault (500)
            problem = described(exc)
            if problem is None:
                raise
            results.append({"error": problem})
        else:
            results.append({"hash": hx(tx.hash), "status": "pending", "kind": tx.kind})
    return results


@router.post("/transactions/batch", summary="Submit up to 1,000 signed transactions in one request; each is accepted or refused "
             "on its own, in order")
async def post_transactions(batch: SubmitBatch, node: NodeService = Depends(service)) -> dict:
    """One request for many transactions (a center admitting a list of enterprises, a bank's day of guarantees): the
    HTTP work is paid once. Each result is ``{hash, status: pending}`` or ``{error: problem}``; a refusal does not stop
    the ones after it (a sender's later nonces then wait for the missing one: resubmit it)."""
    results = await asyncio.to_thread(_submit_each, node, batch.raws)
    refused = sum("error" in result for result in results)
    return {"accepted": len(results) - refused, "refused": refused, "results": results}


class ReceiptQuery(BaseModel):
    hashes: list[str] = Field(min_length=1, max_length=MAX_BATCH, description="0x-hex transaction hashes")


def _receipt_entries(node: NodeService, digests: list[bytes]) -> list[dict]:
    """Each transaction's entry; a block's receipts are decoded once for all the transactions asked in it (a batch
    lands in a few blocks: decoding the block and its receipts once a transaction made this request a quarter of a
    solo node's time while it committed 300 guarantee issue calls)."""
    store, blocks, entries = node.chain.store, {}, []
    for digest in digests:
        location = store.tx_location(digest)
        if location is None:  # (not on chain: no decoding below)
            try:
                node.transaction(digest)
            except NotFound as exc:
                entries.append({"tx_hash": hx(digest), "state": "dropped" if digest in node.mempool.dropped else "unknown", "detail": str(exc)})
            else:
                entries.append({"tx_hash": hx(digest), "state": "pending"})
            continue
        height, index = location
        if height not in blocks:
            blocks[height] = (store.receipts(height), store.block_hash(height))
        receipts, block_hash = blocks[height]
        body = receipt_json(receipts[index])
        body.update(height=height, index=index, block_hash=hx(block_hash))
        entries.append({"tx_hash": hx(digest), "state": "committed", "receipt": body})
    return entries


@router.post("/receipts", summary="The receipts of up to 1,000 transactions; ?wait=S waits up to S seconds until each is on chain "
             "or dropped")
async def post_receipts(query: ReceiptQuery, wait: float = Query(0, ge=0, le=MAX_WAIT_S), node: NodeService = Depends(service),
                        blocks: BlockWaiter = Depends(waiter)) -> dict:
    """Each entry: ``state`` committed (with ``receipt``, as ``GET /v1/transactions/{hash}/receipt``), pending (in
    the pool), dropped (with ``detail``: why) or unknown (never seen by this node); in the order asked."""
    digests = [parse_bytes(tx_hash, f"hashes[{index}]", 32) for index, tx_hash in enumerate(query.hashes)]
    if wait:
        waiting = digests

        def settled() -> bool:
            nonlocal waiting
            waiting = node.unsettled(waiting)  # each block looks up only those still waiting
            return not waiting

        await blocks.until(settled, wait)
    entries = await asyncio.to_thread(_receipt_entries, node, digests)
    return {"committed": sum(entry["state"] == "committed" for entry in entries), "entries": entries}


@router.get("/transactions/{tx_hash}", summary="A transaction; ?wait=S waits up to S seconds for inclusion")
async def get_transaction(tx_hash: str, wait: float = Query(0, ge=0, le=MAX_WAIT_S), node: NodeService = Depends(service),
                          blocks: BlockWaiter = Depends(waiter)) -> dict:
    digest = parse_bytes(tx_hash, "tx_hash", 32)
    if not wait:
        return tx_json(node.transaction(digest))
    await blocks.until(lambda: node.decided(digest), wait)
    return tx_json(await asyncio.to_thread(node.transaction, digest))


@router.get("/transactions/{tx_hash}/receipt", summary="The receipt (status, gas, logs, revert reason)")
def get_receipt(tx_hash: str, node: NodeService = Depends(service)) -> dict:
    return _receipt_body(*node.receipt(parse_bytes(tx_hash, "tx_hash", 32)))


def _receipt_body(record, receipt) -> dict:  # type: ignore[no-untyped-def]
    body = receipt_json(receipt)
    body.update(height=record.height, index=record.index, block_hash=hx(record.block_hash))
    return body


@router.get("/transactions/{tx_hash}/proof", summary="Inclusion proof of the transaction or its receipt")
def get_proof(tx_hash: str, kind: str = Query("transaction", pattern="^(transaction|receipt)$"), node: NodeService = Depends(service)) -> dict:
    return node.proof(parse_bytes(tx_hash, "tx_hash", 32), kind)


@router.get("/accounts/{address}", summary="Balance, nonce, code size and admission of an account")
def get_account(address: str, block: str = "latest", node: NodeService = Depends(service)) -> dict:
    raw = parse_bytes(address, "address", 20)
    height = node.resolve_height(block)
    state = node.chain.executor.state_at(height)
    nonce = state.get_nonce(raw)
    return {
        "address": hx(raw), "height": height, "balance": str(state.get_balance(raw)), "nonce": nonce,
        "pending_nonce": node.mempool.pending_nonce(raw, nonce), "code_size": len(state.get_code(raw)),
        "admitted": node.chain.executor.head_admits(raw),
    }
