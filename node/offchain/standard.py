"""The unified data standard: one JSON Schema (2020-12) per record type.

The schemas ship with the node (``node/offchain/schemas/``) and ``yilian init`` copies them into every
consortium directory, so each center validates against the same standard. Canonical bytes, commitments,
record ids and type ids are :mod:`chain_sdk.records`' (one definition for custodians and grantees).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import jsonschema_rs

from node.errors import ValidationError

SCHEMA_DIR = Path(__file__).parent / "schemas"


@functools.lru_cache(maxsize=None)
def _validators() -> dict[str, tuple[jsonschema.protocols.Validator, jsonschema_rs.Validator]]:
    """Per record type: the reference validator (it words refusals) and the same schema compiled by jsonschema-rs
    (about 20× faster; it gives the verdict for every record of a bulk import)."""
    found = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        found[path.stem] = (cls(schema, format_checker=cls.FORMAT_CHECKER), jsonschema_rs.validator_for(schema, validate_formats=True))
    return found


def _where(path) -> str:  # type: ignore[no-untyped-def]
    return "record" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def record_types() -> list[str]:
    return sorted(_validators())


def validate(record_type: str, record: object) -> None:
    """Raises ValidationError naming the first offending field (``record.<path>``) and the rule it breaks.

    jsonschema-rs decides; the reference ``jsonschema`` validator only runs on a refusal, to name the field in
    the same words as always (tests/config/test_schemas.py checks that both agree, format edge cases included).
    """
    validators = _validators().get(record_type)
    if validators is None:
        raise ValidationError("type", f"unknown record type {record_type!r}; the standard has {', '.join(record_types())}")
    reference, fast = validators
    try:
        if fast.is_valid(record):
            return
    except ValueError:  # a value JSON cannot hold (bytes, objects): the reference validator words the refusal
        pass
    errors = sorted(reference.iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:  # the two validators disagree (a format edge case): refuse, in jsonschema-rs' words
        first_fast = next(iter(fast.iter_errors(record)))
        raise ValidationError(_where(first_fast.instance_path), first_fast.message)
    first = errors[0]
    where = _where(first.absolute_path)
    if first.validator == "required" and first.message.count("'") >= 2:
        where += "." + first.message.split("'")[1]  # name the missing field itself
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise ValidationError(where, f"{first.message}{more}")
