"""SM4-GCM sealing through Tongsuo's EVP interface: boxes identical to cryptography's for the same nonce, openable by
the (cryptography) opener, per thread, across key changes; and the cryptography path when Tongsuo is unavailable."""

from __future__ import annotations

import os
import threading

import pytest

from node.crypto import sm4
from node.errors import DecryptionError

pytestmark = pytest.mark.skipif(sm4._TONGSUO is None, reason="this tongsuopy build exposes no SM4-GCM")


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 386, 4095, 4096, 70_000])
def test_tongsuo_boxes_equal_cryptography_boxes_for_the_same_nonce(size: int) -> None:
    first, second = os.urandom(16), os.urandom(16)
    plaintext = os.urandom(size)
    for key in (first, second, first):  # a key change re-keys the thread's context; returning to a key too
        for associated in (b"", b"r/" + os.urandom(32)):
            nonce = os.urandom(sm4.NONCE_SIZE)
            box = sm4._seal_tongsuo(key, nonce, plaintext, associated)
            assert box == sm4._seal_cryptography(key, nonce, plaintext, associated)
            assert sm4.open_sealed(key, box, associated) == plaintext


def test_a_tongsuo_box_fails_to_open_when_tampered_or_under_another_key() -> None:
    key = os.urandom(16)
    box = sm4.seal(key, b"raw record", b"r/1")
    for bad in (box[:-1] + bytes([box[-1] ^ 1]), box[:12] + bytes([box[12] ^ 1]) + box[13:]):
        with pytest.raises(DecryptionError):
            sm4.open_sealed(key, bad, b"r/1")
    with pytest.raises(DecryptionError):
        sm4.open_sealed(os.urandom(16), box, b"r/1")
    with pytest.raises(DecryptionError):
        sm4.open_sealed(key, box, b"r/2")


def test_threads_seal_with_their_own_contexts() -> None:
    keys = [os.urandom(16) for _ in range(4)]
    failures: list[str] = []

    def work(key: bytes) -> None:
        for i in range(300):
            plaintext = os.urandom(i % 700)
            if sm4.open_sealed(key, sm4.seal(key, plaintext, b"t"), b"t") != plaintext:
                failures.append(key.hex())

    threads = [threading.Thread(target=work, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_without_tongsuo_seal_takes_the_cryptography_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sm4, "_TONGSUO", None)
    monkeypatch.setattr(sm4, "_seal_tongsuo", None)  # would raise if called
    key = os.urandom(16)
    assert sm4.open_sealed(key, sm4.seal(key, b"payload", b"aad"), b"aad") == b"payload"
