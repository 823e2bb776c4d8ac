"""local/dynamodb_conflicts.py: DynamoDB's documented transaction conflicts, applied by the fault proxy in
front of moto, and what they mean for a ledger: transactions over shared items conflict, single-item writes
do not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.dynamodb_conflicts import ConflictModel
from local.fault_proxy import FaultProxy
from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, aws_client, create_quota_table
from tests.faults.answer_checks import wait_until
from token_vendor.adapters.dynamodb_ledger import DynamoDbLedger
from token_vendor.adapters.dynamodb_table import DynamoDbTable
from token_vendor.domain.spend_guard import Limits, counters_for

TABLE = "conflict-quota"
LONG_HOLD_SECONDS = 0.5  # long enough for a second request to arrive during the first for sure


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    create_quota_table(moto_server.url, TABLE)
    with FaultProxy(moto_server.url) as proxy:
        proxy.conflicts = ConflictModel(LONG_HOLD_SECONDS)
        yield proxy


def update(key: str) -> dict[str, Any]:
    return {
        "TableName": TABLE,
        "Key": {"pk": {"S": key}},
        "UpdateExpression": "ADD #used :one",
        "ExpressionAttributeNames": {"#used": "used"},
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }


def holding(client: Any, proxy: FaultProxy, key: str) -> threading.Thread:
    """A transaction on `key`, sent in the background and waited for until the model holds its item."""
    thread = threading.Thread(
        target=lambda: client.transact_write_items(TransactItems=[{"Update": update(key)}])
    )
    thread.start()
    model = proxy.conflicts
    assert model is not None
    wait_until(lambda: model.items_held == 1)
    return thread


def test_a_transaction_overlapping_one_in_flight_is_cancelled_with_transaction_conflict_at_that_item(
    proxy: FaultProxy,
) -> None:
    client = aws_client("dynamodb", proxy.url)
    first = holding(client, proxy, "budget#day")
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(
            TransactItems=[{"Update": update("caller#a")}, {"Update": update("budget#day")}]
        )
    first.join()
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "TransactionConflict"]


def test_a_standard_write_to_an_item_a_transaction_holds_fails_with_transaction_conflict_exception(
    proxy: FaultProxy,
) -> None:
    client = aws_client("dynamodb", proxy.url)
    first = holding(client, proxy, "budget#day")
    with pytest.raises(ClientError) as caught:
        client.update_item(**update("budget#day"))
    client.update_item(**update("budget#month"))  # another item: no conflict
    first.join()
    assert caught.value.response["Error"]["Code"] == "TransactionConflictException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_after_the_hold_the_item_is_free_again(proxy: FaultProxy) -> None:
    client = aws_client("dynamodb", proxy.url)
    client.transact_write_items(TransactItems=[{"Update": update("budget#day")}])
    client.update_item(**update("budget#day"))
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": "budget#day"}})["Item"]
    assert item["used"] == {"N": "2"}


def test_transactions_of_different_callers_over_the_shared_budget_conflict_but_the_ledgers_writes_do_not(
    proxy: FaultProxy,
) -> None:
    model = proxy.conflicts
    assert model is not None
    model.hold_seconds = 0.02
    client = aws_client("dynamodb", proxy.url)
    callers = [f"caller-{n}" for n in range(10)]

    def the_old_way(caller: str) -> str:
        # What the ledger did before: one transaction over the caller's item and the shared budget's.
        try:
            client.transact_write_items(
                TransactItems=[{"Update": update(f"caller#{caller}")}, {"Update": update("budget#old")}]
            )
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "written"

    fresh = boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS)
    ledger = DynamoDbLedger(
        DynamoDbTable(
            TABLE, lambda service, config: fresh.client(service, endpoint_url=proxy.url, config=config)
        )
    )
    limits = Limits(caller_sessions_per_hour=5, daily_session_minutes=1000, monthly_session_minutes=1000)

    def the_ledgers_way(caller: str) -> bool:
        counters = counters_for(caller, 600, datetime.now(UTC), limits)
        return ledger.add(counters, deadline=float("inf")).complete

    with ThreadPoolExecutor(max_workers=10) as pool:
        old = list(pool.map(the_old_way, callers))
        new = list(pool.map(the_ledgers_way, callers))
    assert "TransactionCanceledException" in old
    assert new == [True] * 10
