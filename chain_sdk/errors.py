"""The SDK's errors: each says what went wrong and, where it can, what to do next."""

from __future__ import annotations

from typing import Any


class SdkError(Exception):
    """Base class of every error the SDK raises."""


class NodeError(SdkError):
    """The node answered with an error (problem+json on REST, an error object on JSON-RPC)."""

    def __init__(self, status: int, title: str, detail: str, type_: str = "about:blank", body: Any = None) -> None:
        super().__init__(f"{title} ({status}): {detail}")
        self.status, self.title, self.detail, self.type, self.body = status, title, detail, type_, body


class NodeUnavailable(SdkError):
    """No node answered at the URL (not started, wrong port, or network down)."""


class NodeBehind(NodeUnavailable):
    """The node has not reached a block this program already saw committed through another node (it may be syncing
    or cut off from its peers): ``height`` is the node's head, ``needed`` the block it did not reach in time."""

    def __init__(self, url: str, height: int, needed: int, waited: float) -> None:
        super().__init__(f"the node at {url} is at block {height} and did not reach block {needed}, which this program "
                         f"already saw committed through another node, within {waited:g} s; it may be syncing or cut off "
                         f"from its peers: check its /v1/status, or use another center's node")
        self.url, self.height, self.needed, self.waited = url, height, needed, waited


class TransactionFailed(SdkError):
    """The transaction was included but reverted; ``error`` is the contract's custom error name when known."""

    def __init__(self, tx_hash: str, error: str, args: tuple = (), reason: str = "", receipt: dict | None = None) -> None:
        shown = f"{error}{args}" if args else error
        super().__init__(f"transaction {tx_hash} reverted: {shown}" + (f" ({reason})" if reason and reason != error else ""))
        self.tx_hash, self.error, self.args_, self.reason, self.receipt = tx_hash, error, args, reason, receipt or {}


class InclusionTimeout(SdkError):
    """The transaction was accepted but not included in time; it may still be included later."""


class KeystoreError(SdkError):
    """A keystore file could not be opened: wrong password, damaged or unsupported file."""


class QrRefused(SdkError):
    """The wallet refused a QR request: ``reason`` is one of expired, replayed, bad-signature, other-chain, malformed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"QR request refused ({reason}): {detail}")
        self.reason, self.detail = reason, detail
