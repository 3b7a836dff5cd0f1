"""Shared fixtures: real objects only."""

from __future__ import annotations

import shutil

import pytest

from node.crypto import get_suite


@pytest.fixture(params=["gm", "ecdsa"])
def suite(request):
    """Each test using this fixture runs once per crypto suite."""
    return get_suite(request.param)


@pytest.fixture
def gm():
    return get_suite("gm")


@pytest.fixture
def openssl() -> str:
    """Path of the openssl CLI; the test is skipped (with the reason) where it is missing."""
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl command line tool is not installed (apt-get install openssl)")
    return path
