"""Applying a pending record's changes, and letting it go (docs/contract.md §9, §11): the one way a request's
give-back and a pass's settlement move minutes, so that both follow domain/settlement.py's rules alike.

Whoever holds a record pending (its owner mark on it) sends each change once, all at once, then lets the
record go in one more write: settled, or pending with nobody's remainder (what surely did not apply, and
overruns of unknown outcome) for a later pass. Give-backs that did not surely apply are counted in
RefundFailures, and writes of unknown outcome where they happen (the adapters count them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from token_vendor.domain.reconciliation import ReservationBook
from token_vendor.domain.records import ReservationRecords
from token_vendor.domain.settlement import CounterChanges, Outcome, handed_on, unsure
from token_vendor.observability import REFUND_FAILURES, count, logger


@dataclass(frozen=True)
class Applied:
    """What applying a record's changes did: each change's outcome, what was handed on, how it ended."""

    outcomes: Mapping[str, Outcome]
    remainder: Mapping[str, int]
    finished: Outcome

    def given_back(self, changes: Mapping[str, int]) -> int:
        """Minutes surely given back (the largest per window: every window holds the same reservation)."""
        back = [
            -change
            for key, change in changes.items()
            if change < 0 and self.outcomes.get(key) is Outcome.APPLIED
        ]
        return max(back, default=0)


def apply_and_finish(
    records: ReservationRecords | ReservationBook,
    ledger: CounterChanges,
    reservation_id: str,
    changes: Mapping[str, int],
    owner: str,
    deadlines: tuple[float, float],
    also: Mapping[str, int] | None = None,
) -> Applied:
    """Apply `changes` to the counters by the first deadline, then let the record go by the second. `also`:
    changes no record tracks (a caller's counts), sent in the same round trip."""
    sent = {**(also or {}), **changes}
    outcomes = ledger.apply(sent, deadlines[0]) if sent else {}
    remainder = handed_on(changes, outcomes)
    finished = records.finish(reservation_id, remainder, owner, deadlines[1])
    refused_back = {
        key: change for key, change in sent.items() if change < 0 and not _done(outcomes.get(key))
    }
    if refused_back:
        count(REFUND_FAILURES)
        logger.warning(
            "Could not surely give minutes back",
            extra={
                "unknown": len(unsure(refused_back, outcomes)),
                "handedOn": len(handed_on(refused_back, outcomes)),
                "recordLetGo": str(finished),
            },
        )
    return Applied(outcomes, remainder, finished)


def _done(outcome: Outcome | None) -> bool:
    # DECLINED: the counter is gone (its window long over): nothing to change.
    return outcome in (Outcome.APPLIED, Outcome.DECLINED)
