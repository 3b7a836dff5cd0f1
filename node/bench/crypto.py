"""Crypto benchmark: the suites' operations against the raw libraries, same run.

Ceilings: tongsuopy for SM2 (our wrapper adds r||s <-> DER, range checks and a
public-key cache), OpenSSL (hashlib) for SM3, safe-pysha3 for keccak256, coincurve
for secp256k1. Every verification uses distinct messages so no cache helps.
"""

from __future__ import annotations

from collections.abc import Callable

from node.bench import compare


def run(quick: bool, progress: Callable[[str], None]) -> dict:
    import hashlib

    import coincurve
    from sha3 import keccak_256
    from tongsuopy.crypto import hashes as t_hashes
    from tongsuopy.crypto.asymciphers import ec as t_ec

    from node.crypto import get_suite
    from node.crypto.hashing import keccak256, sm3
    from node.crypto.sm2 import signature_to_der

    seconds = 0.6 if quick else 3.0
    results: dict = {}
    gm, ecdsa = get_suite("gm"), get_suite("ecdsa")

    progress("SM2 sign")
    key = gm.generate_key()
    raw_key = key._handle  # the tongsuopy key object itself: the library ceiling
    algorithm = t_ec.ECDSA(t_hashes.SM3())
    messages = [i.to_bytes(8, "big") * 4 for i in range(512)]
    results["sm2_sign"] = compare(
        lambda i: key.sign(messages[i % 512]),
        lambda i: raw_key.sign(messages[i % 512], algorithm),
        seconds=seconds,
    )

    progress("SM2 verify")
    signatures = [key.sign(message) for message in messages]
    der_signatures = [signature_to_der(signature) for signature in signatures]
    raw_public = raw_key.public_key()
    public = key.public_key
    results["sm2_verify"] = compare(
        lambda i: gm.verify(public, messages[i % 512], signatures[i % 512]),
        lambda i: raw_public.verify(der_signatures[i % 512], messages[i % 512], algorithm),
        seconds=seconds,
    )

    progress("SM3 / keccak256 of 1 KiB")
    block = bytes(range(256)) * 4

    def raw_sm3(_: int) -> None:  # the library under our sm3: OpenSSL through hashlib (cryptography's Hash was 1.4× slower)
        hashlib.new("sm3", block).digest()

    results["sm3_1kib"] = compare(lambda i: sm3(block), raw_sm3, seconds=seconds)
    results["keccak256_1kib"] = compare(
        lambda i: keccak256(block), lambda i: keccak_256(block).digest(), seconds=seconds
    )

    progress("secp256k1 sign / verify (recover)")
    ekey = ecdsa.generate_key()
    raw_ekey = coincurve.PrivateKey(ekey.secret_bytes())
    # The ceiling does the same work: keccak256 (safe-pysha3) then sign.
    results["secp256k1_sign"] = compare(
        lambda i: ekey.sign(messages[i % 512]),
        lambda i: raw_ekey.sign_recoverable(keccak_256(messages[i % 512]).digest(), hasher=None),
        seconds=seconds,
    )
    # More distinct signatures than the suite's recovery cache holds, so every
    # verification in the loop is a real one.
    pool = 10_000
    many = [i.to_bytes(8, "big") for i in range(pool)]
    many_sigs = [raw_ekey.sign_recoverable(keccak256(m), hasher=None) for m in many]
    epub = ekey.public_key
    results["secp256k1_verify"] = compare(
        lambda i: ecdsa.verify(epub, many[i % pool], many_sigs[i % pool]),
        lambda i: coincurve.PublicKey.from_signature_and_message(
            many_sigs[i % pool], keccak_256(many[i % pool]).digest(), hasher=None
        ).format(compressed=False)
        == epub,
        seconds=seconds,
    )
    return results
