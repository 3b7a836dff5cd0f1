"""YiLian's state class — zero balance deltas skipped (gas bought and fees paid at a zero gas price), its own
``build_evm_message`` and cached logger — leaves py-evm's state roots and gas as they were."""

from __future__ import annotations

import pytest
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth_account import Account
from eth_utils import to_checksum_address

from node.crypto import get_suite
from node.execution.evm import YilianState, make_state
from node.execution.transactions import decode_transaction

CHAIN_ID = 6600
COINBASE = b"\xc0" * 20
FRESH = b"\x11" * 20
SELF_DESTRUCT_TO_FRESH = b"\x5d" * 20  # runtime: PUSH20 <a fresh address> SELFDESTRUCT
SELF_DESTRUCT_TO_THREE = b"\x5e" * 20  # ... to the RIPEMD-160 precompile (EIP-716's special case)
REVERTS = b"\x5f" * 20  # runtime: REVERT(0, 0)
INIT = bytes.fromhex("602a600055600b601160003960" + "0b6000f3") + bytes.fromhex("60005460005260206000f3")


class PyEvmDeltas(YilianState):
    """YiLian's state with py-evm's own delta_balance, transaction executor and logger: the reference."""

    transaction_executor_class = PragueTransactionExecutor
    logger = PragueState.logger

    def delta_balance(self, address: bytes, delta: int) -> None:
        PragueState.delta_balance(self, address, delta)


def _transactions() -> list:
    rich, fresh_sender = Account.create(), Account.create()
    nonce = {rich.address: 0, fresh_sender.address: 0}

    def tx(account, to: bytes | None, value: int = 0, data: bytes = b"", gas: int = 100_000):  # type: ignore[no-untyped-def]
        fields = {"nonce": nonce[account.address], "gas": gas, "value": value, "data": data, "chainId": CHAIN_ID, "maxFeePerGas": 0,
                  "maxPriorityFeePerGas": 0}
        if to is not None:
            fields["to"] = to_checksum_address(to)
        nonce[account.address] += 1
        return decode_transaction(bytes(account.sign_transaction(fields).raw_transaction), get_suite("gm"), CHAIN_ID)

    return rich, [
        tx(fresh_sender, FRESH),  # a sender with no account yet, zero value to an absent account
        tx(rich, FRESH, value=5),
        tx(rich, b"\x12" * 20, data=b"\x01\x02"),
        tx(rich, None, data=INIT),  # a contract creation
        tx(rich, SELF_DESTRUCT_TO_FRESH),
        tx(rich, SELF_DESTRUCT_TO_THREE),
        tx(rich, REVERTS),
        tx(rich, b"\x13" * 20, gas=21_000),  # exactly the intrinsic gas
        tx(rich, COINBASE, value=1),  # the coinbase gets a balance, then zero fees touch an existing account
    ]


@pytest.mark.parametrize("coinbase_exists_empty", [False, True])
def test_state_roots_match_py_evm_transaction_by_transaction(coinbase_exists_empty: bool) -> None:
    rich, transactions = _transactions()
    roots = {}
    for cls in (PyEvmDeltas, YilianState):
        state = make_state(AtomicDB(), BLANK_ROOT_HASH, chain_id=CHAIN_ID, height=1, timestamp=1, coinbase=COINBASE, gas_limit=10**8)
        state.__class__ = cls
        state.set_balance(bytes.fromhex(rich.address[2:]), 10**18)
        state.set_code(SELF_DESTRUCT_TO_FRESH, b"\x73" + b"\x77" * 20 + b"\xff")
        state.set_code(SELF_DESTRUCT_TO_THREE, b"\x73" + bytes(19) + b"\x03" + b"\xff")
        state.set_code(REVERTS, bytes.fromhex("60006000fd"))
        if coinbase_exists_empty:
            PragueState.delta_balance(state, COINBASE, 0)  # an existing empty account: EIP-161 deletes it when touched
        state.persist()
        assert state.account_exists(COINBASE) is coinbase_exists_empty
        trail = []
        for tx in transactions:
            state.lock_changes()
            computation = state.apply_transaction(tx.evm)
            state.persist()
            trail.append((computation.is_error, computation.get_gas_remaining(), state.state_root))
        roots[cls] = trail
    assert roots[YilianState] == roots[PyEvmDeltas]
    assert [error for error, _, _ in roots[YilianState]] == [False, False, False, False, False, False, True, False, False]
