"""The spend guard's bookkeeping around the tokens, on moto and on DynamoDB Local: each reservation's record
for the reconciliation (docs/contract.md §9, §11), and the budgets' share published by the scheduled warm-up.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from local.fault_proxy import aws_unavailable
from local.moto_server import aws_client
from local.standins.anam import AnamStub, Reply
from tests.integration.test_spend_guard import VISITOR, limits, pytest_generate_tests
from tests.support.dynamodb_engines import DynamoDb
from tests.support.function import Function

__all__ = ["limits", "pytest_generate_tests"]  # the fixture and the engines' parametrization, shared


def test_each_token_leaves_an_open_record_of_its_minutes_for_the_reconciliation(
    function: Function, limits: Any, guarded: str, dynamodb: DynamoDb
) -> None:
    limits(daily_session_minutes=100, monthly_session_minutes=1000)
    before = int(time.time())
    function.post(source_ip=VISITOR)
    table = aws_client("dynamodb", dynamodb.url)
    [record] = [
        item for item in table.scan(TableName=guarded)["Items"] if item["pk"]["S"].startswith("reservation#")
    ]
    reservation_id = record["pk"]["S"].removeprefix("reservation#")
    day, month = f"{datetime.now(UTC):%Y-%m-%d}", f"{datetime.now(UTC):%Y-%m}"
    assert (len(reservation_id), record["state"]["S"], record["minutes"]["N"]) == (32, "open", "10")
    assert record["windows"]["M"] == {f"budget#day#{day}": {"N": "10"}, f"budget#month#{month}": {"N": "10"}}
    created = int(record["createdAt"]["N"])
    assert before - 1 <= created <= time.time()
    assert int(record["tokenExpiresAt"]["N"]) == created + 3720
    assert int(record["expiresAt"]["N"]) == created + 40 * 86400
    shard = f"open#{int(reservation_id, 16) % 10}"
    assert record["openShard"]["S"] == shard
    listed = table.query(
        TableName=guarded,
        IndexName="open-reservations",
        KeyConditionExpression="openShard = :shard",
        ExpressionAttributeValues={":shard": {"S": shard}},
    )["Items"]
    assert [item["pk"] for item in listed] == [record["pk"]]


def test_a_given_back_reservation_settles_its_record_and_leaves_the_open_index(
    function: Function, limits: Any, guarded: str, dynamodb: DynamoDb, anam: AnamStub
) -> None:
    limits(daily_session_minutes=100)
    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    assert function.post(source_ip=VISITOR).status == 502
    items = aws_client("dynamodb", dynamodb.url).scan(TableName=guarded)["Items"]
    [record] = [item for item in items if item["pk"]["S"].startswith("reservation#")]
    assert record["state"]["S"] == "settled"
    assert "openShard" not in record
    assert {item["pk"]["S"].split("#")[1]: item["used"]["N"] for item in items if "used" in item}.get(
        "day"
    ) == "0"


def test_without_reconciliation_no_record_is_kept(
    function: Function, limits: Any, guarded: str, dynamodb: DynamoDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits(daily_session_minutes=100)
    monkeypatch.setenv("RECONCILE_USAGE", "false")
    function.post(source_ip=VISITOR)
    items = aws_client("dynamodb", dynamodb.url).scan(TableName=guarded)["Items"]
    assert not [item for item in items if item["pk"]["S"].startswith("reservation#")]


def test_a_warm_up_reserves_nothing_and_reads_nothing_without_a_budget(
    function: Function, guarded: str, dynamodb: DynamoDb
) -> None:
    assert function.invoke({"warmup": True}) == {"warmed": True}
    assert not [target for target in dynamodb.proxy.targets_seen if target.startswith("DynamoDB")]


def test_without_the_reconciliation_a_warm_up_publishes_each_budgets_share_used_with_one_read(
    function: Function, limits: Any, dynamodb: DynamoDb, capsys: Any
) -> None:
    # With the reconciliation on, its pass publishes the shares (tests/integration/test_reconciliation.py).
    limits(daily_session_minutes=100, monthly_session_minutes=1000, reconcile_usage="false")
    function.post(source_ip=VISITOR)
    dynamodb.proxy.reset_counters()
    capsys.readouterr()
    assert function.invoke({"warmup": True}) == {"warmed": True}
    published = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "BudgetUsedPercent" in line
    ]
    assert sorted((line["budget"], line["BudgetUsedPercent"]) for line in published) == [
        ("daily", [10.0]),
        ("monthly", [1.0]),
    ]
    assert [t for t in dynamodb.proxy.targets_seen if "DynamoDB" in t] == ["DynamoDB_20120810.BatchGetItem"]


def test_a_warm_up_whose_budget_read_fails_still_answers_warmed(
    function: Function, limits: Any, dynamodb: DynamoDb, logs: Any
) -> None:
    limits(daily_session_minutes=100, reconcile_usage="false")
    dynamodb.proxy.enqueue(*[aws_unavailable() for _ in range(5)], match="BatchGetItem")
    assert function.invoke({"warmup": True}) == {"warmed": True}
    assert logs.with_message("Could not publish the budgets' use")
