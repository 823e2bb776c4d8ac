"""The Anam stand-in's sessions (local/standins/anam_sessions.py): recorded when the SDK starts one with a
token, under the token's clientLabel, ended by the page's Stop or by the cap, and listed as Anam lists
them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.standins import anam_sdk_routes
from local.standins.anam import AnamStub

API_KEY = "test-anam-key"
PERSONA = {
    "avatarId": "30fa96d0-26c4-4e55-94a0-517025942e18",
    "voiceId": "6bfbe25a-979d-40f3-a92b-5394170af54b",
    "llmId": "0934d97d-0c3a-4f33-91b0-5e136a0ef466",
    "maxSessionLengthSeconds": 600,
}


@pytest.fixture
def stub() -> Iterator[AnamStub]:
    stand_in = AnamStub(api_keys=(API_KEY,))
    anam_sdk_routes.register(stand_in)
    with stand_in:
        yield stand_in


def listing(stub: AnamStub, key: str = API_KEY, **query: Any) -> requests.Response:
    return requests.get(
        f"{stub.url}/v1/sessions", params=query, headers={"Authorization": f"Bearer {key}"}, timeout=5
    )


def start_session(stub: AnamStub, label: str) -> str:
    token = requests.post(
        f"{stub.url}/v1/auth/session-token",
        json={"personaConfig": PERSONA, "clientLabel": label},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    ).json()["sessionToken"]
    started = requests.post(
        f"{stub.url}/v1/engine/session", headers={"Authorization": f"Bearer {token}"}, json={}, timeout=5
    )
    session_id: str = started.json()["sessionId"]
    return session_id


def test_a_session_the_sdk_starts_carries_its_tokens_label_and_runs_until_stopped(stub: AnamStub) -> None:
    session_id = start_session(stub, "web:stack:" + "a" * 32)

    [running] = listing(stub, search="stack").json()["data"]
    assert (running["id"], running["clientLabel"]) == (session_id, "web:stack:" + "a" * 32)
    assert (running["endTime"], running["sessionLengthMs"]) == (None, None)

    stopped = requests.post(f"{stub.url}/standin/session/stop", json={"sessionId": session_id}, timeout=5)
    assert stopped.status_code == 204
    [ended] = listing(stub, search="stack").json()["data"]
    assert ended["endTime"] is not None
    assert ended["sessionLengthMs"] >= 0


def test_a_session_nobody_stops_ends_at_its_cap_as_the_engine_ends_it(stub: AnamStub) -> None:
    stub.sessions.add("stack:x", started_at=time.time() - 700, max_seconds=600)
    [ended] = listing(stub).json()["data"]
    assert ended["sessionLengthMs"] == 600_000


def test_the_list_pages_like_anams_and_search_matches_part_of_a_label(stub: AnamStub) -> None:
    for number in range(25):
        stub.sessions.add(f"web:stack:{number:032x}")
    stub.sessions.add("another:label")

    first = listing(stub, search="stack", perPage=10, page=1).json()
    third = listing(stub, search="stack", perPage=10, page=3).json()

    assert first["meta"] == {
        "total": 25, "lastPage": 3, "currentPage": 1, "perPage": 10, "prev": None, "next": 2
    }  # fmt: skip
    assert (len(first["data"]), len(third["data"]), third["meta"]["next"]) == (10, 5, None)


@pytest.mark.parametrize("field", ["sessionLengthMs", "durationMs", None])
def test_the_length_comes_under_either_name_or_not_at_all(stub: AnamStub, field: str | None) -> None:
    stub.sessions.length_field = field
    stub.sessions.add("stack:x", started_at=time.time() - 90, ended_at=time.time() - 30)
    [session] = listing(stub).json()["data"]
    for name in ("sessionLengthMs", "durationMs"):
        assert (name in session) is (name == field)


def test_the_list_needs_the_accounts_key(stub: AnamStub) -> None:
    assert listing(stub, key="wrong").status_code == 401
    assert requests.get(f"{stub.url}/v1/sessions", timeout=5).status_code == 401


def test_stopping_an_unknown_session_is_a_404(stub: AnamStub) -> None:
    answer = requests.post(f"{stub.url}/standin/session/stop", json={"sessionId": "nope"}, timeout=5)
    assert answer.status_code == 404


def test_a_sites_history_is_cheap_to_hold_and_list_requests_are_counted_and_held(stub: AnamStub) -> None:
    stub.sessions.add_history("stack", 30_000, ended_by=time.time())
    stub.sessions.add("web:stack:" + "b" * 32)
    stub.sessions.latency_seconds = 0.2

    started = time.monotonic()
    newest = listing(stub, search="stack", perPage=100).json()
    found = listing(stub, search="stack:" + "b" * 32).json()

    assert time.monotonic() - started >= 0.4
    assert (newest["meta"]["total"], newest["data"][0]["clientLabel"]) == (30_001, "web:stack:" + "b" * 32)
    assert [session["clientLabel"] for session in found["data"]] == ["web:stack:" + "b" * 32]  # part of it
    assert all(session["endTime"] is not None for session in newest["data"][1:])
    assert stub.sessions.list_requests == 2
