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
