"""docs/contract.md §11 as properties of the settlement: for any open reservations (any minutes, any windows
still held), any sessions Anam lists for them (ended, running, several, none, longer than reserved, others
whose label only contains theirs), and any number of passes overlapping in any order, each reservation is
settled at most once, as the contract says (tests/properties/spec_model.py, never the code's own `judge`),
never gives back more than it held, and the budgets end where one settlement of each would leave them."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.properties import spec_model as spec
from tests.properties import strategies as gen
from tests.support.reservation_book_fake import FakeReservationBook
from token_vendor.domain.reconciliation import (
    OpenReservation,
    Session,
    adjustments,
    client_label,
    judge,
    reservation_id_of,
    verdicts,
)
from token_vendor.reconcile import settle_all

PREFIX = "stack"
NOW = 1_800_000_000.0
DAY, MONTH = "budget#day#d", "budget#month#m"
DEADLINE = float("inf")  # the passes' time is not what these properties are about

lengths_ms = st.none() | st.integers(min_value=0, max_value=3 * 3600 * 1000)
sessions_of_a_token = st.lists(
    st.tuples(st.booleans(), lengths_ms, st.integers(min_value=-7200, max_value=7200)), max_size=3
)


@st.composite
def reservations(draw: Any) -> tuple[OpenReservation, list[tuple[bool, int | None, int]]]:
    minutes = draw(st.integers(min_value=1, max_value=120))
    # Still held, given back already, never counted, or a record claiming more than was reserved.
    held_day = draw(st.sampled_from([minutes, 0, None, minutes + draw(st.integers(1, 30))]))
    windows = {MONTH: minutes} | ({DAY: held_day} if held_day is not None else {})
    created = NOW - draw(st.integers(min_value=0, max_value=3 * 3600))
    reservation_id = uuid.uuid4().hex
    label = client_label("website", PREFIX, reservation_id)
    reservation = OpenReservation(reservation_id, minutes, windows, int(created), int(created) + 3720, label)
    return reservation, draw(sessions_of_a_token)


def as_anam(
    reservation: OpenReservation, drawn: list[tuple[bool, int | None, int]]
) -> list[spec.AnamSession]:
    start = reservation.created_at + 60
    return [
        (start + offset, None if running else start + offset + 1, None if running else length)
        for running, length, offset in drawn
    ]


def anam_sessions(reservation: OpenReservation, drawn: list[tuple[bool, int | None, int]]) -> list[Session]:
    return [Session(reservation.label, *session) for session in as_anam(reservation, drawn)]


def search_returns(reservation: OpenReservation, drawn: list[tuple[bool, int | None, int]]) -> list[Session]:
    """What the search by its label may return: its sessions, and one whose label only contains its label
    (a persona's label put in front), which is not its session."""
    return [
        *anam_sessions(reservation, drawn),
        Session(f"x:{reservation.label}", NOW - 100, NOW - 50, 9_999_999),
    ]


@gen.PURE
@given(
    drawn=reservations(),
    later_starts=st.lists(st.floats(min_value=NOW - 9000, max_value=NOW), max_size=2),
)
def test_each_verdict_is_the_contracts(drawn, later_starts):
    reservation, sessions = drawn
    listing = [Session(f"{PREFIX}:{uuid.uuid4().hex}", start, None, None) for start in later_starts]
    listing += [
        Session(f"another:{uuid.uuid4().hex}", NOW, None, None)
    ]  # another deployment's proves nothing

    verdict = verdicts(
        [reservation], {reservation.id: search_returns(reservation, sessions)}, listing, PREFIX, NOW
    )

    expected = spec.minutes_used(
        as_anam(reservation, sessions), reservation.token_expires_at, later_starts, NOW
    )
    assert verdict[reservation.id].used_minutes == expected


@gen.PURE
@given(drawn=reservations(), latest_start=st.none() | st.floats(min_value=NOW - 9000, max_value=NOW))
def test_a_settlement_never_gives_back_more_than_the_reservation_holds(drawn, latest_start):
    reservation, sessions = drawn
    verdict = judge(reservation, anam_sessions(reservation, sessions), latest_start, NOW)
    if not verdict.settles:
        return
    changes = adjustments(reservation.windows, verdict.used_minutes or 0, reservation.minutes)
    for key, change in changes.items():
        assert -change <= min(reservation.windows[key], reservation.minutes)  # never more than it reserved


@gen.PURE
@given(drawn=reservations())
def test_without_a_session_nothing_goes_back_without_proof(drawn):
    reservation, _ = drawn
    assert not judge(reservation, [], None, NOW).settles
    assert not judge(reservation, [], float(reservation.token_expires_at), NOW).settles


@gen.PURE
@given(
    drawn=st.lists(reservations(), min_size=1, max_size=6),
    passes=st.integers(min_value=1, max_value=4),
    order=st.randoms(use_true_random=False),
    other_sessions=st.lists(st.floats(min_value=NOW - 9000, max_value=NOW), max_size=3),
)
def test_overlapping_and_repeated_passes_settle_each_reservation_once(drawn, passes, order, other_sessions):
    listing = [Session(f"{PREFIX}:{uuid.uuid4().hex}", start, start + 5, 5000) for start in other_sessions]
    listing += [Session(f"another:{uuid.uuid4().hex}", NOW, NOW + 5, 5000)]  # another deployment's
    reserved = [reservation for reservation, _ in drawn]
    counters = {DAY: 10_000, MONTH: 10_000}
    book = FakeReservationBook(reserved, counters)
    found = {reservation.id: search_returns(reservation, sessions) for reservation, sessions in drawn}
    judged = verdicts(reserved, found, listing, PREFIX, NOW)

    # Every pass reads the open reservations before any settles (the widest overlap), then they settle in
    # an interleaved order; one more pass runs after them all.
    snapshots = [book.open_reservations(0) for _ in range(passes)]
    steps = [(index, reservation) for index, snapshot in enumerate(snapshots) for reservation in snapshot]
    order.shuffle(steps)
    for _, reservation in steps:
        settle_all(book, book, [reservation], judged, DEADLINE, NOW)
    settle_all(book, book, book.open_reservations(0), judged, DEADLINE, NOW)

    expected = dict(counters)
    for reservation, sessions in drawn:
        used = spec.minutes_used(
            as_anam(reservation, sessions), reservation.token_expires_at, list(other_sessions), NOW
        )
        assert book.settlements.get(reservation.id, 0) == (0 if used is None else 1)
        if used is not None:
            for key, held in reservation.windows.items():
                expected[key] = spec.budget_after(expected[key], held, used, reservation.minutes)
    assert book.counters == expected


@gen.PURE
@given(
    persona_label=st.none() | st.text(max_size=30),
    prefix=st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True),
)
def test_a_label_names_its_reservation_and_deployment_whatever_the_personas_label(persona_label, prefix):
    reservation_id = uuid.uuid4().hex
    label = client_label(persona_label, prefix, reservation_id)
    assert reservation_id_of(label, prefix) == reservation_id
    assert reservation_id_of(label, prefix + "x") is None
    assert reservation_id_of(label, "x" + prefix) is None
