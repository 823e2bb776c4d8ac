"""An in-memory spend ledger and reservations' records with the DynamoDB adapters' semantics, for unit tests
of the guard's rules: each counter is a write of its own (some may accept while another refuses), a give-back
never creates a count, and a record changes state only from the state it is expected in, or under its own
owner's mark."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from token_vendor.domain.records import ReservationRecord
from token_vendor.domain.settlement import Outcome
from token_vendor.domain.spend_guard import Added, Counter
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

    def apply(self, changes: Mapping[str, int], deadline: float) -> dict[str, Outcome]:
        with self._lock:
            self.deadlines.append(deadline)
            outcomes = {}
            for key, change in changes.items():
                self.writes += 1
                if self.failing or key in self.failing_keys:
                    outcomes[key] = Outcome.NOT_APPLIED
                elif key in self.counts:
                    self.counts[key] += change
                    outcomes[key] = Outcome.APPLIED
                else:
                    outcomes[key] = Outcome.DECLINED
            return outcomes

    def used(
        self, counters: Sequence[Counter], deadline: float, *, consistent: bool = False
    ) -> Mapping[str, int]:
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
        self.failing = False  # every write surely fails
        self.refusing_new = False  # only writing a new record fails
        self._lock = threading.Lock()

    def open_record(self, record: ReservationRecord, deadline: float) -> Outcome:
        with self._lock:
            if self.failing or self.refusing_new:
                return Outcome.NOT_APPLIED
            self.records.setdefault(
                record.id, {"state": "open", "windows": dict(record.windows), "record": record}
            )
            return Outcome.APPLIED

    def extend_expiry(self, reservation_id: str, token_expires_at: int, deadline: float) -> Outcome:
        with self._lock:
            record = self.records.get(reservation_id)
            if self.failing:
                return Outcome.NOT_APPLIED
            if record is None or int(str(record.get("tokenExpiresAt", 0))) >= token_expires_at:
                return Outcome.DECLINED
            record["tokenExpiresAt"] = token_expires_at
            return Outcome.APPLIED

    def claim(
        self, record: ReservationRecord, changes: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        with self._lock:
            if self.failing:
                return Outcome.NOT_APPLIED
            held = self.records.get(record.id)
            if held is not None and held["state"] != "open" and held.get("owner") != owner:
                return Outcome.DECLINED
            self.records[record.id] = {
                "state": "pending", "windows": dict(record.windows), "record": record,
                "changes": dict(changes), "owner": owner,
            }  # fmt: skip
            return Outcome.APPLIED

    def finish(
        self, reservation_id: str, remainder: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        with self._lock:
            if self.failing:
                return Outcome.NOT_APPLIED
            record = self.records.get(reservation_id)
            if record is None or record.get("owner") != owner:
                return Outcome.DECLINED
            record.pop("owner")
            record["changes"] = dict(remainder)
            record["state"] = "pending" if remainder else "settled"
            return Outcome.APPLIED
