"""docs/contract.md §9, the rules: the windows a token reserves, their keys and ends, the order of refusals.

Run against the in-memory ledger and records, at a fixed moment: no DynamoDB, no waiting for an hour to pass.
"""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.spend_ledger_fake import FakeRecords, FakeSpendLedger
from token_vendor.domain.deadline import GIVE_BACK_SECONDS
from token_vendor.domain.records import ReservationRecord
from token_vendor.domain.spend_guard import (
    Limits,
)
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.guard import LedgerSpendGuard

NOW = datetime(2026, 12, 31, 23, 40, 15, tzinfo=UTC)
HASH_KEY = "test-anam-key"
CALLER = "203.0.113.7"
DEADLINE = 1e12  # monotonic seconds: never reached in these tests


@pytest.fixture
def ledger() -> FakeSpendLedger:
    return FakeSpendLedger()


def guard(
    ledger: FakeSpendLedger, records: FakeRecords | None = None, **limits: int | None
) -> LedgerSpendGuard:
    return LedgerSpendGuard(ledger, Limits(**limits), records)  # type: ignore[arg-type]


def reserve(guard: LedgerSpendGuard, identity: str = CALLER, seconds: int | None = 600, now: datetime = NOW):
    return guard.reserve(identity, seconds, now, hash_key=HASH_KEY, deadline=DEADLINE)


def refused(guard: LedgerSpendGuard, **kwargs) -> TokenVendorError:
    with pytest.raises(TokenVendorError) as caught:
        reserve(guard, **kwargs)
    return caught.value


def test_no_ledger_key_holds_the_identity(ledger):
    reserve(guard(ledger, daily_session_minutes=100))
    assert ledger.counts
    assert not any(CALLER in key for key in ledger.counts)


def test_a_caller_gets_its_hourly_tokens_then_429_until_the_hour_ends(ledger):
    limited = guard(ledger, caller_sessions_per_hour=2, caller_sessions_per_day=0)
    reserve(limited)
    reserve(limited)
    error = refused(limited)
    assert (error.code, error.retry_after) == (ErrorCode.QUOTA_EXCEEDED, str(60 * 20 - 15))
    reserve(limited, now=NOW + timedelta(minutes=20))


def test_a_caller_over_its_daily_limit_waits_until_the_utc_day_ends(ledger):
    limited = guard(ledger, caller_sessions_per_hour=0, caller_sessions_per_day=1)
    morning = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    reserve(limited, now=morning)
    error = refused(limited, now=morning + timedelta(hours=5))
    assert (error.code, error.retry_after) == (ErrorCode.QUOTA_EXCEEDED, str(10 * 3600))


def test_when_the_hour_and_the_day_both_refuse_retry_after_is_the_later_end(ledger):
    limited = guard(ledger, caller_sessions_per_hour=1, caller_sessions_per_day=1)
    morning = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    reserve(limited, now=morning)
    assert refused(limited, now=morning).retry_after == str(14 * 3600 + 30 * 60)


def test_one_callers_limit_leaves_another_caller_alone(ledger):
    limited = guard(ledger, caller_sessions_per_hour=1)
    reserve(limited)
    reserve(limited, identity="2001:db8:1:2::/64")


def test_a_spent_daily_budget_is_503_until_midnight_utc_for_every_caller(ledger):
    limited = guard(ledger, daily_session_minutes=25)
    reserve(limited, identity="a")
    reserve(limited, identity="b")
    error = refused(limited, identity="c", now=NOW.replace(hour=12))
    assert (error.code, error.retry_after) == (ErrorCode.BUDGET_EXHAUSTED, str(12 * 3600 - 40 * 60 - 15))


def test_a_budget_takes_a_token_whose_minutes_just_fit(ledger):
    limited = guard(ledger, daily_session_minutes=20)
    reserve(limited, identity="a", seconds=600)
    reserve(limited, identity="b", seconds=600)
    assert refused(limited, identity="c", seconds=1).code is ErrorCode.BUDGET_EXHAUSTED


def test_a_session_longer_than_the_whole_budget_is_never_reserved(ledger):
    assert refused(guard(ledger, daily_session_minutes=5), seconds=600).code is ErrorCode.BUDGET_EXHAUSTED


