"""The reservations' records in the guard's table (docs/contract.md §9, §11): what the reconciliation reads.

One item per reservation, `pk` = `reservation#<id>` (the id: 32 hex characters):

| attribute | type | meaning |
| --- | --- | --- |
| `state` | S | `open`, `giving_back` or `settled` |
| `minutes` | N | the minutes reserved (the session cap, rounded up) |
| `windows` | M | budget counter key -> minutes this reservation still holds there |
| `createdAt` | N | epoch seconds |
| `tokenExpiresAt` | N | createdAt + 3600 + 120: the token has expired by then for sure |
| `openShard` | S | `open#<d>`, d = int(id, 16) % 10, present only while `state` is open |
| `expiresAt` | N | TTL: createdAt + 40 days |

`openShard` exists only while the record is open: the sparse index `open-reservations` (partition openShard,
sort createdAt) lists the open records in 10 shards without a scan. Every change of state is one conditional
write on the state, so a record is given back at most once, whoever tries.
"""

from __future__ import annotations

from collections.abc import Mapping

from token_vendor.adapters.dynamodb_ledger import KEY, DynamoDbTable
from token_vendor.domain.spend_guard import ReservationRecord, open_shard

RECORD_PREFIX = "reservation#"
OPEN = "open"
GIVING_BACK = "giving_back"
SETTLED = "settled"
OPEN_RESERVATIONS_INDEX = "open-reservations"


def record_key(reservation_id: str) -> dict[str, dict[str, str]]:
    return {KEY: {"S": RECORD_PREFIX + reservation_id}}


class DynamoDbRecords:
    def __init__(self, table: DynamoDbTable) -> None:
        self._table = table

    def open_record(self, record: ReservationRecord, deadline: float) -> None:
        item = {
            **record_key(record.id),
            "state": {"S": OPEN},
            "minutes": {"N": str(record.minutes)},
            "windows": {"M": _windows(record.windows)},
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
            {":shard": {"S": open_shard(reservation_id)}, ":windows": {"M": _windows(windows)}},
        )  # fmt: skip

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


def _windows(windows: Mapping[str, int]) -> dict[str, dict[str, str]]:
    return {key: {"N": str(minutes)} for key, minutes in windows.items()}
