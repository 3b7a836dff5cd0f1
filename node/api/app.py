"""The FastAPI application of one node."""

from __future__ import annotations

import json
import logging
import time

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from node.api import console, data, jsonrpc, problems, rest
from node.api.waiting import BlockWaiter
from node.service import VERSION, NodeService


def create_app(service: NodeService, *, custodian=None, data_token: str | None = None, metrics=None) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI(
        title="YiLian Chain node API",
        version=VERSION,
        description="REST under /v1 and Ethereum JSON-RPC (POST /). Errors are RFC 9457 problem+json.",
    )
    app.state.service = service
    app.state.blocks = BlockWaiter(service.chain)  # the long-polls' wake-ups (?wait=)
    problems.install(app)
    app.state.custodian, app.state.data_token = custodian, data_token
    from chain_sdk.verify import Genesis

    app.state.light_genesis = Genesis.from_document(service.chain.genesis.raw)  # for the console's proof checks
    if metrics is None:
        from node.metrics import NodeMetrics

        metrics = NodeMetrics()
    app.state.metrics = metrics
    _instrument(app, metrics)
    app.add_middleware(BodyLimit)
    app.include_router(rest.router)
    app.include_router(data.router)
    app.include_router(console.router)
    app.include_router(console.api)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui")
    app.include_router(jsonrpc.router)
    return app


log = logging.getLogger("yilian.api")

MAX_BODY = 32 * 1024 * 1024  # the largest request body: a batch ingest of 10,000 records fits several times


class HttpMiddleware:
    """A plain ASGI middleware (Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request, a third of
    a transaction submission's CPU time): ``http`` calls go to :meth:`handle`, anything else straight through."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.inner(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        """Subclasses wrap the call; by itself the middleware passes it on unchanged."""
        await self.inner(scope, receive, send)


class BodyLimit(HttpMiddleware):
    """Refuse a request body over :data:`MAX_BODY` with 413 problem+json, from its Content-Length or while it
    streams in, before the application reads it into memory."""

    @staticmethod
    def declared_too_large(scope) -> bool:  # type: ignore[no-untyped-def]
        declared = dict(scope.get("headers") or []).get(b"content-length")
        return declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY)

    async def handle(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if self.declared_too_large(scope):
            await self._refuse(scope, send)
            return
        seen = 0

        async def counted():  # type: ignore[no-untyped-def]
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY:
                    raise _TooLarge()
            return message

        try:
            await self.inner(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, send)

    @staticmethod
    async def _refuse(scope, send) -> None:  # type: ignore[no-untyped-def]
        from node.api.problems import problem_response

        response = problem_response(413, "body-too-large", "Request body too large",
                                    f"the request body exceeds {MAX_BODY // (1024 * 1024)} MiB; split it (e.g. smaller ingest batches)",
                                    scope.get("path", ""))
        await response(scope, None, send)


class _TooLarge(Exception):
    pass


class JsonRpcFastPath:
    """``POST /`` — Ethereum JSON-RPC, one HTTP request per transaction from wallets and load — answered without
    FastAPI's routing, dependency and middleware layers, which cost more CPU than submitting the transaction itself
    (profiled on a loaded 4-validator localnet: ~12 % of a node's time). Same answers as the FastAPI route
    (:func:`node.api.jsonrpc.answer`), same body limit (413 problem+json), same latency metric; every other
    request goes to the FastAPI application."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._latency: dict[int, object] = {}  # status -> its labelled histogram (``labels()`` took ~0.9 % of a loaded node)

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, responding = 200, False
        try:
            if BodyLimit.declared_too_large(scope):
                status = 413
                await BodyLimit._refuse(scope, send)
                return
            chunks, seen = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    status = 499  # the client left; nothing to answer
                    return
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > MAX_BODY:
                    status = 413
                    await BodyLimit._refuse(scope, send)
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            content = await jsonrpc.answer(self.app.state.service, b"".join(chunks))
            body = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
            responding = True
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        except Exception:
            status = 500
            log.exception("JSON-RPC request failed")
            if responding:  # the answer was on its way: the connection is broken, nothing more to say
                return
            await problems.problem_response(500, "internal-error", "Internal error", "the node failed to answer; see its log", "/")(scope, receive, send)
        finally:
            histogram = self._latency.get(status)
            if histogram is None:
                histogram = self._latency[status] = self.app.state.metrics.api_latency.labels("POST", "/", str(status))
            histogram.observe(time.perf_counter() - started)  # type: ignore[attr-defined]


def _instrument(app: FastAPI, metrics) -> None:  # type: ignore[no-untyped-def]
    from fastapi.responses import Response

    class Timed(HttpMiddleware):
        """API latency by method, route and status."""

        async def handle(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            status = [500]

            async def sending(message) -> None:  # type: ignore[no-untyped-def]
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await self.inner(scope, receive, sending)
            finally:
                route = scope.get("route")
                metrics.api_latency.labels(scope["method"], getattr(route, "path", "unmatched"), str(status[0])).observe(
                    time.perf_counter() - started)

    app.add_middleware(Timed)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
