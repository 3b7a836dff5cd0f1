"""Native transactions, signed with the chain's suite (SM2 or secp256k1).

Wire form: the canonical msgpack array of the fields below. It always starts
with a byte in 0x90..0x9f (a msgpack fixarray), which no Ethereum transaction
does (typed ones start below 0x80, legacy RLP at 0xc0 or above), so a block
can carry both kinds as raw bytes and tell them apart by the first byte.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from node import codec
from node.codec import UInt256
from node.crypto.suites import PrivateKey, Suite
from node.errors import ValidationError
from node.types._checks import ADDRESS_SIZE, PUBLIC_KEY_SIZE, check_bytes, check_uint

TX_SIGNING_DOMAIN = b"YILIAN/tx/v1\x00"
MAX_TX_DATA = 512 * 1024
MAX_TX_SIZE = MAX_TX_DATA + 4096


@dataclasses.dataclass(frozen=True, slots=True)
class Transaction:
    """A native transaction. ``to`` is None for a contract creation.

    ``valid_until`` is the last block height at which the transaction may be
    included: a stale transaction cannot be replayed into a later block.
    """

    chain_id: int
    nonce: int
    sender: bytes
    to: Optional[bytes]
    value: UInt256
    data: bytes
    gas_limit: int
    valid_until: int
    public_key: bytes = b""
    signature: bytes = b""

    def validate_shape(self) -> None:
        """Check every field's type and size (not the signature).

        Raises:
            ValidationError: naming the field at fault.
        """
        check_uint("chain_id", self.chain_id)
        check_uint("nonce", self.nonce)
        check_bytes("sender", self.sender, ADDRESS_SIZE)
        if self.to is not None:
            check_bytes("to", self.to, ADDRESS_SIZE)
        check_uint("value", self.value, 2**256 - 1)
        check_bytes("data", self.data, max_size=MAX_TX_DATA)
        check_uint("gas_limit", self.gas_limit)
        check_uint("valid_until", self.valid_until)
        check_bytes("public_key", self.public_key, PUBLIC_KEY_SIZE)
        check_bytes("signature", self.signature, max_size=72)
        if self.to is None and not self.data:
            raise ValidationError("data", "a contract creation (no 'to') needs init code")

    def signing_bytes(self) -> bytes:
        """What the sender signs: a domain tag and every field but the key and signature."""
        unsigned = dataclasses.replace(self, public_key=b"", signature=b"")
        return TX_SIGNING_DOMAIN + codec.encode_struct(unsigned)

    def signed(self, key: PrivateKey) -> Transaction:
        """This transaction signed by ``key`` (whose address must be ``sender``)."""
        if key.address != self.sender:
            raise ValidationError("sender", f"0x{self.sender.hex()} is not the address of the signing key 0x{key.address.hex()}")
        return dataclasses.replace(self, public_key=key.public_key, signature=key.sign(self.signing_bytes()))

    def verify(self, suite: Suite, chain_id: int | None = None) -> None:
        """Check shape, chain id, that ``public_key`` owns ``sender`` and the signature.

        Raises:
            ValidationError: naming the field at fault.
        """
        self.validate_shape()
        if chain_id is not None and self.chain_id != chain_id:
            raise ValidationError("chain_id", f"transaction is for chain {self.chain_id}, this chain is {chain_id}")
        if len(self.signature) != suite.signature_size:
            raise ValidationError("signature", f"a {suite.name} signature is {suite.signature_size} bytes, got {len(self.signature)}")
        if suite.address(self.public_key) != self.sender:
            raise ValidationError("public_key", f"key does not belong to sender 0x{self.sender.hex()}")
        if not suite.verify(self.public_key, self.signing_bytes(), self.signature):
            raise ValidationError("signature", "does not verify for the sender's key")

    def encode(self) -> bytes:
        """Canonical wire bytes."""
        return codec.encode_struct(self)

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        """Parse wire bytes; refuses non-canonical or oversize input (CodecError)."""
        return codec.decode_struct(cls, data, max_size=MAX_TX_SIZE)

    def hash(self, suite: Suite) -> bytes:
        """Transaction hash: the suite's hash of the wire bytes."""
        return suite.hash(self.encode())


def is_native_encoding(raw: bytes) -> bool:
    """True when ``raw`` is a native transaction's wire form (a msgpack fixarray)."""
    return bool(raw) and 0x90 <= raw[0] <= 0x9F
