"""Budgets in minutes used (docs/contract.md §11): which session a token started, and what settling its
reservation gives back. Pure: the ports below bring the open reservations and Anam's session list.

Every token's `clientLabel` at Anam is `[<the persona's own clientLabel>:]<prefix>:<reservation id>`. The
prefix (CLIENT_LABEL_PREFIX, the stack's name) holds no `:` (settings.py checks it), and the id is 32 hex
digits, so the last two parts name the deployment and the reservation whatever the persona's label holds.

A reservation is settled once, by the first of three rules that applies:
- its session ended: it used the session's minutes (rounded up per session), and gives back what it held
  beyond them, or adds the overrun;
- its session is still running: wait;
- no session carries its label, its token has expired, and a listing of the prefix made after the lookup
  holds a session of this deployment that started after that expiry (the listing covers the time the token
  could have been used): it used nothing, and everything it holds goes back. Without that proof: wait.

Each reservation is looked up by its own whole label (`search_for`), and only the sessions whose label is its
label exactly count (`is_its_session`): Anam's `search` may match part of a label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from token_vendor.domain.settlement import Outcome, Pending

LABEL_SEPARATOR = ":"
# A pass's lookups in flight at once (and the session list's pooled connections): enough to hide Anam's
# latency, few enough not to look like a flood to it.
LOOKUPS_AT_ONCE = 6
_RESERVATION_ID = re.compile(r"[0-9a-f]{32}")


def client_label(persona_label: object, prefix: str, reservation_id: str) -> str:
    """The label of one token: the persona's own label (when it has one) kept in front."""
    own = f"{prefix}{LABEL_SEPARATOR}{reservation_id}"
    if isinstance(persona_label, str) and persona_label:
        return f"{persona_label}{LABEL_SEPARATOR}{own}"
    return own


def reservation_id_of(label: str | None, prefix: str) -> str | None:
    """The reservation a session's label names, when the label is one of this deployment's; else None."""
    if not label:
        return None
    parts = label.rsplit(LABEL_SEPARATOR, 2)
    if len(parts) < 2 or parts[-2] != prefix or not _RESERVATION_ID.fullmatch(parts[-1]):
        return None
    return parts[-1]


@dataclass(frozen=True)
class Session:
    """One of Anam's sessions, as the pass reads it. Times in epoch seconds; None while unknown."""

    label: str | None
    started_at: float | None
    ended_at: float | None
    length_ms: float | None  # `sessionLengthMs`, else `durationMs`, as Anam reported it

    @property
    def minutes(self) -> int | None:
        """What the session costs a budget, in whole minutes rounded up; None while it runs."""
        if self.ended_at is None:
            return None
        if self.length_ms is not None:
            milliseconds = self.length_ms
        elif self.started_at is not None:
            milliseconds = (self.ended_at - self.started_at) * 1000
        else:
            return None
        return math.ceil(max(0.0, milliseconds) / 60_000)


@dataclass(frozen=True)
class OpenReservation:
    """A reservation not yet settled: the minutes it reserved, and those it holds in each budget window
    (counter key -> minutes). `label`: its token's whole clientLabel (None: a record from before labels were
    kept). `pending`: the changes a request or a pass is applying, or left for a pass (domain/settlement.py);
    None while the record is open."""

    id: str
    minutes: int
    windows: Mapping[str, int]
    created_at: int
    token_expires_at: int
    # The whole clientLabel its token was minted with; None on a record written before labels were kept.
    label: str | None = None
    pending: Pending | None = None


def search_for(reservation: OpenReservation, prefix: str) -> str:
    """What the pass asks Anam's list for to find this reservation's sessions: its whole label, or, for a
    record without one, the part every label of it ends with."""
    return reservation.label or f"{prefix}{LABEL_SEPARATOR}{reservation.id}"


def is_its_session(reservation: OpenReservation, session: Session, prefix: str) -> bool:
    """Whether a session the search returned is this reservation's: its label exactly, or, for a record
    without one, a label of this deployment naming this reservation."""
    if reservation.label is not None:
        return session.label == reservation.label
    return reservation_id_of(session.label, prefix) == reservation.id


def latest_start_of(listing: Iterable[Session], prefix: str) -> float | None:
    """The latest start of a session of this deployment in a listing (another's, or an unlabelled one, proves
    nothing about this deployment's sessions)."""
    starts = [
        session.started_at
        for session in listing
        if session.started_at is not None and reservation_id_of(session.label, prefix) is not None
    ]
    return max(starts, default=None)


