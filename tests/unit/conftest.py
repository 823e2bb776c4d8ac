"""Unit tests run with the network switched off: an accidental call fails loudly instead of reaching out."""

import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled: None) -> None:
    return None
