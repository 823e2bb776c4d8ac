"""The spend guard's ledger in DynamoDB (docs/contract.md §9): one conditional write per counter, no
transaction, all of a token's writes at once.

One table, one string key `pk`, an item per counter and window, the operator's control item, and one item per
reservation (its record, kept by `adapters/dynamodb_reservations.py`):

| pk | attributes |
| --- | --- |
| `control` | `paused` (BOOL): true pauses all minting; the function's role may read it, never write it |
| `caller#<hmac>#hour#2026-12-01T20` | `used` (N): tokens; `expiresAt` (N): TTL |
| `caller#<hmac>#day#2026-12-01` | likewise |
| `budget#day#2026-12-01` | `used`: session minutes reserved; `expiresAt` |
| `budget#month#2026-12` | likewise |

Why no transaction: every token writes the shared budget items, and DynamoDB cancels a TransactWriteItems that
overlaps another on any item (TransactionConflict) instead of queueing it, so under a launch's traffic most
reservations would fail. Standard writes to one item are serialised by DynamoDB itself. A reservation is
therefore a conditional UpdateItem per counter (`ADD used :amount` only if `used <= limit - amount`) and a
strongly consistent GetItem of the pause switch, all sent together from a thread pool (one boto3 client is
thread-safe): one round trip. What one counter accepted while another refused, the guard gives back at once: a
count may read high for that moment, never low. Throttling and conflicts are retried with backoff until the
request's deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from token_vendor.adapters.aws_clients import Failure, aws_clients, classify, error_code, is_contention
from token_vendor.domain.deadline import Backoff, GaveUp, Retry, retry_until
from token_vendor.domain.spend_guard import Added, Counter
from token_vendor.errors import ErrorCode, TokenVendorError

KEY = "pk"
CONTROL_KEY = "control"
PAUSED = "paused"
USED = "used"
EXPIRES_AT = "expiresAt"

# Short timeouts: a write of one small item answers in milliseconds. Standard mode retries throttling and 5xx
# with backoff; every attempt is also bounded by the request's deadline (below). A pool big enough for a
# token's five requests and a give-back's four at once.
CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=1,
    retries={"mode": "standard", "total_max_attempts": 3},
    max_pool_connections=16,
)
# The longest one attempt can take (connect + read timeout): no attempt starts that could end past the
# deadline.
ATTEMPT_SECONDS = 2.0
# Contention (a hot key throttled, a conflict with a transaction) after the SDK's own retries: tried again
# after a jittered wait, as long as the deadline allows.
CONTENTION_ATTEMPTS = 10
CONTENTION_BACKOFF = Backoff(base_seconds=0.02, cap_seconds=0.5)
CONDITION_FAILED = "ConditionalCheckFailedException"
# A give-back is not idempotent: sent twice, it takes a count below what was spent. Its client makes one
# attempt, and it is retried only when DynamoDB refused it (throttling, a conflict) or it was never sent (no
# connection): never after a read timeout or a 5xx, after which it may have been applied. A reservation's add,
# retried by the SDK after such a failure, can only read high: a refusal too many, never an overspend.
GIVE_BACK_CLIENT_CONFIG = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
NOT_SENT = (ConnectTimeoutError, EndpointConnectionError)
# One pool per execution environment, whatever is built and rebuilt: a token's five requests, a give-back's
# four. Its threads start on first use, never at import (so never before a SnapStart snapshot).
_REQUESTS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="spend-ledger")


class _DeadlineReached(Exception):
    """Raised before an attempt that could not finish in the time left (botocore does not retry it)."""


class DynamoDbTable:
    """One client on the guard's table: conditional updates retried on contention, every attempt inside the
    request's deadline. Shared by the counters (below) and the reservations' records."""

    def __init__(
        self,
        table_name: str,
        client_factory: Callable[[str, Config], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = table_name
        self._clock = clock
        self._deadline = threading.local()
        # Built with the ledger, so that the init prefetch (which builds the guard) takes its cost off the
        # first request.
        factory = client_factory or aws_clients()
        self._client = factory("dynamodb", CLIENT_CONFIG)
        self._give_back_client = factory("dynamodb", GIVE_BACK_CLIENT_CONFIG)
        for client in (self._client, self._give_back_client):
            client.meta.events.register("before-send.dynamodb", self._check_deadline)
        self.pool = _REQUESTS

    def update(self, deadline: float, *, give_back: bool = False, **arguments: Any) -> bool:
        """One UpdateItem (or PutItem with `put=True`): True when written, False when its condition failed.
        `give_back`: a write that must not be applied twice (see GIVE_BACK_CLIENT_CONFIG)."""
        operation = "put_item" if arguments.pop("put", False) else "update_item"
        try:
            self.request(operation, deadline, give_back=give_back, TableName=self.name, **arguments)
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise unavailable(exc) from exc
        return True

    def request(self, operation: str, deadline: float, *, give_back: bool = False, **arguments: Any) -> Any:
        """One call, contention retried with backoff until `deadline` (for a give-back, also a call that was
        never sent); any other ClientError raised as is."""
        client = self._give_back_client if give_back else self._client

        def attempt(_: float) -> Any:
            try:
                return self.call(operation, deadline, client=client, **arguments)
            except ClientError as exc:
                if is_contention(exc):
                    raise Retry(error_code(exc), cause=exc) from exc
                raise
            except TokenVendorError as err:
                if give_back and isinstance(err.__cause__, NOT_SENT):
                    raise Retry(err.detail, cause=err) from err
                raise

        return self.retrying(attempt, deadline)

    def retrying(self, attempt: Callable[[float], Any], deadline: float) -> Any:
        try:
            return retry_until(
                attempt,
                attempts=CONTENTION_ATTEMPTS,
                deadline=deadline,
                backoff=CONTENTION_BACKOFF,
                clock=self._clock,
            )
        except GaveUp as gave_up:
            if isinstance(gave_up.cause, ClientError):
                raise unavailable(gave_up.cause) from gave_up.cause
            if isinstance(gave_up.cause, TokenVendorError):
                raise gave_up.cause from None
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, "DynamoDB: no time left") from None

    def call(self, operation: str, deadline: float, *, client: Any = None, **arguments: Any) -> Any:
        self._deadline.value = deadline
        try:
            return getattr(client or self._client, operation)(**arguments)
        except (BotoCoreError, _DeadlineReached) as exc:
            raise TokenVendorError(
                ErrorCode.DEPENDENCY_UNAVAILABLE, f"DynamoDB {operation}: {type(exc).__name__}"
            ) from exc

    def _check_deadline(self, **_: Any) -> None:
        deadline = getattr(self._deadline, "value", None)  # None: a call this table did not make
        if deadline is not None and self._clock() + ATTEMPT_SECONDS > deadline:
            raise _DeadlineReached


class DynamoDbLedger:
    def __init__(self, table: DynamoDbTable) -> None:
        self._table = table

    def add(self, counters: Sequence[Counter], deadline: float) -> Added:
        pool = self._table.pool
        pause = pool.submit(self._paused, deadline)
        update = self._table.update
        writes = [(counter, pool.submit(update, deadline, **self._add(counter))) for counter in counters]
        outcomes = [(counter, _outcome(write)) for counter, write in writes]
        paused = _outcome(pause)
        everything = (paused, *(outcome for _, outcome in outcomes))
        failures = [outcome for outcome in everything if isinstance(outcome, TokenVendorError)]
        return Added(
            paused=paused if isinstance(paused, bool) else None,
            accepted=tuple(counter for counter, outcome in outcomes if outcome is True),
            refused=tuple(counter for counter, outcome in outcomes if outcome is False),
            failure=failures[0] if failures else None,
        )

    def subtract(self, counters: Sequence[Counter], deadline: float) -> tuple[Counter, ...]:
        pool = self._table.pool
        update = self._table.update
        writes = [
            (counter, pool.submit(update, deadline, give_back=True, **self._subtract(counter)))
            for counter in counters
        ]
        # A condition that failed means the item is gone (nothing to give back), not a failure.
        return tuple(counter for counter, write in writes if isinstance(_outcome(write), TokenVendorError))

    def used(self, counters: Sequence[Counter], deadline: float) -> Mapping[str, int]:
        """The counts, by key: one BatchGetItem, its UnprocessedKeys asked again until the deadline."""
        pending: dict[str, Any] = {
            self._table.name: {
                "Keys": [{KEY: {"S": counter.key}} for counter in counters],
                "ProjectionExpression": "#key, #used",
                "ExpressionAttributeNames": {"#key": KEY, "#used": USED},
            }
        }
        found: dict[str, int] = {}

        def attempt(_: float) -> None:
            nonlocal pending
            try:
                answer = self._table.call("batch_get_item", deadline, RequestItems=pending)
            except ClientError as exc:
                if is_contention(exc):
                    raise Retry(error_code(exc), cause=exc) from exc
                raise unavailable(exc) from exc
            for item in answer.get("Responses", {}).get(self._table.name, []):
                if USED in item:
                    found[item[KEY]["S"]] = int(item[USED]["N"])
            pending = answer.get("UnprocessedKeys") or {}
            if pending:
                raise Retry("UnprocessedKeys")

        self._table.retrying(attempt, deadline)
        return found

    def _paused(self, deadline: float) -> bool:
        try:
            answer = self._table.request(
                "get_item",
                deadline,
                TableName=self._table.name,
                Key={KEY: {"S": CONTROL_KEY}},
                ConsistentRead=True,  # a pause binds at once, not once an eventual read catches up
            )
        except ClientError as exc:
            raise unavailable(exc) from exc
        return bool(answer.get("Item", {}).get(PAUSED, {}).get("BOOL", False))

    def _add(self, counter: Counter) -> dict[str, Any]:
        # A window whose limit is below one token's amount can never hold it: compared with a missing
        # attribute, `used <= :room` is false, so leaving out attribute_not_exists refuses even the first.
        condition = "#used <= :room" if counter.room < 0 else "attribute_not_exists(#used) OR #used <= :room"
        return {
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

    def _subtract(self, counter: Counter) -> dict[str, Any]:
        return {
            "Key": {KEY: {"S": counter.key}},
            "UpdateExpression": "ADD #used :amount",
            # Only an item the reservation made: never create a negative count.
            "ConditionExpression": "attribute_exists(#used)",
            "ExpressionAttributeNames": {"#used": USED},
            "ExpressionAttributeValues": {":amount": {"N": str(-counter.amount)}},
        }


def _outcome(future: Future[Any]) -> Any:
    """The future's value, or the TokenVendorError it raised (anything else is a bug and propagates)."""
    try:
        return future.result()
    except TokenVendorError as err:
        return err


def unavailable(exc: ClientError) -> TokenVendorError:
    code = error_code(exc)
    error = (
        ErrorCode.CONFIGURATION_ERROR
        if classify(exc) is Failure.DEFINITIVE
        else ErrorCode.DEPENDENCY_UNAVAILABLE
    )
    return TokenVendorError(error, f"DynamoDB: {code}")
