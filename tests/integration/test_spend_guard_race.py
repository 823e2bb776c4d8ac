"""docs/contract.md §9, limits under concurrency: processes racing for the last tokens, as execution
environments do, mint exactly as many as remain.

Each process is its own "execution environment": its own interpreter, boto3 client and guard, all released
at once by a barrier against one table. moto's server is run serially here (`MotoServer(serial=True)`): moto's
DynamoDB applies a transaction without a lock, so its threaded server could interleave two transactions, which
DynamoDB itself never does. Served one request at a time, each transaction is atomic as in DynamoDB, while the
processes' reads and writes still arrive in any order: a guard that read the count and then wrote it would
mint too many here, and only the conditional writes deciding inside the store hold the limit.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, create_quota_table
from token_vendor.adapters import dynamodb_ledger
from token_vendor.adapters.dynamodb_ledger import DynamoDbLedger
from token_vendor.domain.spend_guard import Limits
from token_vendor.errors import TokenVendorError
from token_vendor.guard import LedgerSpendGuard

PROCESSES = 6
TABLE = "race-quota"
HASH_KEY = "race-hash-key"


@pytest.fixture(scope="module")
def serial_moto() -> Iterator[str]:
    with MotoServer(serial=True) as server:
        create_quota_table(server.url, TABLE)
        yield server.url


def _guard(endpoint_url: str, limits: Limits) -> LedgerSpendGuard:
    # The client is built before the barrier, so that the processes' first requests leave together.
    session = boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url, config=dynamodb_ledger.CLIENT_CONFIG)

    def client(service: str, config: Config) -> Any:
        return dynamodb

    return LedgerSpendGuard(DynamoDbLedger(TABLE, client), limits)


def _reserve(guard: LedgerSpendGuard, identity: str) -> str:
    try:
        guard.reserve(identity, 600, datetime.now(UTC), hash_key=HASH_KEY, deadline=time.monotonic() + 30)
    except TokenVendorError as err:
        return str(err.code)
    return "minted"


def _environment(endpoint_url: str, limits: Limits, identity: str, barrier: Barrier, results: Any) -> None:
    guard = _guard(endpoint_url, limits)
    barrier.wait()
    results.put(_reserve(guard, identity))


def race(endpoint_url: str, limits: Limits, identities: list[str]) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(identities))
    results = context.Queue()
    processes = [
        context.Process(target=_environment, args=(endpoint_url, limits, identity, barrier, results))
        for identity in identities
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    return sorted(outcomes)


def clear_of_a_window_end(margin_seconds: float = 30.0) -> None:
    """Start well inside one UTC hour (and so day and month): a race must not straddle two windows."""
    now = datetime.now(UTC)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if (next_hour - now).total_seconds() < margin_seconds:
        time.sleep((next_hour - now).total_seconds() + 1)


def test_processes_racing_for_one_callers_last_tokens_mint_exactly_as_many_as_remain(
    serial_moto: str,
) -> None:
    clear_of_a_window_end()
    limits = Limits(caller_sessions_per_hour=5, caller_sessions_per_day=0)
    visitor = "203.0.113.7"
    guard = _guard(serial_moto, limits)
    assert [_reserve(guard, visitor) for _ in range(2)] == ["minted", "minted"]  # three tokens remain
    outcomes = race(serial_moto, limits, [visitor] * PROCESSES)
    assert outcomes == ["minted"] * 3 + ["quota_exceeded"] * (PROCESSES - 3)


def test_processes_racing_for_the_last_budget_minutes_mint_exactly_as_many_as_fit(serial_moto: str) -> None:
    # A fresh month's budget of 30 minutes: three tokens of 10 for six different visitors.
    clear_of_a_window_end()
    limits = Limits(caller_sessions_per_hour=0, caller_sessions_per_day=0, monthly_session_minutes=30)
    outcomes = race(serial_moto, limits, [f"198.51.100.{n}" for n in range(PROCESSES)])
    assert outcomes == ["budget_exhausted"] * (PROCESSES - 3) + ["minted"] * 3
