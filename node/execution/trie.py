"""The state's tries read, and a block's account writes applied, in one pass: py-trie's :class:`HexaryTrie` with a
faster ``get`` and a batch ``squash_changes``, giving the same nodes and the same roots (the account trie uses both,
contract storage the reads).

py-trie walks a key's path one generic step at a time (nibble tuples built by generators, pyrlp, validation and
pruning bookkeeping on every node): on this machine ~170 µs to read an account and ~500 µs to write one in a trie of
60 accounts. A block re-executed by every validator reads each sender cold and writes each account it changed, so
with 20 senders in a block of 70 transactions those two were about half of the block's validation. Here a path is the
key's hex string, a node is decoded once by a small RLP reader for trie nodes (byte strings and nested lists), and a
block's account writes are applied in one pass over the trie: every node on a changed path is built and hashed once,
where py-trie rebuilds the root and the upper branches once per account: ~20 µs a read and ~40 µs a write in the same
trie, and a validator's CPU for such a block ~0.6× (in one process, 20 blocks: 635-735 → 377-437 µs a transaction).

Only inserts and updates of 32-byte keys (py-evm's account trie: keccak of the address; every key of such a trie has
that length) take the batch path; a deletion (an emptied account), an empty value or another key length replay the
batch through py-trie. Trie nodes are content-addressed and the node database never deletes them (``StagedStateDB``), so no
pruning is needed. ``tests/execution/test_fast_trie.py`` checks roots, written nodes and reads against py-trie.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rlp.codec import length_prefix
from trie import HexaryTrie
from trie.constants import BLANK_NODE_HASH
from trie.exceptions import MissingTrieNode

from node.crypto.hashing import keccak256

_NIBBLE = {c: i for i, c in enumerate("0123456789abcdef")}
_DELETE = object()


def decode_node(data: bytes) -> list:
    """A trie node's RLP (a list of byte strings and embedded nodes) as pyrlp decodes it; ValueError if ``data`` is
    not one RLP list exactly."""
    if not data or data[0] < 0xC0:
        raise ValueError("a trie node is an RLP list")
    items, end = _list_at(data, 0)
    if end != len(data):
        raise ValueError("bytes after the trie node")
    return items


def _list_at(data: bytes, pos: int) -> tuple[list, int]:
    first = data[pos]
    if first <= 0xF7:
        start, end = pos + 1, pos + 1 + first - 0xC0
    else:
        size = first - 0xF7
        start = pos + 1 + size
        end = start + int.from_bytes(data[pos + 1 : start], "big")
    if end > len(data):
        raise ValueError("trie node cut short")
    items = []
    pos = start
    while pos < end:
        byte = data[pos]
        if byte < 0x80:
            items.append(data[pos : pos + 1])
            pos += 1
        elif byte <= 0xB7:
            pos += 1 + byte - 0x80
            items.append(data[pos - byte + 0x80 : pos])
        elif byte < 0xC0:
            size = byte - 0xB7
            begin = pos + 1 + size
            pos = begin + int.from_bytes(data[pos + 1 : begin], "big")
            items.append(data[begin:pos])
        else:
            item, pos = _list_at(data, pos)
            items.append(item)
    if pos != end:
        raise ValueError("trie node item runs past its list")
    return items, end


def _encode_item(item: bytes | list) -> bytes:
    if isinstance(item, list):
        return encode_node(item)
    if len(item) == 1 and item[0] < 0x80:
        return item
    return length_prefix(len(item), 0x80) + item


def encode_node(node: list) -> bytes:
    """The RLP of a trie node (a list of byte strings and embedded nodes)."""
    payload = b"".join([_encode_item(item) for item in node])
    return length_prefix(len(payload), 0xC0) + payload


def _hex_prefix(path: str, leaf: bool) -> bytes:
    """The compact (hex-prefix) encoding of a nibble path given as hex digits."""
    flag = 2 if leaf else 0
    return bytes.fromhex(f"{flag + 1:x}{path}" if len(path) % 2 else f"{flag:x}0{path}")


def _path_of(compact: bytes) -> tuple[str, bool]:
    """A leaf's or extension's nibble path (hex digits) and whether it is a leaf."""
    digits = compact.hex()
    flag = _NIBBLE[digits[0]]
    return (digits[1:] if flag & 1 else digits[2:]), bool(flag & 2)


class FastHexaryTrie(HexaryTrie):
    """A :class:`HexaryTrie` whose ``get`` and ``squash_changes`` take the shortcuts above; everything else is
    py-trie's."""

    def get(self, key: bytes) -> bytes:
        if not isinstance(key, bytes):
            return super().get(key)  # (py-trie's validation and error)
        root = self.root_hash
        if root == BLANK_NODE_HASH:
            return b""
        path, at = key.hex(), 0
        node = self._load(root, root, path, at)
        while True:
            if len(node) == 17:
                if at == len(path):
                    return node[16]
                child = node[_NIBBLE[path[at]]]
                at += 1
                if child == b"":
                    return b""
            else:
                rest, leaf = _path_of(node[0])
                if leaf:
                    return node[1] if path[at:] == rest else b""
                if not path.startswith(rest, at):
                    return b""
                at += len(rest)
                child = node[1]
            node = child if isinstance(child, list) else self._load(child, root, path, at)

    def _load(self, reference: bytes, root: bytes, path: str, at: int) -> list:
        """The node ``reference`` points at, met at the first ``at`` digits of the key ``path`` (hex) under ``root``."""
        if len(reference) < 32:  # (an embedded node that arrived as its RLP)
            return decode_node(reference)
        try:
            return decode_node(self.db[reference])
        except KeyError:
            raise MissingTrieNode(reference, root, bytes.fromhex(path), tuple(_NIBBLE[c] for c in path[:at])) from None

    @contextlib.contextmanager
    def squash_changes(self) -> Iterator["_Batch"]:
        """Collect the writes made in the block, then apply them at once (atomic: nothing changes if the block
        raises)."""
        batch = _Batch(self)
        yield batch
        changes = batch.changes
        if not changes:
            return
        if any(len(key) != 32 or value is _DELETE or value == b"" for key, value in changes.items()):
            with super().squash_changes() as memory_trie:  # py-trie handles deletions and other key lengths
                for key, value in changes.items():
                    if value is _DELETE:
                        del memory_trie[key]
                    else:
                        memory_trie[key] = value
            return
        items = sorted((key.hex(), value) for key, value in changes.items())
        root = self.root_hash
        current = None if root == BLANK_NODE_HASH else self._load(root, root, items[0][0], 0)
        new_root = self._update(current, items, 0)
        encoded = encode_node(new_root)
        root_hash = keccak256(encoded)
        self.db[root_hash] = encoded  # the root is stored by its hash however short it is
        self.root_hash = root_hash

    def _reference(self, node: list) -> bytes | list:
        """How a parent points at ``node``: embedded when its RLP is under 32 bytes, else by hash (written)."""
        encoded = encode_node(node)
        if len(encoded) < 32:
            return node
        digest = keccak256(encoded)
        self.db[digest] = encoded
        return digest

    def _child(self, reference: bytes | list, path: str, depth: int) -> list | None:
        if reference == b"":
            return None
        if isinstance(reference, list):
            return reference
        return self._load(reference, self.root_hash, path, depth)

    def _update(self, node: list | None, items: list[tuple[str, bytes]], depth: int) -> list:
        """``node`` (None: blank) with ``items`` (sorted hex paths sharing their first ``depth`` digits, values)
        written into it; the new node, its children referenced (written) and itself not."""
        if node is None:
            return self._build(items, depth)
        if len(node) == 17:
            new = list(node)
            for slot, group in _by_digit(items, depth):
                child = self._child(node[slot], group[0][0], depth + 1)
                new[slot] = self._reference(self._update(child, group, depth + 1))
            return new
        rest, leaf = _path_of(node[0])
        if leaf:
            full = items[0][0][:depth] + rest
            merged = dict(items)
            merged.setdefault(full, node[1])
            return self._build(sorted(merged.items()), depth)
        shared = len(rest)
        for path, _ in (items[0], items[-1]):  # sorted: the first and last bound every item's common prefix
            common = 0
            while common < shared and path[depth + common] == rest[common]:
                common += 1
            shared = common
        if shared == len(rest):
            child = self._child(node[1], items[0][0], depth + shared)
            return [node[0], self._reference(self._update(child, items, depth + shared))]
        if shared > 0:
            split = [_hex_prefix(rest[shared:], False), node[1]]
            return [_hex_prefix(rest[:shared], False), self._reference(self._update(split, items, depth + shared))]
        branch: list = [b""] * 17
        slot, tail = _NIBBLE[rest[0]], rest[1:]
        branch[slot] = [_hex_prefix(tail, False), node[1]] if tail else node[1]
        new = self._update(branch, items, depth)
        if tail and new[slot] is branch[slot]:  # the extension's remainder took no write: point at it properly
            new[slot] = self._reference(branch[slot])
        return new

    def _build(self, items: list[tuple[str, bytes]], depth: int) -> list:
        """A new subtree holding ``items`` (sorted, distinct hex paths of one length, sharing ``depth`` digits)."""
        if len(items) == 1:
            path, value = items[0]
            return [_hex_prefix(path[depth:], True), value]
        first, last = items[0][0], items[-1][0]
        common = 0
        while first[depth + common] == last[depth + common]:
            common += 1
        if common:
            return [_hex_prefix(first[depth : depth + common], False), self._reference(self._build(items, depth + common))]
        branch: list = [b""] * 17
        for slot, group in _by_digit(items, depth):
            branch[slot] = self._reference(self._build(group, depth + 1))
        return branch


