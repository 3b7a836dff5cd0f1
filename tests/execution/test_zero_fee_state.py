"""YiLian's state class — zero balance deltas skipped (gas bought and fees paid at a zero gas price), touching an
account a no-op, its account writes, its own ``build_evm_message`` and cached logger — leaves py-evm's state roots, gas and return data
as they were."""

from __future__ import annotations

import pytest
from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
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
EMPTY = b"\x14" * 20  # an account that exists, empty (no balance, nonce or code): a touch deletes it (EIP-161)
PROBE = b"\x60" * 20  # runtime: calls the address in the first 20 bytes of the call data with wei, then returns
# that address's EXTCODEHASH, BALANCE and EXTCODESIZE as three words; the wei is in the call data's 21st byte


def _probe_code() -> bytes:
    target = "600035" + "60601c"  # PUSH1 0 CALLDATALOAD PUSH1 96 SHR: the address
    value = "60143560f81c"  # PUSH1 20 CALLDATALOAD PUSH1 248 SHR: byte 20 of the call data
    call = "6000600060006000" + "8486" + "5af15050"  # out/in sizes and offsets 0, DUP5 (wei), DUP7 (address), GAS CALL, 2×POP
    observe = "803f600052" + "8031602052" + "803b604052"  # EXTCODEHASH, BALANCE, EXTCODESIZE of the address at 0, 32, 64
    return bytes.fromhex(target + value + call + observe + "60606000f3")  # RETURN(0, 96)
INIT = bytes.fromhex("602a600055600b601160003960" + "0b6000f3") + bytes.fromhex("60005460005260206000f3")


class PyEvmDeltas(YilianState):
    """YiLian's state with py-evm's own delta_balance, touch, account database, transaction executor and logger:
    the reference."""

    account_db_class = AccountDB
    transaction_executor_class = PragueTransactionExecutor
    logger = PragueState.logger

    def delta_balance(self, address: bytes, delta: int) -> None:
        PragueState.delta_balance(self, address, delta)

    def touch_account(self, address: bytes) -> None:
        PragueState.touch_account(self, address)


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
        tx(rich, PROBE, data=b"\x21" * 20 + b"\x00"),  # a contract calls an absent account with 0 wei, then looks at it
        tx(rich, PROBE, data=b"\x22" * 20 + b"\x01"),  # ... with 1 wei (the new-account gas)
        tx(rich, PROBE, data=EMPTY + b"\x00"),  # ... an existing empty account, which EIP-161 then deletes
        tx(rich, PROBE, data=b"\x00" * 19 + b"\x02" + b"\x00"),  # ... the SHA-256 precompile
        tx(rich, PROBE, data=REVERTS + b"\x00"),  # ... a contract that reverts
        tx(rich, EMPTY),  # a transaction to an existing empty account
    ]


@pytest.mark.parametrize("coinbase_exists_empty", [False, True])
def test_state_roots_match_py_evm_transaction_by_transaction(coinbase_exists_empty: bool) -> None:
    rich, transactions = _transactions()
    roots = {}
    for cls in (PyEvmDeltas, YilianState):
        state = make_state(AtomicDB(), BLANK_ROOT_HASH, chain_id=CHAIN_ID, height=1, timestamp=1, coinbase=COINBASE, gas_limit=10**8)
        state = cls(AtomicDB(), state.execution_context, BLANK_ROOT_HASH)  # the class's own account database too
        assert type(state._account_db) is cls.account_db_class
        state.set_balance(bytes.fromhex(rich.address[2:]), 10**18)
        state.set_code(SELF_DESTRUCT_TO_FRESH, b"\x73" + b"\x77" * 20 + b"\xff")
        state.set_code(SELF_DESTRUCT_TO_THREE, b"\x73" + bytes(19) + b"\x03" + b"\xff")
        state.set_code(REVERTS, bytes.fromhex("60006000fd"))
        state.set_code(PROBE, _probe_code())
        state.set_balance(PROBE, 10)
        PragueState.delta_balance(state, EMPTY, 0)
        if coinbase_exists_empty:
            PragueState.delta_balance(state, COINBASE, 0)  # an existing empty account: EIP-161 deletes it when touched
        state.persist()
        assert state.account_exists(COINBASE) is coinbase_exists_empty
        trail = []
        for tx in transactions:
            state.lock_changes()
            computation = state.apply_transaction(tx.evm)
            state.persist()
            trail.append((computation.is_error, computation.get_gas_remaining(), computation.output, state.state_root))
        roots[cls] = trail
    assert roots[YilianState] == roots[PyEvmDeltas]
    assert [error for error, *_ in roots[YilianState]] == [False] * 6 + [True] + [False] * 8
    probes = [output for *_, output, _ in roots[YilianState]][9:14]
    assert [len(output) for output in probes] == [96] * 5
    assert probes[1][32:64] == (1).to_bytes(32, "big")  # the wei arrived: the call really ran
    assert probes[2][:32] == bytes(32)  # the empty account reads as dead, as py-evm has it
