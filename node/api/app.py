"""The FastAPI application of one node."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from node.api import console, data, jsonrpc, problems, rest
from node.service import VERSION, NodeService


def create_app(service: NodeService, *, custodian=None, data_token: str | None = None, metrics=None) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI(
        title="YiLian Chain node API",
        version=VERSION,
        description="REST under /v1 and Ethereum JSON-RPC (POST /). Errors are RFC 9457 problem+json.",
    )
    app.state.service = service
    problems.install(app)
    app.state.custodian, app.state.data_token = custodian, data_token
    from chain_sdk.verify import Genesis

    app.state.light_genesis = Genesis.from_document(service.chain.genesis.raw)  # for the console's proof checks
    if metrics is None:
        from node.metrics import NodeMetrics

        metrics = NodeMetrics()
    app.state.metrics = metrics
    _instrument(app, metrics)
    app.include_router(rest.router)
    app.include_router(data.router)
    app.include_router(console.router)
    app.include_router(console.api)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui")
    app.include_router(jsonrpc.router)
    return app


def _instrument(app: FastAPI, metrics) -> None:  # type: ignore[no-untyped-def]
    import time

    from fastapi import Request
    from fastapi.responses import Response

    @app.middleware("http")
    async def timed(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.api_latency.labels(request.method, getattr(route, "path", "unmatched"), str(response.status_code)).observe(
            time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
