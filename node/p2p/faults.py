"""Fault injection for drills and tests: drop every message to and from chosen peers (a network partition).

Enabled only when the environment names a fault file, ``YILIAN_FAULT_FILE=/path/faults.json``; the node then
logs a warning at start. The file holds ``{"drop": ["<peer id>", ...]}``; it is re-read when it changes (at
most every 0.2 s), so a drill cuts and heals links while the nodes run. A missing or unreadable file drops
nothing. Connections stay up: only messages vanish, as on a link that loses everything.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("yilian.p2p")

ENV = "YILIAN_FAULT_FILE"
REFRESH_S = 0.2


class Faults:
    """The peers whose messages are dropped right now."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._drop: frozenset[str] = frozenset()
        self._checked = 0.0
        self._stamp: tuple[int, int] | None = None
        self.dropped = 0
        if path is not None:
            log.warning("fault injection is ON (%s=%s): messages to and from the peers listed there are dropped; "
                        "never set this outside drills and tests", ENV, path)

    @classmethod
    def from_environment(cls) -> "Faults":
        value = os.environ.get(ENV)
        return cls(Path(value) if value else None)

    def drops(self, peer: str) -> bool:
        if self.path is None:
            return False
        now = time.monotonic()
        if now - self._checked >= REFRESH_S:
            self._checked = now
            self._reload()
        if peer in self._drop:
            self.dropped += 1
            return True
        return False

    def _reload(self) -> None:
        try:
            status = self.path.stat()  # type: ignore[union-attr]
            stamp = (status.st_ino, status.st_mtime_ns)  # a drill replaces the file: a new inode
        except OSError:
            self._drop, self._stamp = frozenset(), None
            return
        if stamp == self._stamp:
            return
        try:
            drop = json.loads(self.path.read_text())["drop"]  # type: ignore[union-attr]
            self._drop = frozenset(str(p) for p in drop)
            self._stamp = stamp
            log.warning("fault injection: dropping messages to and from %d peer(s)", len(self._drop))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("fault file %s unreadable (%s); dropping nothing", self.path, exc)
            self._drop = frozenset()
