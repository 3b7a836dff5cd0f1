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
    """The transaction (``tx_hash``) was accepted but not included in time; it may still be included later."""

    def __init__(self, message: str, tx_hash: str = "") -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class BatchFailed(SdkError):
    """Some transactions of a batch did not succeed. ``errors`` maps each one's index to why: ``NodeError`` (the node
    refused it), ``InclusionTimeout`` (accepted, not included in time, or dropped from the pool) or
    ``TransactionFailed`` (included, reverted); ``results`` holds, by index, what the others gave (a receipt, or
    ``{hash, status: pending}`` for one accepted but not waited for), None for the failed and the unsent; ``unsent``
    lists the indexes never sent (a request after a refusal is not made: resubmit them once the cause is fixed)."""

    def __init__(self, errors: dict[int, SdkError], results: list, unsent: list[int] | None = None) -> None:
        self.errors, self.results, self.unsent = errors, results, unsent or []
        first = min(errors)
        shown = f"{len(errors)} of {len(results)} transactions failed (first: #{first}: {errors[first]})"
        super().__init__(shown + (f"; {len(self.unsent)} not sent after it, from #{self.unsent[0]}" if self.unsent else ""))


class KeystoreError(SdkError):
    """A keystore file could not be opened: wrong password, damaged or unsupported file."""


class QrRefused(SdkError):
    """The wallet refused a QR request: ``reason`` is one of expired, replayed, bad-signature, other-chain, malformed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"QR request refused ({reason}): {detail}")
        self.reason, self.detail = reason, detail
