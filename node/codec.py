"""Canonical msgpack: one encoding per value, for everything on the wire or on disk.

The rules, so that a hash or a signature over an encoding is well defined:

* values are ``None``, ``bool``, ``int`` (-2**63 .. 2**64-1), ``bytes``, ``str``,
  arrays (``list``/``tuple``, decoded as ``tuple``) and maps (``dict`` with
  ``str``, ``int`` or ``bytes`` keys); no floats, no extension types;
* integers and lengths use msgpack's shortest form (the packer always does);
* map entries are sorted by the canonical encoding of their keys, and keys are
  unique;
* :func:`decode` accepts exactly the bytes :func:`encode` produces: trailing
  bytes, non-canonical forms and oversize input are refused with
  :class:`~node.errors.CodecError`.

Frozen dataclasses map to arrays of their fields in declaration order
(:func:`to_obj` / :func:`from_obj`, or :func:`encode_struct` /
:func:`decode_struct`); the class is the schema. A field annotated
``Annotated[int, UINT256]`` is written as 32 big-endian bytes, so amounts
beyond 64 bits keep one fixed width.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import threading
import types
import typing
from typing import Any, TypeVar

import msgpack

from node.errors import CodecError

MAX_MESSAGE_SIZE = 16 * 1024 * 1024
"""Default upper bound for one decoded message (16 MiB)."""

MAX_DEPTH = 64
"""Arrays and maps nest at most this many levels (ours nest a handful of levels; a deeper value is refused, whatever
Python's recursion limit)."""

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


class UInt256Marker:
    """Marker for ``Annotated[int, UINT256]``: a 0 .. 2**256-1 integer stored as 32 bytes."""


UINT256 = UInt256Marker()
UInt256 = typing.Annotated[int, UINT256]

T = TypeVar("T")


def _normalize(value: Any, path: str, depth: int = 0) -> Any:
    """Return ``value`` with maps rebuilt in canonical key order; refuse what is not allowed."""
    if depth >= MAX_DEPTH and isinstance(value, (list, tuple, dict)):
        raise CodecError(f"{path or 'value'}: nested deeper than {MAX_DEPTH} arrays or maps")
    if value is None or isinstance(value, (bool, bytes, str)):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise CodecError(f"{path or 'value'}: integer {value} is outside -2**63..2**64-1")
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_normalize(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, dict):
        entries = []
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int, bytes)):
                raise CodecError(f"{path or 'value'}: map key {key!r} must be str, int or bytes")
            key_bytes = msgpack.packb(_normalize(key, path), use_bin_type=True)
            entries.append((key_bytes, key, _normalize(item, f"{path}.{key}", depth + 1)))
        entries.sort(key=lambda entry: entry[0])
        return {key: item for _, key, item in entries}
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise CodecError(f"{path or 'value'}: type {type(value).__name__} cannot be encoded canonically")


_PACKER_BUFFER = 256 * 1024  # msgpack's initial buffer


class _Packer(threading.local):
    """A packer per thread: ``msgpack.packb`` builds one per call (2.8 vs 1.5 µs for a 400-byte record entry). A
    packer resets its buffer after a refused value, so an exception leaves it reusable; one that packed a large
    message is replaced, since its grown buffer would otherwise stay with the thread (as packb's does not)."""

    def __init__(self) -> None:
        self.packer = msgpack.Packer(use_bin_type=True)


_PACKER = _Packer()

_LEAVES = frozenset({bytes, str, bool, int, type(None)})
"""Exact types that :func:`_fast` passes through unchanged, checked inline in arrays and maps (a call per leaf was
most of its time). Integers too, with their range left to the packer (it raises OverflowError beyond the codec's
range, and :func:`encode` then lets the slow walk name the offending path)."""


def encode(value: Any) -> bytes:
    """Return the canonical msgpack encoding of ``value``.

    Raises:
        CodecError: the value holds a float, an out-of-range integer, an
            unsupported type or an unsupported map key.
    """
    try:  # msgpack refuses integers outside -2**63..2**64-1 itself, which is the codec's range
        packed = _PACKER.packer.pack(_fast(value, 0))
        if len(packed) > _PACKER_BUFFER:  # the buffer grew to this size and never shrinks: do not keep it for the thread's life
            _PACKER.packer = msgpack.Packer(use_bin_type=True)
        return packed
    except (CodecError, OverflowError):
        return msgpack.packb(_normalize(value, ""), use_bin_type=True)  # the slow walk raises again, naming the path


_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {}
"""Canonical order of the string keys of map shapes seen before (a message type's fields come in one order)."""


