"""The spend guard at work (docs/contract.md §9): what minting reserves with and gives back to.

The rules (which counters a token adds to, and which refusal answers) are `domain.spend_guard`'s; the counts
live in a `SpendLedger` (DynamoDB). This module puts them together and reports what happened: refusals of a
budget and the share of each budget used, for the 80 % alarm, and give-backs that failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

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


class LedgerSpendGuard:
    """The guard over a ledger: what `minting` reserves with and releases to."""

    def __init__(
        self, ledger: SpendLedger, limits: Limits, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ledger = ledger
        self._limits = limits
        self._clock = clock
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
        return Reservation(counters, deadline)

    def release(self, reservation: Reservation) -> None:
        try:
            self._ledger.subtract(reservation.counters, reservation.deadline)
        except Exception as exc:
            # The caller's quota and the budget stay spent for a token nobody got: a loss, not a risk.
            reason = exc.detail if isinstance(exc, TokenVendorError) else type(exc).__name__
            logger.warning("Could not give a reservation back", extra={"reason": reason})

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
