"""docs/contract.md §9 over real HTTP: the handler's spend guard against moto's DynamoDB and AWS's DynamoDB
Local (every test runs on both), its table created from template.yaml's definition, with DynamoDB's
transaction conflicts modelled in front of it.

Every row §9 adds to the error table (429 quota_exceeded, 503 budget_exhausted, 503 minting_paused), what a
refused request does not do (reach Anam, use quota), and what the table holds.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.fault_proxy import aws_unavailable
from local.moto_server import aws_client
from local.standins.anam import AnamStub, Reply, Slow
from scripts.spend_switch import pause, resume
from tests.faults.answer_checks import wait_until
from tests.support.dynamodb_engines import DYNAMODB_ENGINES, DynamoDb
from tests.support.function import Answer, Function

VISITOR = "203.0.113.7"
UPDATE = "DynamoDB_20120810.UpdateItem"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dynamodb" in metafunc.fixturenames:
        metafunc.parametrize("dynamodb", DYNAMODB_ENGINES, indirect=True)


ANOTHER_VISITOR = "198.51.100.23"


def seconds_to_next_hour() -> int:
    now = datetime.now(UTC)
    return math.ceil(
        (now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1) - now).total_seconds()
    )


def seconds_to_midnight() -> int:
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return math.ceil((midnight - now).total_seconds())


def assert_refused(answer: Answer, status: int, code: str, retry_after: int | None = None) -> None:
    assert (answer.status, answer.json()["code"]) == (status, code)
    if retry_after is not None:
        # The answer was computed a moment before this check (up to a second's rounding more than what is
        # left now): allow a few seconds of drift.
        assert retry_after - 5 <= int(answer.headers["Retry-After"]) <= retry_after + 1


@pytest.fixture
def limits(guarded: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Sets the guard's limits before the function's first request."""

    def set_limits(**variables: int) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name.upper(), str(value))

    return set_limits


def test_a_visitor_gets_its_hourly_tokens_then_429_until_the_hour_ends(
    function: Function, limits: Any, anam: AnamStub
) -> None:
    limits(caller_sessions_per_hour=2, caller_sessions_per_day=0)
    assert [function.post(source_ip=VISITOR).status for _ in range(2)] == [200, 200]
    answer = function.post(source_ip=VISITOR)
    assert_refused(answer, 429, "quota_exceeded", seconds_to_next_hour())
    # Spoken to the visitor, who is told when by the page, never about a header.
    assert "Retry-After" not in answer.json()["error"]
    assert "later" in answer.json()["error"]
    assert len(anam.requests) == 2


def test_when_the_hour_and_the_day_both_refuse_retry_after_runs_to_the_later_end(
    function: Function, limits: Any
) -> None:
    limits(caller_sessions_per_hour=1, caller_sessions_per_day=1)
    function.post(source_ip=VISITOR)
    assert_refused(function.post(source_ip=VISITOR), 429, "quota_exceeded", seconds_to_midnight())


def test_one_visitors_limit_leaves_another_alone(function: Function, limits: Any) -> None:
    limits(caller_sessions_per_hour=1)
    function.post(source_ip=VISITOR)
    assert function.post(source_ip=ANOTHER_VISITOR).status == 200


def test_ipv6_visitors_in_one_64_share_one_quota(function: Function, limits: Any) -> None:
    limits(caller_sessions_per_hour=1)
    function.post(source_ip="2001:db8:1:2::10")
    assert_refused(function.post(source_ip="2001:db8:1:2:aaaa::99"), 429, "quota_exceeded")
    assert function.post(source_ip="2001:db8:1:3::10").status == 200


def test_a_signed_in_visitor_is_counted_by_its_sub_wherever_it_calls_from(
    function: Function, limits: Any
) -> None:
    limits(caller_sessions_per_hour=1)
    function.post(source_ip=VISITOR, claims={"sub": "user-1"})
    assert_refused(function.post(source_ip=ANOTHER_VISITOR, claims={"sub": "user-1"}), 429, "quota_exceeded")
    assert function.post(source_ip=VISITOR, claims={"sub": "user-2"}).status == 200


