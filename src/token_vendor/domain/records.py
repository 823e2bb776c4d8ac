"""A reservation's record (docs/contract.md §11): what the table keeps of each token for the reconciliation,
and the port through which the request path writes it. No caller, no prompt, no token is ever in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from token_vendor.domain.settlement import Outcome
from token_vendor.domain.spend_guard import Reservation

# How long a reservation's record outlives its token before TTL may delete it: long after any reconciliation.
RECORD_KEPT_SECONDS = 40 * 86400
# Anam's session tokens live an hour from issue; the token is issued within the Anam call, which starts after
# the record's createdAt. The record assumes this much after createdAt until the token's own `exp` is known,
# and is moved later when that is later (guard.py).
TOKEN_LIFETIME_BOUND_SECONDS = 3600 + 120
# The open records' index is sharded so that no partition of it takes every token's write.
OPEN_SHARDS = 10


@dataclass(frozen=True)
class ReservationRecord:
    """The reservation as the table keeps it for the reconciliation (docs/contract.md §11): no caller, no
    prompt, no token."""

    id: str
    minutes: int
    windows: Mapping[str, int]
    created_at: int
    label: str | None = None

    @property
    def token_expires_at(self) -> int:
        """Until the token's own `exp` is known (guard.keep), what Anam's tokens live today, with a margin."""
        return self.created_at + TOKEN_LIFETIME_BOUND_SECONDS

    @property
    def expires_at(self) -> int:
        return self.created_at + RECORD_KEPT_SECONDS

    @property
    def open_shard(self) -> str:
        return open_shard(self.id)

    @classmethod
    def of(cls, reservation: Reservation) -> ReservationRecord:
        windows = reservation.budget_windows
        minutes = max(windows.values(), default=0)
        return cls(reservation.id, minutes, windows, reservation.created_at, reservation.label)


def open_shard(reservation_id: str) -> str:
    """The open-reservations index's partition of a record: `open#<d>`, d = the id as a number, mod 10."""
    return f"open#{int(reservation_id, 16) % OPEN_SHARDS}"


class ReservationRecords(Protocol):
    """The reservations' records (docs/contract.md §11), in the ledger's store. Every write answers its
    `Outcome` and never raises; a change of state names its `owner` (domain/settlement.py)."""

    def open_record(self, record: ReservationRecord, deadline: float) -> Outcome:
        """Write the record, open, unless it exists."""

    def extend_expiry(self, reservation_id: str, token_expires_at: int, deadline: float) -> Outcome:
        """Move the record's token expiry later, never earlier."""

    def claim(
        self, record: ReservationRecord, changes: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        """Open, or not written at all -> pending under `owner`, holding `changes` (a request's give-back)."""

    def finish(
        self, reservation_id: str, remainder: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        """Pending under `owner` -> settled, or pending with nobody's `remainder`."""
