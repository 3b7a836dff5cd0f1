"""NodeService.resolve_height: block numbers only from ASCII digits (decimal or 0x-hex) or a tag."""

from __future__ import annotations

import types

import pytest

from node.errors import ValidationError
from node.service import NodeService, NotFound


@pytest.fixture
def service() -> NodeService:
    return NodeService(types.SimpleNamespace(height=300), mempool=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("tag", "height"), [("12", 12), ("0x1f", 31), ("0x1F", 31), (7, 7), ("latest", 300), ("pending", 300),
                                             ("earliest", 0), (None, 300), ("0300", 300)])
def test_block_numbers_and_tags(service: NodeService, tag: object, height: int) -> None:
    assert service.resolve_height(tag) == height  # type: ignore[arg-type]


@pytest.mark.parametrize("tag", ["١٢", "²", " 12", "12 ", "1_0", "+5", "-1", "0x", "0x1_f", "0x-1", "", "0xg", "twelve", "1.0", True, 1.5, [1]])
def test_anything_else_is_refused(service: NodeService, tag: object) -> None:
    with pytest.raises(ValidationError, match="not a block number|not negative"):
        service.resolve_height(tag)  # type: ignore[arg-type]


def test_a_block_beyond_the_head_is_not_found(service: NodeService) -> None:
    with pytest.raises(NotFound, match="does not exist yet"):
        service.resolve_height("301")
