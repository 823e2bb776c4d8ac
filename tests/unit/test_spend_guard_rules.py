"""The spend guard's pure rules (domain/spend_guard.py): what a token costs, which counters it adds to, when
each window ends, and how a caller is keyed."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from token_vendor.domain.spend_guard import (
    KEEP_AFTER_END,
    Counter,
    Limits,
    Window,
    caller_key,
    counters_for,
    remainder,
    session_minutes,
)

NOW = datetime(2026, 12, 31, 23, 40, 15, tzinfo=UTC)
HASH_KEY = "test-anam-key"
CALLER = "203.0.113.7"


@pytest.mark.parametrize(("seconds", "minutes"), [(1, 1), (60, 1), (61, 2), (600, 10), (601, 11)])
def test_a_session_costs_its_length_cap_in_whole_minutes_rounded_up(seconds, minutes):
    assert session_minutes(seconds) == minutes


def test_a_token_reserves_the_callers_hour_and_day_and_both_budgets_in_utc():
    local_time = NOW.astimezone(ZoneInfo("Pacific/Auckland"))  # already 1 January there
    counters = counters_for("c", 600, local_time, Limits(10, 30, 500, 9000))
    assert [(c.window, c.key, c.amount, c.limit) for c in counters] == [
        (Window.CALLER_HOUR, "caller#c#hour#2026-12-31T23", 1, 10),
        (Window.CALLER_DAY, "caller#c#day#2026-12-31", 1, 30),
        (Window.DAILY_BUDGET, "budget#day#2026-12-31", 10, 500),
        (Window.MONTHLY_BUDGET, "budget#month#2026-12", 10, 9000),
    ]


def test_each_window_ends_at_its_utc_boundary_and_its_item_outlives_it_for_cleanup_only():
    hour, day, daily, monthly = counters_for("c", 600, NOW, Limits(10, 30, 500, 9000))
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    assert hour.ends_at == day.ends_at == daily.ends_at == monthly.ends_at == new_year
    assert hour.expires_at == int((new_year + KEEP_AFTER_END).timestamp())


def test_a_month_ends_on_the_first_of_the_next_whatever_its_length():
    february = datetime(2028, 2, 29, 12, tzinfo=UTC)
    *_, monthly = counters_for("c", 60, february, Limits(0, 0, None, 100))
    assert monthly.ends_at == datetime(2028, 3, 1, tzinfo=UTC)


def test_a_limit_of_zero_or_an_unset_budget_reserves_nothing_there():
    assert counters_for("c", 600, NOW, Limits(0, 0, None, None)) == ()


def test_the_caller_is_keyed_by_an_hmac_that_needs_the_key_and_never_holds_the_identity():
    key = caller_key(CALLER, HASH_KEY)
    assert CALLER not in key
    assert len(key) == 32
    assert key == caller_key(CALLER, HASH_KEY)
    assert key != caller_key(CALLER, "another-key")
    assert key != caller_key("203.0.113.8", HASH_KEY)


def budget(key: str, limit: int, cap_minutes: int = 10) -> Counter:
    return Counter(Window.MONTHLY_BUDGET, key, cap_minutes, limit, NOW, 0)


@pytest.mark.parametrize(
    ("limits_and_used", "shortest_seconds", "granted"),
    [
        ({"month": (25, 20)}, 120, 5),  # 5 minutes left of a 10-minute cap: granted
        ({"month": (25, 20), "day": (100, 98)}, 120, 2),  # the tighter budget decides
        ({"month": (25, 20)}, 360, None),  # 5 minutes left, 6 asked at least: refused
        ({"month": (25, 25)}, 60, None),  # nothing left
        ({"month": (25, 26)}, 60, None),  # a count read high: nothing left, never a negative grant
        ({"month": (100, 10)}, 60, None),  # a whole cap left: no remainder to grant
    ],
)
def test_a_remainder_is_the_least_any_refusing_budget_has_left_when_it_is_long_enough(
    limits_and_used, shortest_seconds, granted
):
    refused = [budget(key, limit) for key, (limit, _) in limits_and_used.items()]
    used = {key: held for key, (_, held) in limits_and_used.items()}
    assert remainder(refused, used, shortest_seconds) == granted


def test_a_caller_limit_is_never_answered_with_a_remainder():
    hour = Counter(Window.CALLER_HOUR, "caller#x#hour", 1, 10, NOW, 0)
    assert remainder([hour], {"caller#x#hour": 10}, 60) is None
