"""Settling a reservation's money exactly once (docs/contract.md §9, §11): the pure rules every writer
follows.  DynamoDB documents that a write answered with a 500, a read timeout or a connection closed after
sending may or may not have been applied. Every write the guard and the pass send is therefore judged by one
classification (`Outcome`), and what may follow depends on it:

- a counter change (a give-back, a settlement's adjustment) is not idempotent: sent twice, it counts twice. It
  is retried, or handed on to a later pass, only when it surely did not apply. One of unknown outcome that
  gives minutes back is dropped (the count stays high: a refusal too many, never an overspend); one that adds
  an overrun is handed on (added twice, the count is high; never added, it would be low).
- a change of a record's state carries an owner mark, and its condition accepts the owner's own earlier
  success, so a retry that meets it knows it as its own: such writes are retried whatever their outcome.

A record holds minutes in every state but `settled`, and the pass sees it in each (docs/contract.md §11):

| state | meaning | the pass |
| --- | --- | --- |
| `open` | the token may be out | looks its session up, then settles it |
| `pending` + owner | a request or a pass is applying `changes` | waits, unless the owner has surely ended |
| `pending`, no owner | `changes` still to apply (they surely did not apply) | applies them |
| `settled` | done | never sees it |
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# Lambda's longest timeout: an owner that took a record this long ago has surely ended, whatever it was.
OWNER_LEASE_SECONDS = 900


class Outcome(StrEnum):
    """What one write did, as far as its answer tells."""

    APPLIED = "applied"
    DECLINED = "declined"  # answered: its condition did not hold, nothing changed
    NOT_APPLIED = "not_applied"  # surely not applied: refused (4xx), throttled, never sent
    UNKNOWN = (
        "unknown"  # may or may not have applied: a 5xx, a read timeout, a connection closed after sending
    )

    @property
    def may_be_applied(self) -> bool:
        return self in (Outcome.APPLIED, Outcome.UNKNOWN)


class RecordState(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SETTLED = "settled"


class CounterChanges(Protocol):
    """Where settling changes counts: the spend guard's ledger (`SpendLedger.apply`)."""

    def apply(self, changes: Mapping[str, int], deadline: float) -> dict[str, Outcome]:
        """Add each change to its counter, sent once unless it surely did not apply; each one's outcome."""


def new_owner(role: str) -> str:
    """An owner mark: who changes a record's state (`request` or `pass`), unique to this one change."""
    return f"{role}:{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Pending:
    """A record's changes still to apply, and who is applying them (None: nobody, a pass should)."""

    changes: Mapping[str, int]
    owner: str | None
    since: int  # epoch seconds: when the owner took it
    finished_by: str | None = None  # who last let it go: pins which version of nobody's changes was read

    def owner_has_ended(self, now: float) -> bool:
        return self.owner is None or now >= self.since + OWNER_LEASE_SECONDS


def give_back_changes(windows: Mapping[str, int]) -> dict[str, int]:
    """A reservation given back whole: every minute it holds, in every window."""
    return {key: -minutes for key, minutes in windows.items() if minutes > 0}


def taken_over(pending: Pending) -> tuple[dict[str, int], dict[str, int]]:
    """What a pass applies of a pending record it takes, and what it must drop as of unknown outcome.

    Changes a finished owner handed on surely did not apply: all of them. An owner that ended mid-way may have
    sent any of its changes: a give-back might have applied (dropped: high, never low), an overrun might not
    have (applied: high or exact, never low)."""
    if pending.owner is None:
        return dict(pending.changes), {}
    applied = {key: change for key, change in pending.changes.items() if change > 0}
    dropped = {key: change for key, change in pending.changes.items() if change <= 0}
    return applied, dropped


def handed_on(changes: Mapping[str, int], outcomes: Mapping[str, Outcome]) -> dict[str, int]:
    """What a later pass must still apply after one attempt at `changes`: those that surely did not apply, and
    overruns of unknown outcome (never a give-back that may have applied)."""
    return {
        key: change
        for key, change in changes.items()
        if outcomes.get(key) is Outcome.NOT_APPLIED or (outcomes.get(key) is Outcome.UNKNOWN and change > 0)
    }


def unsure(changes: Mapping[str, int], outcomes: Mapping[str, Outcome]) -> dict[str, int]:
    """The changes of unknown outcome: counted where they happen."""
    return {key: change for key, change in changes.items() if outcomes.get(key) is Outcome.UNKNOWN}
