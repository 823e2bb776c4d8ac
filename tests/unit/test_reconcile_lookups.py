"""The pass's verdict step (reconcile_lookups.py): each open reservation looked up by its label, oldest first,
no lookup started that could not finish in the pass's time, and the proof listed once, after the lookups, only
when a verdict needs it. A fake session list and a fake clock: no network, no waiting."""

from __future__ import annotations

import threading
import time

import pytest

from token_vendor import reconcile_lookups
from token_vendor.domain.reconciliation import OpenReservation, Session, SessionListFailed
from token_vendor.reconcile_lookups import LOOKUP_SECONDS, verdicts_at_anam

PREFIX = "shop"
NOW = int(time.time())  # the step judges against the real clock


def reservation(number: int, *, expired: bool = False) -> OpenReservation:
    created = NOW - (7200 if expired else 60) + number  # a higher number: a younger reservation
    reservation_id = f"{number:032x}"
    return OpenReservation(
        reservation_id, 10, {"d": 10}, created, created + 3720, f"{PREFIX}:{reservation_id}"
    )


class FakeSessionList:
    """Anam's list as the pass sees it: each lookup takes `seconds` of the fake clock."""

    def __init__(self, sessions: list[Session], seconds: float = 1.0, fail: bool = False) -> None:
        self.sessions, self.seconds, self.fail = sessions, seconds, fail
        self.calls: list[tuple[str, str]] = []
        self.now = 0.0
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def find(self, api_key: str, search: str, deadline: float) -> list[Session]:
        with self._lock:
            self.calls.append(("find", search))
            self.now += self.seconds
            assert self.now <= deadline, "a lookup ran past its own bound"
        if self.fail:
            raise SessionListFailed("Anam answered 503")
        return [session for session in self.sessions if search in (session.label or "")]

    def latest(self, api_key: str, search: str, deadline: float) -> list[Session]:
        with self._lock:
            self.calls.append(("latest", search))
        return self.sessions


@pytest.fixture(autouse=True)
def one_lookup_at_a_time(monkeypatch):
    """One worker, so that the fake clock's order is the order of the lookups."""
    monkeypatch.setattr(reconcile_lookups, "LOOKUPS_AT_ONCE", 1)


def test_lookups_start_oldest_first_and_none_that_could_not_finish_before_the_listings_time():
    anam = FakeSessionList([], seconds=2.0)
    reservations = [reservation(number) for number in (5, 1, 4, 2, 3)]
    # Lookups must end by the deadline less the listing's time: each needs LOOKUP_SECONDS to start.
    deadline = 2 * LOOKUP_SECONDS + 5.0

    judged = verdicts_at_anam(anam, reservations, "key", PREFIX, deadline, clock=anam.clock)

    assert [search for _, search in anam.calls] == [f"{PREFIX}:{number:032x}" for number in (1, 2, 3)]
    assert set(judged) == {f"{number:032x}" for number in (1, 2, 3)}  # the others wait for the next pass


def test_with_no_time_for_one_lookup_anam_is_not_asked():
    anam = FakeSessionList([])
    judged = verdicts_at_anam(
        anam, [reservation(1)], "key", PREFIX, 2 * LOOKUP_SECONDS - 0.1, clock=anam.clock
    )
    assert (judged, anam.calls) == ({}, [])


def test_the_proof_is_listed_once_after_every_lookup_and_only_when_a_verdict_needs_it():
    expired = [reservation(1, expired=True), reservation(2, expired=True)]
    later = Session(f"{PREFIX}:{'f' * 32}", float(NOW), None, None)
    anam = FakeSessionList([later])

    judged = verdicts_at_anam(anam, expired, "key", PREFIX, 60.0, clock=anam.clock)

    assert [kind for kind, _ in anam.calls] == ["find", "find", "latest"]
    assert anam.calls[-1] == ("latest", PREFIX)
    assert all(verdict.used_minutes == 0 for verdict in judged.values())

    ended = Session(f"{PREFIX}:{1:032x}", NOW - 30.0, NOW - 10.0, 20_000)
    anam = FakeSessionList([ended])
    verdicts_at_anam(anam, [reservation(1)], "key", PREFIX, 60.0, clock=anam.clock)
    assert [kind for kind, _ in anam.calls] == ["find"]  # its session ended: no proof needed


def test_a_failing_lookup_fails_the_step_and_starts_no_other():
    anam = FakeSessionList([], fail=True)
    with pytest.raises(SessionListFailed):
        verdicts_at_anam(anam, [reservation(1), reservation(2)], "key", PREFIX, 60.0, clock=anam.clock)
    assert anam.calls == [("find", f"{PREFIX}:{1:032x}")]
