"""The FastAPI application of one node."""

from __future__ import annotations

from fastapi import FastAPI

from node.api import data, jsonrpc, problems, rest
from node.service import VERSION, NodeService


def create_app(service: NodeService, *, custodian=None, data_token: str | None = None) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI(
        title="YiLian Chain node API",
        version=VERSION,
        description="REST under /v1 and Ethereum JSON-RPC (POST /). Errors are RFC 9457 problem+json.",
    )
    app.state.service = service
    problems.install(app)
    app.state.custodian, app.state.data_token = custodian, data_token
    app.include_router(rest.router)
    app.include_router(data.router)
    app.include_router(jsonrpc.router)
    return app
