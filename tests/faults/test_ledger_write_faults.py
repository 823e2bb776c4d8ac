"""docs/contract.md §9 and §11 under DynamoDB's faults: every write the guard and the pass send (reserve,
record, claim, give-back, reopen, settle, adjust) meets each fault DynamoDB documents: refused, throttled,
never sent, and applied with its answer lost (a 500, a read timeout, a connection closed). After each, the
budgets are exact or high, never low; no record is stuck; and later passes converge. On moto and on AWS's
DynamoDB Local.

Each test runs one of three scenarios with a 10-minute cap (the day's budget counter is where the fault
lands): a token minted whose session used 2 minutes; a token Anam failed to mint (its reservation given
back); a pass settling a token whose session used 2 minutes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.fault_proxy import aws_server_error
from local.moto_server import aws_client
from local.standins.anam import AnamStub, Reply
from tests.support.dynamodb_engines import DYNAMODB_ENGINES, DynamoDb
from tests.support.function import Function
from tests.support.ledger_faults import (
    ADJUST,
    CLAIM,
    FAULT_NAMES,
    GIVE_BACK,
    LET_GO,
    RECORD,
    RESERVE,
    SETTLE,
    UNKNOWN_OUTCOME,
    NeverSent,
    Write,
    inject,
    never_sent,
)
from tests.support.reservations import age_records, budget_keys, counter
from token_vendor.adapters.dynamodb_table import WRITE_ATTEMPTS

__all__ = ["never_sent"]  # the fixture
PREFIX = "anam-token-vendor"
USED_SECONDS = 100  # 2 minutes, rounded up
CAP_MINUTES = 10


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dynamodb" in metafunc.fixturenames:
        metafunc.parametrize("dynamodb", DYNAMODB_ENGINES, indirect=True)


class Ledger:
    """The table as an operator reads it, and the scenarios' steps."""

    def __init__(self, function: Function, anam: AnamStub, dynamodb: DynamoDb, table: str) -> None:
        self.function, self.anam, self.table = function, anam, table
        self.client = aws_client("dynamodb", dynamodb.url)
        self.day, self.month = budget_keys()

    def budgets(self) -> tuple[int, int]:
        return counter(self.client, self.table, self.day), counter(self.client, self.table, self.month)

    def callers(self) -> list[int]:
        items = self.client.scan(TableName=self.table)["Items"]
        return [int(item["used"]["N"]) for item in items if item["pk"]["S"].startswith("caller#")]

    def records(self) -> list[dict[str, Any]]:
        items = self.client.scan(TableName=self.table, ConsistentRead=True)["Items"]
        return [item for item in items if item["pk"]["S"].startswith("reservation#")]

    def mint(self) -> Any:
        return self.function.post(source_ip="203.0.113.7")

    def session_ran(self) -> None:
        """The last token's session: started, used USED_SECONDS, ended."""
        label = self.anam.requests[-1].json["clientLabel"]
        started = time.time() - 300
        self.anam.sessions.add(label, started_at=started, ended_at=started + USED_SECONDS)

    def reconcile(self) -> dict[str, Any]:
        summary: dict[str, Any] = self.function.invoke({"reconcile": True})
        return summary

    def later(self, seconds: int) -> None:
        """Every record's clock moved back: its token expired, its owner long gone. A session of the
        deployment started since (the proof that Anam's list covers the token's life)."""
        age_records(self.client, self.table, seconds)
        self.anam.sessions.add(f"{PREFIX}:{'f' * 32}", started_at=time.time() - 5, ended_at=time.time() - 1)

    def converge(self) -> None:
        """Passes, as the schedule would run them, long enough after for every rule to apply."""
        self.reconcile()
        self.later(2 * 3600)
        self.reconcile()
        self.reconcile()

    def stuck(self) -> list[str]:
        """Records that still hold minutes after the passes: none may."""
        return [item["state"]["S"] for item in self.records() if item["state"]["S"] != "settled"]


@pytest.fixture
def ledger(
    function: Function, anam: AnamStub, dynamodb: DynamoDb, reconciling: str, never_sent: NeverSent
) -> Iterator[Ledger]:
    yield Ledger(function, anam, dynamodb, reconciling)
    # Every fault a test put on a write met that write (throttling's repeats included).
    assert (dynamodb.proxy.faults_pending, never_sent.pending) == (0, 0)


