"""The reservations' records in the spend guard's table (docs/contract.md §9, §11): a request opens one and,
when its token never reached the caller, gives it back; the reconciliation's pass lists those that hold
minutes and settles each against the session its token started.

One item per reservation, `pk` = `reservation#<id>` (the id: 32 hex characters):

| attribute | type | meaning |
| --- | --- | --- |
| `state` | S | `open`, `pending` or `settled` (domain/settlement.py) |
| `minutes` | N | the minutes reserved (the session cap, rounded up) |
| `windows` | M | budget counter key -> minutes this reservation holds there |
| `label` | S | the token's whole `clientLabel` at Anam, by which the pass looks its session up |
| `createdAt` | N | epoch seconds |
| `tokenExpiresAt` | N | never earlier than the token's own `exp` |
| `openShard` | S | `open#<d>`, d = int(id, 16) % 10, while the record holds minutes (open or pending) |
| `changes` | M | while pending: budget counter key -> the change still to apply (negative: give back) |
| `owner`, `since` | S, N | while pending: who is applying `changes`, and since when (epoch seconds) |
| `finishedBy`, `usedMinutes`, `settledAt` | S, N, N | who finished it; what its session used; when |
| `expiresAt` | N | TTL: createdAt + 40 days |

No caller identity, prompt or token is ever written. The sparse index `open-reservations` (partition
openShard, sort createdAt) lists the records that hold minutes in ten shards, so that no partition of it takes
every token's write and the pass never scans the table. Every change of state is one conditional write that
names its owner, and whose condition also holds for that owner's own earlier success: repeated after a lost
answer, it applies again harmlessly, and a refusal always means somebody else's change.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from token_vendor.adapters.dynamodb_table import KEY, DynamoDbTable, Written
from token_vendor.domain.reconciliation import OpenReservation
from token_vendor.domain.records import OPEN_SHARDS, ReservationRecord
from token_vendor.domain.settlement import Outcome, Pending, RecordState
from token_vendor.observability import UNKNOWN_WRITES, count, logger

RECORD_PREFIX = "reservation#"
OPEN_RESERVATIONS_INDEX = "open-reservations"
_NAMES = {
    "#state": "state",
    "#changes": "changes",
    "#owner": "owner",
    "#since": "since",
    "#finished": "finishedBy",
    "#shard": "openShard",
}
_MINE = "(#state = :pending AND #owner = :me)"


def record_key(reservation_id: str) -> dict[str, dict[str, str]]:
    return {KEY: {"S": RECORD_PREFIX + reservation_id}}


class DynamoDbReservations:
    """Both sides of the records: `ReservationRecords` for the request path (guard.py), `ReservationBook` for
    the reconciliation's pass (reconcile.py), and the settling that both do (settlement.py)."""

    def __init__(self, table: DynamoDbTable) -> None:
        self._table = table

    def open_record(self, record: ReservationRecord, deadline: float) -> Outcome:
        """Write the record, open, unless one of its id exists: only this reservation's own can (a repeat of
        this write, or its give-back's claim), so a refusal means it is written."""
        written = self._write(
            "put_item", deadline,
            Item=_record_item(record),
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": KEY},
        )  # fmt: skip
        return Outcome.APPLIED if written is Outcome.DECLINED else written

    def extend_expiry(self, reservation_id: str, token_expires_at: int, deadline: float) -> Outcome:
        """Move the record's token expiry later, never earlier: the token's own `exp` is later."""
        return self._write(
            "update_item", deadline,
            Key=record_key(reservation_id),
            UpdateExpression="SET tokenExpiresAt = :at",
            ConditionExpression="attribute_exists(#key) AND tokenExpiresAt < :at",
            ExpressionAttributeNames={"#key": KEY},
            ExpressionAttributeValues={":at": {"N": str(token_expires_at)}},
        )  # fmt: skip

    def claim(
        self, record: ReservationRecord, changes: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        """A request's give-back takes its record: open (or not written at all) -> pending under `owner`.
        Written whole, so that a record whose own write was lost exists from now on, and a late write of it is
        refused."""
        fields = {name: value for name, value in _record_item(record).items() if name not in (KEY, "state")}
        values = {f":{name}": value for name, value in fields.items()}
        assignments = ", ".join(f"#{name} = :{name}" for name in fields)
        return self._write(
            "update_item", deadline,
            Key=record_key(record.id),
            UpdateExpression=f"SET {assignments}, #state = :pending, #changes = :changes, #owner = :me, "
            "#since = :now",
            ConditionExpression=f"attribute_not_exists(#state) OR #state = :open OR {_MINE}",
            ExpressionAttributeNames={**_NAMES, **{f"#{name}": name for name in fields}},
            ExpressionAttributeValues={
                **values, **_pending_values(changes, owner), ":open": {"S": RecordState.OPEN},
            },
        )  # fmt: skip

    def settle(self, reservation_id: str, changes: Mapping[str, int], used_minutes: int, owner: str,
               deadline: float) -> Outcome:  # fmt: skip
        """The pass's verdict on an open record: open -> pending under `owner`, with the changes it brings."""
        return self._write(
            "update_item", deadline,
            Key=record_key(reservation_id),
            UpdateExpression="SET #state = :pending, #changes = :changes, #owner = :me, #since = :now, "
            "usedMinutes = :used",
            ConditionExpression=f"#state = :open OR {_MINE}",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                **_pending_values(changes, owner), ":open": {"S": RecordState.OPEN},
                ":used": {"N": str(used_minutes)},
            },
        )  # fmt: skip

    def take_over(self, reservation_id: str, seen: Pending, changes: Mapping[str, int], owner: str,
                  deadline: float) -> Outcome:  # fmt: skip
        """A pass takes a pending record as it read it (nobody's, or an owner's that has surely ended)."""
        values = _pending_values(changes, owner)
        if seen.owner is None:
            # Nobody's changes, as the last owner to let go left them: a pass that read an older version
            # (an index read lags) must not apply what was applied since.
            was = "attribute_not_exists(#owner) AND "
            if seen.finished_by is None:
                was += "attribute_not_exists(#finished)"
            else:
                was += "#finished = :seen_finished"
                values |= {":seen_finished": {"S": seen.finished_by}}
        else:
            was = "#owner = :seen AND #since = :seen_since"
            values |= {":seen": {"S": seen.owner}, ":seen_since": {"N": str(seen.since)}}
        return self._write(
            "update_item", deadline,
            Key=record_key(reservation_id),
            UpdateExpression="SET #changes = :changes, #owner = :me, #since = :now",
            ConditionExpression=f"(#state = :pending AND {was}) OR {_MINE}",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=values,
        )  # fmt: skip

    def finish(
        self, reservation_id: str, remainder: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        """The owner lets the record go: settled, or pending with nobody's `remainder` for a later pass."""
        if remainder:
            update = "SET #changes = :changes, #finished = :me REMOVE #owner, #since"
        else:
            update = (
                "SET #state = :settled, #finished = :me, settledAt = :now "
                "REMOVE #owner, #since, #shard, #changes"
            )
        return self._write(
            "update_item", deadline,
            Key=record_key(reservation_id),
            UpdateExpression=update,
            ConditionExpression=f"{_MINE} OR (#finished = :me AND attribute_not_exists(#owner))",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={
                **_pending_values(remainder, owner), ":settled": {"S": RecordState.SETTLED},
            },
        )  # fmt: skip

    # The reconciliation's pass.

    def open_reservations(self, deadline: float) -> list[OpenReservation]:
        """Every record that holds minutes: open or pending (docs/contract.md §11: none is out of sight)."""
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

    def _open_items(self, deadline: float) -> Iterator[dict[str, Any]]:
        for shard in range(OPEN_SHARDS):
            arguments: dict[str, Any] = {
                "TableName": self._table.name,
                "IndexName": OPEN_RESERVATIONS_INDEX,
                "KeyConditionExpression": "openShard = :shard",
                "ExpressionAttributeValues": {":shard": {"S": f"open#{shard}"}},
            }
            while True:
                page = self._table.request("query", deadline, **arguments)
                yield from page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    break
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _write(self, operation: str, deadline: float, **arguments: Any) -> Outcome:
        # DynamoDB refuses a name or a value that no expression uses: only those used are sent.
        used = " ".join(arguments.get(part, "") for part in ("UpdateExpression", "ConditionExpression"))
        for part in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            if part in arguments:
                arguments[part] = {
                    name: value for name, value in arguments[part].items()
                    if re.search(re.escape(name) + r"(?!\w)", used)
                }  # fmt: skip
        written: Written = self._table.write(
            operation, deadline, repeatable=True, TableName=self._table.name, **arguments
        )
        if written.outcome is Outcome.UNKNOWN:
            count(UNKNOWN_WRITES)
        if written.outcome in (Outcome.UNKNOWN, Outcome.NOT_APPLIED):
            failure = {"outcome": str(written.outcome), "reason": written.detail}
            logger.warning("A reservation record's write failed", extra=failure)
        return written.outcome


def _record_item(record: ReservationRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        **record_key(record.id),
        "state": {"S": RecordState.OPEN},
        "minutes": {"N": str(record.minutes)},
        "windows": {"M": _numbers(record.windows)},
        "createdAt": {"N": str(record.created_at)},
        "tokenExpiresAt": {"N": str(record.token_expires_at)},
        "openShard": {"S": record.open_shard},
        "expiresAt": {"N": str(record.expires_at)},
    }
    if record.label:
        item["label"] = {"S": record.label}
    return item


def _pending_values(changes: Mapping[str, int], owner: str) -> dict[str, Any]:
    return {
        ":pending": {"S": RecordState.PENDING},
        ":changes": {"M": _numbers(changes)},
        ":me": {"S": owner},
        ":now": {"N": str(int(time.time()))},
    }


def _reservation(item: Mapping[str, Any]) -> OpenReservation | None:
    try:
        key = item[KEY]["S"]
        windows = _windows(item.get("windows"))
        if not key.startswith(RECORD_PREFIX) or windows is None:
            return None
        pending = None
        if item["state"]["S"] == RecordState.PENDING:
            changes = _windows(item.get("changes"))
            if changes is None:
                return None
            owner = item.get("owner", {}).get("S")
            finished_by = item.get("finishedBy", {}).get("S")
            pending = Pending(changes, owner, int(item["since"]["N"]) if owner else 0, finished_by)
        label = item.get("label", {}).get("S")
        return OpenReservation(
            id=key.removeprefix(RECORD_PREFIX),
            minutes=int(item["minutes"]["N"]),
            windows=windows,
            created_at=int(item["createdAt"]["N"]),
            token_expires_at=int(item["tokenExpiresAt"]["N"]),
            # A record written before labels were kept has none: the pass then finds it by its id.
            label=label if isinstance(label, str) else None,
            pending=pending,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _windows(value: Any) -> dict[str, int] | None:
    try:
        return {key: int(amount["N"]) for key, amount in value["M"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _numbers(values: Mapping[str, int]) -> dict[str, dict[str, str]]:
    return {key: {"N": str(number)} for key, number in values.items()}
