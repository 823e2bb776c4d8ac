"""An in-memory reservation book with the DynamoDB adapter's semantics (adapters/dynamodb_reservations.py),
for the properties of the settlement: a record leaves `open` by a conditional write on its state, once, and
only its owner lets it go. It is the ledger of its counters too (`apply`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

from token_vendor.domain.reconciliation import OpenReservation
from token_vendor.domain.settlement import Outcome, Pending


class FakeReservationBook:
    def __init__(self, reservations: list[OpenReservation], counters: Mapping[str, int]) -> None:
        self.reservations = {reservation.id: reservation for reservation in reservations}
        self.state = dict.fromkeys(self.reservations, "open")
        self.settlements: dict[str, int] = {}  # id -> how many times it left `open`
        self.counters = dict(counters)
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    def open_reservations(self, deadline: float) -> list[OpenReservation]:
        with self._lock:
            return [self.reservations[key] for key, state in self.state.items() if state != "settled"]

    def settle(
        self, reservation_id: str, changes: Mapping[str, int], used_minutes: int, owner: str, deadline: float
    ) -> Outcome:
        with self._lock:
            if self.state.get(reservation_id) != "open":
                return Outcome.DECLINED
            self.state[reservation_id] = "pending"
            self._owners[reservation_id] = owner
            pending = Pending(dict(changes), owner, 0)
            self.reservations[reservation_id] = replace(self.reservations[reservation_id], pending=pending)
            self.settlements[reservation_id] = self.settlements.get(reservation_id, 0) + 1
            return Outcome.APPLIED

    def take_over(
        self, reservation_id: str, seen: Pending, changes: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        with self._lock:
            if self.state.get(reservation_id) != "pending" or self._owners.get(reservation_id) != seen.owner:
                return Outcome.DECLINED
            self._owners[reservation_id] = owner
            return Outcome.APPLIED

    def finish(
        self, reservation_id: str, remainder: Mapping[str, int], owner: str, deadline: float
    ) -> Outcome:
        with self._lock:
            if self._owners.get(reservation_id) != owner:
                return Outcome.DECLINED
            self.state[reservation_id] = "pending" if remainder else "settled"
            del self._owners[reservation_id]
            return Outcome.APPLIED

    def apply(self, changes: Mapping[str, int], deadline: float) -> dict[str, Outcome]:
        with self._lock:
            outcomes = {}
            for key, change in changes.items():
                if key in self.counters:
                    self.counters[key] += change
                    outcomes[key] = Outcome.APPLIED
                else:
                    outcomes[key] = Outcome.DECLINED
            return outcomes
