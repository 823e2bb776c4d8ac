"""Fixtures of the local tools' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.world import Emulation


@pytest.fixture
def running() -> Iterator[list[Emulation]]:
    """Emulations a test starts (append them): stopped after the test, whatever happened."""
    started: list[Emulation] = []
    yield started
    for emulation in started:
        emulation.stop()
