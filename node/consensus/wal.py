"""The consensus write-ahead log: own proposals and votes, recorded before they are sent.

After a crash the node rebuilds :class:`~node.consensus.machine.Tendermint`
with the records of the heights not yet committed, so it re-sends what it
already said instead of signing something else (double signing is how a crash
turns into a safety failure).

File format: records of ``u32 length ‖ u32 crc32 ‖ tagged message`` appended
and fsynced one by one. A torn last record (crash mid-write) is cut off when
the file is opened; a bad checksum anywhere else is an error, since it would
mean the disk lost acknowledged data.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Protocol

from node.consensus.verify import Message, decode_message, encode_message
from node.errors import YilianError

_HEADER = struct.Struct(">II")


class WalError(YilianError):
    """The WAL is damaged beyond a torn final record."""


class Wal(Protocol):
    def append(self, message: Message) -> None: ...

    def records(self) -> list[Message]: ...

    def prune_below(self, height: int) -> None: ...


class MemoryWal:
    """A WAL that survives simulated crashes (the simulator keeps the object)."""

    def __init__(self) -> None:
        self._records: list[Message] = []

    def append(self, message: Message) -> None:
        self._records.append(message)

    def records(self) -> list[Message]:
        return list(self._records)

    def prune_below(self, height: int) -> None:
        self._records = [m for m in self._records if m.height >= height]


class FileWal:
    """Append-only, fsynced file WAL."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._records = self._load()
        self._file = open(self.path, "ab")

    def _load(self) -> list[Message]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        records: list[Message] = []
        offset = 0
        while offset < len(data):
            if offset + _HEADER.size > len(data):
                break  # torn header
            length, checksum = _HEADER.unpack_from(data, offset)
            body = data[offset + _HEADER.size: offset + _HEADER.size + length]
            if len(body) < length:
                break  # torn body
            if zlib.crc32(body) != checksum:
                if offset + _HEADER.size + length == len(data):
                    break  # torn final record
                raise WalError(f"{self.path}: checksum mismatch at byte {offset}; the WAL is corrupt")
            records.append(decode_message(body))
            offset += _HEADER.size + length
        if offset < len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(offset)
                handle.flush()
                os.fsync(handle.fileno())
        return records

    def append(self, message: Message) -> None:
        body = encode_message(message)
        self._file.write(_HEADER.pack(len(body), zlib.crc32(body)) + body)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._records.append(message)

    def records(self) -> list[Message]:
        return list(self._records)

    def prune_below(self, height: int) -> None:
        """Rewrite the file without records below ``height`` (atomically: write, fsync, rename)."""
        keep = [m for m in self._records if m.height >= height]
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            for message in keep:
                body = encode_message(message)
                handle.write(_HEADER.pack(len(body), zlib.crc32(body)) + body)
            handle.flush()
            os.fsync(handle.fileno())
        self._file.close()
        os.replace(temporary, self.path)
        self._file = open(self.path, "ab")
        self._records = keep

    def close(self) -> None:
        self._file.close()
