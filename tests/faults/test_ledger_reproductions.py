"""What a review of the ledger reproduced, as tests (docs/contract.md §9, §11): each failed before the owner
marks and the one outcome rule, and must keep passing. Plus the conditions no emulator enforces on its own:
a give-back never creates a count, and the pause is read strongly consistently."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import jwt
import pytest

from local.fault_proxy import aws_server_error
from local.moto_server import DUMMY_CREDENTIALS, REGION, aws_client
from local.standins.anam import AnamStub, Reply
from tests.support.dynamodb_engines import DYNAMODB_ENGINES, DynamoDb
from tests.support.function import Function
from tests.support.reservations import age_records, budget_keys, counter, put_reservation, record
from token_vendor.adapters.dynamodb_ledger import DynamoDbLedger
from token_vendor.adapters.dynamodb_reservations import DynamoDbReservations
from token_vendor.adapters.dynamodb_table import DynamoDbTable
from token_vendor.domain.settlement import Outcome, Pending

PREFIX = "anam-token-vendor"
VISITORS = [f"203.0.113.{number}" for number in range(1, 10)]
# The writes, chosen by what both the old ledger's requests and today's hold: these tests must fail on the
# old one. In a failed mint, the first UpdateItem of the record is its claim; in a pass, its settlement.
RECORD_CHANGE = ("reservation#",)
BUDGET_GIVE_BACK = ("budget#day#", "attribute_exists(#used)")


def table_at(url: str, name: str) -> DynamoDbTable:
    """The guard's table as the function reaches it, at the engine itself (no proxy, no fault)."""
    session = boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS)
    return DynamoDbTable(
        name, lambda service, config: session.client(service, endpoint_url=url, config=config)
    )


def hours_later(function: Function, anam: AnamStub, dynamodb: DynamoDb, table: str) -> None:
    """Two hours on: every token expired, a later session of the deployment listed, and passes run."""
    age_records(aws_client("dynamodb", dynamodb.url), table, 2 * 3600)
    anam.sessions.add(f"{PREFIX}:{'f' * 32}", started_at=time.time() - 5, ended_at=time.time() - 1)
    function.invoke({"reconcile": True})
    function.invoke({"reconcile": True})


def mint(function: Function, number: int) -> Any:
    return function.post(source_ip=VISITORS[number])


