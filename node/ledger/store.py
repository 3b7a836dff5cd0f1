"""The block store: blocks, certificates, receipts and their indexes, one atomic batch per block."""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import msgpack

from node.crypto.suites import Suite
from node.ledger.db import REPAIR_HINT, Database, DatabaseError, StorageCorruption
from node.ledger.merkle import merkle_root
from node.errors import YilianError
from node.types import Block, CommitCertificate, Header, Receipt

BLOCK, HASH_AT, CERT, RECEIPTS, TX, LOG_ADDRESS, LOG_TOPIC, ADMITTED, META = (
    b"b", b"h", b"c", b"r", b"t", b"a", b"o", b"p", b"m"
)
HEAD_KEY = META + b"head"
GENESIS_KEY = META + b"genesis"
SCHEMA_KEY = META + b"schema"
SCHEMA_VERSION = 1


MAX_HEIGHT = 2**64 - 1


def _height(height: int) -> bytes:
    return height.to_bytes(8, "big")


def _exists(height: int) -> bool:
    """Whether ``height`` can name a block at all (an API caller may ask for any integer)."""
    return 0 <= height <= MAX_HEIGHT


@dataclasses.dataclass(frozen=True, slots=True)
class LogPosition:
    height: int
    tx_index: int
    log_index: int


@dataclasses.dataclass(frozen=True, slots=True)
class BlockCommit:
    """Everything written for one block, in one batch."""

    block: Block
    block_hash: bytes
    certificate: CommitCertificate | None
    receipts: tuple[Receipt, ...]
    tx_hashes: tuple[bytes, ...]
    state_writes: dict[bytes, bytes]
    admitted: tuple[bytes, ...] = ()


