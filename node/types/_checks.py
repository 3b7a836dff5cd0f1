"""Field checks shared by the core types; each names the field at fault."""

from __future__ import annotations

from node.errors import ValidationError

HASH_SIZE = 32
ADDRESS_SIZE = 20
PUBLIC_KEY_SIZE = 65
UINT64_MAX = 2**64 - 1


def check_bytes(field: str, value: object, size: int | None = None, *, max_size: int | None = None) -> None:
    if not isinstance(value, bytes):
        raise ValidationError(field, f"expected bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise ValidationError(field, f"expected {size} bytes, got {len(value)}")
    if max_size is not None and len(value) > max_size:
        raise ValidationError(field, f"{len(value)} bytes exceed the limit of {max_size}")


def check_uint(field: str, value: object, maximum: int = UINT64_MAX) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(field, f"expected an integer, got {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise ValidationError(field, f"{value} is outside 0..{maximum}")
