"""The unified data standard: one JSON Schema per record type, each usable and strict."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

SCHEMAS = Path(__file__).resolve().parents[2] / "node" / "offchain" / "schemas"
USCC = "91350100M000100Y43"

EXAMPLES = {
    "enterprise_basic": {
        "name": "福建易链建设工程有限公司", "legal_representative": "张三", "registered_capital": "50000000.00",
        "established_on": "2012-03-15", "status": "active",
    },
    "qualification": {
        "certificate_no": "D235012345", "category": "建筑工程施工总承包", "grade": "一级", "issuer": "住房和城乡建设部",
        "issued_on": "2022-01-01", "valid_until": "2027-01-01",
    },
    "performance": {
        "project_name": "市民服务中心", "client": "某市城投", "contract_amount": "120000000", "started_on": "2021-05-01",
        "role": "prime_contractor",
    },
    "personnel": {"name": "李四", "id_number": "35010219800101123X", "title": "一级建造师"},
    "credit": {"rating": "AA", "rated_by": "Center A", "rated_on": "2026-06-30", "blacklisted": False},
    "supervision": {
        "decision_no": "闽建罚〔2025〕12号", "authority": "省住建厅", "decided_on": "2025-02-01", "violation": "x",
        "penalty": "警告", "status": "rectified",
    },
    "project": {
        "project_id": "FJ-2026-0001", "name": "学校改扩建工程", "tenderer": "某区教育局", "category": "construction",
        "budget": "30000000", "bid_deadline": "2026-12-20T09:30:00+08:00",
    },
}


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_there_is_one_schema_per_record_type() -> None:
    assert sorted(path.stem for path in SCHEMAS.glob("*.json")) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_complete_record_is_valid(name: str) -> None:
    record = {"record_type": name, "schema_version": 1, "uscc": USCC, **EXAMPLES[name]}
    _validator(name).validate(record)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_unknown_fields_and_wrong_types_are_refused_naming_the_field(name: str) -> None:
    validator = _validator(name)
    record = {"record_type": name, "schema_version": 1, "uscc": USCC, **EXAMPLES[name], "surprise": 1}
    errors = list(validator.iter_errors(record))
    assert any("surprise" in error.message for error in errors)
    bad_uscc = {"record_type": name, "schema_version": 1, "uscc": "12345", **EXAMPLES[name]}
    assert any(list(error.path) == ["uscc"] for error in validator.iter_errors(bad_uscc))


def test_money_is_a_decimal_string_never_a_float() -> None:
    record = {"record_type": "enterprise_basic", "schema_version": 1, "uscc": USCC, **EXAMPLES["enterprise_basic"]}
    record["registered_capital"] = 5e7
    assert not _validator("enterprise_basic").is_valid(record)


def test_the_example_consortium_publishes_the_same_standard() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "consortium" / "schemas"
    assert sorted(p.name for p in example.glob("*.json")) == sorted(p.name for p in SCHEMAS.glob("*.json"))
    for path in SCHEMAS.glob("*.json"):
        assert (example / path.name).read_bytes() == path.read_bytes(), f"{path.name}: run scripts/make_example_consortium"


TRICKY = ["2026-02-30", "2026-02-28", "20260630", "2026-6-30", "2026-06-30T00:00:00Z", "２０２６-06-30", "2026-06-30\n", "",
          "2026-12-20T09:30:00+08:00", "2026-12-20t09:30:00z", "2026-12-20 09:30:00+08:00", "2026-12-20T23:59:60Z",
          "2026-12-20T09:30:00", "2026-12-20T09:30:00.123456+08:00", "2026-12-20T24:00:00Z", "2026-12-20T09:30:00+8:00",
          "91350100M000100Y43", "91350100m000100y43", "x" * 300, "AA", "aa", "active", "50000000.00", "5e7", "-1", "1.", "0.1",
          0, 1, 1.0, 1.5, -1, 2**70, True, None, [], {}, ["x"], {"a": 1}]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_fast_validator_never_accepts_what_the_reference_refuses(name: str) -> None:
    """node.offchain.standard decides with jsonschema-rs. It may only be stricter than the reference ``jsonschema``,
    and only where the reference is lax: ``date-time`` is not checked at all without the optional rfc3339-validator
    package, and Python's ``$`` in a pattern matches before a trailing newline (ECMA's does not)."""
    from node.errors import ValidationError
    from node.offchain import standard

    schema = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
    reference = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    date_times = {field for field, rule in schema["properties"].items() if rule.get("format") == "date-time"}
    base = {"record_type": name, "schema_version": 1, "uscc": USCC, **EXAMPLES[name]}
    tried, wrong = 0, []
    for field in [*base, "surprise"]:
        for value in TRICKY:
            record = {**base, field: value}
            expected = reference.is_valid(record)
            try:
                standard.validate(name, record)
                accepted = True
            except ValidationError:
                accepted = False
            tried += 1
            stricter_where_the_reference_is_lax = field in date_times or (isinstance(value, str) and value.endswith("\n"))
            if accepted != expected and not (expected and stricter_where_the_reference_is_lax):
                wrong.append(f"{field} = {value!r}: node accepts={accepted}, jsonschema accepts={expected}")
    assert tried >= 7 * len(TRICKY) and not wrong, wrong
