"""The fault suite's own fixtures: Anam reached through a fault-injecting proxy, as AWS already is (the root
conftest's `aws`), and a raw HTTP server for the broken responses a proxy cannot produce."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from local.fault_proxy import FaultProxy
from local.standins.anam import AnamStub
from tests.faults.raw_http import RawHttpServer


@pytest.fixture(scope="session")
def anam_fault_proxy(anam_stub: AnamStub) -> Iterator[FaultProxy]:
    with FaultProxy(anam_stub.url) as proxy:
        yield proxy


@pytest.fixture
def anam_proxy(
    anam_fault_proxy: FaultProxy, function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """The Anam stand-in behind a fault-injecting proxy, which the function calls instead of the stand-in.

    No faults queued, counters at 0; ANAM_API_BASE_URL points at it before the function's first request.
    """
    anam_fault_proxy.clear_faults()
    anam_fault_proxy.delay_seconds = 0.0
    anam_fault_proxy.reset_counters()
    monkeypatch.setenv("ANAM_API_BASE_URL", anam_fault_proxy.url)
    yield anam_fault_proxy
    anam_fault_proxy.clear_faults()


@pytest.fixture
def raw_anam(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[RawHttpServer]:
    """A raw HTTP server the function calls as Anam; set `reply` and `stall_seconds` before the request."""
    server = RawHttpServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("ANAM_API_BASE_URL", server.url)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
