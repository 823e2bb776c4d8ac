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
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from token_vendor.domain.deadline import GIVE_BACK_SECONDS, give_back_steps
from token_vendor.domain.records import ReservationRecord, ReservationRecords
from token_vendor.domain.settlement import Outcome, give_back_changes, new_owner
from token_vendor.domain.spend_guard import (
    Added,
    Counter,
    LedgerRefused,
    Limits,
    Reservation,
    SpendLedger,
    budget_counters,
    caller_key,
    counters_for,
    new_reservation_id,
    refusal,
    remainder,
    shortened,
)
from token_vendor.errors import TokenVendorError
from token_vendor.observability import (
    REFUND_FAILURES,
    TOKENS_SHORTENED,
    UNRECORDED_RESERVATIONS,
    count,
    logger,
    record_budget_used,
)
from token_vendor.settlement import apply_and_finish

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
        self._writing: dict[str, Future[Outcome]] = {}
        self._lock = threading.Lock()

    def reserve(
        self,
        identity: str,
        session_seconds: int | None,
        now: datetime,
        *,
        hash_key: str,
        deadline: float,
        reservation_id: str | None = None,
        label: str | None = None,
        shortest_seconds: int | None = None,
    ) -> Reservation:
        counters = counters_for(caller_key(identity, hash_key), session_seconds, now, self._limits)
        # The writes end early enough to give back what some counters took if another refuses or fails.
        added = self._ledger.add(counters, deadline - GIVE_BACK_SECONDS)
        if not added.complete and shortest_seconds is not None:
            granted = self._remainder(counters, added, shortest_seconds, deadline)
            if granted is not None:
                counters, added, session_seconds = granted
        if added.complete:
            reservation = Reservation(
                counters, deadline, reservation_id or new_reservation_id(), int(now.timestamp()), label,
                session_seconds,
            )  # fmt: skip
            self._start_record(reservation)
            return reservation
        if added.accepted:
            # Taken by some counters while another refused (or failed): back at once, in one round trip.
            self._give_back({c.key: -c.amount for c in added.accepted}, give_back_steps(deadline)[0])
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

    def _remainder(
        self, counters: tuple[Counter, ...], added: Added, shortest_seconds: int, deadline: float
    ) -> tuple[tuple[Counter, ...], Added, int] | None:
        """When only budgets refused the cap and they still hold at least `shortest_seconds`, the token takes
        what is left instead (docs/contract.md §12): the refusing budgets add the remainder (conditional, as
        always: no budget goes over, however many ask at once), the accepting ones give the difference back.
        The counters, what they did and the seconds granted; None when no remainder is granted. Its writes end
        with the reservation's; its give-backs have a give-back's own time."""
        give_back_by = give_back_steps(deadline)[0]
        deadline -= GIVE_BACK_SECONDS
        if not added.refused or added.paused is not False or added.failure is not None:
            return None
        if any(not counter.window.is_budget for counter in added.refused):
            return None  # the caller's own limit refused: no remainder makes that right
        try:
            used = self._ledger.used(added.refused, deadline, consistent=True)
        except TokenVendorError:
            return None  # the refusal stands
        minutes = remainder(added.refused, used, shortest_seconds)
        if minutes is None:
            return None
        less = shortened(counters, minutes)
        retry = [counter for counter in less if counter.key in {c.key for c in added.refused}]
        taken = self._ledger.add(retry, deadline)
        # The budgets that took the whole cap keep only the remainder: the difference goes back.
        surplus = {c.key: minutes - c.amount for c in added.accepted if c.window.is_budget}
        if taken.complete:
            self._give_back(surplus, give_back_by)
            count(TOKENS_SHORTENED)
            accepted = tuple(c for c in less if c.key not in {r.key for r in retry}) + taken.accepted
            return less, Added(paused=False, accepted=accepted), minutes * 60
        # Somebody took the remainder first: everything this token took goes back, and the refusal stands.
        self._give_back({c.key: -c.amount for c in taken.accepted}, give_back_by)
        return None

    def keep(self, reservation: Reservation, token_expires_at: int | None) -> None:
        if self._records is None:
            return
        written = self._record_written(reservation)
        if written in (Outcome.NOT_APPLIED, Outcome.UNKNOWN):
            # The token may be out without a record the pass can see: its minutes stay reserved until their
            # windows end. A loss to the budget, never an overspend.
            count(UNRECORDED_RESERVATIONS)
            logger.warning("A token's reservation may have no record: its minutes stay reserved")
        if written is Outcome.NOT_APPLIED:
            return
        record = ReservationRecord.of(reservation)
        if token_expires_at is not None and token_expires_at > record.token_expires_at:
            # The token lives longer than Anam's tokens do today: the pass must not call it unused before
            # then.
            extended = self._records.extend_expiry(reservation.id, token_expires_at, reservation.deadline)
            if extended not in (Outcome.APPLIED, Outcome.DECLINED):
                count(UNRECORDED_RESERVATIONS)
                logger.error("A reservation's record keeps a token expiry earlier than its token's")

    def release(self, reservation: Reservation) -> None:
        steps = give_back_steps(reservation.deadline)
        callers = {c.key: -c.amount for c in reservation.counters if not c.window.is_budget}
        budgets = give_back_changes(reservation.budget_windows)
        if self._records is None:
            self._give_back({**callers, **budgets}, steps[1])
            return
        written = self._record_written(reservation)
        owner = new_owner("request")
        # The record first, so that no pass can give the same minutes back (docs/contract.md §11). A record
        # whose own write was lost is written by the claim.
        claimed = self._records.claim(ReservationRecord.of(reservation), budgets, owner, steps[0])
        if claimed is Outcome.APPLIED:
            # The caller's counts go back in the same round trip as the budgets'.
            apply_and_finish(
                self._records,
                self._ledger,
                reservation.id,
                budgets,
                owner,
                (steps[1], steps[2]),
                also=callers,
            )
            return
        if claimed is Outcome.UNKNOWN:
            # The claim may have landed, under our name: nothing was given back, so all of it is handed to the
            # next pass. Letting the record go under our name succeeds only if the claim did.
            self._give_back(callers, steps[1])
            self._records.finish(reservation.id, budgets, owner, steps[2])
            count(REFUND_FAILURES)
            logger.warning("Could not tell whether a reservation's record was claimed: left to the next pass")
            return
        if claimed is Outcome.NOT_APPLIED and written is Outcome.NOT_APPLIED:
            # Neither the record nor its claim was written: no pass can see these minutes; ours alone.
            self._give_back({**callers, **budgets}, steps[1])
            return
        if claimed is Outcome.DECLINED:
            # Somebody else's change holds the record (a give-back of it under way or done): nothing is ours
            # to give back, never twice.
            logger.warning("A reservation's record was not ours to claim")
            return
        # The record stays open (the claim surely failed): the pass settles it as never used once the token
        # has expired. The caller's counts are ours alone.
        self._give_back(callers, steps[1])
        count(REFUND_FAILURES)
        logger.warning("Could not claim a reservation's record", extra={"outcome": str(claimed)})

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
        """The record is written while Anam is asked for the token: no round trip in series. It has until the
        Anam call's deadline: a give-back's time after it is the give-back's own."""
        if self._records is None:
            return
        record = ReservationRecord.of(reservation)
        with self._lock:
            self._writing[reservation.id] = _RECORDS.submit(
                self._records.open_record, record, reservation.deadline - GIVE_BACK_SECONDS
            )

    def _record_written(self, reservation: Reservation) -> Outcome | None:
        """Wait for the reservation's record write: its outcome (None: waited for before)."""
        with self._lock:
            writing = self._writing.pop(reservation.id, None)
        if writing is None:
            return None
        return writing.result()

    def _give_back(self, changes: Mapping[str, int], deadline: float) -> None:
        """Give counts back that no record tracks, each change sent once (domain/settlement.py)."""
        outcomes = self._ledger.apply(changes, deadline) if changes else {}
        lost = [
            key for key, outcome in outcomes.items() if outcome not in (Outcome.APPLIED, Outcome.DECLINED)
        ]
        if lost:
            count(REFUND_FAILURES)
            logger.warning("Could not give a reservation back", extra={"counters": len(lost)})
