"""docs/contract.md §9, §11: what a write's answer tells, and what may follow it (domain/settlement.py), and
the one classification of DynamoDB's answers every writer uses (adapters/dynamodb_table.py)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from token_vendor.adapters.dynamodb_table import DynamoDbTable, outcome_of
from token_vendor.adapters.http_session import MAX_IDLE_SECONDS
from token_vendor.domain.deadline import GIVE_BACK_ROUND_TRIP_SECONDS, GIVE_BACK_SECONDS, give_back_steps
from token_vendor.domain.settlement import (
    OWNER_LEASE_SECONDS,
    Outcome,
    Pending,
    give_back_changes,
    handed_on,
    taken_over,
)

DAY, MONTH = "budget#day#2026-12-08", "budget#month#2026-12"


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "UpdateItem",
    )


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (client_error("ConditionalCheckFailedException", 400), Outcome.DECLINED),
        (client_error("ProvisionedThroughputExceededException", 400), Outcome.NOT_APPLIED),
        (client_error("ThrottlingException", 400), Outcome.NOT_APPLIED),
        (client_error("TransactionConflictException", 400), Outcome.NOT_APPLIED),
        (client_error("ValidationException", 400), Outcome.NOT_APPLIED),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), Outcome.NOT_APPLIED),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), Outcome.NOT_APPLIED),
        (client_error("InternalServerError", 500), Outcome.UNKNOWN),
        (client_error("ServiceUnavailable", 503), Outcome.UNKNOWN),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), Outcome.UNKNOWN),
        (ConnectionClosedError(endpoint_url="http://127.0.0.1:1"), Outcome.UNKNOWN),
    ],
    ids=[
        "condition",
        "throughput",
        "throttled",
        "conflict",
        "refused",
        "no-connection",
        "connect-timeout",
        "500",
        "503",
        "read-timeout",
        "closed-after-sending",
    ],
)
def test_a_4xx_or_a_request_never_sent_surely_did_not_apply_and_a_lost_answer_may_have(error, outcome):
    assert outcome_of(error) is outcome


def test_a_give_back_takes_back_every_minute_a_reservation_holds_in_every_window():
    assert give_back_changes({DAY: 10, MONTH: 10}) == {DAY: -10, MONTH: -10}
    assert give_back_changes({DAY: 0, MONTH: 10}) == {MONTH: -10}


def test_only_what_surely_did_not_apply_and_overruns_of_unknown_outcome_are_handed_on():
    changes = {DAY: -8, MONTH: -8, "budget#day#2026-12-07": 3, "budget#month#2026-11": 3}
    outcomes = {
        DAY: Outcome.NOT_APPLIED,  # refused: a later pass gives it back
        MONTH: Outcome.UNKNOWN,  # may have been given back: never again (high, not low)
        "budget#day#2026-12-07": Outcome.UNKNOWN,  # an overrun that may not have been added: added again
        "budget#month#2026-11": Outcome.APPLIED,
    }
    assert handed_on(changes, outcomes) == {DAY: -8, "budget#day#2026-12-07": 3}


def test_a_pass_applies_all_a_finished_owner_handed_on():
    assert taken_over(Pending({DAY: -8, MONTH: 2}, None, 0)) == ({DAY: -8, MONTH: 2}, {})


def test_a_pass_drops_the_give_backs_of_an_owner_that_ended_midway_but_not_its_overruns():
    assert taken_over(Pending({DAY: -8, MONTH: 2}, "request:1", 0)) == ({MONTH: 2}, {DAY: -8})


def test_an_owner_is_gone_for_sure_only_after_lambdas_longest_timeout():
    pending = Pending({DAY: -10}, "request:1", since=1_000)
    assert not pending.owner_has_ended(1_000 + 899)
    assert pending.owner_has_ended(1_000 + OWNER_LEASE_SECONDS)
    assert Pending({DAY: -10}, None, 0).owner_has_ended(0)


def test_a_give_backs_kept_time_holds_all_its_round_trips_each_its_own():
    deadline = 100.0
    steps = give_back_steps(deadline)
    assert steps == (
        deadline - 2 * GIVE_BACK_ROUND_TRIP_SECONDS,
        deadline - GIVE_BACK_ROUND_TRIP_SECONDS,
        deadline,
    )
    # The Anam call ends GIVE_BACK_SECONDS before the deadline: the first step starts with a whole round trip.
    assert steps[0] - (deadline - GIVE_BACK_SECONDS) >= GIVE_BACK_ROUND_TRIP_SECONDS


class FakeClient:
    """What DynamoDbTable uses of a boto3 client: its events, one call, its connection pool."""

    def __init__(self) -> None:
        self.pool_emptied = 0
        self.meta = type("Meta", (), {"events": type("Events", (), {"register": lambda *a, **k: None})()})()
        self._endpoint = type("Endpoint", (), {"http_session": self})()

    def close(self) -> None:
        self.pool_emptied += 1

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}


def test_no_connection_idle_past_the_limit_is_reused_for_a_write():
    # After a freeze, a forgotten connection would swallow a give-back: sent, never answered, outcome unknown.
    now = [0.0]
    client = FakeClient()
    table = DynamoDbTable("t", lambda service, config: client, clock=lambda: now[0])

    now[0] = 10.0
    assert table.write("update_item", 1e9, repeatable=False).outcome is Outcome.APPLIED
    assert client.pool_emptied == 0
    now[0] = 10.0 + MAX_IDLE_SECONDS + 1
    table.write("update_item", 1e9, repeatable=False)
    assert client.pool_emptied == 1


class FlakyClient(FakeClient):
    """Answers each update with the next of `answers` (an exception to raise, or an answer)."""

    def __init__(self, answers: list[Any]) -> None:
        super().__init__()
        self.answers = answers

    def update_item(self, **_: Any) -> dict[str, Any]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)


def test_a_repeatable_write_refused_after_a_lost_answer_is_of_unknown_outcome_not_surely_failed():
    # The first attempt may have applied: a refusal of the second says nothing about the first.
    lost, refused = ReadTimeoutError(endpoint_url="http://x"), client_error("ValidationException", 400)
    client = FlakyClient([lost, refused])
    table = DynamoDbTable("t", lambda service, config: client)
    assert table.write("update_item", 1e12, repeatable=True).outcome is Outcome.UNKNOWN


def test_a_counter_write_whose_answer_was_lost_is_never_sent_again():
    client = FlakyClient([ReadTimeoutError(endpoint_url="http://x"), {}])
    table = DynamoDbTable("t", lambda service, config: client)
    assert table.write("update_item", 1e12, repeatable=False).outcome is Outcome.UNKNOWN
    assert len(client.answers) == 1  # the second answer was never asked for
