"""The Anam stand-in's routes for the browser SDK (local/standins/anam_sdk_routes.py), without a browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local.standins import anam_sdk_routes
from local.standins.anam import AnamStub

API_KEY = "test-anam-key"
PERSONA = {
    "avatarId": "30fa96d0-26c4-4e55-94a0-517025942e18",
    "voiceId": "6bfbe25a-979d-40f3-a92b-5394170af54b",
    "llmId": "0934d97d-0c3a-4f33-91b0-5e136a0ef466",
}
ORIGIN = "http://127.0.0.1:8123"


@pytest.fixture
def stub() -> Iterator[AnamStub]:
    stand_in = AnamStub(api_keys=(API_KEY,))
    anam_sdk_routes.register(stand_in)
    with stand_in:
        yield stand_in


def mint(stub: AnamStub) -> str:
    answer = requests.post(
        f"{stub.url}/v1/auth/session-token",
        json={"personaConfig": PERSONA},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=5,
    )
    assert answer.status_code == 200
    token: str = answer.json()["sessionToken"]
    return token


def start_session(stub: AnamStub, token: str) -> requests.Response:
    return requests.post(
        f"{stub.url}{anam_sdk_routes.ENGINE_SESSION_PATH}",
        json={"clientMetadata": {"client": "js-sdk"}},
        headers={"Authorization": f"Bearer {token}", "Origin": ORIGIN},
        timeout=5,
    )


def test_preflight_allows_the_sdk_request_from_any_origin(stub: AnamStub) -> None:
    answer = requests.options(
        f"{stub.url}{anam_sdk_routes.ENGINE_SESSION_PATH}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=5,
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    allowed = answer.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


def test_a_token_the_stand_in_minted_starts_one_engine_session(stub: AnamStub) -> None:
    token = mint(stub)
    answer = start_session(stub, token)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    body = answer.json()
    assert body["sessionId"]
    assert body["engineHost"] == stub.url.removeprefix("http://")
    assert body["engineProtocol"] == "http"
    assert body["signallingEndpoint"] == anam_sdk_routes.SIGNALLING_PATH
    assert body["clientConfig"]["iceServers"] == []

    again = start_session(stub, token)
    assert again.status_code == 401
    assert again.json()["message"] == "Session token already used"


def test_a_legacy_token_is_refused(stub: AnamStub) -> None:
    stub.token_type = "legacy"
    answer = start_session(stub, mint(stub))
    assert answer.status_code == 401
    assert "Legacy" in answer.json()["message"]


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Missing session token"),
        ("Bearer not-a-jwt", "Invalid session token"),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJ0eXBlIjoiZXBoZW1lcmFsIn0.c2ln", "Invalid session token"),
    ],
)
def test_a_token_the_stand_in_did_not_sign_is_refused(
    stub: AnamStub, authorization: str | None, message: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = requests.post(f"{stub.url}{anam_sdk_routes.ENGINE_SESSION_PATH}", headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["message"] == message
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_signalling_is_refused_and_metrics_are_dropped(stub: AnamStub) -> None:
    assert requests.get(f"{stub.url}/ws?session_id=x", timeout=5).status_code == 501
    metric = requests.post(f"{stub.url}{anam_sdk_routes.METRICS_PATH}", json={"name": "x"}, timeout=5)
    assert metric.status_code == 204
