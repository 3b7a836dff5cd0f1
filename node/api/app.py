"""The FastAPI application of one node."""

from __future__ import annotations

from fastapi import FastAPI

from node.api import jsonrpc, problems, rest
from node.service import VERSION, NodeService


def create_app(service: NodeService) -> FastAPI:
    app = FastAPI(
        title="YiLian Chain node API",
        version=VERSION,
        description="REST under /v1 and Ethereum JSON-RPC (POST /). Errors are RFC 9457 problem+json.",
    )
    app.state.service = service
    problems.install(app)
    app.include_router(rest.router)
    app.include_router(jsonrpc.router)
    return app
