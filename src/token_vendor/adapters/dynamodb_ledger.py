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
count may read high for that moment, never low. A counter's change is never sent twice once it may have
applied (adapters/dynamodb_table.py): an add of unknown outcome fails the reservation closed, a give-back of
unknown outcome stays given back as far as anyone knows, and the count stays high.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from botocore.exceptions import ClientError

from token_vendor.adapters.aws_clients import error_code, is_contention
from token_vendor.adapters.dynamodb_table import EXPIRES_AT, KEY, USED, DynamoDbTable, unavailable
from token_vendor.domain.deadline import Retry
from token_vendor.domain.settlement import Outcome
from token_vendor.domain.spend_guard import Added, Counter
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import UNKNOWN_WRITES, count

CONTROL_KEY = "control"
PAUSED = "paused"


class DynamoDbLedger:
    def __init__(self, table: DynamoDbTable) -> None:
        self._table = table

    def add(self, counters: Sequence[Counter], deadline: float) -> Added:
        pool = self._table.pool
        pause = pool.submit(self._paused, deadline)
        writes = [(counter, pool.submit(self._add, counter, deadline)) for counter in counters]
        outcomes = [(counter, write.result()) for counter, write in writes]
        paused = _outcome(pause)
        failures = [
            TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, f"DynamoDB: {outcome} ({counter.window})")
            for counter, outcome in outcomes
            if outcome in (Outcome.NOT_APPLIED, Outcome.UNKNOWN)
        ]
        if isinstance(paused, TokenVendorError):
            failures.insert(0, paused)
        return Added(
            paused=paused if isinstance(paused, bool) else None,
            accepted=tuple(counter for counter, outcome in outcomes if outcome is Outcome.APPLIED),
            refused=tuple(counter for counter, outcome in outcomes if outcome is Outcome.DECLINED),
            failure=failures[0] if failures else None,
        )

    def apply(self, changes: Mapping[str, int], deadline: float) -> dict[str, Outcome]:
        """Add each change to its counter, all at once, each sent once unless it surely did not apply. A
        counter TTL has removed is long over: nothing to change, nothing to create (DECLINED)."""
        pool = self._table.pool
        writes = {key: pool.submit(self._change, key, change, deadline) for key, change in changes.items()}
        return {key: write.result() for key, write in writes.items()}

    def used(
        self, counters: Sequence[Counter], deadline: float, *, consistent: bool = False
    ) -> Mapping[str, int]:
        """The counts, by key: one BatchGetItem, its UnprocessedKeys asked again until the deadline."""
        pending: dict[str, Any] = {
            self._table.name: {
                "Keys": [{KEY: {"S": counter.key}} for counter in counters],
                "ProjectionExpression": "#key, #used",
                "ExpressionAttributeNames": {"#key": KEY, "#used": USED},
                "ConsistentRead": consistent,
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
            except Exception as exc:  # no connection, a timeout, no time left: a read, so simply unavailable
                raise TokenVendorError(
                    ErrorCode.DEPENDENCY_UNAVAILABLE, f"DynamoDB BatchGetItem: {type(exc).__name__}"
                ) from exc
            for item in answer.get("Responses", {}).get(self._table.name, []):
                if USED in item:
                    found[item[KEY]["S"]] = int(item[USED]["N"])
            pending = answer.get("UnprocessedKeys") or {}
            if pending:
                raise Retry("UnprocessedKeys")

        self._table.retrying(attempt, deadline)
        return found

    def _paused(self, deadline: float) -> bool:
        answer = self._table.request(
            "get_item",
            deadline,
            TableName=self._table.name,
            Key={KEY: {"S": CONTROL_KEY}},
            ConsistentRead=True,  # a pause binds at once, not once an eventual read catches up
        )
        return bool(answer.get("Item", {}).get(PAUSED, {}).get("BOOL", False))

    def _add(self, counter: Counter, deadline: float) -> Outcome:
        # A window whose limit is below one token's amount can never hold it: compared with a missing
        # attribute, `used <= :room` is false, so leaving out attribute_not_exists refuses even the first.
        condition = "#used <= :room" if counter.room < 0 else "attribute_not_exists(#used) OR #used <= :room"
        written = self._table.write(
            "update_item",
            deadline,
            repeatable=False,
            TableName=self._table.name,
            Key={KEY: {"S": counter.key}},
            UpdateExpression="ADD #used :amount SET #expires = :expires",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#used": USED, "#expires": EXPIRES_AT},
            ExpressionAttributeValues={
                ":amount": {"N": str(counter.amount)},
                ":room": {"N": str(counter.room)},
                ":expires": {"N": str(counter.expires_at)},
            },
        )
        return _counted(written.outcome)

    def _change(self, key: str, change: int, deadline: float) -> Outcome:
        written = self._table.write(
            "update_item",
            deadline,
            repeatable=False,
            TableName=self._table.name,
            Key={KEY: {"S": key}},
            UpdateExpression="ADD #used :change",
            # Only an item a reservation made: a give-back never creates a negative count.
            ConditionExpression="attribute_exists(#used)",
            ExpressionAttributeNames={"#used": USED},
            ExpressionAttributeValues={":change": {"N": str(change)}},
        )
        return _counted(written.outcome)


def _counted(outcome: Outcome) -> Outcome:
    if outcome is Outcome.UNKNOWN:
        count(UNKNOWN_WRITES)
    return outcome


def _outcome(future: Future[Any]) -> Any:
    """The future's value, or the TokenVendorError it raised (anything else is a bug and propagates)."""
    try:
        return future.result()
    except TokenVendorError as err:
        return err
