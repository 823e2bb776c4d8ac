"""The spend guard's ledger in DynamoDB (docs/contract.md §9): one TransactWriteItems a token, nothing read.

One table, one string key `pk`, an item per counter and window, and the operator's control item:

| pk | attributes |
| --- | --- |
| `control` | `paused` (BOOL): true pauses all minting |
| `caller#<hmac>#hour#2026-12-01T20` | `used` (N): tokens; `expiresAt` (N): TTL |
| `caller#<hmac>#day#2026-12-01` | likewise |
| `budget#day#2026-12-01` | `used`: session minutes reserved; `expiresAt` |
| `budget#month#2026-12` | likewise |

A reservation is one transaction: a ConditionCheck on the control item (so the pause costs no extra round
trip) and a conditional ADD on each counter (`used` may not pass the limit). DynamoDB applies all or none and
says in CancellationReasons which condition refused. Concurrent reservations for the same last token are
serialised by DynamoDB itself: one wins, the others see the condition fail (or, while the winner's
transaction is in flight, a TransactionConflict, which is retried).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from token_vendor.adapters.aws_clients import Failure, aws_clients, classify, error_code
from token_vendor.adapters.dynamodb_reservations import record_item, settle_arguments
from token_vendor.domain.deadline import Backoff, GaveUp, Retry, retry_until
from token_vendor.domain.spend_guard import Counter, LedgerRefused
from token_vendor.errors import ErrorCode, TokenVendorError

KEY = "pk"
CONTROL_KEY = "control"
PAUSED = "paused"
USED = "used"
EXPIRES_AT = "expiresAt"

# Short timeouts: a transaction on a few small items answers in milliseconds. Standard mode retries
# throttling and 5xx with backoff; every attempt is also bounded by the request's deadline (below).
CLIENT_CONFIG = Config(
    connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 3}
)
# The longest one attempt can take (connect + read timeout): no attempt starts that could end past the
# deadline.
ATTEMPT_SECONDS = 2.0
# TransactionConflict: another reservation on the same item was in flight; retried after a jittered wait.
CONFLICT_RETRIES = 3
CONFLICT_BACKOFF = Backoff(base_seconds=0.02, cap_seconds=0.2)


class _DeadlineReached(Exception):
    """Raised before an attempt that could not finish in the time left (botocore does not retry it)."""


class DynamoDbLedger:
    def __init__(
        self,
        table_name: str,
        client_factory: Callable[[str, Config], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table_name
        self._clock = clock
        self._deadline = threading.local()
        # Built with the ledger, so that the init prefetch (which builds the guard) takes its cost off the
        # first request.
        self._client = (client_factory or aws_clients())("dynamodb", CLIENT_CONFIG)
        self._client.meta.events.register("before-send.dynamodb", self._check_deadline)

    def add(self, counters: Sequence[Counter], deadline: float) -> None:
        items = [self._control_check(), *(self._add(counter) for counter in counters)]

        def attempt(_: float) -> None:
            try:
                self._call("transact_write_items", deadline, TransactItems=items)
            except ClientError as exc:
                reasons = [
                    str(reason.get("Code")) for reason in exc.response.get("CancellationReasons") or []
                ]
                refused = [index for index, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
                if refused:
                    raise LedgerRefused(
                        paused=0 in refused, refused=[counters[index - 1] for index in refused if index]
                    ) from None
                if "TransactionConflict" in reasons:
                    raise Retry("TransactionConflict", cause=exc) from exc
                raise _unavailable(exc) from exc

        try:
            retry_until(
                attempt,
                attempts=CONFLICT_RETRIES + 1,
                deadline=deadline,
                backoff=CONFLICT_BACKOFF,
                clock=self._clock,
            )
        except GaveUp as gave_up:
            if isinstance(gave_up.cause, ClientError):
                raise _unavailable(gave_up.cause) from gave_up.cause
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, "DynamoDB: no time left") from None

    def subtract(self, counters: Sequence[Counter], deadline: float) -> None:
        items = [self._subtract(counter) for counter in counters]
        try:
            self._call("transact_write_items", deadline, TransactItems=items)
        except ClientError as exc:
            raise _unavailable(exc) from exc

    # The reservation's record for the reconciliation (§11). A placeholder: the ledger of issue 16 writes it
    # alongside the counters and claims it for a give-back.
    def record(
        self, reservation_id: str, counters: Sequence[Counter], now: datetime, deadline: float
    ) -> None:
        """Write a reservation's record, after its counters accepted it."""
        item = record_item(reservation_id, counters, now)
        try:
            self._call("put_item", deadline, TableName=self._table, Item=item)
        except ClientError as exc:
            raise _unavailable(exc) from exc

    def withdraw(self, reservation_id: str, deadline: float) -> bool:
        """Settle a record as unused before its counters are given back, so that no pass gives them back a
        second time. False: there was no open record (never written)."""
        try:
            self._call("update_item", deadline, **settle_arguments(self._table, reservation_id, 0))
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise _unavailable(exc) from exc
        return True

    def used(self, counters: Sequence[Counter], deadline: float) -> Mapping[str, int]:
        keys = [{KEY: {"S": counter.key}} for counter in counters]
        request = {self._table: {"Keys": keys, "ProjectionExpression": "#key, #used",
                                 "ExpressionAttributeNames": {"#key": KEY, "#used": USED}}}  # fmt: skip
        try:
            answer = self._call("batch_get_item", deadline, RequestItems=request)
        except ClientError as exc:
            raise _unavailable(exc) from exc
        return {
            item[KEY]["S"]: int(item[USED]["N"])
            for item in answer.get("Responses", {}).get(self._table, [])
            if USED in item
        }

    def _control_check(self) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": {KEY: {"S": CONTROL_KEY}},
                "ConditionExpression": "attribute_not_exists(#paused) OR #paused = :false",
                "ExpressionAttributeNames": {"#paused": PAUSED},
                "ExpressionAttributeValues": {":false": {"BOOL": False}},
            }
        }

    def _add(self, counter: Counter) -> dict[str, Any]:
        # A window whose limit is below one token's amount can never hold it: compared with a missing
        # attribute, `used <= :room` is false, so leaving out attribute_not_exists refuses even the first.
        condition = "#used <= :room" if counter.room < 0 else "attribute_not_exists(#used) OR #used <= :room"
        return {
            "Update": {
                "TableName": self._table,
                "Key": {KEY: {"S": counter.key}},
                "UpdateExpression": "ADD #used :amount SET #expires = :expires",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#used": USED, "#expires": EXPIRES_AT},
                "ExpressionAttributeValues": {
                    ":amount": {"N": str(counter.amount)},
                    ":room": {"N": str(counter.room)},
                    ":expires": {"N": str(counter.expires_at)},
                },
            }
        }

    def _subtract(self, counter: Counter) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": {KEY: {"S": counter.key}},
                "UpdateExpression": "ADD #used :amount",
                # Only an item the reservation made: never create a negative count.
                "ConditionExpression": "attribute_exists(#used)",
                "ExpressionAttributeNames": {"#used": USED},
                "ExpressionAttributeValues": {":amount": {"N": str(-counter.amount)}},
            }
        }

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


def _unavailable(exc: ClientError) -> TokenVendorError:
    code = error_code(exc)
    error = (
        ErrorCode.CONFIGURATION_ERROR
        if classify(exc) is Failure.DEFINITIVE
        else ErrorCode.DEPENDENCY_UNAVAILABLE
    )
    if code == "TransactionCanceledException":
        reasons = {str(reason.get("Code")) for reason in exc.response.get("CancellationReasons") or []}
        code = f"{code} ({', '.join(sorted(reasons - {'None'}))})"
    return TokenVendorError(error, f"DynamoDB: {code}")
