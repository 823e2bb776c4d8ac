"""The spend guard at work (docs/contract.md §9): what minting reserves with and gives back to.

The rules (which counters a token adds to, and which refusal answers) are `domain.spend_guard`'s; the counts
live in a `SpendLedger` (DynamoDB). This module puts them together and reports what happened: refusals of a
budget and the share of each budget used, for the 80 % alarm, and give-backs that failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from token_vendor.domain.spend_guard import (
    Counter,
    LedgerRefused,
    Limits,
    Reservation,
    SpendLedger,
    caller_key,
    counters_for,
    refusal,
)
from token_vendor.errors import TokenVendorError
from token_vendor.observability import logger, record_budget_used

# How often one execution environment reads the budgets' counters to publish the share used: a successful
# DynamoDB transaction returns no values, so the share costs a read, made rarely rather than on every token.
BUDGET_SAMPLE_SECONDS = 60.0


class ReservationRecords(Protocol):
    """Each reservation's record for the reconciliation (§11), kept next to the counters."""

    def record(
        self, reservation_id: str, counters: Sequence[Counter], now: datetime, deadline: float
    ) -> None:
        """Write a new reservation's record."""

    def withdraw(self, reservation_id: str, deadline: float) -> bool:
        """Settle the record as unused, before the reservation is given back."""


class LedgerSpendGuard:
    """The guard over a ledger: what `minting` reserves with and releases to."""

    def __init__(
        self,
        ledger: SpendLedger,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        records: ReservationRecords | None = None,
    ) -> None:
        self._ledger = ledger
        self._limits = limits
        self._clock = clock
        self._records = records
        self._next_sample = 0.0

    def reserve(
        self, identity: str, session_seconds: int | None, now: datetime, *, hash_key: str, deadline: float
    ) -> Reservation:
        counters = counters_for(caller_key(identity, hash_key), session_seconds, now, self._limits)
        try:
            self._ledger.add(counters, deadline)
        except LedgerRefused as refused:
            for counter in refused.refused:
                if counter.window.is_budget:
                    # No room for one more session: full, as far as the 80 % alarm is concerned. Published on
                    # each such refusal, as a burst may spend a budget between two samples, after which no
                    # reservation succeeds to sample it again.
                    record_budget_used(str(counter.window), 100.0)
            raise refusal(refused, now) from None
        self._sample_budgets(counters, deadline)
        reservation = Reservation(counters, deadline)
        if self._records is not None:
            self._write_record(self._records, reservation, now)
        return reservation

    def release(self, reservation: Reservation) -> None:
        try:
            if self._records is not None:
                # Its record settled first: a reconciliation pass must not give the same minutes back again.
                # If that fails, the counters stay as they are and the pass settles the record (§11).
                self._records.withdraw(reservation.id, reservation.deadline)
            self._ledger.subtract(reservation.counters, reservation.deadline)
        except Exception as exc:
            # The caller's quota and the budget stay spent for a token nobody got: a loss, not a risk.
            reason = exc.detail if isinstance(exc, TokenVendorError) else type(exc).__name__
            logger.warning("Could not give a reservation back", extra={"reason": reason})

    @staticmethod
    def _write_record(records: ReservationRecords, reservation: Reservation, now: datetime) -> None:
        # Without its record a reservation is never settled: it keeps its whole cap, as without the
        # reconciliation (an over-count, never an overspend), and the token is still handed out.
        try:
            records.record(reservation.id, reservation.counters, now, reservation.deadline)
        except Exception as exc:
            reason = exc.detail if isinstance(exc, TokenVendorError) else type(exc).__name__
            logger.warning("Could not record a reservation", extra={"reason": reason})

    def publish_budgets(
        self, now: datetime, session_seconds: int | None, deadline: float
    ) -> dict[str, float]:
        """Read each budget's count for `now` and publish its share used; the shares, by budget."""
        counters = counters_for("", session_seconds, now, self._limits)
        budgets = [counter for counter in counters if counter.window.is_budget]
        used = self._ledger.used(budgets, deadline) if budgets else {}
        shares = {}
        for counter in budgets:
            shares[str(counter.window)] = round(100 * used.get(counter.key, 0) / counter.limit, 1)
            record_budget_used(str(counter.window), shares[str(counter.window)])
        return shares

    def _sample_budgets(self, counters: Sequence[Counter], deadline: float) -> None:
        budgets = [counter for counter in counters if counter.window.is_budget]
        if not budgets or self._clock() < self._next_sample:
            return
        self._next_sample = self._clock() + BUDGET_SAMPLE_SECONDS
        # The token is reserved by now: publishing the share must not fail it (nor leave it reserved).
        try:
            used = self._ledger.used(budgets, deadline)
            for counter in budgets:
                record_budget_used(str(counter.window), 100 * used.get(counter.key, 0) / counter.limit)
        except Exception as exc:
            reason = exc.detail if isinstance(exc, TokenVendorError) else type(exc).__name__
            logger.info("Could not publish the budgets' use", extra={"reason": reason})
