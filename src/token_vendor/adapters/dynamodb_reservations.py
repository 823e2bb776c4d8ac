"""The reservations' records in the spend guard's table (docs/contract.md §11): the open ones found through a
sparse index, each settled by one conditional write, the budgets' counters then adjusted.

| attribute | type | meaning |
| --- | --- | --- |
| `pk` | S | `reservation#<id>` |
| `state` | S | `open`, `giving_back` (a request's give-back in progress), `settled` |
| `minutes` | N | the minutes reserved (the session cap rounded up) |
| `windows` | M | budget counter key -> minutes the reservation still holds there |
| `createdAt`, `tokenExpiresAt` | N | epoch seconds; the second bounds the token's `exp` from above |
| `openShard` | S | `open#<d>` (d: the id as a number, mod 10), only while open: GSI `open-reservations` |
| `usedMinutes`, `settledAt` | N | written by the settlement |
| `expiresAt` | N | TTL: 40 days after creation |

No caller identity, prompt or token is ever written. The index's ten shards spread the open records over ten
partitions; the pass queries each and never scans the table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from token_vendor.adapters.aws_clients import Failure, aws_clients, classify, error_code
from token_vendor.domain.deadline import Backoff, GaveUp, Retry, retry_until
from token_vendor.domain.reconciliation import OpenReservation
from token_vendor.domain.spend_guard import Counter
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger

INDEX = "open-reservations"
SHARDS = 10
PREFIX = "reservation#"
OPEN, SETTLED = "open", "settled"
# The token lives an hour (Anam's JWT: exp - iat = 3600 s); two minutes more for the clock and the Anam call.
TOKEN_LIFETIME_BOUND_SECONDS = 3600 + 120
KEEP_SECONDS = 40 * 86400

CLIENT_CONFIG = Config(
    connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 3}
)
ATTEMPT_SECONDS = 2.0  # the longest one attempt can take: none starts that could end past the deadline
ADJUST_ATTEMPTS = 3
ADJUST_BACKOFF = Backoff(base_seconds=0.05, cap_seconds=0.5)


def shard_of(reservation_id: str) -> str:
    return f"open#{int(reservation_id, 16) % SHARDS}"


def record_item(reservation_id: str, counters: Sequence[Counter], now: datetime) -> dict[str, Any]:
    """A new reservation's record: the budget windows it counted in, nothing about who asked."""
    created = int(now.timestamp())
    budgets = [counter for counter in counters if counter.window.is_budget]
    return {
        "pk": {"S": PREFIX + reservation_id},
        "state": {"S": OPEN},
        "minutes": {"N": str(max((counter.amount for counter in budgets), default=0))},
        "windows": {"M": {counter.key: {"N": str(counter.amount)} for counter in budgets}},
        "createdAt": {"N": str(created)},
        "tokenExpiresAt": {"N": str(created + TOKEN_LIFETIME_BOUND_SECONDS)},
        "openShard": {"S": shard_of(reservation_id)},
        "expiresAt": {"N": str(created + KEEP_SECONDS)},
    }


def settle_arguments(table: str, reservation_id: str, used_minutes: int) -> dict[str, Any]:
    """UpdateItem's arguments that settle a reservation if, and only if, it is still open: the condition
    makes a settlement happen once whatever passes overlap; ALL_OLD tells what it held at that moment."""
    return {
        "TableName": table,
        "Key": {"pk": {"S": PREFIX + reservation_id}},
        "UpdateExpression": "SET #state = :settled, usedMinutes = :used, settledAt = :now REMOVE openShard",
        "ConditionExpression": "#state = :open",
        "ExpressionAttributeNames": {"#state": "state"},
        "ExpressionAttributeValues": {
            ":settled": {"S": SETTLED},
            ":open": {"S": OPEN},
            ":used": {"N": str(used_minutes)},
            ":now": {"N": str(int(time.time()))},
        },
        "ReturnValues": "ALL_OLD",
    }


