"""The spend guard's rules and its port (docs/contract.md §9): what one token reserves, and when it may not.

Pure: which counters a token adds to (the caller's hour and day, the day's and the month's session minutes,
all in UTC), their keys in the ledger, when each window ends (the Retry-After of a refusal), and which refusal
answers when several apply, and what a budget's remainder may grant (§12); the reservation's record is
domain/records.py's. Where the counters live is the ledger's business (`SpendLedger`: DynamoDB in
`adapters/dynamodb_ledger.py`, an in-memory fake in the tests): each counter is its own conditional write, and
a counter that accepted while another refused is given back at once, so a token's counters end up all added
or none.

The ledger never sees who the caller is: a caller's counters are keyed by an HMAC of the identity under a key
that a reader of the table does not have: the Anam API key itself. A plain hash would not do: all 2^32 IPv4
addresses are hashed in minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from token_vendor.domain.settlement import Outcome
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.settings import Settings

# A window's item stays this long after the window ends before TTL may delete it: long enough for an operator
# to look at yesterday's counts. Counts never depend on deletion: every window has an item of its own.
KEEP_AFTER_END = timedelta(days=2)


class Window(StrEnum):
    CALLER_HOUR = "caller_hour"
    CALLER_DAY = "caller_day"
    DAILY_BUDGET = "daily"
    MONTHLY_BUDGET = "monthly"

    @property
    def is_budget(self) -> bool:
        return self in (Window.DAILY_BUDGET, Window.MONTHLY_BUDGET)


@dataclass(frozen=True)
class Counter:
    """One count a token adds to: `amount` more, refused when that would take it past `limit`."""

    window: Window
    key: str
    amount: int
    limit: int
    ends_at: datetime
    expires_at: int  # epoch seconds, the TTL attribute: cleanup only

    @property
    def room(self) -> int:
        """The highest count the window may hold before this token's amount is added."""
        return self.limit - self.amount


@dataclass(frozen=True)
class Limits:
    caller_sessions_per_hour: int = 10  # 0: no limit
    caller_sessions_per_day: int = 30  # 0: no limit
    daily_session_minutes: int | None = None
    monthly_session_minutes: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            caller_sessions_per_hour=settings.caller_sessions_per_hour,
            caller_sessions_per_day=settings.caller_sessions_per_day,
            daily_session_minutes=settings.daily_session_minutes,
            monthly_session_minutes=settings.monthly_session_minutes,
        )


def new_reservation_id() -> str:
    """A reservation's id: 32 hex digits, unguessable, naming its record and its token's label (§11)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Reservation:
    """What a token took: given back whole by `release` when the token never reaches the caller, within the
    same request's deadline (time.monotonic()). `id` names its record; `label` is the token's clientLabel at
    Anam (§11; None without reconciliation)."""

    counters: tuple[Counter, ...]
    deadline: float
    id: str = field(default_factory=new_reservation_id)
    created_at: int = 0  # epoch seconds
    label: str | None = None
    session_seconds: int | None = None  # the session's cap this reservation paid for (§12: maybe shortened)

    @property
    def budget_windows(self) -> dict[str, int]:
        """Budget counter key -> minutes this reservation holds there: what its record keeps."""
        return {counter.key: counter.amount for counter in self.counters if counter.window.is_budget}


class LedgerRefused(Exception):
    """The ledger added nothing: minting is paused, or these counters had no room."""

    def __init__(self, *, paused: bool, refused: Sequence[Counter] = ()) -> None:
        self.paused = paused
        self.refused = tuple(refused)
        super().__init__("paused" if paused else ", ".join(counter.window for counter in self.refused))


@dataclass(frozen=True)
class Added:
    """What one `SpendLedger.add` did, counter by counter: each counter is a write of its own, so some may
    have accepted while another refused or failed (the guard gives those back at once)."""

    paused: bool | None  # None: the pause switch could not be read
    accepted: tuple[Counter, ...] = ()
    refused: tuple[Counter, ...] = ()
    failure: TokenVendorError | None = None  # the first store failure (a counter's or the pause's read)

    @property
    def complete(self) -> bool:
        """Every counter accepted and minting is not paused: the token is reserved."""
        return self.paused is False and not self.refused and self.failure is None


class SpendLedger(Protocol):
    def add(self, counters: Sequence[Counter], deadline: float) -> Added:
        """Add each counter's amount where it fits (conditional writes, all at once), reading the pause switch
        alongside; contention and throttling are retried until `deadline` (monotonic). Never raises."""

    def apply(self, changes: Mapping[str, int], deadline: float) -> dict[str, Outcome]:
        """Add each change (counter key -> amount; negative: give back) to its counter, all at once, each sent
        once unless it surely did not apply (domain/settlement.py); never raises. Each change's outcome."""

    def used(
        self, counters: Sequence[Counter], deadline: float, *, consistent: bool = False
    ) -> Mapping[str, int]:
        """The counts held now, by key (absent: 0); `consistent`: a strongly consistent read."""


