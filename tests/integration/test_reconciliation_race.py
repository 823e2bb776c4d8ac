"""docs/contract.md §11, settlement under overlapping passes: processes running the real handler's pass at
once, as a slow pass and the next tick's would, settle each reservation exactly once.

Each process is its own execution environment (its own interpreter, clients and caches), released together by
a barrier against one table in a moto served one request at a time (see test_spend_guard_race.py: each
conditional write is then atomic, as in DynamoDB), and one Anam stand-in.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator, Mapping
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest

from local.lambda_context import LambdaContext
from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, aws_client, create_quota_table, seed
from local.standins.anam import AnamStub
from tests.conftest import API_KEY, PARAMETER_NAME, PERSONA, SECRET_ID
from tests.support.reservations import budget_keys, counter, put_reservation

PROCESSES = 4
RESERVATIONS = 12
TABLE = "race-reconcile"
PREFIX = "race-stack"


@pytest.fixture(scope="module")
def serial_moto() -> Iterator[str]:
    with MotoServer(serial=True) as server:
        yield server.url


def _environment(variables: Mapping[str, str], barrier: Barrier, results: Any) -> None:
    os.environ.update(variables)
    from token_vendor.handler import lambda_handler

    barrier.wait()
    results.put(lambda_handler({"reconcile": True}, LambdaContext(timeout_seconds=30)))


def race(variables: Mapping[str, str]) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=_environment, args=(dict(variables), barrier, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    summaries = [results.get(timeout=90) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    return summaries


def test_passes_racing_over_the_same_reservations_settle_each_once(serial_moto: str, anam: AnamStub) -> None:
    seed(
        serial_moto, secret_id=SECRET_ID, secret_value=API_KEY, parameter_name=PARAMETER_NAME, persona=PERSONA
    )
    create_quota_table(serial_moto, TABLE)
    dynamodb = aws_client("dynamodb", serial_moto)
    started = time.time() - 900
    for number in range(RESERVATIONS):
        reservation_id = put_reservation(dynamodb, TABLE, prefix=PREFIX)
        # Sessions of 1 to 3 minutes: 7 to 9 of each reservation's 10 minutes go back.
        anam.sessions.add(
            f"{PREFIX}:{reservation_id}", started_at=started, ended_at=started + 60 * (number % 3) + 30
        )
    variables = {
        "AWS_ENDPOINT_URL": serial_moto,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "ANAM_API_KEY_SECRET_ID": SECRET_ID,
        "PERSONA_PARAMETER_NAME": PARAMETER_NAME,
        "ANAM_API_BASE_URL": anam.url,
        "QUOTA_TABLE_NAME": TABLE,
        "MAX_SESSION_LENGTH_SECONDS": "600",
        "DAILY_SESSION_MINUTES": "1000",
        "MONTHLY_SESSION_MINUTES": "10000",
        "CLIENT_LABEL_PREFIX": PREFIX,
    }

    summaries = race(variables)

    assert all(summary["reconciled"] for summary in summaries), summaries
    settled = sum(summary["settledUsed"] for summary in summaries)
    assert settled == RESERVATIONS
    used = sum(1 + number % 3 for number in range(RESERVATIONS))  # each session's minutes, rounded up
    assert [counter(dynamodb, TABLE, key) for key in budget_keys()] == [used, used]
    assert sum(summary["minutesGivenBack"] for summary in summaries) == 10 * RESERVATIONS - used
