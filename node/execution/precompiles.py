"""National-crypto precompiled contracts.

=========================================  =========================================================
address                                    contract
=========================================  =========================================================
``0x0000000000000000000000000000000000005001``  **SM3**: input = message (any bytes); output = the
                                           32-byte SM3 digest. Gas ``60 + 12 × words(input)``.
``0x0000000000000000000000000000000000005002``  **SM2 verify**: input = public key X‖Y (64 bytes) ‖
                                           signature r‖s (64 bytes) ‖ message (the rest, may be
                                           empty). The signature is checked over
                                           ``SM3(Z ‖ message)`` with the GB/T 32918 default user
                                           ID ``1234567812345678``. Output = a 32-byte word, 1 when
                                           valid, 0 otherwise (also for input shorter than 128
                                           bytes or a point not on the curve); it never reverts.
                                           Gas ``3000 + 12 × words(message)``.
=========================================  =========================================================

Solidity reaches them through ``contracts/lib/GmCrypto.sol``. The addresses
sit far above Ethereum's (0x01–0x11) so a later fork's precompiles cannot
collide with them.
"""

from __future__ import annotations

from eth._utils.numeric import ceil32
from eth.abc import ComputationAPI

from node.crypto import get_suite
from node.crypto.hashing import sm3

SM3_ADDRESS = (0x5001).to_bytes(20, "big")
SM2_VERIFY_ADDRESS = (0x5002).to_bytes(20, "big")

SM3_GAS, SM3_WORD_GAS = 60, 12
SM2_VERIFY_GAS, SM2_VERIFY_WORD_GAS = 3000, 12

_TRUE = (1).to_bytes(32, "big")
_FALSE = bytes(32)
_GM = get_suite("gm")


def sm3_precompile(computation: ComputationAPI) -> ComputationAPI:
    data = computation.msg.data_as_bytes
    computation.consume_gas(SM3_GAS + SM3_WORD_GAS * (ceil32(len(data)) // 32), reason="SM3 precompile")
    computation.output = sm3(data)
    return computation


def sm2_verify_precompile(computation: ComputationAPI) -> ComputationAPI:
    data = computation.msg.data_as_bytes
    message_words = ceil32(max(len(data) - 128, 0)) // 32
    computation.consume_gas(SM2_VERIFY_GAS + SM2_VERIFY_WORD_GAS * message_words, reason="SM2 verify precompile")
    if len(data) < 128:
        computation.output = _FALSE
        return computation
    public_key, signature, message = b"\x04" + data[:64], data[64:128], data[128:]
    computation.output = _TRUE if _GM.verify(public_key, message, signature) else _FALSE
    return computation


PRECOMPILES = {SM3_ADDRESS: sm3_precompile, SM2_VERIFY_ADDRESS: sm2_verify_precompile}