@dataclass(frozen=True)
class Verdict:
    """What to do with one reservation: settle it as having used `used_minutes`, or wait (`used_minutes`
    None). `session_found` tells a used token from an unused one."""

    used_minutes: int | None
    session_found: bool
    reason: str

    @property
    def settles(self) -> bool:
        return self.used_minutes is not None


def judge(
    reservation: OpenReservation, sessions: Sequence[Session], latest_start: float | None, now: float
) -> Verdict:
    """The verdict on one reservation, given the sessions that carry its label and the latest start of any
    session of this deployment in a listing made after the lookup."""
    if sessions:
        minutes = [session.minutes for session in sessions]
        if any(used is None for used in minutes):
            return Verdict(None, True, "running")
        return Verdict(sum(used for used in minutes if used is not None), True, "ended")
    expired = now >= reservation.token_expires_at
    if expired and latest_start is not None and latest_start > reservation.token_expires_at:
        return Verdict(0, False, "unused")
    return Verdict(None, False, "expired, no proof yet" if expired else "token still valid")


def adjustments(held: Mapping[str, int], used_minutes: int, reserved: int) -> dict[str, int]:
    """What settling does to each budget window the reservation still holds: `used - held` (negative: minutes
    given back; positive: the overrun added, as Anam will bill it). What a window holds is taken as at most
    what the reservation reserved, so that no record, however written, gives back more than that."""
    changes = {}
    for key, minutes in held.items():
        change = max(0, used_minutes) - min(max(0, minutes), reserved)
        if change:
            changes[key] = change
    return changes


def needs_proof(reservation: OpenReservation, sessions: Sequence[Session], now: float) -> bool:
    """Whether the verdict on a reservation depends on a listing's proof: no session, token expired."""
    return not sessions and now >= reservation.token_expires_at


def verdicts(
    reservations: Iterable[OpenReservation],
    found: Mapping[str, Sequence[Session]],
    listing: Iterable[Session],
    prefix: str,
    now: float,
) -> dict[str, Verdict]:
    """The verdict on each reservation that was looked up: `found` holds, by reservation id, what the search
    by its label returned; `listing`, the sessions of the prefix listed after those searches (empty when no
    verdict needs its proof). A reservation not in `found` gets none."""
    latest = latest_start_of(listing, prefix)
    return {
        reservation.id: judge(
            reservation, its_sessions(reservation, found[reservation.id], prefix), latest, now
        )
        for reservation in reservations
        if reservation.id in found
    }


def its_sessions(reservation: OpenReservation, returned: Iterable[Session], prefix: str) -> list[Session]:
    return [session for session in returned if is_its_session(reservation, session, prefix)]


class SessionListFailed(Exception):
    """Anam's session list could not be read whole (an error, a timeout, an unexpected shape).
    `key_refused`: Anam refused the key (401), which a fresh fetch of the secret may cure (rotation)."""

    def __init__(self, reason: str, *, key_refused: bool = False) -> None:
        super().__init__(reason)
        self.key_refused = key_refused


class SessionList(Protocol):
    def find(self, api_key: str, search: str, deadline: float) -> list[Session]:
        """Every session Anam lists for `search` (a search by one token's label: a page, or a few), by
        `deadline` (time.monotonic()); raises `SessionListFailed` otherwise, or when the search returns more
        pages than one token's sessions could fill."""

    def latest(self, api_key: str, search: str, deadline: float) -> list[Session]:
        """The first page (the most Anam lists at once) of what Anam lists for `search`, by `deadline`; raises
        `SessionListFailed` otherwise."""


class ReservationBook(Protocol):
    """The records as the pass reads and settles them (adapters/dynamodb_reservations.py)."""

    def open_reservations(self, deadline: float) -> list[OpenReservation]:
        """Every record that holds minutes, open or pending (raises TokenVendorError when the store fails)."""

    def settle(
        self, reservation_id: str, changes: Mapping[str, int], used_minutes: int, owner: str, deadline: float
    ) -> Outcome:
        """Open -> pending under `owner`, holding `changes` (the verdict's)."""

    def take_over(
        self, reservation_id: str, seen: Pending, changes: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        """Pending as `seen` -> pending under `owner`, holding `changes`."""

    def finish(
        self, reservation_id: str, remainder: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        """Pending under `owner` -> settled, or pending with nobody's `remainder`."""
