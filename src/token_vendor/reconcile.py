"""The reconciliation pass (docs/contract.md §11): settle each open reservation against the session Anam ran.

The schedule sends `{"reconcile": true}` every few minutes. One pass reads the open reservations, looks each
up at Anam (reconcile_lookups.py: as many as its time allows), and settles each reservation that a rule of
`domain.reconciliation` can decide: its record first (one conditional write: at most once, whatever passes
overlap), then the budget counters it held, by what its session used. Anam's list failing settles nothing; a
pass short of time settles what it looked up and leaves the rest to the next. The answer is a JSON summary;
the pass never raises. Labels, the key and the sessions' personas are never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from token_vendor.domain.deadline import (
    GIVE_BACK_ROUND_TRIP_SECONDS,
    GIVE_BACK_STEPS,
    deadline_from,
    give_back_steps,
)
from token_vendor.domain.reconciliation import (
    OpenReservation,
    ReservationBook,
    SessionListFailed,
    Verdict,
    adjustments,
)
from token_vendor.domain.settlement import CounterChanges, Outcome, Pending, new_owner, taken_over
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import (
    MINUTES_GIVEN_BACK,
    MINUTES_RESERVED,
    MINUTES_USED,
    OPEN_RESERVATIONS,
    RECONCILE_FAILURES,
    RECONCILE_PASSES,
    REFUND_FAILURES,
    TOKENS_UNUSED,
    TOKENS_USED,
    count,
    logger,
    record_count,
)
from token_vendor.reconcile_lookups import look_up
from token_vendor.settlement import Applied, apply_and_finish
from token_vendor.wiring import get_guard, get_ledger, get_reservation_book, get_settings, get_vendor

SESSION_LIST_FAILED = "session_list_failed"
RECONCILIATION_OFF = "reconciliation_off"
OUT_OF_TIME = "out_of_time"
# Kept back from the lookups for settling what they decided and reading the budgets' share: three DynamoDB
# round trips per reservation, in series, each bounded by the client's timeouts (SETTLE_ONE_SECONDS is their
# bound), a few milliseconds each in practice. At most half the pass's time, so that a backlog still gets
# lookups.
SETTLE_ONE_SECONDS = GIVE_BACK_STEPS * GIVE_BACK_ROUND_TRIP_SECONDS
SETTLE_SECONDS_EACH = 0.05


def reconcile(remaining_seconds: Callable[[], float]) -> dict[str, Any]:
    count(RECONCILE_PASSES)
    try:
        return _pass(remaining_seconds)
    except SessionListFailed as failed:
        logger.error("Reconciliation failed: Anam's session list", extra={"reason": str(failed)})
        return _failed(SESSION_LIST_FAILED)
    except TokenVendorError as err:
        logger.error("Reconciliation failed", extra={"code": str(err.code), "detail": err.detail})
        return _failed(str(err.code))
    except Exception:
        logger.exception("Reconciliation failed unexpectedly")
        return _failed(str(ErrorCode.INTERNAL_ERROR))


def _pass(remaining_seconds: Callable[[], float]) -> dict[str, Any]:
    settings = get_settings()
    settings.require_valid()
    if not settings.reconciles:
        logger.info("Reconciliation is off: no spend guard, no minutes budget, or RECONCILE_USAGE=false")
        return {"reconciled": False, "error": RECONCILIATION_OFF}
    deadline = deadline_from(remaining_seconds())
    credentials = get_vendor().config.credentials(deadline)
    book = get_reservation_book()
    reservations = book.open_reservations(deadline)
    # Only an open record's token may have a session to look up: a pending one carries its own changes. No
    # open reservation: nothing to look up, no proof needed, and Anam is not asked.
    to_look_up = [reservation for reservation in reservations if reservation.pending is None]
    judged = look_up(to_look_up, credentials.api_key, _lookups_deadline(deadline, len(reservations)))
    summary = settle_all(book, get_ledger(), reservations, judged, deadline, time.time())
    summary.publish()
    guard = get_guard()
    budgets = guard.publish_budget_use(datetime.now(UTC), deadline) if guard is not None else {}
    counts = summary.counts()
    if summary.out_of_time_in_vain:
        # Time let it settle nothing: counted like a failing list, so that an alarm tells a stuck pass.
        logger.error("Reconciliation ran out of time before settling anything", extra=counts)
        count(RECONCILE_FAILURES)
        return {"reconciled": False, "error": OUT_OF_TIME, **counts, "budgetsUsedPercent": budgets}
    logger.info("Reconciled", extra=counts)
    return {"reconciled": True, **counts, "budgetsUsedPercent": budgets}


def _lookups_deadline(deadline: float, open_count: int) -> float:
    """When the lookups must have their verdicts: the pass's deadline, less the time settling takes."""
    remaining = deadline - time.monotonic()
    return deadline - min(remaining / 2, SETTLE_ONE_SECONDS + SETTLE_SECONDS_EACH * open_count)


def settle_all(
    book: ReservationBook,
    ledger: CounterChanges,
    reservations: Sequence[OpenReservation],
    judged: Mapping[str, Verdict],
    deadline: float,
    now: float,
) -> Summary:
    """Settle each open reservation whose verdict says so, and finish each pending one whose owner has surely
    ended; what the pass did. No settlement starts that could not end by `deadline`."""
    summary = Summary(len(reservations))
    for reservation in reservations:
        pending = reservation.pending
        verdict = judged.get(reservation.id)
        if (pending is None and verdict is None) or time.monotonic() + SETTLE_ONE_SECONDS > deadline:
            summary.not_looked_up += 1  # the pass's time did not allow its lookup or its settling: the next's
        elif pending is not None and pending.owner_has_ended(now):
            _take_over(book, ledger, reservation, pending, deadline, summary)
        elif pending is None and verdict is not None and verdict.settles:
            _settle(book, ledger, reservation, verdict, deadline, summary)
        else:
            summary.waiting += 1
    return summary