class BlockStore:
    """Reads and the one write path (:meth:`commit`) of the chain's data."""

    def __init__(self, database: Database, suite: Suite) -> None:
        self.db = database
        self.suite = suite
        # kept in memory, written only by commit(): the head is asked for all the time (every height check of
        # consensus and the API) and admissions are never withdrawn here (MemberRegistry holds later ones), and each
        # LevelDB read gives up the GIL: 30-190 µs of wall time per read in a loaded node (4 validators, 80 tx/s)
        self._admitted: set[bytes] = set()
        schema = database.get(SCHEMA_KEY)
        if schema is not None and int(schema) != SCHEMA_VERSION:
            raise DatabaseError(f"database schema {int(schema)} is not {SCHEMA_VERSION}; this node version cannot read it")
        raw = database.get(HEAD_KEY)
        self._head: tuple[int, bytes] | None = None if raw is None else tuple(msgpack.unpackb(raw))  # type: ignore[assignment]

    # -- reads -------------------------------------------------------------

    def head(self) -> tuple[int, bytes] | None:
        return self._head

    @property
    def height(self) -> int:
        head = self.head()
        return -1 if head is None else head[0]

    def genesis_hash(self) -> bytes | None:
        return self.db.get(GENESIS_KEY)

    def block_hash(self, height: int) -> bytes | None:
        if not _exists(height):
            return None
        return self.db.get(HASH_AT + _height(height))

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        """The stored block, checked against its key: its header must hash to ``block_hash`` and its transactions
        to the header's ``tx_root`` (raises StorageCorruption otherwise: damaged data is never served)."""
        return self._checked(block_hash, body=True)

    def block(self, height: int) -> Block | None:
        block_hash = self.block_hash(height)
        return None if block_hash is None else self._checked(block_hash, body=True)

    def header(self, height: int) -> Header | None:
        """The header at ``height``, checked against its hash (the transactions are not re-hashed)."""
        block_hash = self.block_hash(height)
        block = None if block_hash is None else self._checked(block_hash, body=False)
        return None if block is None else block.header

    def _checked(self, block_hash: bytes, *, body: bool) -> Block | None:
        raw = self.db.get(BLOCK + block_hash)
        if raw is None:
            return None
        try:
            block = Block.decode(raw)
        except (YilianError, ValueError) as exc:
            raise StorageCorruption(f"the stored block 0x{block_hash.hex()} does not decode ({exc}); {REPAIR_HINT}") from None
        if block.hash(self.suite) != block_hash or (body and merkle_root(self.suite, list(block.transactions)) != block.header.tx_root):
            raise StorageCorruption(f"the stored block 0x{block_hash.hex()} (height {block.header.height}) fails its hash check; "
                                    f"{REPAIR_HINT}")
        return block

    def certificate(self, height: int) -> CommitCertificate | None:
        if not _exists(height):
            return None
        raw = self.db.get(CERT + _height(height))
        return None if raw is None else CommitCertificate.decode(raw)

    def receipts(self, height: int) -> list[Receipt]:
        if not _exists(height):
            return []
        raw = self.db.get(RECEIPTS + _height(height))
        return [] if raw is None else [Receipt.decode(item) for item in msgpack.unpackb(raw)]

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        raw = self.db.get(TX + tx_hash)
        if raw is None:
            return None
        height, index = msgpack.unpackb(raw)
        return height, index

    def is_admitted(self, address: bytes) -> bool:
        """Admitted by the genesis file (the ledger's list only grows)."""
        if address in self._admitted:
            return True
        if self.db.get(ADMITTED + address) is None:
            return False
        self._admitted.add(address)
        return True

    def log_positions(
        self, from_height: int, to_height: int, addresses: Sequence[bytes] = (), topic0: Sequence[bytes] = ()
    ) -> Iterator[LogPosition]:
        """Positions of logs in ``[from_height, to_height]`` by emitting address or by first topic.

        With both filters the address index is read and the topic checked by
        the caller; with neither, the caller scans receipts.
        """
        index, keys = (LOG_ADDRESS, addresses) if addresses else (LOG_TOPIC, topic0)
        seen: set[LogPosition] = set()
        for key in keys:
            start = index + key + _height(from_height)
            stop = index + key + _height(to_height + 1)
            for db_key, _ in self.db.iterate(start, stop):
                tail = db_key[len(index) + len(key):]
                position = LogPosition(int.from_bytes(tail[:8], "big"), int.from_bytes(tail[8:12], "big"), int.from_bytes(tail[12:16], "big"))
                seen.add(position)
        yield from sorted(seen, key=lambda p: (p.height, p.tx_index, p.log_index))

    # -- the one write path --------------------------------------------------

    def commit(self, commit: BlockCommit, *, genesis_hash: bytes | None = None) -> None:
        """Write a block with its certificate, receipts, indexes and state changes atomically.

        Raises:
            DatabaseError: when the block does not extend the current head.
        """
        header = commit.block.header
        head = self.head()
        expected = 0 if head is None else head[0] + 1
        if header.height != expected:
            raise DatabaseError(f"block {header.height} does not extend the head (next height is {expected})")
        if head is not None and header.parent_hash != head[1]:
            raise DatabaseError(f"block {header.height} has parent 0x{header.parent_hash.hex()}, head is 0x{head[1].hex()}")
        height = _height(header.height)
        puts: dict[bytes, bytes] = dict(commit.state_writes)
        puts[BLOCK + commit.block_hash] = commit.block.encode()
        puts[HASH_AT + height] = commit.block_hash
        if commit.certificate is not None:
            puts[CERT + height] = commit.certificate.encode()
        puts[RECEIPTS + height] = msgpack.packb([receipt.encode() for receipt in commit.receipts])
        for tx_index, (tx_hash, receipt) in enumerate(zip(commit.tx_hashes, commit.receipts, strict=True)):
            puts[TX + tx_hash] = msgpack.packb([header.height, tx_index])
            for log_index, log in enumerate(receipt.logs):
                position = height + tx_index.to_bytes(4, "big") + log_index.to_bytes(4, "big")
                puts[LOG_ADDRESS + log.address + position] = b""
                if log.topics:
                    puts[LOG_TOPIC + log.topics[0] + position] = b""
        for address in commit.admitted:
            puts[ADMITTED + address] = b"\x01"
        puts[HEAD_KEY] = msgpack.packb([header.height, commit.block_hash])
        if genesis_hash is not None:
            puts[GENESIS_KEY] = genesis_hash
            puts[SCHEMA_KEY] = str(SCHEMA_VERSION).encode()
        self.db.write(puts)
        self._head = (header.height, commit.block_hash)
