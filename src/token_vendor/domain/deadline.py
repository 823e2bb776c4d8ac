"""Time, as every outside call spends it: the deadline a request works to, and one retry loop bounded by it.

A deadline is a `time.monotonic()` value. Each entry path takes its own from the Lambda's remaining time minus
ANSWER_MARGIN_SECONDS, the time kept back to answer after the last outside call, so that the caller always
gets the function's own JSON answer and never API Gateway's bare 503 for a function that timed out.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Kept back from the Lambda's remaining time for answering after the last outside call.
ANSWER_MARGIN_SECONDS = 0.5
# A give-back after the Anam call takes three DynamoDB round trips in series (docs/contract.md §9): the record
# claimed, the counters changed (all at once), the record let go. Each has one attempt's time (connect and
# read timeouts, adapters/dynamodb_table.py) and retries of a throttled or contended write inside it; the
# reservation's record is written before the Anam call's deadline, so the give-back's time is all its own.
GIVE_BACK_ROUND_TRIP_SECONDS = 1.5
GIVE_BACK_STEPS = 3
# Kept back from the Anam call, whatever the deadline, when a reservation may have to be given back after it:
# its round trips, and a little for the Anam call's own end to run over its deadline.
GIVE_BACK_SECONDS = GIVE_BACK_STEPS * GIVE_BACK_ROUND_TRIP_SECONDS + 0.5


def deadline_from(remaining_seconds: float, clock: Callable[[], float] = time.monotonic) -> float:
    """The deadline of an invocation with `remaining_seconds` left (Lambda's context), the answer's margin
    kept back."""
    return clock() + remaining_seconds - ANSWER_MARGIN_SECONDS


def give_back_steps(deadline: float) -> tuple[float, ...]:
    """The deadline of each of a give-back's round trips, the last one `deadline`: each step's time is its
    own, however long the ones before it took."""
    return tuple(
        deadline - (GIVE_BACK_STEPS - 1 - step) * GIVE_BACK_ROUND_TRIP_SECONDS
        for step in range(GIVE_BACK_STEPS)
    )


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: the wait before retry n (from 0) is up to base x 2^n, capped."""

    base_seconds: float
    cap_seconds: float

    def delay(self, retry: int, jitter: float) -> float:
        return jitter * min(self.cap_seconds, self.base_seconds * 2.0**retry)


NO_BACKOFF = Backoff(0.0, 0.0)


class Retry(Exception):
    """Raised by an attempt that failed in a way worth another try; `failure` says how, for the log."""

    def __init__(self, failure: str, cause: BaseException | None = None) -> None:
        super().__init__(failure)
        self.failure = failure
        self.cause = cause


class GaveUp(Exception):
    """No attempt succeeded: every attempt was used, or no time was left for the next one.

    `started` is how many attempts ran (0: none had time to start); `failure` and `cause` are the last one's.
    """

    def __init__(self, failure: str, *, started: int, out_of_time: bool, cause: BaseException | None) -> None:
        super().__init__(failure)
        self.failure = failure
        self.started = started
        self.out_of_time = out_of_time
        self.cause = cause

    def describe(self) -> str:
        if self.out_of_time:
            return f"{self.failure}; no time left to retry"
        return f"{self.failure}, after {self.started - 1} retries"


def retry_until(
    attempt: Callable[[float], T],
    *,
    attempts: int,
    deadline: float,
    backoff: Backoff = NO_BACKOFF,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
    on_retry: Callable[[int, str], None] | None = None,
) -> T:
    """`attempt(seconds_left)` until it returns or raises anything but `Retry`, or attempts or time run out.

    No attempt starts at or past `deadline`, and no backoff ends past it: the call gives up instead, raising
    `GaveUp` with the last failure. `on_retry(attempt_number, failure)` runs before each retry (to log it).
    """
    failure, cause = "no time left", None
    for number in range(attempts):
        remaining = deadline - clock()
        if remaining <= 0:
            raise GaveUp(failure, started=number, out_of_time=True, cause=cause)
        try:
            return attempt(remaining)
        except Retry as retry:
            failure, cause = retry.failure, retry.cause
        if number == attempts - 1:
            break
        delay = backoff.delay(number, jitter())
        if clock() + delay >= deadline:
            raise GaveUp(failure, started=number + 1, out_of_time=True, cause=cause)
        if on_retry is not None:
            on_retry(number + 1, failure)
        sleep(delay)
    raise GaveUp(failure, started=attempts, out_of_time=False, cause=cause)