def _by_digit(items: list[tuple[str, bytes]], depth: int) -> Iterator[tuple[int, list[tuple[str, bytes]]]]:
    """Sorted ``items`` in runs by the hex digit at ``depth``: (branch slot, the run)."""
    start = 0
    while start < len(items):
        digit = items[start][0][depth]
        end = start + 1
        while end < len(items) and items[end][0][depth] == digit:
            end += 1
        yield _NIBBLE[digit], items[start:end]
        start = end


class _Batch:
    """The trie py-evm writes a block's accounts into inside ``squash_changes``: writes are kept, reads see them."""

    def __init__(self, trie: FastHexaryTrie) -> None:
        self.trie = trie
        self.changes: dict[bytes, object] = {}

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.changes[key] = value

    def __delitem__(self, key: bytes) -> None:
        self.changes[key] = _DELETE

    def __getitem__(self, key: bytes) -> bytes:
        value = self.changes.get(key)
        if value is _DELETE:
            return b""
        return value if value is not None else self.trie.get(key)  # type: ignore[return-value]

    def __contains__(self, key: bytes) -> bool:
        return self[key] != b""


EMPTY_CODE_HASH = keccak256(b"")


def check_state_writes(writes: dict[bytes, bytes], state_root: bytes, stored) -> None:  # type: ignore[no-untyped-def]
    """Check that ``writes`` (hash → bytes, a block's new trie nodes and contract code, as an executing node stores
    them) are what a node needs to hold the state ``state_root`` whose parent state it holds: every entry is stored
    under the keccak of its bytes, and every node and code the new state refers to is either among ``writes`` or
    ``stored(hash)`` says it is on disk already. The walk starts at the root (the account trie), goes down only
    through new nodes, and follows each new account's storage root (a contract's storage trie) and code hash.

    This makes the writes trustworthy as far as ``state_root`` is: a node taking another node's execution on trust
    (:meth:`Executor.apply_effects`) gets the root vouched for by validators that executed the block. Raises
    ValueError naming the first problem."""
    for key, value in writes.items():
        if keccak256(value) != key:
            raise ValueError(f"entry 0x{key.hex()[:16]}… is not stored under the hash of its bytes")
    seen: set[tuple[bytes, bool]] = set()
    pending: list[tuple[bytes | list, bool]] = [] if state_root == BLANK_NODE_HASH else [(state_root, True)]
    while pending:
        reference, accounts = pending.pop()
        if isinstance(reference, list):
            node = reference
        elif reference == b"":
            continue
        elif len(reference) != 32:
            raise ValueError(f"a trie node refers to a {len(reference)}-byte hash")
        elif (reference, accounts) in seen:
            continue
        elif reference in writes:
            seen.add((reference, accounts))
            node = decode_node(writes[reference])
        elif stored(reference):
            continue  # a node of the parent state: complete, as every state on disk is
        else:
            raise ValueError(f"trie node 0x{reference.hex()[:16]}… is neither written nor stored")
        if len(node) == 17:
            pending.extend((child, accounts) for child in node[:16])
            values = [node[16]] if node[16] else []
        elif len(node) == 2:
            _, leaf = _path_of(node[0])
            if not leaf:
                pending.append((node[1], accounts))
                continue
            values = [node[1]]
        else:
            raise ValueError(f"a trie node has {len(node)} items")
        if not accounts:
            continue  # a storage slot's value refers to nothing
        for value in values:
            account = decode_node(value) if isinstance(value, bytes) else value
            if len(account) != 4 or len(account[2]) != 32 or len(account[3]) != 32:
                raise ValueError("an account leaf is not [nonce, balance, storage root, code hash]")
            if account[2] != BLANK_NODE_HASH:
                pending.append((account[2], False))
            code = account[3]
            if code != EMPTY_CODE_HASH and code not in writes and not stored(code):
                raise ValueError(f"contract code 0x{code.hex()[:16]}… is neither written nor stored")