def test_a_spent_monthly_budget_waits_for_the_next_month(ledger):
    limited = guard(ledger, monthly_session_minutes=10)
    reserve(limited, identity="a", now=datetime(2026, 12, 3, tzinfo=UTC))
    error = refused(limited, identity="b", now=datetime(2026, 12, 30, tzinfo=UTC))
    assert (error.code, error.retry_after) == (ErrorCode.BUDGET_EXHAUSTED, str(2 * 86400))


def test_a_refusal_reserves_nothing_anywhere(ledger):
    limited = guard(ledger, caller_sessions_per_hour=5, daily_session_minutes=10)
    reserve(limited, identity="a")
    before = dict(ledger.counts)
    refused(limited, identity="b")
    assert {key: count for key, count in ledger.counts.items() if count} == before


def test_paused_answers_first_even_when_the_caller_and_the_budget_would_refuse(ledger):
    limited = guard(ledger, caller_sessions_per_hour=1, daily_session_minutes=10)
    reserve(limited)
    ledger.paused = True
    error = refused(limited)
    assert (error.code, error.status) == (ErrorCode.MINTING_PAUSED, 503)


def test_the_callers_limit_answers_before_a_spent_budget(ledger):
    limited = guard(ledger, caller_sessions_per_hour=1, daily_session_minutes=10)
    reserve(limited)
    assert refused(limited).code is ErrorCode.QUOTA_EXCEEDED


def test_resuming_lets_tokens_through_again(ledger):
    limited = guard(ledger)
    ledger.paused = True
    refused(limited)
    ledger.paused = False
    reserve(limited)


def test_a_failing_ledger_is_503_and_its_writes_end_early_enough_for_a_give_back(ledger):
    ledger.failing = True
    error = refused(guard(ledger))
    assert (error.code, ledger.deadlines) == (
        ErrorCode.DEPENDENCY_UNAVAILABLE,
        [DEADLINE - GIVE_BACK_SECONDS],
    )


def test_release_gives_the_whole_reservation_back(ledger):
    limited = guard(ledger, caller_sessions_per_hour=1, daily_session_minutes=10)
    reservation = reserve(limited)
    limited.release(reservation)
    assert set(ledger.counts.values()) == {0}
    reserve(limited)


def test_a_counter_that_accepted_while_another_refused_is_given_back_at_once(ledger):
    limited = guard(ledger, caller_sessions_per_hour=5, daily_session_minutes=10)
    reserve(limited, identity="a")
    assert refused(limited, identity="b").code is ErrorCode.BUDGET_EXHAUSTED
    assert sorted(count for key, count in ledger.counts.items() if "caller" in key) == [0, 0, 1, 1]


def test_a_ledger_that_fails_on_one_counter_gives_the_others_back_and_answers_503(ledger):
    limited = guard(ledger, caller_sessions_per_hour=5, daily_session_minutes=10)
    ledger.failing_keys = {key for key in ("budget#day#2026-12-31",)}
    assert refused(limited).code is ErrorCode.DEPENDENCY_UNAVAILABLE
    assert set(ledger.counts.values()) == {0}


def test_a_reservation_with_no_counters_writes_nothing(ledger):
    reserve(guard(ledger, caller_sessions_per_hour=0, caller_sessions_per_day=0))
    assert ledger.writes == 0


def test_release_that_fails_is_logged_counted_and_never_raises(ledger, logs, capsys):
    limited = guard(ledger)
    reservation = reserve(limited)
    ledger.failing = True
    limited.release(reservation)
    assert logs.with_message("Could not give a reservation back")


def test_with_reconciliation_a_kept_token_leaves_an_open_record_of_its_budget_minutes(ledger):
    records = FakeRecords()
    limited = guard(ledger, records, daily_session_minutes=100, monthly_session_minutes=1000)
    reservation = reserve(limited)
    limited.keep(reservation, None)
    record = records.records[reservation.id]
    assert record["state"] == "open"
    assert record["windows"] == {"budget#day#2026-12-31": 10, "budget#month#2026-12": 10}
    written = record["record"]
    assert isinstance(written, ReservationRecord)
    assert (written.minutes, written.created_at) == (10, int(NOW.timestamp()))
    assert written.token_expires_at == written.created_at + 3720
    assert written.open_shard == f"open#{int(reservation.id, 16) % 10}"
    assert len(reservation.id) == 32


