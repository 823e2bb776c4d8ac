"""docs/contract.md §11's rules, one case each: which session a label names, what a session used, and the
verdict on a reservation (the properties in tests/properties cover the space between)."""

from __future__ import annotations

import pytest

from token_vendor.domain.reconciliation import (
    OpenReservation,
    Session,
    adjustments,
    client_label,
    is_its_session,
    judge,
    reservation_id_of,
    search_for,
    verdicts,
)

ID = "0123456789abcdef0123456789abcdef"
CREATED = 1_800_000_000
RESERVATION = OpenReservation(ID, 10, {"budget#day#d": 10, "budget#month#m": 10}, CREATED, CREATED + 3720)


def test_the_personas_own_label_is_kept_in_front():
    assert client_label("website", "shop", ID) == f"website:shop:{ID}"
    assert client_label(None, "shop", ID) == f"shop:{ID}"
    assert client_label("", "shop", ID) == f"shop:{ID}"


@pytest.mark.parametrize(
    ("label", "found"),
    [
        (f"shop:{ID}", ID),
        (f"web:site:shop:{ID}", ID),
        (f"myshop:{ID}", None),
        (f"shop:{ID[:-1]}", None),
        (f"shop:{ID}:x", None),
        ("shop", None),
        (None, None),
    ],
)
def test_a_label_names_a_reservation_of_this_deployment_only(label, found):
    assert reservation_id_of(label, "shop") == found


@pytest.mark.parametrize(
    ("session", "minutes"),
    [
        (Session("l", 0.0, 121.0, 121_000), 3),
        (Session("l", 0.0, 999.0, 60_000), 1),  # the reported length wins over the times
        (Session("l", 0.0, 60.0, None), 1),
        (Session("l", 0.0, 60.5, None), 2),
        (Session("l", 0.0, None, None), None),
        (Session("l", 0.0, 0.0, 0), 0),
    ],
)
def test_a_session_costs_its_length_in_minutes_rounded_up(session, minutes):
    assert session.minutes == minutes


def test_an_ended_session_settles_with_its_minutes_and_a_running_one_waits():
    ended = Session(f"shop:{ID}", CREATED + 60, CREATED + 200, 140_000)
    running = Session(f"shop:{ID}", CREATED + 60, None, None)
    assert judge(RESERVATION, [ended], None, CREATED + 300).used_minutes == 3
    assert not judge(RESERVATION, [running], None, CREATED + 300).settles


def test_no_session_settles_as_unused_only_after_expiry_with_a_later_session_listed():
    expiry = RESERVATION.token_expires_at
    assert not judge(RESERVATION, [], expiry + 10, expiry - 1).settles  # the token may still be used
    assert not judge(RESERVATION, [], expiry - 10, expiry + 100).settles  # the listing proves nothing after
    assert not judge(RESERVATION, [], None, expiry + 100).settles
    verdict = judge(RESERVATION, [], expiry + 10, expiry + 100)
    assert (verdict.used_minutes, verdict.session_found) == (0, False)


def test_adjustments_give_back_what_is_held_beyond_the_use_and_add_an_overrun():
    assert adjustments({"d": 10, "m": 10}, 3, 10) == {"d": -7, "m": -7}
    assert adjustments({"m": 10}, 0, 10) == {"m": -10}
    assert adjustments({"d": 10}, 14, 10) == {"d": 4}
    assert adjustments({"d": 10}, 10, 10) == {}
    assert adjustments({"d": 12}, 0, 10) == {
        "d": -10
    }  # a record that claims more gives back what was reserved


LABELLED = OpenReservation(ID, 10, {"budget#day#d": 10}, CREATED, CREATED + 3720, label=f"site:{ID}")


def test_a_reservation_is_searched_by_its_whole_label_or_by_its_id_before_labels_were_kept():
    assert search_for(LABELLED, "site") == f"site:{ID}"
    assert search_for(RESERVATION, "shop") == f"shop:{ID}"


@pytest.mark.parametrize(
    ("label", "its"),
    [
        (f"site:{ID}", True),
        (f"x:site:{ID}", False),  # the search by `site:<id>` may return it; its label only contains ours
        (f"site:{ID}:x", False),
        (None, False),
    ],
)
def test_with_a_label_only_a_session_of_exactly_that_label_is_its_session(label, its):
    assert is_its_session(LABELLED, Session(label, 0.0, None, None), "site") is its


def test_without_a_label_any_label_of_this_deployment_naming_the_reservation_is_its_session():
    assert is_its_session(RESERVATION, Session(f"x:shop:{ID}", 0.0, None, None), "shop")
    assert not is_its_session(RESERVATION, Session(f"other:{ID}", 0.0, None, None), "shop")


def test_verdicts_judge_the_looked_up_reservations_only_with_the_proof_of_the_listing():
    expiry = LABELLED.token_expires_at
    other = OpenReservation("f" * 32, 10, {}, CREATED, CREATED + 3720, label=f"site:{'f' * 32}")
    returned = [Session(f"x:site:{ID}", CREATED + 60, CREATED + 120, 60_000)]  # a partial match only
    proof = [
        Session(f"site:{'a' * 32}", expiry + 5, None, None),
        Session("elsewhere", expiry + 9, None, None),
    ]

    judged = verdicts([LABELLED, other], {ID: returned}, proof, "site", expiry + 100)

    assert set(judged) == {ID}  # `other` was not looked up: no verdict
    assert (judged[ID].used_minutes, judged[ID].session_found) == (0, False)
    assert not verdicts([LABELLED], {ID: returned}, proof[1:], "site", expiry + 100)[ID].settles
