"""docs/contract.md §9, limits under concurrency: processes racing, as execution environments do, mint exactly
as many as remain, and distinct callers never fail for contention.

Each process is its own "execution environment": its own interpreter, boto3 client and guard, all released
at once by a barrier against one table, through a proxy that applies DynamoDB's transaction conflicts (20 ms
hold, local/dynamodb_conflicts.py). Every test runs against two engines:

- moto's server run serially (`MotoServer(serial=True)`): moto applies a write without a lock, so its
  threaded server could interleave two conditional writes, which DynamoDB never does. Served one request at a
  time, each write is atomic, while the processes' requests still arrive in any order: a guard that read the
  count and then wrote it would mint too many here; only the conditional writes inside the store hold.
- AWS's DynamoDB Local, a real engine serving requests concurrently.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.dynamodb_conflicts import ConflictModel
from local.fault_proxy import FaultProxy
from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, aws_client, create_quota_table
from tests.support.dynamodb_engines import CONFLICT_HOLD_SECONDS, DYNAMODB_ENGINES, clear_of_a_window_end
from token_vendor.adapters.dynamodb_ledger import DynamoDbLedger
from token_vendor.adapters.dynamodb_reservations import DynamoDbReservations
from token_vendor.adapters.dynamodb_table import DynamoDbTable
from token_vendor.domain.spend_guard import Limits
from token_vendor.errors import TokenVendorError
from token_vendor.guard import LedgerSpendGuard

TABLE = "race-quota"
PATIENT = Config(read_timeout=15)
HASH_KEY = "race-hash-key"


@pytest.fixture(scope="module")
def serial_moto() -> Iterator[str]:
    with MotoServer(serial=True) as server:
        yield server.url


@pytest.fixture(params=DYNAMODB_ENGINES)
def table(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(the engine's URL, the conflict proxy's URL in front of it), a fresh table in it."""
    if request.param == "moto":
        engine: str = request.getfixturevalue("serial_moto")
    else:
        engine = request.getfixturevalue("dynamodb_local").url
    create_quota_table(engine, TABLE)
    with FaultProxy(engine) as proxy:
        proxy.conflicts = ConflictModel(CONFLICT_HOLD_SECONDS)
        yield engine, proxy.url


def _guard(endpoint_url: str, limits: Limits) -> LedgerSpendGuard:
    # The clients are built before the barrier, so that the processes' first requests leave together.
    session = boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS)

    def client(service: str, config: Config) -> Any:
        # The engines queue every request behind the others on a shared machine, past production's 1 s read
        # timeout; the SDK's retry of an add that was applied would then count it twice (a count reads high,
        # never low, but these tests check exact counts).
        return session.client(service, endpoint_url=endpoint_url, config=config.merge(PATIENT))

    table = DynamoDbTable(TABLE, client)
    has_budget = limits.daily_session_minutes is not None or limits.monthly_session_minutes is not None
    return LedgerSpendGuard(
        DynamoDbLedger(table), limits, DynamoDbReservations(table) if has_budget else None
    )


def _reserve(guard: LedgerSpendGuard, identity: str, shortest_seconds: int | None) -> str:
    try:
        reservation = guard.reserve(
            identity, 600, datetime.now(UTC), hash_key=HASH_KEY, deadline=time.monotonic() + 30,
            shortest_seconds=shortest_seconds,
        )  # fmt: skip
    except TokenVendorError as err:
        return str(err.code)
    guard.keep(reservation, None)
    return "minted" if reservation.session_seconds == 600 else f"minted {reservation.session_seconds} s"


def _environment(
    endpoint_url: str,
    limits: Limits,
    identities: list[str],
    barrier: Barrier,
    results: Any,
    shortest_seconds: int | None,
) -> None:
    guard = _guard(endpoint_url, limits)
    barrier.wait()
    with ThreadPoolExecutor(max_workers=len(identities)) as requests:
        for outcome in requests.map(lambda identity: _reserve(guard, identity, shortest_seconds), identities):
            results.put(outcome)


def race(
    endpoint_url: str, limits: Limits, environments: list[list[str]], shortest_seconds: int | None = None
) -> list[str]:
    """Each inner list is one environment (process) and the callers whose requests it serves at once;
    `shortest_seconds`: a budget's remainder may be granted down to that (docs/contract.md §12)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(environments))
    results = context.Queue()
    processes = [
        context.Process(
            target=_environment, args=(endpoint_url, limits, identities, barrier, results, shortest_seconds)
        )
        for identities in environments
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for identities in environments for _ in identities]
    for process in processes:
        process.join(timeout=10)
    return sorted(outcomes)


def budgets_used(engine_url: str) -> dict[str, int]:
    items = aws_client("dynamodb", engine_url).scan(TableName=TABLE)["Items"]
    return {
        item["pk"]["S"].split("#")[1]: int(item["used"]["N"]) for item in items if "budget" in item["pk"]["S"]
    }


def test_forty_callers_from_ten_environments_at_once_are_all_served_and_the_budget_is_exact(
    table: tuple[str, str],
) -> None:
    engine, proxy = table
    clear_of_a_window_end()
    limits = Limits(caller_sessions_per_hour=10, daily_session_minutes=1000, monthly_session_minutes=5000)
    environments = [[f"198.51.{env}.{n}" for n in range(4)] for env in range(10)]
    assert race(proxy, limits, environments) == ["minted"] * 40
    assert budgets_used(engine) == {"day": 400, "month": 400}


def test_ten_environments_racing_for_one_callers_last_five_tokens_mint_exactly_five(
    table: tuple[str, str],
) -> None:
    engine, proxy = table
    clear_of_a_window_end()
    limits = Limits(caller_sessions_per_hour=5, caller_sessions_per_day=0, daily_session_minutes=1000)
    outcomes = race(proxy, limits, [["203.0.113.7"]] * 10)
    assert outcomes == ["minted"] * 5 + ["quota_exceeded"] * 5
    assert budgets_used(engine) == {"day": 50}, "the refused ones' budget minutes are all given back"


def test_processes_racing_for_the_last_budget_minutes_mint_exactly_as_many_as_fit(
    table: tuple[str, str],
) -> None:
    # A fresh month's budget of 30 minutes: three tokens of 10 for six different visitors.
    engine, proxy = table
    clear_of_a_window_end()
    limits = Limits(caller_sessions_per_hour=0, caller_sessions_per_day=0, monthly_session_minutes=30)
    outcomes = race(proxy, limits, [[f"198.51.100.{n}"] for n in range(6)])
    assert outcomes == ["budget_exhausted"] * 3 + ["minted"] * 3
    assert budgets_used(engine) == {"month": 30}


def test_processes_racing_for_a_budgets_remainder_share_it_once_and_never_go_over(
    table: tuple[str, str],
) -> None:
    # 25 minutes: two tokens of 10, then one shortened to the 5 left; six visitors ask at once.
    engine, proxy = table
    clear_of_a_window_end()
    limits = Limits(caller_sessions_per_hour=0, caller_sessions_per_day=0, monthly_session_minutes=25)
    outcomes = race(proxy, limits, [[f"198.51.100.{n}"] for n in range(6)], shortest_seconds=120)
    assert outcomes == ["budget_exhausted"] * 3 + ["minted"] * 2 + ["minted 300 s"]
    assert budgets_used(engine) == {"month": 25}
