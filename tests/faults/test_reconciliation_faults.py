"""docs/contract.md §11, Anam's session list failing: a pass that cannot read the list whole settles nothing,
says so, and counts `ReconcileFailures`, which an alarm watches."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.fault_proxy import aws_unavailable
from local.moto_server import MotoServer, aws_client
from local.standins.anam import AnamStub, Html, Reply, Reset, Slow
from tests.conftest import API_KEY, ROTATED_API_KEY
from tests.support.reservations import budget_keys, counter, put_reservation, record

PREFIX = "anam-token-vendor"


@pytest.fixture
def ended_session(reconciling: str, anam: AnamStub, moto_server: MotoServer) -> tuple[Any, str]:
    """An open reservation whose session has ended, 2 of its 10 minutes used: a pass would give 8 back."""
    dynamodb = aws_client("dynamodb", moto_server.url)
    reservation_id = put_reservation(dynamodb, reconciling)
    started = time.time() - 600
    anam.sessions.add(f"{PREFIX}:{reservation_id}", started_at=started, ended_at=started + 90)
    return dynamodb, reservation_id


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param([Reply(503)] * 3, id="5xx"),
        pytest.param([Html(502)] * 3, id="gateway-html"),
        pytest.param([Reset()] * 3, id="connection-reset"),
        pytest.param([Reply(401, {"message": "Invalid API key"})], id="key-refused"),
        pytest.param([Reply(200, {"data": "none", "meta": {"lastPage": 1}})], id="data-not-a-list"),
        pytest.param([Reply(200, {"data": []})], id="no-meta"),
        pytest.param([Reply(200, "<html>maintenance</html>")], id="not-json"),
        pytest.param(
            [Reply(200, {"data": [{"clientLabel": 7}], "meta": {"lastPage": 1}})], id="label-not-a-string"
        ),
        pytest.param(
            [Reply(200, {"data": [{"startTime": "yesterday"}], "meta": {"lastPage": 1}})], id="bad-time"
        ),
    ],
)
def test_a_list_that_cannot_be_read_gives_nothing_back_and_is_counted(
    function, ended_session, anam, reconciling, capsys, failure
):
    dynamodb, reservation_id = ended_session
    anam.enqueue(*failure)
    capsys.readouterr()

    summary = function.invoke({"reconcile": True})

    assert summary == {"reconciled": False, "error": "session_list_failed", "settled": 0}
    assert record(dynamodb, reconciling, reservation_id)["state"] == "open"
    assert counter(dynamodb, reconciling, budget_keys()[0]) == 10
    assert '"ReconcileFailures":[1.0]' in capsys.readouterr().out


def test_a_lookup_that_answers_too_slowly_gives_nothing_back_within_the_passs_time(
    function, ended_session, anam, reconciling
):
    dynamodb, _ = ended_session
    anam.enqueue(*[Slow(8.0)] * 3)
    started = time.monotonic()
    summary = function.invoke({"reconcile": True}, timeout_seconds=20.0)
    assert time.monotonic() - started < 20.0  # each lookup is bounded: the pass answers before Lambda ends it
    assert summary["error"] == "session_list_failed"
    assert counter(dynamodb, reconciling, budget_keys()[0]) == 10


def test_a_lookup_that_returns_more_than_one_tokens_pages_fails_the_pass(
    function, ended_session, anam, reconciling
):
    dynamodb, _ = ended_session
    anam.enqueue(Reply(200, {"data": [], "meta": {"lastPage": 40}}))
    assert function.invoke({"reconcile": True})["error"] == "session_list_failed"
    assert counter(dynamodb, reconciling, budget_keys()[0]) == 10


def test_a_failing_second_page_of_a_lookup_fails_the_whole_pass(function, ended_session, anam, reconciling):
    dynamodb, _ = ended_session
    anam.enqueue(Reply(200, {"data": [], "meta": {"lastPage": 2}}))
    anam.enqueue(*[Reply(503)] * 3)
    assert function.invoke({"reconcile": True})["error"] == "session_list_failed"
    assert counter(dynamodb, reconciling, budget_keys()[0]) == 10


def test_a_list_that_recovers_settles_on_the_next_pass(function, ended_session, anam, reconciling):
    dynamodb, _ = ended_session
    anam.enqueue(*[Reply(503)] * 3)
    assert function.invoke({"reconcile": True})["reconciled"] is False
    assert function.invoke({"reconcile": True})["minutesGivenBack"] == 8
    assert counter(dynamodb, reconciling, budget_keys()[0]) == 2


def test_dynamodb_failing_settles_nothing_and_is_counted(function, ended_session, aws, reconciling, capsys):
    dynamodb, reservation_id = ended_session
    aws.enqueue(*[aws_unavailable()] * 10, match="DynamoDB")
    capsys.readouterr()
    summary = function.invoke({"reconcile": True})
    assert summary["reconciled"] is False
    assert record(dynamodb, reconciling, reservation_id)["state"] == "open"
    assert '"ReconcileFailures":[1.0]' in capsys.readouterr().out


def test_budgets_that_cannot_be_read_do_not_undo_what_the_pass_settled(
    function, ended_session, aws, reconciling
):
    dynamodb, reservation_id = ended_session
    aws.enqueue(*[aws_unavailable()] * 10, match="BatchGetItem")
    summary = function.invoke({"reconcile": True})
    assert (summary["reconciled"], summary["minutesGivenBack"], summary["budgetsUsedPercent"]) == (
        True,
        8,
        {},
    )
    assert record(dynamodb, reconciling, reservation_id)["state"] == "settled"


def test_a_rotated_key_is_fetched_afresh_once_and_the_pass_goes_on(
    function, ended_session, anam, aws_admin, reconciling
):
    dynamodb, _ = ended_session
    function.invoke({"warmup": True})  # the old key is held
    aws_admin.put_secret(ROTATED_API_KEY)
    anam.api_keys = {ROTATED_API_KEY}
    summary = function.invoke({"reconcile": True})
    assert summary["minutesGivenBack"] == 8
    assert counter(dynamodb, reconciling, budget_keys()[0]) == 2
    authorizations = [
        r.headers.get("Authorization") for r in anam.requests if r.path.startswith("/v1/sessions")
    ]
    assert authorizations == [f"Bearer {API_KEY}", f"Bearer {ROTATED_API_KEY}"]


def test_a_failing_listing_for_the_proof_gives_nothing_back(function, reconciling, anam, moto_server):
    dynamodb = aws_client("dynamodb", moto_server.url)
    reservation_id = put_reservation(dynamodb, reconciling, created_at=time.time() - 7200)
    expiry = record(dynamodb, reconciling, reservation_id)["tokenExpiresAt"]
    anam.sessions.add(f"{PREFIX}:{'c' * 32}", started_at=expiry + 60)
    # The lookup finds nothing; the listing that would prove the token unused fails.
    anam.enqueue(Reply(200, {"data": [], "meta": {"lastPage": 1}}), *[Reply(503)] * 3)
    assert function.invoke({"reconcile": True})["error"] == "session_list_failed"
    assert record(dynamodb, reconciling, reservation_id)["state"] == "open"