def arm(fault: str, write: Write, dynamodb: DynamoDb, never_sent: NeverSent) -> None:
    inject(fault, write, dynamodb.proxy, never_sent)


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_reserve(ledger: Ledger, dynamodb: DynamoDb, never_sent: NeverSent, fault: str) -> None:
    arm(fault, RESERVE, dynamodb, never_sent)
    answer = ledger.mint()
    if fault in ("throttled", "never-sent"):  # retried: the token is minted
        assert answer.status == 200
        ledger.session_ran()
        ledger.converge()
        assert ledger.budgets() == (2, 2)
    elif fault == "refused":  # nothing minted, everything the other counters took given back
        assert answer.json()["code"] == "dependency_unavailable"
        assert ledger.budgets() == (0, 0)
    else:  # the day's add may have applied: it is never sent again, and counts high, never low
        assert answer.json()["code"] == "dependency_unavailable"
        assert ledger.budgets() == (CAP_MINUTES, 0)
    assert ledger.stuck() == []
    assert set(ledger.callers()) <= {0, 1}


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_record(ledger: Ledger, dynamodb: DynamoDb, never_sent: NeverSent, fault: str, capsys: Any) -> None:
    arm(fault, RECORD, dynamodb, never_sent)
    assert ledger.mint().status == 200
    ledger.session_ran()
    ledger.converge()
    if fault == "refused":  # the token is out without a record: its minutes stay reserved (high)
        assert ledger.records() == []
        assert ledger.budgets() == (CAP_MINUTES, CAP_MINUTES)
        assert '"UnrecordedReservations":[1.0]' in capsys.readouterr().out
    else:  # retried (a lost answer's retry finds its own record): settled by what the session used
        assert ledger.budgets() == (2, 2)
        assert ledger.stuck() == []


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_claim(ledger: Ledger, anam: AnamStub, dynamodb: DynamoDb, never_sent: NeverSent, fault: str) -> None:
    arm(fault, CLAIM, dynamodb, never_sent)
    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    assert ledger.mint().json()["code"] == "upstream_rejected"
    if fault == "refused":  # the record stays open: a pass gives it back as never used once it can prove it
        assert ledger.budgets() == (CAP_MINUTES, CAP_MINUTES)
    else:  # retried; a lost answer's retry knows its own claim
        assert ledger.budgets() == (0, 0)
    ledger.converge()
    assert ledger.budgets() == (0, 0)
    assert ledger.callers() == [0, 0]
    assert ledger.stuck() == []


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_give_back(
    ledger: Ledger, anam: AnamStub, dynamodb: DynamoDb, never_sent: NeverSent, fault: str
) -> None:
    arm(fault, GIVE_BACK, dynamodb, never_sent)
    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    assert ledger.mint().json()["code"] == "upstream_rejected"
    day, month = ledger.budgets()
    assert month == 0
    assert day == (CAP_MINUTES if fault == "refused" else 0)  # refused: handed to the next pass
    ledger.converge()
    # Applied with its answer lost, it is never given back again: never below zero.
    assert ledger.budgets() == (0, 0)
    assert ledger.stuck() == []


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_reopen(
    ledger: Ledger, anam: AnamStub, dynamodb: DynamoDb, never_sent: NeverSent, fault: str
) -> None:
    arm(fault, LET_GO, dynamodb, never_sent)
    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    assert ledger.mint().json()["code"] == "upstream_rejected"
    assert ledger.budgets() == (0, 0)
    ledger.converge()  # a record its request could not let go is finished once the request has surely ended
    assert ledger.budgets() == (0, 0)
    assert ledger.stuck() == []


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_settle(ledger: Ledger, dynamodb: DynamoDb, never_sent: NeverSent, fault: str) -> None:
    assert ledger.mint().status == 200
    ledger.session_ran()
    arm(fault, SETTLE, dynamodb, never_sent)
    ledger.reconcile()
    day, month = ledger.budgets()
    assert day == month
    assert day in (2, CAP_MINUTES)  # settled by this pass or, refused, by the next
    ledger.converge()
    assert ledger.budgets() == (2, 2)
    assert ledger.stuck() == []


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_adjust(ledger: Ledger, dynamodb: DynamoDb, never_sent: NeverSent, fault: str) -> None:
    assert ledger.mint().status == 200
    ledger.session_ran()
    arm(fault, ADJUST, dynamodb, never_sent)
    ledger.reconcile()
    day, month = ledger.budgets()
    assert month == 2
    assert day == (CAP_MINUTES if fault == "refused" else 2)
    ledger.converge()
    assert ledger.budgets() == (2, 2)  # a lost answer's adjustment is not applied twice
    assert ledger.stuck() == []


def test_unknown_outcomes_are_counted_where_they_happen(
    ledger: Ledger, anam: AnamStub, dynamodb: DynamoDb, never_sent: NeverSent, capsys: Any
) -> None:
    arm(UNKNOWN_OUTCOME[0], GIVE_BACK, dynamodb, never_sent)
    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    capsys.readouterr()
    ledger.mint()
    out = capsys.readouterr().out
    assert '"UnknownOutcomeWrites":[1.0]' in out
    assert '"RefundFailures":[1.0]' in out


def test_a_claim_whose_outcome_stays_unknown_hands_its_give_back_to_the_next_pass(
    ledger: Ledger, anam: AnamStub, dynamodb: DynamoDb
) -> None:
    # Every attempt at the claim is applied and its answer lost: the request cannot tell whether it holds the
    # record, gives nothing back itself, and lets the record go under its name, which lands only if it does.
    lost = [aws_server_error().after_applying() for _ in range(WRITE_ATTEMPTS)]
    dynamodb.proxy.enqueue(*lost, match=CLAIM.target, body=CLAIM.body)
    anam.enqueue(Reply(400, {"message": "bad avatar"}))
    assert ledger.mint().json()["code"] == "upstream_rejected"
    assert ledger.budgets() == (CAP_MINUTES, CAP_MINUTES)
    ledger.reconcile()  # the next pass, without waiting for the request's lease to end
    assert ledger.budgets() == (0, 0)
    assert ledger.stuck() == []