def _fast(value: Any, depth: int) -> Any:
    """:func:`_normalize` for the common shapes (exact built-in types, string keys) without building error paths;
    anything else goes through :func:`_normalize`, and any refusal is re-raised by the caller with its path."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if depth >= MAX_DEPTH:
        raise CodecError("nested too deeply")  # (a container here: scalars returned above)
    if kind is list or kind is tuple:  # leaves of the common kinds inline: a call per leaf was most of the walk
        return [item if type(item) in _LEAVES else _fast(item, depth + 1) for item in value]
    if kind is dict:
        keys = tuple(value)
        order = _ORDERS.get(keys)
        if order is None:
            if not all(type(key) is str for key in keys):
                return _normalize(value, "", depth)
            order = tuple(sorted(keys, key=lambda key: msgpack.packb(key, use_bin_type=True)))
            if len(_ORDERS) < 4096 and all(len(key) <= 64 for key in keys):
                _ORDERS[keys] = order
        return {key: item if type(item := value[key]) in _LEAVES else _fast(item, depth + 1) for key in order}
    return _normalize(value, "", depth)


def unpack_frame(data: bytes, **options: Any) -> Any:
    """A wire frame's plain (not canonical) msgpack — a batch of raw transactions, a stream chunk, a block's effects;
    ``options`` go to ``msgpack.unpackb``. Raises CodecError when it is not one msgpack value."""
    try:
        return msgpack.unpackb(data, **options)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:  # (ExtraData, FormatError, StackError, a cut input)
        raise CodecError(f"not msgpack: {exc}") from None


def decode(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> Any:
    """Decode canonical msgpack bytes; arrays come back as tuples.

    Raises:
        CodecError: the input is larger than ``max_size``, malformed, followed
            by trailing bytes, or not in canonical form.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_size:
        raise CodecError(f"message of {len(data)} bytes exceeds the limit of {max_size} bytes")
    if not data:
        raise CodecError("empty input: expected one msgpack value")
    try:  # unpackb bounds every declared length by len(data)
        value = msgpack.unpackb(data, raw=False, use_list=False, strict_map_key=False)
    except msgpack.ExtraData as exc:
        raise CodecError(f"{len(exc.extra)} trailing bytes after the msgpack value") from None
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        if "incomplete input" in str(exc):
            raise CodecError("truncated input: the msgpack value is incomplete") from None
        raise CodecError(f"malformed msgpack: {exc}") from None
    try:
        again = encode(value)
    except CodecError as exc:
        raise CodecError(f"value not allowed: {exc}") from None
    if again != data:
        raise CodecError("non-canonical encoding (unsorted or duplicate map keys, or a longer form than needed)")
    return value


# ---------------------------------------------------------------------------
# Dataclasses as arrays of fields


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple((field.name, hints[field.name]) for field in dataclasses.fields(cls))


_PLAIN = frozenset({bytes, str, int, bool, type(None)})
"""Exact types :func:`to_obj` returns unchanged (checked inline: a call per leaf was most of its time)."""

@functools.lru_cache(maxsize=None)
def _plan(kind: type) -> tuple[tuple[str, bool], ...] | None:
    """(field name, whether it is a uint256) for each field of a dataclass type; None for any other type."""
    if not _is_struct(kind):
        return None
    return tuple((name, typing.get_origin(tp) is typing.Annotated and UINT256 in typing.get_args(tp)[1:]) for name, tp in _fields(kind))