class SpendGuard(Protocol):
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
        """Reserve a token for `identity` (docs/contract.md §8), or raise the refusal (TokenVendorError).

        `session_seconds`: the token's session length cap (None: none, allowed only without budgets);
        `hash_key`: what the caller's HMAC is keyed with (the Anam API key); `deadline`: time.monotonic();
        `shortest_seconds`: when set, a budget with less than the cap left but at least this many seconds
        grants what is left instead of refusing (the reservation's `session_seconds`: what it paid for)."""

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back: the token never reached the caller. Never raises: a failure is logged,
        counted and left for the reconciliation."""

    def publish_budget_use(self, now: datetime, deadline: float) -> dict[str, float]:
        """Publish each budget's share used (the scheduled pass, off the request path), and return the shares
        in percent by budget (`daily`, `monthly`; none when they could not be read). Never raises."""

    def keep(self, reservation: Reservation, token_expires_at: int | None) -> None:
        """The token reached the caller: finish what the reservation started (its record, whose token expiry
        must not be earlier than the token's own, epoch seconds). Never raises."""


def session_minutes(session_seconds: int) -> int:
    """What a session of this length cap costs a budget: whole minutes, rounded up (Anam bills minutes)."""
    return max(1, math.ceil(session_seconds / 60))


def caller_key(identity: str, hash_key: str) -> str:
    """The caller as the ledger knows it: an HMAC-SHA256 of the identity, 128 bits of it in hex."""
    digest = hmac.new(hash_key.encode(), b"caller:" + identity.encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def counters_for(
    caller: str, session_seconds: int | None, now: datetime, limits: Limits
) -> tuple[Counter, ...]:
    """The counters one token adds to, in the order refusals are judged: the caller's, then the budgets."""
    has_budget = limits.daily_session_minutes is not None or limits.monthly_session_minutes is not None
    if session_seconds is None and has_budget:
        # Settings refuse a budget without MAX_SESSION_LENGTH_SECONDS; this holds the line if that changes.
        raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, "a budget needs a session length cap")
    now = now.astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    minutes = session_minutes(session_seconds) if session_seconds is not None else 0
    candidates = [
        (Window.CALLER_HOUR, f"caller#{caller}#hour#{hour:%Y-%m-%dT%H}", 1,
         limits.caller_sessions_per_hour or None, hour + timedelta(hours=1)),
        (Window.CALLER_DAY, f"caller#{caller}#day#{day:%Y-%m-%d}", 1,
         limits.caller_sessions_per_day or None, day + timedelta(days=1)),
        (Window.DAILY_BUDGET, f"budget#day#{day:%Y-%m-%d}", minutes,
         limits.daily_session_minutes, day + timedelta(days=1)),
        (Window.MONTHLY_BUDGET, f"budget#month#{month:%Y-%m}", minutes,
         limits.monthly_session_minutes, next_month),
    ]  # fmt: skip
    return tuple(
        Counter(window, key, amount, limit, ends_at, int((ends_at + KEEP_AFTER_END).timestamp()))
        for window, key, amount, limit, ends_at in candidates
        if limit is not None
    )


def remainder(refused: Sequence[Counter], used: Mapping[str, int], shortest_seconds: int) -> int | None:
    """The whole minutes the budgets that refused a token's cap still hold, when that is at least
    `shortest_seconds` (docs/contract.md §12): what the token may be shortened to instead of refused; else
    None. `refused`: those budgets' counters (their amount the cap); `used`: what each holds now."""
    if not refused or not all(counter.window.is_budget for counter in refused):
        return None
    left = min(counter.limit - used.get(counter.key, 0) for counter in refused)
    cap = min(counter.amount for counter in refused)
    return left if left * 60 >= shortest_seconds and 0 < left < cap else None


def shortened(counters: Sequence[Counter], minutes: int) -> tuple[Counter, ...]:
    """The token's counters with each budget's amount `minutes` (a remainder); the caller's unchanged."""
    return tuple(
        replace(counter, amount=minutes) if counter.window.is_budget else counter for counter in counters
    )


def budget_counters(now: datetime, limits: Limits) -> tuple[Counter, ...]:
    """The budgets' counters of this moment (whose share used is published), with no caller's."""
    no_callers = Limits(0, 0, limits.daily_session_minutes, limits.monthly_session_minutes)
    return counters_for("", 60, now, no_callers)


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from `now` until `moment`, rounded up, at least 1 (a Retry-After)."""
    return max(1, math.ceil((moment - now).total_seconds()))


def refusal(refused: LedgerRefused, now: datetime) -> TokenVendorError:
    """The answer to a refused reservation: paused first, then the caller's limit, then the budget.

    Retry-After is the time until the refusing window ends, the later one when two refuse: the caller could
    not have a token before both have ended.
    """
    if refused.paused:
        return TokenVendorError(ErrorCode.MINTING_PAUSED, "the operator has paused minting")
    caller = [counter for counter in refused.refused if not counter.window.is_budget]
    chosen = caller or [counter for counter in refused.refused if counter.window.is_budget]
    if not chosen:
        raise ValueError("a refusal names no counter")
    ends_at = max(counter.ends_at for counter in chosen)
    code = ErrorCode.QUOTA_EXCEEDED if caller else ErrorCode.BUDGET_EXHAUSTED
    detail = "full: " + ", ".join(str(counter.window) for counter in chosen)
    return TokenVendorError(code, detail, retry_after=str(seconds_until(ends_at, now)))
