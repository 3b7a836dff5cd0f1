"""RFC 9457 problem details: every API error is ``application/problem+json`` with a stable ``type``."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.codec import CodecError
from node.errors import ValidationError, YilianError
from node.ledger.db import DatabaseError
from node.service import NotFound

TYPE_BASE = "https://yilian.dev/problems/"


class Problem(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = status, slug, title, detail, extra


def problem_response(status: int, slug: str, title: str, detail: str, instance: str = "", **extra: object) -> JSONResponse:
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def described(exc: Exception) -> dict | None:
    """The problem body (without ``instance``) the API answers for a refusal the node raised — a bad value, a refused
    transaction, a missing object — or None for anything else. One item of a batch is reported this way."""
    if isinstance(exc, NotFound):
        return {"type": TYPE_BASE + "not-found", "title": "Not found", "status": 404, "detail": str(exc)}
    if isinstance(exc, ValidationError):
        return {"type": TYPE_BASE + "invalid-input", "title": "Invalid input", "status": 400, "detail": str(exc), "field": exc.field}
    if isinstance(exc, CodecError):
        return {"type": TYPE_BASE + "malformed-encoding", "title": "Malformed encoding", "status": 400, "detail": str(exc)}
    if isinstance(exc, YilianError) and not isinstance(exc, DatabaseError):
        return {"type": TYPE_BASE + "request-refused", "title": "Request refused", "status": 400, "detail": str(exc)}
    return None


def install(app) -> None:  # type: ignore[no-untyped-def]
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.slug, exc.title, exc.detail, request.url.path, **exc.extra)

    from node.offchain.custodian import CustodianError

    @app.exception_handler(CustodianError)
    async def _custodian(request: Request, exc: CustodianError) -> JSONResponse:
        titles = {401: "Unauthorized", 403: "Access refused", 404: "Not found", 409: "Conflict", 422: "Invalid records"}
        return problem_response(exc.status, exc.slug, titles.get(exc.status, "Data service error"), exc.detail, request.url.path, **exc.extra)

    from node.offchain.store import DataStoreFull

    @app.exception_handler(DataStoreFull)
    async def _full(request: Request, exc: DataStoreFull) -> JSONResponse:
        return problem_response(507, "storage-full", "Insufficient storage", str(exc), request.url.path)

    @app.exception_handler(DatabaseError)
    async def _database(request: Request, exc: DatabaseError) -> JSONResponse:
        return problem_response(503, "storage-unavailable", "Storage unavailable", str(exc), request.url.path)

    async def _described(request: Request, exc: Exception) -> JSONResponse:
        body = described(exc)
        assert body is not None  # (registered for the kinds it describes)
        return JSONResponse({**body, "instance": request.url.path}, status_code=body["status"], media_type="application/problem+json")

    for kind in (NotFound, ValidationError, CodecError, YilianError):  # (the most specific handler wins: DatabaseError's above)
        app.add_exception_handler(kind, _described)

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(map(str, e.get("loc", ()))), "msg": e.get("msg", "")} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(422, "invalid-request", "Invalid request", detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, slug, str(exc.detail), str(exc.detail), request.url.path)
