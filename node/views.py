"""Read the system contracts from this node's head state (no transaction): for the console, the custodian and
the engine's member list."""

from __future__ import annotations

from typing import Any

from chain_sdk.contracts import ADDRESSES, Contract, decode_error
from node.errors import YilianError

BINDINGS = {name: Contract(None, name) for name in ADDRESSES}


class ContractReverted(YilianError, LookupError):
    """A view or a transaction reverted; ``error`` is the contract's custom error name."""

    def __init__(self, fn: str, error: str, detail: str = "") -> None:
        super().__init__(f"{fn} reverted: {error}" + (f" ({detail})" if detail and detail != error else ""))
        self.error = error


def view(chain, contract: str, fn: str, *args: Any) -> Any:  # type: ignore[no-untyped-def]
    binding = BINDINGS[contract]
    result = chain.executor.call(sender=bytes(20), to=bytes.fromhex(binding.address[2:]), data=binding.encode(fn, *args))
    if not result.success:
        raise ContractReverted(f"{contract}.{fn}", decode_error(result.output)[0], result.error)
    return binding.decode_output(fn, len(args), result.output)
