"""The spend guard at work (docs/contract.md §9): what minting reserves with and gives back to.

The rules (which counters a token adds to, and which refusal answers) are `domain.spend_guard`'s; the counts
live in a `SpendLedger` (DynamoDB), each counter a write of its own. This module puts them together: it gives
back at once what some counters accepted when another refused, keeps the reservation's record for the
reconciliation (docs/contract.md §11) when that is on, gives a reservation back when the token never reached
the caller, and reports what happened (budget refusals and the share of each budget used, for the 80 % alarm;
give-backs that failed, for the RefundFailures alarm).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from token_vendor.domain.deadline import GIVE_BACK_SECONDS
from token_vendor.domain.spend_guard import (
    Counter,
    LedgerRefused,
    Limits,
    Reservation,
    ReservationRecord,
    ReservationRecords,
    SpendLedger,
    budget_counters,
    caller_key,
    counters_for,
    refusal,
)
from token_vendor.errors import TokenVendorError
from token_vendor.observability import REFUND_FAILURES, count, logger, record_budget_used

# The records are written while Anam is asked; threads start on first use.
_RECORDS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="spend-record")


class LedgerSpendGuard:
    """The guard over a ledger: what `minting` reserves with and releases to. `records`: the reservations'
    records, None when reconciliation is off."""

    def __init__(
        self, ledger: SpendLedger, limits: Limits, records: ReservationRecords | None = None
    ) -> None:
        self._ledger = ledger
        self._limits = limits
        self._records = records
        self._writing: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def reserve(
        self, identity: str, session_seconds: int | None, now: datetime, *, hash_key: str, deadline: float
    ) -> Reservation:
        counters = counters_for(caller_key(identity, hash_key), session_seconds, now, self._limits)
        # The writes end early enough to give back what some counters took if another refuses or fails.
        added = self._ledger.add(counters, deadline - GIVE_BACK_SECONDS)
        if added.complete:
            reservation = Reservation(counters, deadline, created_at=int(now.timestamp()))
            self._start_record(reservation)
            return reservation
        if added.accepted:
            # Taken by some counters while another refused (or failed): back at once.
            self._give_back(added.accepted, deadline)
        if added.paused:
            raise refusal(LedgerRefused(paused=True), now)
        if added.paused is None and added.failure is not None:
            raise added.failure  # the pause could not be read: fail closed
        if added.refused:
            for counter in added.refused:
                if counter.window.is_budget:
                    # No room for one more session: full, as far as the 80 % alarm is concerned. Published
                    # on each refusal, as the schedule's next reading may be minutes away.
                    record_budget_used(str(counter.window), 100.0)
            raise refusal(LedgerRefused(paused=False, refused=added.refused), now)
        if added.failure is not None:
            raise added.failure
        raise AssertionError("an incomplete reservation with no reason")

    def keep(self, reservation: Reservation) -> None:
        if self._records is not None and self._record_written(reservation) is False:
            # The token is out: its minutes stay reserved (the reconciliation never sees them). A loss to the
            # budget, never an overspend.
            logger.warning("A token's reservation has no record: its minutes stay reserved")

    def release(self, reservation: Reservation) -> None:
        deadline = reservation.deadline
        if self._records is None:
            self._give_back(reservation.counters, deadline)
            return
        # A write that failed may still have landed (a timeout): the claim below decides either way.
        written = self._record_written(reservation)
        callers = [counter for counter in reservation.counters if not counter.window.is_budget]
        try:
            claimed = self._records.claim_record(reservation.id, deadline)
        except TokenVendorError as err:
            # The record may be open: its budget minutes are the reconciliation's to give back now, never
            # ours (that could give them back twice). The caller's counts are ours alone.
            self._give_back(callers, deadline)
            self._failed(f"could not claim its record: {err.detail}")
            return
        if not claimed:
            if written is False:  # no record exists: nobody else can give it back
                self._give_back(reservation.counters, deadline)
            # Else the record was claimed before: given back already, never twice.
            return
        lost = self._ledger.subtract(reservation.counters, deadline)
        lost_budgets = {counter.key: counter.amount for counter in lost if counter.window.is_budget}
        try:
            if lost_budgets:
                self._records.reopen_record(reservation.id, lost_budgets, deadline)
            else:
                self._records.settle_record(reservation.id, deadline)
        except TokenVendorError as err:
            logger.warning("Could not update a reservation's record", extra={"reason": err.detail})
        if lost:
            self._failed(", ".join(str(counter.window) for counter in lost))

    def publish_budget_use(self, now: datetime, deadline: float) -> dict[str, float]:
        budgets = budget_counters(now, self._limits)
        if not budgets:
            return {}
        try:
            used = self._ledger.used(budgets, deadline)
        except Exception as exc:
            reason = exc.detail if isinstance(exc, TokenVendorError) else type(exc).__name__
            logger.warning("Could not publish the budgets' use", extra={"reason": reason})
            return {}
        shares = {}
        for counter in budgets:
            shares[str(counter.window)] = round(100 * used.get(counter.key, 0) / counter.limit, 1)
            record_budget_used(str(counter.window), shares[str(counter.window)])
        return shares

    def _start_record(self, reservation: Reservation) -> None:
        """The record is written while Anam is asked for the token: no round trip in series."""
        if self._records is None:
            return
        record = ReservationRecord.of(reservation)
        with self._lock:
            self._writing[reservation.id] = _RECORDS.submit(
                self._records.open_record, record, reservation.deadline
            )

    def _record_written(self, reservation: Reservation) -> bool | None:
        """Wait for the reservation's record write: whether it was written (None: waited for before)."""
        with self._lock:
            writing = self._writing.pop(reservation.id, None)
        if writing is None:
            return None
        try:
            writing.result()
        except TokenVendorError as err:
            logger.warning("Could not record a reservation", extra={"reason": err.detail})
            return False
        return True

    def _give_back(self, counters: Sequence[Counter], deadline: float) -> None:
        lost = self._ledger.subtract(counters, deadline) if counters else ()
        if lost:
            self._failed(", ".join(str(counter.window) for counter in lost))

    def _failed(self, what: str) -> None:
        # The caller's quota or the budget stays spent for a token nobody got: a loss, not a risk. Counted for
        # the RefundFailures alarm; an open record is settled by the reconciliation.
        count(REFUND_FAILURES)
        logger.warning("Could not give a reservation back", extra={"reason": what})
