"""The Anam stand-in: checks a request as Anam would, mints tokens like Anam's, misbehaves when told to."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from local.standins.anam import AnamStub, ReceivedRequest, Reply

KEY = "test-anam-key"
EPHEMERAL = {
    "avatarId": "30fa96d0-26c4-4e55-94a0-517025942e18",
    "voiceId": "6bfbe25a-979d-40f3-a92b-5394170af54b",
    "llmId": "0934d97d-0c3a-4f33-91b0-5e136a0ef466",
}


def mint(
    stub: AnamStub,
    body: Any = None,
    *,
    key: str | None = KEY,
    session: requests.Session | None = None,
    **kwargs: Any,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    payload = {"personaConfig": EPHEMERAL} if body is None else body
    return (session or requests).post(
        f"{stub.url}/v1/auth/session-token", json=payload, headers=headers, timeout=5, **kwargs
    )


def test_stub_mints_an_hs256_jwt_with_the_claims_anam_tokens_carry(anam: AnamStub) -> None:
    answer = mint(anam)

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert set(answer.json()) == {"sessionToken"}
    claims = AnamStub.claims_of(answer.json()["sessionToken"])
    assert claims["type"] == "ephemeral"
    assert claims["accountId"]
    assert claims["apiKeyId"]
    assert KEY not in answer.json()["sessionToken"]
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 5


def test_stub_mints_a_new_token_for_every_request(anam: AnamStub) -> None:
    assert mint(anam).json()["sessionToken"] != mint(anam).json()["sessionToken"]


def test_stub_token_for_a_saved_persona_is_stateful(anam: AnamStub) -> None:
    answer = mint(anam, {"personaConfig": {"personaId": "6d0b6b5e-0000-4000-8000-000000000001"}})

    assert AnamStub.claims_of(answer.json()["sessionToken"])["type"] == "stateful"


def test_stub_mints_legacy_tokens_when_told_to(anam: AnamStub) -> None:
    anam.token_type = "legacy"

    assert AnamStub.claims_of(mint(anam).json()["sessionToken"])["type"] == "legacy"


def test_claims_of_refuses_a_token_the_stub_did_not_sign(anam: AnamStub) -> None:
    header, claims, _ = mint(anam).json()["sessionToken"].split(".")

    with pytest.raises(ValueError, match="signature"):
        AnamStub.claims_of(f"{header}.{claims}.AAAA")


@pytest.mark.parametrize("key", [None, "wrong-key"], ids=["missing", "wrong"])
def test_stub_refuses_a_missing_or_wrong_bearer_key(anam: AnamStub, key: str | None) -> None:
    answer = mint(anam, key=key)

    assert answer.status_code == 401
    assert answer.json() == {"message": "Invalid API key"}


def test_stub_accepts_only_the_current_keys_after_a_rotation(anam: AnamStub) -> None:
    anam.api_keys = {"rotated-key"}

    assert mint(anam).status_code == 401
    assert mint(anam, key="rotated-key").status_code == 200


def test_stub_refuses_a_body_not_declared_as_json(anam: AnamStub) -> None:
    answer = requests.post(
        f"{anam.url}/v1/auth/session-token",
        data='{"personaConfig": {}}',
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/plain"},
        timeout=5,
    )

    assert answer.status_code == 415


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b""], ids=["invalid", "array", "empty"])
def test_stub_refuses_a_body_that_is_not_a_json_object(anam: AnamStub, body: bytes) -> None:
    answer = requests.post(
        f"{anam.url}/v1/auth/session-token",
        data=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        timeout=5,
    )

    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "personaConfig must be an object"),
        ({"personaConfig": "cara"}, "personaConfig must be an object"),
        ({"personaConfig": {"name": "Cara"}}, "personaId or an avatarId"),
        ({"personaConfig": {**EPHEMERAL, "voiceId": None}}, "voiceId is required"),
        ({"personaConfig": {k: v for k, v in EPHEMERAL.items() if k != "llmId"}}, "llmId is required"),
        ({"personaConfig": {**EPHEMERAL, "brainType": "ANAM_GPT_4O_MINI_V1"}}, "brainType is deprecated"),
        ({"personaConfig": {"personaId": "p", "brainType": "x"}}, "brainType is deprecated"),
        ({"personaConfig": {**EPHEMERAL, "maxSessionLengthSeconds": -1}}, "maxSessionLengthSeconds"),
        ({"personaConfig": {**EPHEMERAL, "systemPrompt": 7}}, "systemPrompt must be a string"),
        ({"personaConfig": EPHEMERAL, "sessionOptions": {"videoWidth": 640}}, "videoWidth and videoHeight"),
        ({"personaConfig": EPHEMERAL, "sessionOptions": []}, "sessionOptions must be an object"),
        ({"personaConfig": EPHEMERAL, "clientLabel": 1}, "clientLabel must be a string"),
    ],
    ids=[
        "no-persona",
        "persona-not-object",
        "no-ids",
        "no-voice",
        "no-llm",
        "brain-type",
        "brain-type-next-to-persona-id",
        "negative-session-length",
        "prompt-not-string",
        "video-width-alone",
        "session-options-not-object",
        "client-label-not-string",
    ],
)
def test_stub_refuses_a_request_anam_would_refuse(anam: AnamStub, body: dict[str, Any], message: str) -> None:
    answer = mint(anam, body)

    assert answer.status_code == 400
    assert message in answer.json()["message"]


def test_stub_accepts_a_full_template_body(anam: AnamStub) -> None:
    body = {
        "personaConfig": {**EPHEMERAL, "systemPrompt": "Be brief.", "maxSessionLengthSeconds": 600},
        "sessionOptions": {"videoWidth": 640, "videoHeight": 480},
        "clientLabel": "web",
    }

    assert mint(anam, body).status_code == 200


def test_stub_ignores_other_fields_next_to_a_persona_id(anam: AnamStub) -> None:
    assert mint(anam, {"personaConfig": {"personaId": "p", "avatarId": 5}}).status_code == 200


def test_stub_answers_other_paths_with_a_json_404(anam: AnamStub) -> None:
    answer = requests.get(f"{anam.url}/v1/personas", timeout=5)

    assert answer.status_code == 404
    assert "message" in answer.json()


def test_stub_refuses_the_removed_get_token_flow(anam: AnamStub) -> None:
    answer = requests.get(
        f"{anam.url}/v1/auth/session-token", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    )

    assert answer.status_code == 405


def test_stub_records_each_request_with_case_insensitive_headers_and_parsed_json(anam: AnamStub) -> None:
    mint(anam)

    [request] = anam.requests
    assert (request.method, request.path) == ("POST", "/v1/auth/session-token")
    assert request.headers["authorization"] == request.headers["AUTHORIZATION"] == f"Bearer {KEY}"
    assert request.json == {"personaConfig": EPHEMERAL}
    assert request.body.startswith(b"{")


def test_added_routes_answer_their_method_and_path() -> None:
    seen: list[ReceivedRequest] = []

    def engine_session(request: ReceivedRequest) -> Reply:
        seen.append(request)
        return Reply(200, {"sessionId": "s"})

    stub = AnamStub()
    stub.add_route("POST", "/v1/engine/session", engine_session)
    with stub:
        answer = requests.post(f"{stub.url}/v1/engine/session?x=1", json={"a": 1}, timeout=5)
        other_method = requests.get(f"{stub.url}/v1/engine/session", timeout=5)

    assert answer.json() == {"sessionId": "s"}
    assert seen[0].json == {"a": 1}
    assert other_method.status_code == 404


def test_stub_prints_nothing_not_even_keys_or_tokens(capfd: pytest.CaptureFixture[str]) -> None:
    with AnamStub() as stub:
        mint(stub, key="test-anam-key")
        mint(stub, key="wrong")

    assert capfd.readouterr() == ("", "")


def test_stub_url_needs_a_started_stub() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = AnamStub().url
