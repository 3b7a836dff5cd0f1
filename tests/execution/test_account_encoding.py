"""YiLian's account writes store exactly the bytes py-evm's would."""

from __future__ import annotations

import rlp
from eth.rlp.accounts import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from node.execution.evm import encode_account

UINT64, UINT256 = st.integers(0, 2**64 - 1), st.integers(0, 2**256 - 1)
EDGES = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 2**55, 2**64 - 1]


@settings(max_examples=500, deadline=None)
@given(nonce=st.one_of(UINT64, st.sampled_from(EDGES)), balance=st.one_of(UINT256, st.sampled_from(EDGES + [2**256 - 1])),
       storage_root=st.binary(min_size=32, max_size=32), code_hash=st.binary(min_size=32, max_size=32))
def test_encode_account_is_pyrlps_encoding(nonce: int, balance: int, storage_root: bytes, code_hash: bytes) -> None:
    account = Account(nonce, balance, storage_root, code_hash)
    encoded = encode_account(account)
    assert encoded == rlp.encode(account, sedes=Account)
    assert rlp.decode(encoded, sedes=Account) == account