def test_a_spent_daily_budget_is_503_for_everyone_until_midnight_utc(
    function: Function, limits: Any, anam: AnamStub
) -> None:
    limits(daily_session_minutes=20)  # MAX_SESSION_LENGTH_SECONDS=600: two tokens of 10 minutes
    function.post(source_ip=VISITOR)
    function.post(source_ip=ANOTHER_VISITOR)
    answer = function.post(source_ip="192.0.2.1")
    assert_refused(answer, 503, "budget_exhausted", seconds_to_midnight())
    assert len(anam.requests) == 2


def test_a_spent_monthly_budget_is_503_until_the_month_ends(function: Function, limits: Any) -> None:
    limits(monthly_session_minutes=10)
    function.post(source_ip=VISITOR)
    now = datetime.now(UTC)
    next_month = (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(
        day=1
    )
    assert_refused(
        function.post(source_ip=ANOTHER_VISITOR),
        503,
        "budget_exhausted",
        math.ceil((next_month - now).total_seconds()),
    )


def test_the_callers_limit_answers_before_a_spent_budget(function: Function, limits: Any) -> None:
    limits(caller_sessions_per_hour=1, daily_session_minutes=10)
    function.post(source_ip=VISITOR)
    assert_refused(function.post(source_ip=VISITOR), 429, "quota_exceeded")


def test_the_operator_pauses_all_minting_with_one_command_and_resumes_with_another(
    function: Function, guarded: str, dynamodb: DynamoDb, anam: AnamStub
) -> None:
    dynamodb = aws_client("dynamodb", dynamodb.url)
    pause(dynamodb, guarded)
    answer = function.post(source_ip=VISITOR)
    assert_refused(answer, 503, "minting_paused")
    assert "paused" in answer.json()["error"]
    assert anam.requests == []
    resume(dynamodb, guarded)
    assert function.post(source_ip=VISITOR).status == 200


def test_paused_answers_before_a_callers_spent_limit(
    function: Function, limits: Any, guarded: str, dynamodb: DynamoDb
) -> None:
    limits(caller_sessions_per_hour=1)
    function.post(source_ip=VISITOR)
    pause(aws_client("dynamodb", dynamodb.url), guarded)
    assert_refused(function.post(source_ip=VISITOR), 503, "minting_paused")


def test_a_warm_token_costs_one_dynamodb_round_trip_pause_check_included(
    function: Function, guarded: str, dynamodb: DynamoDb
) -> None:
    function.post(source_ip=VISITOR)  # cold: loads the key and the persona
    dynamodb.proxy.reset_counters()
    dynamodb.proxy.rendezvous = 3  # each request is held until all three are in flight: sent together
    assert function.post(source_ip=VISITOR).status == 200
    assert sorted(dynamodb.proxy.targets_seen) == ["DynamoDB_20120810.GetItem", UPDATE, UPDATE]
    assert dynamodb.proxy.max_in_flight == 3


def test_no_reservation_uses_a_transaction_so_callers_never_conflict(
    function: Function, limits: Any, dynamodb: DynamoDb
) -> None:
    limits(daily_session_minutes=100, monthly_session_minutes=1000)
    assert [function.post(source_ip=f"192.0.2.{n}").status for n in range(3)] == [200] * 3
    conflicts = dynamodb.proxy.conflicts
    assert conflicts is not None
    assert "TransactWriteItems" not in conflicts.operations


@pytest.mark.parametrize(
    ("failure", "answered"),
    [
        ((Reply(500), Reply(500), Reply(500)), "upstream_unavailable"),
        ((Reply(429, {"message": "slow down"}),), "rate_limited"),
        ((Reply(400, {"message": "bad avatar"}),), "upstream_rejected"),
        ((Slow(3.0),), "upstream_timeout"),
    ],
    ids=["5xx", "429", "400", "timeout"],
)
def test_an_anam_failure_gives_the_reservation_back(
    function: Function, limits: Any, anam: AnamStub, monkeypatch: pytest.MonkeyPatch, failure, answered
) -> None:
    limits(caller_sessions_per_hour=1, daily_session_minutes=10)
    monkeypatch.setenv("ANAM_TIMEOUT_SECONDS", "1")
    anam.enqueue(*failure)
    assert function.post(source_ip=VISITOR).json()["code"] == answered
    assert function.post(source_ip=VISITOR).status == 200


def test_a_slow_request_whose_anam_call_hangs_still_gives_its_reservation_back(
    function: Function, limits: Any, anam: AnamStub, dynamodb: DynamoDb
) -> None:
    # The Lambda's time, not ANAM_TIMEOUT_SECONDS, ends the Anam call: the give-back's time is kept back.
    limits(caller_sessions_per_hour=1, caller_sessions_per_day=0, daily_session_minutes=10)
    anam.enqueue(Slow(12.0))
    answer = function.post(source_ip=VISITOR, timeout_seconds=9.0)
    assert answer.json()["code"] == "upstream_timeout"
    assert function.post(source_ip=VISITOR).status == 200, (
        "the hour's only token and the day's minutes came back"
    )


def test_a_reservation_that_cannot_be_given_back_is_logged_and_counted(
    function: Function, limits: Any, anam: AnamStub, dynamodb: DynamoDb, logs: Any, capsys: Any
) -> None:
    limits(caller_sessions_per_hour=1, caller_sessions_per_day=0)
    proxy = dynamodb.proxy
    function.post(source_ip=ANOTHER_VISITOR)  # cold: the key and the persona are loaded
    reserved = proxy.targets_seen.count(UPDATE) + 1
    anam.enqueue(Slow(1.0, then=Reply(400, {"message": "bad avatar"})))

    def break_dynamodb_once_reserved() -> None:
        wait_until(lambda: proxy.targets_seen.count(UPDATE) == reserved)
        proxy.enqueue(*[aws_unavailable() for _ in range(5)], match="UpdateItem")

    breaker = threading.Thread(target=break_dynamodb_once_reserved)
    breaker.start()
    answer = function.post(source_ip=VISITOR)
    breaker.join()

    assert answer.json()["code"] == "upstream_rejected", "the answer is Anam's, not the failed give-back's"
    assert logs.with_message("Could not give a reservation back")
    assert '"RefundFailures"' in capsys.readouterr().out


def test_a_request_refused_before_the_guard_uses_none_of_the_quota(function: Function, limits: Any) -> None:
    limits(caller_sessions_per_hour=1)
    assert function.post({"prompt": 7}, source_ip=VISITOR).status == 400
    assert function.post({"personaId": "x"}, source_ip=VISITOR).status == 400
    assert function.post(source_ip=VISITOR).status == 200


def test_the_table_holds_counts_and_hmacs_never_an_address_or_user_id_and_every_item_expires(
    function: Function, limits: Any, guarded: str, dynamodb: DynamoDb
) -> None:
    limits(daily_session_minutes=100, monthly_session_minutes=1000)
    function.post(source_ip=VISITOR)
    function.post(source_ip=ANOTHER_VISITOR, claims={"sub": "user-1"})
    items = aws_client("dynamodb", dynamodb.url).scan(TableName=guarded)["Items"]
    text = repr(items)
    assert VISITOR not in text
    assert "user-1" not in text
    assert ANOTHER_VISITOR not in text
    counters = [item for item in items if not item["pk"]["S"].startswith("reservation#")]
    assert len(counters) == 2 * 2 + 2  # two callers' hour and day, the day's and the month's budget
    assert len(items) - len(counters) == 2  # one record per token, for the reconciliation
    assert all(int(item["expiresAt"]["N"]) > time.time() + 86400 for item in items)
    budgets = {
        item["pk"]["S"].split("#")[1]: int(item["used"]["N"]) for item in items if "budget" in item["pk"]["S"]
    }
    assert budgets == {"day": 20, "month": 20}


def test_without_a_table_there_is_no_guard(function: Function, function_env: dict[str, str]) -> None:
    assert [function.post(source_ip=VISITOR).status for _ in range(12)] == [200] * 12
