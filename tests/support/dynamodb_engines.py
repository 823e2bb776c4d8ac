"""The DynamoDB engines the spend guard's tests run on: moto's server and AWS's DynamoDB Local, each behind a
fault proxy with DynamoDB's transaction-conflict model (local/dynamodb_conflicts.py). A pytest plugin,
loaded by tests/conftest.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from local.dynamodb_conflicts import ConflictModel
from local.dynamodb_local import DynamoDbLocal, missing
from local.fault_proxy import FaultProxy
from local.moto_server import MotoServer

# How long a transaction holds its items in the conflict model: DynamoDB's own are a few milliseconds to tens.
CONFLICT_HOLD_SECONDS = 0.02


def fresh_proxy(proxy: FaultProxy) -> Iterator[FaultProxy]:
    """The proxy with no fault queued, no delay and its counters at 0, for one test."""
    proxy.clear_faults()
    proxy.delay_seconds = 0.0
    proxy.rendezvous = 0
    proxy.reset_counters()
    if proxy.conflicts is not None:
        proxy.conflicts.reset_counters()
    yield proxy
    proxy.clear_faults()


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDbLocal]:
    """AWS's DynamoDB Local, started once for the session (skipped where Java or the jar is missing, unless
    REQUIRE_DYNAMODB_LOCAL=1, as in CI)."""
    reason = missing()
    if reason is not None:
        if os.environ.get("REQUIRE_DYNAMODB_LOCAL") == "1":
            pytest.fail(f"REQUIRE_DYNAMODB_LOCAL=1 but {reason}")
        pytest.skip(reason)
    with DynamoDbLocal() as server:
        yield server


def conflict_modelled_proxy(url: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the DynamoDB at `url` that applies DynamoDB's transaction-conflict rule."""
    with FaultProxy(url) as proxy:
        proxy.conflicts = ConflictModel(CONFLICT_HOLD_SECONDS)
        yield proxy


@pytest.fixture(scope="session")
def dynamodb_local_proxy(dynamodb_local: DynamoDbLocal) -> Iterator[FaultProxy]:
    yield from conflict_modelled_proxy(dynamodb_local.url)


@dataclass(frozen=True)
class DynamoDb:
    """The DynamoDB a test runs the spend guard on: `url` the engine itself (what an operator's tools use),
    `proxy` the fault proxy with the conflict model in front of it (what the function talks to)."""

    engine: str  # "moto" or "dynamodb_local"
    url: str
    proxy: FaultProxy


DYNAMODB_ENGINES = ["moto", "dynamodb_local"]


@pytest.fixture
def dynamodb(request: pytest.FixtureRequest, moto_server: MotoServer, aws: FaultProxy) -> Iterator[DynamoDb]:
    """moto unless a test asks for more with `@pytest.mark.parametrize("dynamodb", DYNAMODB_ENGINES,
    indirect=True)`."""
    engine = getattr(request, "param", "moto")
    if engine == "moto":
        yield DynamoDb(engine, moto_server.url, aws)
        return
    local: DynamoDbLocal = request.getfixturevalue("dynamodb_local")
    proxy: FaultProxy = request.getfixturevalue("dynamodb_local_proxy")
    yield from (DynamoDb(engine, local.url, fresh) for fresh in fresh_proxy(proxy))


def clear_of_a_window_end(margin_seconds: float = 30.0) -> None:
    """Start well inside one UTC hour (and so day and month): a test whose counts must add up, or a race, must
    not straddle two windows, whose counters are apart."""
    now = datetime.now(UTC)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if (next_hour - now).total_seconds() < margin_seconds:
        time.sleep((next_hour - now).total_seconds() + 1)