class _DeadlineReached(Exception):
    """Raised before an attempt that could not finish in the time left."""


class DynamoDbReservations:
    def __init__(
        self,
        table_name: str,
        client_factory: Callable[[str, Config], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table_name
        self._clock = clock
        self._deadline = threading.local()
        self._client = (client_factory or aws_clients())("dynamodb", CLIENT_CONFIG)
        self._client.meta.events.register("before-send.dynamodb", self._check_deadline)

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
        try:
            answer = self._call(
                "update_item", deadline, **settle_arguments(self._table, reservation_id, used_minutes)
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None  # settled by another pass, or a request is giving it back
            raise _unavailable(exc) from exc
        return _windows(answer.get("Attributes", {}).get("windows")) or {}

    def adjust(self, changes: Mapping[str, int], deadline: float) -> None:
        for key, change in changes.items():
            self._adjust_one(key, change, deadline)

    def _adjust_one(self, key: str, change: int, deadline: float) -> None:
        def attempt(_: float) -> None:
            try:
                self._call(
                    "update_item",
                    deadline,
                    TableName=self._table,
                    Key={"pk": {"S": key}},
                    UpdateExpression="ADD used :change",
                    # A window whose item TTL has removed is long over: nothing to correct, nothing to create.
                    ConditionExpression="attribute_exists(used)",
                    ExpressionAttributeValues={":change": {"N": str(change)}},
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return
                if classify(exc) is Failure.TRANSIENT:
                    raise Retry(error_code(exc), cause=exc) from exc
                raise _unavailable(exc) from exc
            except TokenVendorError as exc:
                raise Retry(exc.detail, cause=exc) from exc

        try:
            retry_until(
                attempt,
                attempts=ADJUST_ATTEMPTS,
                deadline=deadline,
                backoff=ADJUST_BACKOFF,
                clock=self._clock,
            )
        except GaveUp as gave_up:
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, gave_up.describe()) from None

    def _open_items(self, deadline: float) -> Iterator[dict[str, Any]]:
        for shard in range(SHARDS):
            arguments: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": INDEX,
                "KeyConditionExpression": "openShard = :shard",
                "ExpressionAttributeValues": {":shard": {"S": f"open#{shard}"}},
            }
            while True:
                try:
                    page = self._call("query", deadline, **arguments)
                except ClientError as exc:
                    raise _unavailable(exc) from exc
                yield from page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    break
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _call(self, operation: str, deadline: float, **arguments: Any) -> Any:
        self._deadline.value = deadline
        try:
            return getattr(self._client, operation)(**arguments)
        except (BotoCoreError, _DeadlineReached) as exc:
            raise TokenVendorError(
                ErrorCode.DEPENDENCY_UNAVAILABLE, f"DynamoDB {operation}: {type(exc).__name__}"
            ) from exc

    def _check_deadline(self, **_: Any) -> None:
        if self._clock() + ATTEMPT_SECONDS > self._deadline.value:
            raise _DeadlineReached


def _reservation(item: Mapping[str, Any]) -> OpenReservation | None:
    try:
        key = item["pk"]["S"]
        windows = _windows(item.get("windows"))
        if not key.startswith(PREFIX) or windows is None:
            return None
        return OpenReservation(
            id=key.removeprefix(PREFIX),
            minutes=int(item["minutes"]["N"]),
            windows=windows,
            created_at=int(item["createdAt"]["N"]),
            token_expires_at=int(item["tokenExpiresAt"]["N"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _windows(value: Any) -> dict[str, int] | None:
    try:
        return {key: int(amount["N"]) for key, amount in value["M"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _unavailable(exc: ClientError) -> TokenVendorError:
    definitive = classify(exc) is Failure.DEFINITIVE
    code = ErrorCode.CONFIGURATION_ERROR if definitive else ErrorCode.DEPENDENCY_UNAVAILABLE
    return TokenVendorError(code, f"DynamoDB: {error_code(exc)}")
