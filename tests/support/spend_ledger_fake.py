"""An in-memory spend ledger and reservations' records with the DynamoDB adapters' semantics, for unit tests
of the guard's rules: each counter is a write of its own (some may accept while another refuses), a give-back
never creates a count, and a record changes state only from the state it is expected in."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from token_vendor.domain.spend_guard import Added, Counter, ReservationRecord
from token_vendor.errors import ErrorCode, TokenVendorError


def _unavailable() -> TokenVendorError:
    return TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, "DynamoDB: ThrottlingException")


class FakeSpendLedger:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.expires_at: dict[str, int] = {}
        self.paused = False
        self.failing = False  # every call fails as DynamoDB would after the retries
        self.failing_keys: set[str] = set()  # writes to these counters fail
        self.deadlines: list[float] = []
        self.writes = 0
        self._lock = threading.Lock()

    def add(self, counters: Sequence[Counter], deadline: float) -> Added:
        with self._lock:
            self.deadlines.append(deadline)
            if self.failing:
                return Added(paused=None, failure=_unavailable())
            accepted, refused = [], []
            failure = None
            for counter in counters:
                self.writes += 1
                if counter.key in self.failing_keys:
                    failure = _unavailable()
                elif self.counts.get(counter.key, 0) > counter.room:
                    refused.append(counter)
                else:
                    self.counts[counter.key] = self.counts.get(counter.key, 0) + counter.amount
                    self.expires_at[counter.key] = counter.expires_at
                    accepted.append(counter)
            return Added(self.paused, tuple(accepted), tuple(refused), failure)

    def subtract(self, counters: Sequence[Counter], deadline: float) -> tuple[Counter, ...]:
        with self._lock:
            self.deadlines.append(deadline)
            lost = []
            for counter in counters:
                self.writes += 1
                if self.failing or counter.key in self.failing_keys:
                    lost.append(counter)
                elif counter.key in self.counts:
                    self.counts[counter.key] -= counter.amount
            return tuple(lost)

    def used(self, counters: Sequence[Counter], deadline: float) -> Mapping[str, int]:
        with self._lock:
            self.deadlines.append(deadline)
            if self.failing:
                raise _unavailable()
            return {
                counter.key: self.counts[counter.key] for counter in counters if counter.key in self.counts
            }


class FakeRecords:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, object]] = {}
        self.failing = False
        self.refusing_new = False  # only writing a new record fails
        self._lock = threading.Lock()

    def open_record(self, record: ReservationRecord, deadline: float) -> None:
        with self._lock:
            if self.failing or self.refusing_new:
                raise _unavailable()
            assert record.id not in self.records
            self.records[record.id] = {"state": "open", "windows": dict(record.windows), "record": record}

    def claim_record(self, reservation_id: str, deadline: float) -> bool:
        return self._move(reservation_id, "open", "giving_back")

    def settle_record(self, reservation_id: str, deadline: float) -> None:
        self._move(reservation_id, "giving_back", "settled")

    def reopen_record(self, reservation_id: str, windows: Mapping[str, int], deadline: float) -> None:
        if self._move(reservation_id, "giving_back", "open"):
            self.records[reservation_id]["windows"] = dict(windows)

    def _move(self, reservation_id: str, source: str, target: str) -> bool:
        with self._lock:
            if self.failing:
                raise _unavailable()
            record = self.records.get(reservation_id)
            if record is None or record["state"] != source:
                return False
            record["state"] = target
            return True
