"""The reservations' records as the spend guard's ledger leaves them (docs/contract.md §11), written and read
directly in the emulated table, following the agreed schema attribute by attribute.

`put_reservation` writes what a reservation leaves behind: its record (state `open` unless told otherwise,
`openShard` only while open) and, by default, the minutes it added to each budget counter, so that a test
starts from the table a request would have left.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

TOKEN_LIFETIME_BOUND_SECONDS = 3600 + 120
PREFIX = "anam-token-vendor"  # the stack's name: POWERTOOLS_SERVICE_NAME in the tests
LABELLED = "<prefix>:<id>"  # put_reservation's default label, as the function writes it without a persona's
KEEP_SECONDS = 40 * 86400


def budget_keys(moment: float | None = None) -> tuple[str, str]:
    """The day's and the month's budget counter keys at `moment` (now by default)."""
    when = datetime.fromtimestamp(time.time() if moment is None else moment, UTC)
    return f"budget#day#{when:%Y-%m-%d}", f"budget#month#{when:%Y-%m}"


def put_reservation(
    dynamodb: Any,
    table: str,
    *,
    minutes: int = 10,
    windows: Mapping[str, int] | None = None,
    created_at: float | None = None,
    state: str = "open",
    add_to_counters: bool = True,
    reservation_id: str | None = None,
    label: str | None = LABELLED,
    prefix: str = PREFIX,
) -> str:
    """A reservation's record (and its counters' minutes); its id. Its `label` is the clientLabel its token
    was minted with (by default `<prefix>:<id>`); None: a record from before labels were kept."""
    reservation_id = reservation_id or uuid.uuid4().hex
    created = int(time.time() if created_at is None else created_at)
    held = dict(windows) if windows is not None else dict.fromkeys(budget_keys(created), minutes)
    item: dict[str, Any] = {
        "pk": {"S": f"reservation#{reservation_id}"},
        "state": {"S": state},
        "minutes": {"N": str(minutes)},
        "windows": {"M": {key: {"N": str(amount)} for key, amount in held.items()}},
        "createdAt": {"N": str(created)},
        "tokenExpiresAt": {"N": str(created + TOKEN_LIFETIME_BOUND_SECONDS)},
        "expiresAt": {"N": str(created + KEEP_SECONDS)},
    }
    if label is not None:
        item["label"] = {"S": f"{prefix}:{reservation_id}" if label is LABELLED else label}
    if state == "open":
        item["openShard"] = {"S": f"open#{int(reservation_id, 16) % 10}"}
    dynamodb.put_item(TableName=table, Item=item)
    if add_to_counters:
        for key, amount in held.items():
            add_to_counter(dynamodb, table, key, amount)
    return reservation_id


def add_to_counter(dynamodb: Any, table: str, key: str, amount: int) -> None:
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": key}},
        UpdateExpression="ADD used :amount SET expiresAt = :expires",
        ExpressionAttributeValues={
            ":amount": {"N": str(amount)},
            ":expires": {"N": str(int(time.time()) + 3 * 86400)},
        },
    )


def counter(dynamodb: Any, table: str, key: str) -> int:
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
    return int(item["used"]["N"]) if item else 0


def record(dynamodb: Any, table: str, reservation_id: str) -> dict[str, Any]:
    """The record as a plain dict (numbers as ints), or {} when there is none."""
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": f"reservation#{reservation_id}"}}, ConsistentRead=True
    ).get("Item", {})
    return {name: _plain(value) for name, value in item.items()}


def _plain(value: Mapping[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "N":
        return int(inner)
    if kind == "M":
        return {name: _plain(item) for name, item in inner.items()}
    return inner


def age_records(dynamodb: Any, table: str, seconds: int) -> None:
    """Every record's clock moved back by `seconds`: made, expiring and taken that much earlier (a test's
    way to be later without waiting)."""
    items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    for item in items:
        if not item["pk"]["S"].startswith("reservation#"):
            continue
        moved = {
            name: str(int(item[name]["N"]) - seconds)
            for name in ("createdAt", "tokenExpiresAt", "since")
            if name in item
        }
        dynamodb.update_item(
            TableName=table,
            Key={"pk": item["pk"]},
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in moved),
            ExpressionAttributeNames={f"#{name}": name for name in moved},
            ExpressionAttributeValues={f":{name}": {"N": value} for name, value in moved.items()},
        )
