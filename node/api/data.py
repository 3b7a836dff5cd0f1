"""The custodian data service over REST (``/v1/data``): ingest (operator only, bearer token), serve to grantees."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from fastapi import APIRouter, Depends, Request

from node.api.encoding import parse_bytes
from node.api.problems import Problem
from node.offchain import standard
from node.offchain.ingest import collector_paused

router = APIRouter(prefix="/v1/data", tags=["data"])


def custodian(request: Request):  # type: ignore[no-untyped-def]
    found = getattr(request.app.state, "custodian", None)
    if found is None:
        raise Problem(503, "no-data-service", "Data service off", "this node runs no custodian data service (it needs the center's "
                                                                 "admin key: start it with `yilian node --home DIR`)")
    return found


def operator(request: Request) -> None:
    """Ingest is for the center's own systems: ``Authorization: Bearer <secrets/data-token>``."""
    expected = getattr(request.app.state, "data_token", None)
    given = request.headers.get("authorization", "")
    if not expected or not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].strip().encode(), expected.encode()):
        raise Problem(401, "unauthorized", "Unauthorized", "ingesting records needs the center's data token: send "
                                                           "'Authorization: Bearer <token>' with the token from <home>/secrets/data-token")


def _loads_bulk(body: bytes) -> Any:
    with collector_paused():  # a bulk import's 10,000 records: their dicts all live on, nothing for the collector to find
        return json.loads(body)


async def _json(request: Request) -> Any:
    body = await request.body()
    try:  # in a worker thread: a bulk import's body (~2.5 MB for 10,000 records) would hold the event loop ~30 ms
        return await asyncio.to_thread(_loads_bulk, body) if len(body) > 65_536 else json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than any record
        raise Problem(422, "invalid-request", "Invalid request", "the body must be JSON") from None


@router.get("/schemas", summary="The record types of the unified data standard")
def get_schemas() -> dict:
    return {"types": standard.record_types()}


@router.get("/schemas/{record_type}", summary="One record type's JSON Schema")
def get_schema(record_type: str) -> dict:
    if record_type not in standard.record_types():
        raise Problem(404, "not-found", "Not found", f"no record type {record_type!r}; see /v1/data/schemas")
    return json.loads((standard.SCHEMA_DIR / f"{record_type}.json").read_text(encoding="utf-8"))


@router.post("/records", status_code=201, dependencies=[Depends(operator)],
             summary="Ingest one record: validate, anchor its salted SM3 commitment (or a new version), store it encrypted")
async def post_record(request: Request, service=Depends(custodian)) -> dict:  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(service.ingest, await _json(request))


@router.post("/batches", status_code=201, dependencies=[Depends(operator)],
             summary="Ingest up to 10,000 records anchored as one Merkle root (all or nothing)")
async def post_batch(request: Request, service=Depends(custodian)) -> dict:  # type: ignore[no-untyped-def]
    # The collector stays off from the parse to the answer, so the batch's ~100,000 containers are freed (by reference
    # counting, when the last name below lets go) before it resumes: it never walks them, nor promotes them to the
    # oldest generation, whose growth set off a full pass over the node's heap (~140 ms) every few batches.
    with collector_paused():
        body = await _json(request)
        items = body.get("records") if isinstance(body, dict) else None
        del body
        answer = await asyncio.to_thread(service.ingest_batch, items)
        del items
        return answer


@router.get("/records/{record_id}", summary="Whether this center holds a record, and its on-chain anchor (never the data)")
def get_record(record_id: str, service=Depends(custodian)) -> dict:  # type: ignore[no-untyped-def]
    return service.describe(parse_bytes(record_id, "record_id", 32))


@router.post("/access", summary="A grantee's signed request for a record: served in an SM2 envelope under a live grant")
async def post_access(request: Request, service=Depends(custodian)) -> dict:  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(service.access, await _json(request))
