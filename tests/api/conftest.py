"""A real solo node process, started the way a user starts it: `yilian localnet`."""

from __future__ import annotations

import pytest

from chainutil import start_localnet


@pytest.fixture(scope="module")
def localnet(tmp_path_factory: pytest.TempPathFactory):
    node = start_localnet(tmp_path_factory.mktemp("localnet"))
    yield node
    node.stop()