def _settle(
    book: ReservationBook,
    ledger: CounterChanges,
    reservation: OpenReservation,
    verdict: Verdict,
    deadline: float,
    summary: Summary,
) -> None:
    used = verdict.used_minutes or 0
    changes = adjustments(reservation.windows, used, reservation.minutes)
    applied = _take_and_apply(
        book, ledger, reservation, changes, deadline, summary,
        lambda owner, by: book.settle(reservation.id, changes, used, owner, by),
    )  # fmt: skip
    if applied is not None:
        summary.add(reservation, verdict, used, applied.given_back(changes), applied)


def _take_over(
    book: ReservationBook,
    ledger: CounterChanges,
    reservation: OpenReservation,
    pending: Pending,
    deadline: float,
    summary: Summary,
) -> None:
    """A give-back or a settlement that its owner left pending: applied by this pass
    (domain/settlement.py)."""
    changes, dropped = taken_over(pending)
    applied = _take_and_apply(
        book, ledger, reservation, changes, deadline, summary,
        lambda owner, by: book.take_over(reservation.id, pending, changes, owner, by),
    )  # fmt: skip
    if applied is None:
        return
    if dropped:
        # Its owner may have sent these give-backs before it ended: counted high, never given back twice.
        count(REFUND_FAILURES)
        logger.warning("Dropped give-backs of unknown outcome", extra={"windows": len(dropped)})
    summary.finished_pending += 1
    summary.minutes_given_back += applied.given_back(changes)
    summary.handed_on += bool(applied.remainder)


def _take_and_apply(
    book: ReservationBook,
    ledger: CounterChanges,
    reservation: OpenReservation,
    changes: Mapping[str, int],
    deadline: float,
    summary: Summary,
    take: Callable[[str, float], Outcome],
) -> Applied | None:
    """The record taken under this pass's owner mark by `take(owner, by)`, then its changes applied and the
    record let go, each step in its own time; None (counted) when the record could not be taken."""
    owner = new_owner("pass")
    steps = give_back_steps(deadline)
    started = take(owner, steps[0])
    if started is not Outcome.APPLIED:
        summary.not_started(started)
        return None
    return apply_and_finish(book, ledger, reservation.id, changes, owner, (steps[1], steps[2]))


class Summary:
    def __init__(self, open_before: int) -> None:
        self.open = open_before
        self.waiting = 0
        self.not_looked_up = 0
        self.settled_elsewhere = 0
        self.write_failures = 0
        self.handed_on = 0
        self.finished_pending = 0
        self.used_tokens = 0
        self.unused_tokens = 0
        self.minutes_reserved = 0
        self.minutes_used = 0
        self.minutes_given_back = 0

    def not_started(self, outcome: Outcome) -> None:
        if outcome is Outcome.DECLINED:
            self.settled_elsewhere += 1  # another pass, or a request giving it back
        else:
            self.write_failures += (
                1  # surely not written: the next pass tries again; unknown: see settlement.py
            )

    def add(
        self, reservation: OpenReservation, verdict: Verdict, used: int, given_back: int, applied: Applied
    ) -> None:
        if verdict.session_found:
            self.used_tokens += 1
        else:
            self.unused_tokens += 1
        self.minutes_reserved += reservation.minutes
        self.minutes_used += used
        self.minutes_given_back += given_back
        self.handed_on += bool(applied.remainder)

    def counts(self) -> dict[str, int]:
        settled = self.used_tokens + self.unused_tokens + self.finished_pending
        return {
            "openBefore": self.open,
            "settledUsed": self.used_tokens,
            "settledUnused": self.unused_tokens,
            "finishedPending": self.finished_pending,
            "waiting": self.waiting,
            "notLookedUp": self.not_looked_up,
            "settledElsewhere": self.settled_elsewhere,
            "writeFailures": self.write_failures,
            "handedOn": self.handed_on,
            "stillOpen": self.open - settled - self.settled_elsewhere,
            "minutesReserved": self.minutes_reserved,
            "minutesUsed": self.minutes_used,
            "minutesGivenBack": self.minutes_given_back,
        }

    @property
    def out_of_time_in_vain(self) -> bool:
        """Time left reservations unlooked-up, and the pass settled nothing."""
        return self.not_looked_up > 0 and self.used_tokens + self.unused_tokens + self.finished_pending == 0

    def publish(self) -> None:
        counts = self.counts()
        record_count(RECONCILE_FAILURES, 0)
        record_count(OPEN_RESERVATIONS, counts["stillOpen"])
        record_count(TOKENS_USED, self.used_tokens)
        record_count(TOKENS_UNUSED, self.unused_tokens)
        record_count(MINUTES_RESERVED, self.minutes_reserved)
        record_count(MINUTES_USED, self.minutes_used)
        record_count(MINUTES_GIVEN_BACK, self.minutes_given_back)


def _failed(code: str) -> dict[str, Any]:
    count(RECONCILE_FAILURES)
    return {"reconciled": False, "error": code, "settled": 0}
