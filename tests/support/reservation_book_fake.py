"""An in-memory reservation book with the DynamoDB adapter's semantics (adapters/dynamodb_reservations.py),
for the properties of the settlement: a record is settled by a conditional write on its state, once."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from token_vendor.domain.reconciliation import OpenReservation


class FakeReservationBook:
    def __init__(self, reservations: list[OpenReservation], counters: Mapping[str, int]) -> None:
        self.reservations = {reservation.id: reservation for reservation in reservations}
        self.state = dict.fromkeys(self.reservations, "open")
        self.settlements: dict[str, int] = {}  # id -> how many times it was settled
        self.counters = dict(counters)
        self._lock = threading.Lock()

    def open_reservations(self, deadline: float) -> list[OpenReservation]:
        with self._lock:
            return [self.reservations[key] for key, state in self.state.items() if state == "open"]

    def settle(self, reservation_id: str, used_minutes: int, deadline: float) -> Mapping[str, int] | None:
        with self._lock:
            if self.state.get(reservation_id) != "open":
                return None
            self.state[reservation_id] = "settled"
            self.settlements[reservation_id] = self.settlements.get(reservation_id, 0) + 1
            return dict(self.reservations[reservation_id].windows)

    def adjust(self, changes: Mapping[str, int], deadline: float) -> None:
        with self._lock:
            for key, change in changes.items():
                if key in self.counters:
                    self.counters[key] += change
