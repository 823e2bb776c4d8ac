"""docs/contract.md §11, what a pass costs: it follows the open reservations, never the deployment's history,
and a pass short of time stops cleanly, keeps what it settled and says so.

Anam's latency is the stand-in's (250 ms a list request, as measured against Anam's list); what these tests
assert is how many requests Anam gets and that the pass answers within its own time, not how fast it runs
(`make bench` measures that: docs/benchmarks.md, figure 12).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.moto_server import aws_client
from local.standins.anam import AnamStub
from tests.support.dynamodb_engines import DynamoDb
from tests.support.reservations import PREFIX, put_reservation, record

ANAM_LATENCY_SECONDS = 0.25
HISTORY = 30_000
PASS_SECONDS = 60.0  # ReconcileFunction's timeout
SHORT_PASS_SECONDS = 18.0  # time for three rounds of lookups a second long, not four


@pytest.fixture
def dynamodb_client(dynamodb: DynamoDb) -> Any:
    return aws_client("dynamodb", dynamodb.url)


def ended_reservations(dynamodb_client: Any, table: str, anam: AnamStub, count: int) -> list[str]:
    """`count` open reservations whose sessions ended (2 of their 10 minutes used)."""
    found = []
    for _ in range(count):
        reservation_id = put_reservation(dynamodb_client, table)
        started = time.time() - 900
        anam.sessions.add(f"{PREFIX}:{reservation_id}", started_at=started, ended_at=started + 90)
        found.append(reservation_id)
    return found


def test_a_site_with_thirty_thousand_past_sessions_settles_its_few_open_reservations_in_a_pass(
    function, reconciling, anam, dynamodb_client
):
    anam.sessions.add_history(PREFIX, HISTORY, ended_by=time.time() - 60)
    used = ended_reservations(dynamodb_client, reconciling, anam, 4)
    unused = put_reservation(dynamodb_client, reconciling, created_at=time.time() - 2 * 3600)
    expiry = record(dynamodb_client, reconciling, unused)["tokenExpiresAt"]
    anam.sessions.add(f"{PREFIX}:{'c' * 32}", started_at=expiry + 60)  # the proof for the unused token
    anam.sessions.latency_seconds = ANAM_LATENCY_SECONDS

    started = time.monotonic()
    summary = function.invoke({"reconcile": True}, timeout_seconds=PASS_SECONDS)

    assert time.monotonic() - started < PASS_SECONDS
    assert (summary["settledUsed"], summary["settledUnused"], summary["notLookedUp"]) == (4, 1, 0)
    assert anam.sessions.list_requests == len(used) + 1 + 1  # a lookup each, one listing for the proof
    assert all(record(dynamodb_client, reconciling, key)["state"] == "settled" for key in [*used, unused])


def test_a_pass_short_of_time_settles_what_it_looked_up_and_leaves_the_rest_to_the_next(
    function, reconciling, anam, dynamodb_client
):
    reservations = ended_reservations(dynamodb_client, reconciling, anam, 20)
    anam.sessions.latency_seconds = 1.0  # lookups take a second each: this pass has time for a few rounds

    started = time.monotonic()
    first = function.invoke({"reconcile": True}, timeout_seconds=SHORT_PASS_SECONDS)

    assert time.monotonic() - started < SHORT_PASS_SECONDS
    assert first["reconciled"] is True
    assert first["settledUsed"] > 0
    assert first["notLookedUp"] > 0
    assert first["settledUsed"] + first["notLookedUp"] == len(reservations) == first["openBefore"]
    assert first["stillOpen"] == first["notLookedUp"]
    assert anam.sessions.list_requests == first["settledUsed"]  # no lookup started that was not used

    anam.sessions.latency_seconds = 0.0
    second = function.invoke({"reconcile": True}, timeout_seconds=PASS_SECONDS)
    assert (second["openBefore"], second["settledUsed"], second["stillOpen"]) == (
        first["notLookedUp"],
    ) * 2 + (0,)


def test_a_pass_with_no_time_for_a_lookup_asks_anam_nothing_and_counts_a_failure(
    function, reconciling, anam, dynamodb_client, capsys
):
    [reservation_id] = ended_reservations(dynamodb_client, reconciling, anam, 1)
    capsys.readouterr()

    summary = function.invoke({"reconcile": True}, timeout_seconds=4.0)

    assert (summary["reconciled"], summary["error"], summary["notLookedUp"]) == (False, "out_of_time", 1)
    assert anam.sessions.list_requests == 0
    assert record(dynamodb_client, reconciling, reservation_id)["state"] == "open"
    assert '"ReconcileFailures":[0.0,1.0]' in capsys.readouterr().out
