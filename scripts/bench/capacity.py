"""Figure 11: what one token costs in DynamoDB capacity (docs/contract.md §11), read from the responses'
`ConsumedCapacity`, not estimated: a token whose session ran, one never used, one refused by a spent budget,
and one whose Anam call failed (given back by its request). Each from reservation to its record settled, the
pass's settlement included; the pass's own query of the open records is counted apart, as it is shared by
every record a pass reads.

Measured against AWS's DynamoDB Local, which computes capacity as DynamoDB documents it (a write: 1 WCU per
KB of the larger of the item before and after, a failed conditional write too; a strongly consistent read: 1
RCU per 4 KB; an index's write: the same again). Without Java or its jar, against moto, which reports less.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from local.dynamodb_local import DynamoDbLocal, missing
from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, create_quota_table
from scripts.bench.report import Row

# The guard runs in this process, as figure 10's does: the package from src/, as the tests import it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from token_vendor.adapters.dynamodb_ledger import DynamoDbLedger
from token_vendor.adapters.dynamodb_reservations import DynamoDbReservations
from token_vendor.adapters.dynamodb_table import DynamoDbTable
from token_vendor.domain.reconciliation import OpenReservation, Verdict
from token_vendor.domain.records import ReservationRecord
from token_vendor.domain.spend_guard import Limits, Reservation, new_reservation_id
from token_vendor.errors import TokenVendorError
from token_vendor.guard import LedgerSpendGuard
from token_vendor.reconcile import settle_all

TABLE = "bench-capacity"
LIMITS = Limits(caller_sessions_per_hour=10, caller_sessions_per_day=30, daily_session_minutes=100,
                monthly_session_minutes=1000)  # fmt: skip
CAP_SECONDS = 600


class Meter:
    """Adds up the capacity every response reports, by operation, while `counting`."""

    def __init__(self) -> None:
        self.units: dict[str, float] = {"WCU": 0.0, "RCU": 0.0}
        self.counting = False

    def after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.counting:
            return
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            kind = "RCU" if model.name in ("GetItem", "Query", "BatchGetItem") else "WCU"
            self.units[kind] += float(entry.get("CapacityUnits", 0))

    @contextmanager
    def measuring(self) -> Iterator[dict[str, float]]:
        self.units = {"WCU": 0.0, "RCU": 0.0}
        self.counting = True
        try:
            yield self.units
        finally:
            self.counting = False


def capacity_rows() -> list[Row]:
    # The guard publishes metrics as it would in Lambda; here they would only clutter the figures.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "bench")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    reason = missing()
    if reason is None:
        with DynamoDbLocal() as engine:
            return _rows(engine.url, "DynamoDB Local")
    with MotoServer() as moto:
        return _rows(moto.url, f"moto ({reason})")


def _rows(url: str, engine: str) -> list[Row]:
    meter = Meter()
    session = boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS)

    def client(service: str, config: Any) -> Any:
        made = session.client(service, endpoint_url=url, config=config)
        made.meta.events.register("after-call.dynamodb", meter.after_call)
        return made

    create_quota_table(url, TABLE)
    table = DynamoDbTable(TABLE, client)
    records = DynamoDbReservations(table)
    ledger = DynamoDbLedger(table)
    guard = LedgerSpendGuard(ledger, LIMITS, records)
    settle = _settler(records, ledger)
    now = datetime.now(UTC)

    with meter.measuring() as used:
        reservation = _reserve(guard, "visitor-a", now)
        guard.keep(reservation, int(time.time()) + 3600)
        settle(reservation, Verdict(2, True, "ended"))
    with meter.measuring() as unused:
        reservation = _reserve(guard, "visitor-b", now)
        guard.keep(reservation, int(time.time()) + 3600)
        settle(reservation, Verdict(0, False, "unused"))
    with meter.measuring() as failed:
        guard.release(_reserve(guard, "visitor-c", now))
    spent = LedgerSpendGuard(ledger, Limits(10, 30, 5, None), records)
    with meter.measuring() as refused, suppress(TokenVendorError):
        _reserve(spent, "visitor-d", now)
    guard.keep(_reserve(guard, "visitor-e", now), None)
    with meter.measuring() as query:
        records.open_reservations(time.monotonic() + 10)

    def row(name: str, units: dict[str, float], what: str) -> Row:
        return Row(
            f"11. DynamoDB capacity, {name}",
            f"{units['WCU']:.0f} WCU + {units['RCU']:.1f} RCU",
            f"{what}; {engine}",
        )

    return [
        row("token used", used, "reserve, record, settle, adjust 2 budgets, let go"),
        row("token never used", unused, "as used: all 10 minutes back"),
        row("Anam failed", failed, "reserve, record, claim, give back 4 counters, let go"),
        row("refused (budget spent)", refused, "the caller's 2 counters accept, the day's refuses, 2 back"),
        row("pass query, 10 shards", query, "per pass (1 open record), shared by every record it reads"),
    ]


def _reserve(guard: LedgerSpendGuard, caller: str, now: datetime) -> Reservation:
    reservation_id = new_reservation_id()
    return guard.reserve(
        caller, CAP_SECONDS, now, hash_key="bench", deadline=time.monotonic() + 14.5,
        reservation_id=reservation_id, label=f"bench:{reservation_id}",
    )  # fmt: skip


def _settler(records: DynamoDbReservations, ledger: DynamoDbLedger) -> Callable[[Reservation, Verdict], None]:
    """The pass's settlement of one record, as the pass runs it (its query of the records apart)."""

    def settle(reservation: Reservation, verdict: Verdict) -> None:
        record = ReservationRecord.of(reservation)
        found = OpenReservation(
            record.id,
            record.minutes,
            record.windows,
            record.created_at,
            record.token_expires_at,
            record.label,
        )
        settle_all(records, ledger, [found], {record.id: verdict}, time.monotonic() + 10, time.time())

    return settle