def to_obj(value: Any) -> Any:
    """Turn a dataclass (recursively) into plain encodable values: an array of its fields."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    plan = _plan(kind)
    if plan is not None:
        out = []
        for name, uint256 in plan:
            item = getattr(value, name)
            out.append(_uint256_bytes(item) if uint256 else item if type(item) in _PLAIN else to_obj(item))
        return tuple(out)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return tuple(item if type(item) in _PLAIN else to_obj(item) for item in value)
    return value


def _uint256_bytes(value: Any) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**256:
        raise CodecError(f"uint256 value {value!r} out of range")
    return value.to_bytes(32, "big")


def from_obj(tp: Any, obj: Any, path: str = "") -> Any:
    """Rebuild a value of type ``tp`` from plain decoded values, checking every type.

    A decoder compiled once per type does the work (walking the type hints on every value was most of a block's
    or a vote's decoding time); whatever it refuses is decided again by the field-by-field walk, which names the
    field at fault, so both accept and refuse exactly the same values.

    Raises:
        CodecError: ``obj`` does not match ``tp``; the message names the field.
    """
    try:
        return _decoder(tp)(obj)
    except _Refused:
        return _from_obj_checked(tp, obj, path)


class _Refused(Exception):
    """A compiled decoder met a value it does not take (the checked walk then decides and names the field)."""


def _refuse(obj: Any = None) -> Any:
    raise _Refused()


def _exactly(kind: type) -> typing.Callable[[Any], Any]:
    def check(obj: Any) -> Any:
        if type(obj) is not kind:
            raise _Refused()
        return obj
    return check


def _none(obj: Any) -> None:
    if obj is not None:
        raise _Refused()
    return None


def _uint256_from(obj: Any) -> int:
    if type(obj) is not bytes or len(obj) != 32:
        raise _Refused()
    return int.from_bytes(obj, "big")


@functools.lru_cache(maxsize=None)
def _decoder(tp: Any) -> typing.Callable[[Any], Any]:
    """A function from plain decoded values to a value of ``tp`` that raises :class:`_Refused` on anything it does
    not take; it may be stricter than :func:`_from_obj_checked` (the caller then asks that), never more lenient."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        return _uint256_from if UINT256 in extras else _decoder(base)
    if origin in (typing.Union, types.UnionType):
        non_none = [option for option in typing.get_args(tp) if option is not type(None)]
        if len(non_none) != 1 or type(None) not in typing.get_args(tp):
            return _refuse
        inner = _decoder(non_none[0])
        return lambda obj: None if obj is None else inner(obj)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = args[0]
            if item in (bytes, str):
                def same_items(obj: Any, kind: type = item) -> tuple:
                    if type(obj) is not tuple or not all(type(value) is kind for value in obj):
                        raise _Refused()
                    return obj
                return same_items
            each = _decoder(item)

            def items(obj: Any) -> tuple:
                if type(obj) is not tuple:
                    raise _Refused()
                return tuple(each(value) for value in obj)
            return items
        parts = tuple(_decoder(arg) for arg in args)

        def fixed(obj: Any) -> tuple:
            if type(obj) is not tuple or len(obj) != len(parts):
                raise _Refused()
            return tuple(part(value) for part, value in zip(parts, obj))
        return fixed
    if _is_struct(tp):
        fields = tuple(_decoder(field_tp) for _, field_tp in _fields(tp))
        names = tuple(name for name, _ in _fields(tp))

        def struct(obj: Any) -> Any:
            if type(obj) is not tuple or len(obj) != len(fields):
                raise _Refused()
            try:
                return tp(**{name: field(value) for name, field, value in zip(names, fields, obj)})
            except (ValueError, TypeError):
                raise _Refused() from None
        return struct
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        def member(obj: Any) -> Any:
            try:
                return tp(obj)
            except ValueError:
                raise _Refused() from None
        return member
    if tp in (bool, int, bytes, str):
        return _exactly(tp)
    if tp is type(None):
        return _none
    if tp is Any:
        return lambda obj: obj
    return _refuse


def _from_obj_checked(tp: Any, obj: Any, path: str = "") -> Any:
    """:func:`from_obj` one value at a time, naming the field at fault: what a refusal of the compiled decoders is
    decided and worded by."""
    where = path or getattr(tp, "__name__", str(tp))
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        if UINT256 in extras:
            if not isinstance(obj, bytes) or len(obj) != 32:
                raise CodecError(f"{where}: expected a 32-byte uint256")
            return int.from_bytes(obj, "big")
        return _from_obj_checked(base, obj, path)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if obj is None and type(None) in options:
            return None
        non_none = [option for option in options if option is not type(None)]
        if len(non_none) != 1:
            raise CodecError(f"{where}: unions other than Optional[X] are not supported")
        return _from_obj_checked(non_none[0], obj, path)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(obj, tuple):
            raise CodecError(f"{where}: expected an array")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_obj_checked(args[0], item, f"{where}[{i}]") for i, item in enumerate(obj))
        if len(args) != len(obj):
            raise CodecError(f"{where}: expected {len(args)} items, got {len(obj)}")
        return tuple(_from_obj_checked(arg, item, f"{where}[{i}]") for i, (arg, item) in enumerate(zip(args, obj)))
    if _is_struct(tp):
        fields = _fields(tp)
        if not isinstance(obj, tuple) or len(obj) != len(fields):
            raise CodecError(f"{where}: expected an array of {len(fields)} fields")
        kwargs = {
            name: _from_obj_checked(field_tp, item, f"{where}.{name}") for (name, field_tp), item in zip(fields, obj)
        }
        try:
            return tp(**kwargs)
        except (ValueError, TypeError) as exc:
            raise CodecError(f"{where}: {exc}") from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(obj)
        except ValueError:
            raise CodecError(f"{where}: {obj!r} is not a valid {tp.__name__}") from None
    if tp is bool:
        if not isinstance(obj, bool):
            raise CodecError(f"{where}: expected a boolean")
        return obj
    if tp is int:
        if not isinstance(obj, int) or isinstance(obj, bool):
            raise CodecError(f"{where}: expected an integer")
        return obj
    if tp is bytes:
        if not isinstance(obj, bytes):
            raise CodecError(f"{where}: expected bytes")
        return obj
    if tp is str:
        if not isinstance(obj, str):
            raise CodecError(f"{where}: expected a string")
        return obj
    if tp is type(None):
        if obj is not None:
            raise CodecError(f"{where}: expected nil")
        return None
    if tp is Any:
        return obj
    raise CodecError(f"{where}: unsupported field type {tp!r}")


def encode_struct(value: Any) -> bytes:
    """Canonical bytes of a dataclass value."""
    return encode(to_obj(value))


def decode_struct(cls: type[T], data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> T:
    """Decode canonical bytes into ``cls``, refusing anything :func:`encode_struct` would not produce."""
    return from_obj(cls, decode(data, max_size=max_size))
