"""docs/contract.md §12 (and §3's answer): near a budget's end, a visitor gets the minutes that are left as a
shorter session instead of a refusal, and the page is told every session's cap for its countdown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.moto_server import aws_client
from local.standins.anam import AnamStub
from tests.conftest import PERSONA
from tests.support.dynamodb_engines import DYNAMODB_ENGINES, DynamoDb
from tests.support.function import Function
from tests.support.reservations import budget_keys, counter, record

VISITORS = [f"203.0.113.{number}" for number in range(1, 10)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dynamodb" in metafunc.fixturenames:
        metafunc.parametrize("dynamodb", DYNAMODB_ENGINES, indirect=True)


@pytest.fixture
def twenty_five_minute_day(reconciling: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """10-minute caps (MAX_SESSION_LENGTH_SECONDS=600), 25 minutes a day: two whole tokens, then 5 left."""
    monkeypatch.setenv("DAILY_SESSION_MINUTES", "25")
    return reconciling


def mint(function: Function, number: int) -> Any:
    return function.post(source_ip=VISITORS[number])


def test_every_token_tells_the_page_its_sessions_cap(function: Function, guarded: str) -> None:
    assert mint(function, 0).json()["maxSessionLengthSeconds"] == 600


def test_a_budget_with_less_than_a_cap_left_mints_a_session_of_what_is_left(
    function: Function, anam: AnamStub, dynamodb: DynamoDb, twenty_five_minute_day: str
) -> None:
    assert [mint(function, number).status for number in (0, 1)] == [200, 200]

    answer = mint(function, 2)

    assert answer.status == 200
    assert answer.json()["maxSessionLengthSeconds"] == 300
    assert anam.requests[-1].json["personaConfig"]["maxSessionLengthSeconds"] == 300
    table = aws_client("dynamodb", dynamodb.url)
    assert counter(table, twenty_five_minute_day, budget_keys()[0]) == 25  # exactly what was left
    reservation_id = anam.requests[-1].json["clientLabel"].rsplit(":", 1)[1]
    assert record(table, twenty_five_minute_day, reservation_id)["minutes"] == 5
    assert mint(function, 3).json()["code"] == "budget_exhausted"


def test_less_left_than_the_shortest_session_is_still_a_refusal(
    function: Function, anam: AnamStub, twenty_five_minute_day: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_SESSION_SECONDS", "360")  # 6 minutes: the 5 left are too few
    assert [mint(function, number).status for number in (0, 1)] == [200, 200]
    assert mint(function, 2).json()["code"] == "budget_exhausted"
    assert len(anam.requests) == 2


def test_a_saved_persona_is_never_shortened(
    function: Function, anam: AnamStub, aws_admin: Any, twenty_five_minute_day: str
) -> None:
    # Anam reads nothing next to a personaId: the function cannot set its length, so it cannot shorten it.
    aws_admin.put_persona(json.dumps({"personaId": "5d6f2c1e-0000-4000-8000-000000000001"}))
    assert [mint(function, number).status for number in (0, 1)] == [200, 200]
    assert mint(function, 2).json()["code"] == "budget_exhausted"


def test_the_shortened_session_is_what_the_persona_runs_even_when_its_own_limit_is_set(
    function: Function, anam: AnamStub, aws_admin: Any, twenty_five_minute_day: str
) -> None:
    aws_admin.put_persona(
        json.dumps({**PERSONA, "maxSessionLengthSeconds": 540})
    )  # 9 minutes, clamped to 600
    assert [mint(function, number).status for number in (0, 1)] == [200, 200]  # 18 minutes
    answer = mint(function, 2)
    assert answer.json()["maxSessionLengthSeconds"] == 420  # the 7 minutes left
    assert anam.requests[-1].json["personaConfig"]["maxSessionLengthSeconds"] == 420