@pytest.fixture
def twenty_minute_day(reconciling: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DAILY_SESSION_MINUTES", "20")
    return reconciling


def test_a_give_back_whose_answer_was_lost_is_not_given_back_again_by_a_pass(
    function: Function, anam: AnamStub, dynamodb: DynamoDb, twenty_minute_day: str
) -> None:
    # Reproduced on the old ledger: the counter ended at -10 and 30 minutes of a 20-minute day were minted.
    dynamodb.proxy.enqueue(aws_server_error().after_applying(), match="UpdateItem", body=BUDGET_GIVE_BACK)
    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    assert mint(function, 0).json()["code"] == "upstream_rejected"
    hours_later(function, anam, dynamodb, twenty_minute_day)

    day = budget_keys()[0]
    assert counter(aws_client("dynamodb", dynamodb.url), twenty_minute_day, day) == 0
    assert [mint(function, number).status for number in (1, 2, 3)] == [200, 200, 503]


def test_a_claim_that_landed_with_its_answer_lost_still_gives_the_reservation_back(
    function: Function, anam: AnamStub, dynamodb: DynamoDb, reconciling: str
) -> None:
    # Reproduced on the old ledger: the retry read "claimed before", nothing went back, and the record sat in
    # a state no pass looked at.
    dynamodb.proxy.enqueue(aws_server_error().after_applying(), match="UpdateItem", body=RECORD_CHANGE)
    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    mint(function, 0)
    hours_later(function, anam, dynamodb, reconciling)
    table = aws_client("dynamodb", dynamodb.url)
    reservation_id = anam.requests[-1].json["clientLabel"].rsplit(":", 1)[1]
    assert record(table, reconciling, reservation_id)["state"] == "settled"
    assert counter(table, reconciling, budget_keys()[0]) == 0


def test_a_settlement_that_landed_with_its_answer_lost_still_applies_its_minutes(
    function: Function, anam: AnamStub, dynamodb: DynamoDb, reconciling: str
) -> None:
    # Reproduced on the old ledger: the retry read "settled elsewhere", and the 8 unused minutes never went
    # back.
    assert mint(function, 0).status == 200
    label = anam.requests[-1].json["clientLabel"]
    anam.sessions.add(label, started_at=time.time() - 300, ended_at=time.time() - 200)
    dynamodb.proxy.enqueue(aws_server_error().after_applying(), match="UpdateItem", body=RECORD_CHANGE)
    function.invoke({"reconcile": True})
    hours_later(function, anam, dynamodb, reconciling)
    table = aws_client("dynamodb", dynamodb.url)
    assert counter(table, reconciling, budget_keys()[0]) == 2


@pytest.mark.parametrize("dynamodb", DYNAMODB_ENGINES, indirect=True)
def test_a_give_back_to_a_counter_that_is_gone_creates_no_negative_count(
    dynamodb: DynamoDb, guarded: str
) -> None:
    # The day's counter vanished (TTL, or an operator) while the Anam call ran: nothing to give back to.
    ledger = DynamoDbLedger(table_at(dynamodb.url, guarded))
    day = budget_keys()[0]
    assert ledger.apply({day: -10}, time.monotonic() + 5) == {day: Outcome.DECLINED}
    table = aws_client("dynamodb", dynamodb.url)
    assert "Item" not in table.get_item(TableName=guarded, Key={"pk": {"S": day}}, ConsistentRead=True)


def test_the_pause_switch_is_read_strongly_consistently(
    function: Function, dynamodb: DynamoDb, guarded: str
) -> None:
    # Neither emulator serves an eventually consistent read late: the request must ask for a strong one.
    dynamodb.proxy.reset_counters()
    assert function.post().status == 200
    reads = [
        json.loads(body)
        for target, body in zip(dynamodb.proxy.targets_seen, dynamodb.proxy.bodies_seen, strict=True)
        if target.endswith(".GetItem")
    ]
    assert [read["Key"] for read in reads] == [{"pk": {"S": "control"}}]
    assert reads[0]["ConsistentRead"] is True


def test_a_record_never_expires_before_its_token(
    function: Function, anam: AnamStub, dynamodb: DynamoDb, reconciling: str
) -> None:
    # A token that lives longer than Anam's do today (three hours): the pass must not call it unused earlier.
    expires = int(time.time()) + 3 * 3600
    long_lived = jwt.encode(
        {"exp": expires, "type": "ephemeral"}, "a-signing-key-anam-never-shares-with-us", algorithm="HS256"
    )
    anam.enqueue(Reply(200, {"sessionToken": long_lived}))
    assert mint(function, 0).status == 200
    reservation_id = anam.requests[-1].json["clientLabel"].rsplit(":", 1)[1]
    kept = record(aws_client("dynamodb", dynamodb.url), reconciling, reservation_id)
    assert kept["tokenExpiresAt"] >= expires


@pytest.mark.parametrize("dynamodb", DYNAMODB_ENGINES, indirect=True)
def test_a_pass_that_read_an_older_version_of_nobodys_changes_takes_nothing_over(
    dynamodb: DynamoDb, reconciling: str
) -> None:
    # A pass applied part of a record's changes and left the rest: a pass whose index read still shows the
    # older, larger set must not apply it (what it applied would be applied twice).
    book = DynamoDbReservations(table_at(dynamodb.url, reconciling))
    day, month = budget_keys()
    reservation_id = put_reservation(aws_client("dynamodb", dynamodb.url), reconciling, state="pending")
    aws_client("dynamodb", dynamodb.url).update_item(
        TableName=reconciling,
        Key={"pk": {"S": f"reservation#{reservation_id}"}},
        UpdateExpression="SET changes = :left, finishedBy = :by",
        ExpressionAttributeValues={":left": {"M": {month: {"N": "-6"}}}, ":by": {"S": "pass:b"}},
    )
    stale = Pending({day: -6, month: -6}, None, 0, "pass:a")  # as the record was before pass b let it go
    current = Pending({month: -6}, None, 0, "pass:b")
    deadline = time.monotonic() + 5
    assert book.take_over(reservation_id, stale, stale.changes, "pass:c", deadline) is Outcome.DECLINED
    assert book.take_over(reservation_id, current, current.changes, "pass:c", deadline) is Outcome.APPLIED
