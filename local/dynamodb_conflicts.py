"""DynamoDB's transaction conflicts, modelled in front of an emulated table (moto, DynamoDB Local), neither of
which raises them: what a `FaultProxy` applies when its `conflicts` is set.

The rule, as AWS documents it in "Transaction conflict handling in DynamoDB"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling):
"A transactional conflict can occur during concurrent item-level requests on an item within transactions.
Transaction conflicts can occur in the following scenarios: a PutItem, UpdateItem, or DeleteItem request for
an item conflicts with an ongoing TransactWriteItems request that includes the same item; an item within a
TransactWriteItems request is part of another ongoing transaction." A cancelled transaction answers
TransactionCanceledException whose CancellationReasons name `TransactionConflict` at the conflicting items'
indexes (`None` elsewhere); a standard write answers TransactionConflictException. DynamoDB does not queue
either: the caller retries.

The model: a TransactWriteItems holds each of its items (ConditionCheck, Put, Update, Delete) from its arrival
for `hold_seconds` and then while the store applies it; while held, an overlapping TransactWriteItems is
cancelled and a PutItem, UpdateItem or DeleteItem of a held item fails, both with HTTP 400 in DynamoDB's JSON
error shape. Reads never conflict (GetItem reads the committed item). The model also counts the capacity the
requests it saw would consume, for `make bench`: a standard write of an item under 1 KB is one write unit,
a transactional write two; a strongly consistent read of one is one read unit, an eventually consistent one
half.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from local.fault_proxy import Fault

TARGET_PREFIX = "DynamoDB_20120810."
STANDARD_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
_JSON = "application/x-amz-json-1.0"
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class ConflictModel:
    def __init__(
        self, hold_seconds: float = 0.02, key_attributes: frozenset[str] = frozenset({"pk"})
    ) -> None:
        self.hold_seconds = hold_seconds
        self._key_attributes = key_attributes
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], int] = {}
        self._next_transaction = 0
        self.operations: Counter[str] = Counter()
        self.conflicts = 0  # requests refused for a conflict, of either kind
        self.write_units = 0.0
        self.read_units = 0.0

    @property
    def items_held(self) -> int:
        """How many items transactions in flight hold now."""
        with self._lock:
            return len(self._held)

    def reset_counters(self) -> None:
        with self._lock:
            self.operations.clear()
            self.conflicts = 0
            self.write_units = self.read_units = 0.0

    @contextlib.contextmanager
    def apply(self, target: str, body: bytes) -> Iterator[Fault | None]:
        """Around one forwarded request: yields the refusal to send instead of forwarding, or None (forward;
        a transaction's items stay held until the block ends)."""
        if not target.startswith(TARGET_PREFIX):
            yield None
            return
        operation = target.removeprefix(TARGET_PREFIX)
        request = _parse(body)
        self._count(operation, request)
        if operation == "TransactWriteItems":
            with self._transaction(request) as refusal:
                yield refusal
        elif operation in STANDARD_WRITES and self._is_held(self._item(request)):
            with self._lock:
                self.conflicts += 1
            yield transaction_conflict()
        else:
            yield None

    @contextlib.contextmanager
    def _transaction(self, request: Mapping[str, Any]) -> Iterator[Fault | None]:
        items = [self._item(next(iter(action.values()), {})) for action in request.get("TransactItems", [])]
        with self._lock:
            overlapping = [item in self._held for item in items]
            if any(overlapping):
                self.conflicts += 1
                refusal: Fault | None = transaction_cancelled(overlapping)
            else:
                refusal = None
                self._next_transaction += 1
                for item in items:
                    self._held[item] = self._next_transaction
        if refusal is not None:
            yield refusal
            return
        try:
            time.sleep(self.hold_seconds)
            yield None
        finally:
            with self._lock:
                for item in items:
                    self._held.pop(item, None)

    def _is_held(self, item: tuple[str, str]) -> bool:
        with self._lock:
            return item in self._held

    def _item(self, action: Mapping[str, Any]) -> tuple[str, str]:
        """(table, key) of one request or transaction action; a Put names its item, not its key."""
        key = action.get("Key") or {
            name: value for name, value in (action.get("Item") or {}).items() if name in self._key_attributes
        }
        return str(action.get("TableName", "")), json.dumps(key, sort_keys=True)

    def _count(self, operation: str, request: Mapping[str, Any]) -> None:
        with self._lock:
            self.operations[operation] += 1
            if operation in STANDARD_WRITES:
                self.write_units += 1
            elif operation == "TransactWriteItems":
                self.write_units += 2 * len(request.get("TransactItems", []))
            elif operation == "GetItem":
                self.read_units += 1 if request.get("ConsistentRead") else 0.5
            elif operation == "BatchGetItem":
                for table in (request.get("RequestItems") or {}).values():
                    self.read_units += len(table.get("Keys", [])) * (
                        1 if table.get("ConsistentRead") else 0.5
                    )


def transaction_conflict() -> Fault:
    """DynamoDB's answer to a standard write of an item that a transaction holds."""
    return _error(
        "TransactionConflictException",
        {"message": "Transaction is ongoing for the item"},
    )


def transaction_cancelled(conflicting: list[bool]) -> Fault:
    """DynamoDB's answer to a transaction that overlaps another: a reason per item, in the request's order."""
    reasons = [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        if hit
        else {"Code": "None"}
        for hit in conflicting
    ]
    codes = ", ".join(reason["Code"] for reason in reasons)
    return _error(
        "TransactionCanceledException",
        {
            "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{codes}]",
            "CancellationReasons": reasons,
        },
    )


def _error(error_type: str, fields: Mapping[str, Any]) -> Fault:
    body = {"__type": _ERROR_PREFIX + error_type, **fields}
    return Fault.status(400, json.dumps(body), {"Content-Type": _JSON, "x-amzn-ErrorType": error_type})


def _parse(body: bytes) -> Mapping[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