def test_with_reconciliation_a_release_claims_gives_back_and_settles_the_record(ledger):
    records = FakeRecords()
    limited = guard(ledger, records, caller_sessions_per_hour=1, daily_session_minutes=10)
    reservation = reserve(limited)
    limited.release(reservation)
    assert records.records[reservation.id]["state"] == "settled"
    assert set(ledger.counts.values()) == {0}
    limited.release(reservation)  # a second give-back finds nothing to claim: nothing given back twice
    assert set(ledger.counts.values()) == {0}


def test_a_budget_that_surely_could_not_be_given_back_is_left_pending_for_a_pass(ledger, logs):
    records = FakeRecords()
    limited = guard(ledger, records, daily_session_minutes=100, monthly_session_minutes=1000)
    reservation = reserve(limited)
    ledger.failing_keys = {"budget#month#2026-12"}
    limited.release(reservation)
    record = records.records[reservation.id]
    assert (record["state"], record["changes"], "owner" in record) == (
        "pending",
        {"budget#month#2026-12": -10},
        False,
    )
    assert ledger.counts["budget#day#2026-12-31"] == 0
    assert logs.with_message("Could not surely give minutes back")


def test_a_token_that_outlives_the_assumed_hour_moves_its_records_expiry_to_the_tokens_own(ledger):
    records = FakeRecords()
    limited = guard(ledger, records, daily_session_minutes=100)
    reservation = reserve(limited)
    later = int(NOW.timestamp()) + 7200
    limited.keep(reservation, later)
    assert records.records[reservation.id]["tokenExpiresAt"] == later


def test_an_unclaimable_record_keeps_the_budget_for_the_reconciliation_but_gives_the_callers_back(ledger):
    records = FakeRecords()
    limited = guard(ledger, records, caller_sessions_per_hour=1, daily_session_minutes=10)
    reservation = reserve(limited)
    wait_until_recorded(records, reservation.id)
    records.failing = True
    limited.release(reservation)
    assert ledger.counts["budget#day#2026-12-31"] == 10
    assert {count for key, count in ledger.counts.items() if "caller" in key} == {0}


def test_a_record_that_could_not_be_written_is_no_reason_to_keep_a_given_back_token(ledger, logs):
    records = FakeRecords()
    records.refusing_new = True
    limited = guard(ledger, records, daily_session_minutes=10)
    reservation = reserve(limited)
    limited.release(reservation)  # the claim writes the record whole, then gives back and settles it
    assert set(ledger.counts.values()) == {0}
    assert records.records[reservation.id]["state"] == "settled"


def test_the_scheduled_pass_publishes_each_budgets_share_used(ledger, capsys):
    limited = guard(ledger, caller_sessions_per_hour=0, caller_sessions_per_day=0, daily_session_minutes=100,
                    monthly_session_minutes=1000)  # fmt: skip
    reserve(limited, identity="a", seconds=600)
    reserve(limited, identity="b", seconds=600)
    capsys.readouterr()
    limited.publish_budget_use(NOW, DEADLINE)
    published = [line for line in capsys.readouterr().out.splitlines() if "BudgetUsedPercent" in line]
    values = [(json.loads(line)["budget"], json.loads(line)["BudgetUsedPercent"]) for line in published]
    assert values == [("daily", [20.0]), ("monthly", [2.0])]


def test_a_reservation_publishes_no_budget_use(ledger, capsys):
    reserve(guard(ledger, daily_session_minutes=100), seconds=600)
    assert "BudgetUsedPercent" not in capsys.readouterr().out


def test_a_spent_budget_is_published_as_full_on_every_refusal_so_a_burst_cannot_slip_past_the_alarm(
    ledger, capsys
):
    limited = guard(ledger, caller_sessions_per_hour=0, caller_sessions_per_day=0, daily_session_minutes=10)
    reserve(limited, identity="a", seconds=600)
    capsys.readouterr()

    assert refused(limited, identity="b", seconds=600).code is ErrorCode.BUDGET_EXHAUSTED

    published = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "BudgetUsedPercent" in line
    ]
    assert [(line["budget"], line["BudgetUsedPercent"]) for line in published] == [("daily", [100.0])]


def wait_until_recorded(records: FakeRecords, reservation_id: str) -> None:
    """The record is written in the background while Anam is asked: wait for it."""
    for _ in range(500):
        if reservation_id in records.records:
            return
        time.sleep(0.01)
    raise AssertionError("the record was never written")
