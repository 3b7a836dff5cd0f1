"""JSON views of chain objects, shared by REST and JSON-RPC."""

from __future__ import annotations

from node.errors import ValidationError


def hx(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def qty(value: int) -> str:
    return hex(value)


def parse_bytes(value: object, field: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValidationError(field, "expected a 0x-prefixed hex string")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise ValidationError(field, "not valid hex") from None
    if size is not None and len(raw) != size:
        raise ValidationError(field, f"expected {size} bytes, got {len(raw)}")
    return raw


def parse_quantity(value: object, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValidationError(field, "expected a 0x-prefixed hex quantity")
    try:
        return int(value, 16)
    except ValueError:
        raise ValidationError(field, "not a hex quantity") from None


def header_json(header, block_hash: bytes) -> dict:  # type: ignore[no-untyped-def]
    return {
        "height": header.height,
        "hash": hx(block_hash),
        "chain_id": header.chain_id,
        "time_ms": header.time_ms,
        "parent_hash": hx(header.parent_hash),
        "proposer": hx(header.proposer),
        "tx_root": hx(header.tx_root),
        "receipt_root": hx(header.receipt_root),
        "state_root": hx(header.state_root),
        "validators_hash": hx(header.validators_hash),
        "next_validators_hash": hx(header.next_validators_hash),
        "gas_used": header.gas_used,
        "tx_count": header.tx_count,
    }


def receipt_json(receipt) -> dict:  # type: ignore[no-untyped-def]
    return {
        "tx_hash": hx(receipt.tx_hash),
        "status": receipt.status,
        "succeeded": receipt.succeeded,
        "gas_used": receipt.gas_used,
        "cumulative_gas_used": receipt.cumulative_gas_used,
        "contract_address": hx(receipt.contract_address),
        "output": hx(receipt.output),
        "revert_reason": receipt.revert_reason or None,
        "logs": [{"address": hx(log.address), "topics": [hx(t) for t in log.topics], "data": hx(log.data)} for log in receipt.logs],
    }


def tx_json(record) -> dict:  # type: ignore[no-untyped-def]
    tx = record.tx
    return {
        "hash": hx(tx.hash),
        "kind": tx.kind,
        "status": "pending" if record.height is None else "committed",
        "height": record.height,
        "index": record.index,
        "block_hash": hx(record.block_hash),
        "chain_id": tx.chain_id,
        "sender": hx(tx.sender),
        "nonce": tx.nonce,
        "to": hx(tx.to),
        "value": str(tx.value),
        "data": hx(tx.data),
        "gas": tx.gas,
        "valid_until": tx.valid_until,
        "raw": hx(tx.raw),
    }
