"""A value fetched from outside, cached per execution environment for its max age (docs/contract.md §6).

Reused for its max age with no call; a transient failure to refresh serves the value already held, anything
else the fetch raises (a configuration error) reaches the caller.

Time bounds: every fetch runs in a thread of its own, which the request waits for only as long as it can. With
nothing held, that is until the caller's deadline (the Lambda's remaining time), so that the SDK's retries
never outlive the invocation: the caller answers 503 in time and the fetch finishes for the next request.
With a value held, a refresh makes one short attempt (its client's business) and is waited for at most
REFRESH_WAIT_SECONDS; then the held value is served. One fetch per value at a time: concurrent first loads
(a request and the init prefetch) share it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger

T = TypeVar("T")

# A refresh while a value is held is waited for this long at most (§6: "about one second"); a slower one goes
# on in the background and updates the value when it succeeds.
REFRESH_WAIT_SECONDS = 1.0
# After a failed refresh, keep serving the held value this long before asking AWS again, so an outage
# does not add a fetch to every request.
STALE_RETRY_SECONDS = 10.0


class FetchFailed(Exception):
    """A transient failure to fetch (throttling, 5xx, timeout, connection error): a held value is served."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Fetch(Generic[T]):
    started: float
    result: Future[T]


class MaxAgeCache(Generic[T]):
    """One fetched value: parsed, cached for its max age, refreshed with the bounds of the module docstring,
    and held when a refresh fails transiently."""

    def __init__(
        self,
        what: str,
        fetch: Callable[[bool], object],
        parse: Callable[[object], T],
        max_age: float,
        clock: Callable[[], float],
    ) -> None:
        self.what = what
        # Its argument: whether this is a refresh of a held value. It raises FetchFailed for a transient
        # failure, and what the caller should see (a configuration error) for any other.
        self._fetch_raw = fetch
        self._parse = parse
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._raw: object = None
        self._fresh_until = 0.0
        self._fetch: _Fetch[T] | None = None

    @property
    def is_empty(self) -> bool:
        return self._value is None

    def start_fetch(self) -> None:
        """Start fetching in the background, unless the value is fresh or a fetch is already running."""
        with self._lock:
            if not self._is_fresh():
                self._running_fetch()

    def get(self, deadline: float | None = None, force_fetch: bool = False) -> T:
        with self._lock:
            if self._is_fresh() and not force_fetch:
                return self._value  # type: ignore[return-value]  # _is_fresh: not None
            fetch = self._running_fetch()
            held = None if force_fetch else self._value
        if held is None:
            try:
                return self._wait(fetch, deadline)
            except TimeoutError:
                raise TokenVendorError(
                    ErrorCode.DEPENDENCY_UNAVAILABLE, f"{self.what}: no answer before the deadline"
                ) from None
        # Waited for from the fetch's start, so that two refreshes started together cost one wait, and a
        # refresh that an earlier request already waited for costs this one nothing.
        until = fetch.started + REFRESH_WAIT_SECONDS
        try:
            return self._wait(fetch, until if deadline is None else min(until, deadline))
        except TimeoutError:
            logger.warning(
                "Refresh is slow; serving the value held",
                extra={"source": self.what, "waited_seconds": REFRESH_WAIT_SECONDS},
            )
            return held

    def _is_fresh(self) -> bool:
        return self._value is not None and self._clock() < self._fresh_until

    def _running_fetch(self) -> _Fetch[T]:
        """The fetch in flight, or a new one (called with the lock held)."""
        if self._fetch is None:
            fetch: _Fetch[T] = _Fetch(self._clock(), Future())
            refresh = self._value is not None
            threading.Thread(
                target=self._run, args=(fetch.result, refresh), name="config-fetch", daemon=True
            ).start()
            self._fetch = fetch
        return self._fetch

    def _wait(self, fetch: _Fetch[T], until: float | None) -> T:
        """The fetch's value or error; TimeoutError when it has neither by `until`."""
        timeout = None if until is None else max(0.0, until - self._clock())
        return fetch.result.result(timeout)

    def _run(self, result: Future[T], refresh: bool) -> None:
        try:
            value = self._fetch_and_parse(refresh)
        except BaseException as exc:  # handed to whoever waits, as if it had been raised to them
            self._finish(result, exc)
        else:
            self._finish(result, value)

    def _finish(self, result: Future[T], outcome: T | BaseException) -> None:
        with self._lock:
            self._fetch = None
        if isinstance(outcome, BaseException):
            result.set_exception(outcome)
        else:
            result.set_result(outcome)

    def _fetch_and_parse(self, refresh: bool) -> T:
        try:
            raw = self._fetch_raw(refresh)
        except FetchFailed as failed:
            return self._on_transient_failure(failed.reason)
        # Parsed again only when it changed: the same text gives the same value.
        value = self._value if self._value is not None and raw == self._raw else self._parse(raw)
        with self._lock:
            self._value, self._raw = value, raw
            self._fresh_until = self._clock() + self._max_age
        return value

    def _on_transient_failure(self, reason: str) -> T:
        held = self._value
        if held is None:
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, f"{self.what}: {reason}")
        with self._lock:
            self._fresh_until = self._clock() + STALE_RETRY_SECONDS
        logger.warning(
            "Refresh failed; serving the value held",
            extra={"source": self.what, "reason": reason, "retry_in_seconds": STALE_RETRY_SECONDS},
        )
        return held
