"""The reservations' records in the spend guard's table (docs/contract.md §9, §11): a request opens one and,
when its token never reached the caller, gives it back; the reconciliation's pass lists the open ones and
settles each against the session its token started.

One item per reservation, `pk` = `reservation#<id>` (the id: 32 hex characters):

| attribute | type | meaning |
| --- | --- | --- |
| `state` | S | `open`, `giving_back` (a request's give-back in progress) or `settled` |
| `minutes` | N | the minutes reserved (the session cap, rounded up) |
| `windows` | M | budget counter key -> minutes this reservation still holds there |
| `createdAt` | N | epoch seconds |
| `tokenExpiresAt` | N | createdAt + 3600 + 120: the token has expired by then for sure |
| `openShard` | S | `open#<d>`, d = int(id, 16) % 10, present only while `state` is open |
| `usedMinutes`, `settledAt` | N | written by the pass's settlement |
| `expiresAt` | N | TTL: createdAt + 40 days |

No caller identity, prompt or token is ever written. `openShard` exists only while the record is open: the
sparse index `open-reservations` (partition openShard, sort createdAt) lists the open records in ten shards,
so that no partition of it takes every token's write and the pass never scans the table. Every change of
state is one conditional write on the state, so a record is given back or settled at most once, whoever tries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from token_vendor.adapters.aws_clients import error_code
from token_vendor.adapters.dynamodb_ledger import CONDITION_FAILED, KEY, USED, DynamoDbTable, unavailable
from token_vendor.domain.reconciliation import OpenReservation
from token_vendor.domain.spend_guard import OPEN_SHARDS, ReservationRecord, open_shard
from token_vendor.observability import logger

RECORD_PREFIX = "reservation#"
OPEN = "open"
GIVING_BACK = "giving_back"
SETTLED = "settled"
OPEN_RESERVATIONS_INDEX = "open-reservations"


def record_key(reservation_id: str) -> dict[str, dict[str, str]]:
    return {KEY: {"S": RECORD_PREFIX + reservation_id}}


class DynamoDbReservations:
    """Both sides of the records: `ReservationRecords` for the request path (guard.py), `ReservationBook` for
    the reconciliation's pass (reconcile.py)."""

    def __init__(self, table: DynamoDbTable) -> None:
        self._table = table

    # The request path.

    def open_record(self, record: ReservationRecord, deadline: float) -> None:
        item = {
            **record_key(record.id),
            "state": {"S": OPEN},
            "minutes": {"N": str(record.minutes)},
            "windows": {"M": _windows_item(record.windows)},
            "createdAt": {"N": str(record.created_at)},
            "tokenExpiresAt": {"N": str(record.token_expires_at)},
            "openShard": {"S": record.open_shard},
            "expiresAt": {"N": str(record.expires_at)},
        }
        self._table.update(
            deadline, put=True, Item=item, ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": KEY},
        )  # fmt: skip

    def claim_record(self, reservation_id: str, deadline: float) -> bool:
        expression = "SET #state = :to REMOVE #shard"
        return self._move(reservation_id, OPEN, GIVING_BACK, deadline, expression, {"#shard": "openShard"})

    def settle_record(self, reservation_id: str, deadline: float) -> None:
        self._move(reservation_id, GIVING_BACK, SETTLED, deadline, "SET #state = :to")

    def reopen_record(self, reservation_id: str, windows: Mapping[str, int], deadline: float) -> None:
        self._move(
            reservation_id, GIVING_BACK, OPEN, deadline,
            "SET #state = :to, #shard = :shard, #windows = :windows",
            {"#shard": "openShard", "#windows": "windows"},
            {":shard": {"S": open_shard(reservation_id)}, ":windows": {"M": _windows_item(windows)}},
        )  # fmt: skip

    # The reconciliation's pass.

    def open_reservations(self, deadline: float) -> list[OpenReservation]:
        found, unreadable = [], 0
        for item in self._open_items(deadline):
            reservation = _reservation(item)
            if reservation is None:
                unreadable += 1
            else:
                found.append(reservation)
        if unreadable:
            logger.warning("Skipped unreadable reservation records", extra={"count": unreadable})
        return found

    def settle(self, reservation_id: str, used_minutes: int, deadline: float) -> Mapping[str, int] | None:
        """Open -> settled, if and only if still open: the condition makes a settlement happen once whatever
        passes overlap; ALL_OLD tells what the reservation held at that moment."""
        try:
            answer = self._table.request(
                "update_item",
                deadline,
                TableName=self._table.name,
                Key=record_key(reservation_id),
                UpdateExpression="SET #state = :to, usedMinutes = :used, settledAt = :now REMOVE openShard",
                ConditionExpression="#state = :from",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":from": {"S": OPEN},
                    ":to": {"S": SETTLED},
                    ":used": {"N": str(used_minutes)},
                    ":now": {"N": str(int(time.time()))},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return None  # settled by another pass, or a request is giving it back
            raise unavailable(exc) from exc
        return _windows(answer.get("Attributes", {}).get("windows")) or {}

    def adjust(self, changes: Mapping[str, int], deadline: float) -> None:
        for key, change in changes.items():
            # Not idempotent, like a give-back: sent once, retried only when refused or never sent. A window
            # whose item TTL has removed is long over: nothing to correct, nothing to create.
            self._table.update(
                deadline,
                give_back=True,
                Key={KEY: {"S": key}},
                UpdateExpression="ADD #used :change",
                ConditionExpression="attribute_exists(#used)",
                ExpressionAttributeNames={"#used": USED},
                ExpressionAttributeValues={":change": {"N": str(change)}},
            )

    def _open_items(self, deadline: float) -> Iterator[dict[str, Any]]:
        for shard in range(OPEN_SHARDS):
            arguments: dict[str, Any] = {
                "TableName": self._table.name,
                "IndexName": OPEN_RESERVATIONS_INDEX,
                "KeyConditionExpression": "openShard = :shard",
                "ExpressionAttributeValues": {":shard": {"S": f"open#{shard}"}},
            }
            while True:
                try:
                    page = self._table.request("query", deadline, **arguments)
                except ClientError as exc:
                    raise unavailable(exc) from exc
                yield from page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    break
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _move(
        self,
        reservation_id: str,
        source: str,
        target: str,
        deadline: float,
        expression: str,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, dict[str, object]] | None = None,
    ) -> bool:
        return self._table.update(
            deadline,
            Key=record_key(reservation_id),
            UpdateExpression=expression,
            ConditionExpression="#state = :from",
            ExpressionAttributeNames={"#state": "state", **(names or {})},
            ExpressionAttributeValues={":from": {"S": source}, ":to": {"S": target}, **(values or {})},
        )


def _reservation(item: Mapping[str, Any]) -> OpenReservation | None:
    try:
        key = item[KEY]["S"]
        windows = _windows(item.get("windows"))
        if not key.startswith(RECORD_PREFIX) or windows is None:
            return None
        return OpenReservation(
            id=key.removeprefix(RECORD_PREFIX),
            minutes=int(item["minutes"]["N"]),
            windows=windows,
            created_at=int(item["createdAt"]["N"]),
            token_expires_at=int(item["tokenExpiresAt"]["N"]),
            # A record written before labels were kept has none: the pass then finds it by its id.
            label=item["label"]["S"] if "label" in item else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _windows(value: Any) -> dict[str, int] | None:
    try:
        return {key: int(amount["N"]) for key, amount in value["M"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _windows_item(windows: Mapping[str, int]) -> dict[str, dict[str, str]]:
    return {key: {"N": str(minutes)} for key, minutes in windows.items()}
