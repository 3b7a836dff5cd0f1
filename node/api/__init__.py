"""The node's HTTP API: REST under ``/v1`` and Ethereum JSON-RPC at ``/`` (see :func:`create_app`)."""

from node.api.app import create_app

__all__ = ["create_app"]
