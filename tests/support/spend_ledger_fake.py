"""An in-memory spend ledger with the DynamoDB adapter's semantics, for unit tests of the guard's rules."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from token_vendor.domain.spend_guard import Counter, LedgerRefused
from token_vendor.errors import ErrorCode, TokenVendorError


class FakeSpendLedger:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.expires_at: dict[str, int] = {}
        self.paused = False
        self.failing = False  # every call fails as DynamoDB would after the SDK's retries
        self.deadlines: list[float] = []
        self._lock = threading.Lock()

    def add(self, counters: Sequence[Counter], deadline: float) -> None:
        with self._lock:
            self._check(deadline)
            full = [counter for counter in counters if self.counts.get(counter.key, 0) > counter.room]
            if self.paused or full:
                raise LedgerRefused(paused=self.paused, refused=full)
            for counter in counters:
                self.counts[counter.key] = self.counts.get(counter.key, 0) + counter.amount
                self.expires_at[counter.key] = counter.expires_at

    def subtract(self, counters: Sequence[Counter], deadline: float) -> None:
        with self._lock:
            self._check(deadline)
            for counter in counters:
                if counter.key in self.counts:
                    self.counts[counter.key] -= counter.amount

    def used(self, counters: Sequence[Counter], deadline: float) -> Mapping[str, int]:
        with self._lock:
            self._check(deadline)
            return {
                counter.key: self.counts[counter.key] for counter in counters if counter.key in self.counts
            }

    def _check(self, deadline: float) -> None:
        self.deadlines.append(deadline)
        if self.failing:
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, "DynamoDB: ThrottlingException")
