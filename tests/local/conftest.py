"""Fixtures of the local tools' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.world import Emulation
from tests.local.processes import DevServer


@pytest.fixture
def running() -> Iterator[list[Emulation]]:
    """Emulations a test starts (append them): stopped after the test, whatever happened."""
    started: list[Emulation] = []
    yield started
    for emulation in started:
        emulation.stop()


@pytest.fixture(scope="module")
def dev_server() -> Iterator[DevServer]:
    """`make dev` as it starts, shared by a module's tests."""
    server = DevServer()
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()
