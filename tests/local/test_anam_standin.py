"""The Anam stand-in: checks a request as Anam would, mints tokens like Anam's, misbehaves when told to."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from urllib3.util.connection import is_connection_dropped

from local.standins.anam import AnamStub, Html, RateLimited, ReceivedRequest, Reply, Reset, Slow
from tests.faults.answer_checks import wait_until

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


def test_stub_serves_many_requests_over_one_kept_alive_connection(anam: AnamStub) -> None:
    with requests.Session() as session:
        for _ in range(3):
            assert mint(anam, session=session).status_code == 200

    assert anam.connections_opened == 1


def pooled_connections(session: requests.Session, url: str) -> list[Any]:
    pool = session.get_adapter(url).poolmanager.connection_from_url(url)  # type: ignore[attr-defined]
    return [connection for connection in list(pool.pool.queue) if connection is not None and connection.sock]


def test_closing_idle_connections_moves_the_next_request_to_a_new_connection(anam: AnamStub) -> None:
    with requests.Session() as session:
        mint(anam, session=session)
        anam.close_idle_connections()
        wait_until(lambda: all(map(is_connection_dropped, pooled_connections(session, anam.url))))

        assert mint(anam, session=session).status_code == 200

    assert anam.connections_opened == 2


def test_queued_behaviours_answer_in_order_then_normal_behaviour_resumes(anam: AnamStub) -> None:
    anam.enqueue(Reply(503, "busy"), RateLimited(), Html())

    first, second, third, fourth = (mint(anam) for _ in range(4))

    assert (first.status_code, first.text) == (503, "busy")
    assert (second.status_code, second.headers["Retry-After"]) == (429, "7")
    assert second.json() == {"message": "Rate limit exceeded"}
    assert third.status_code == 502
    assert third.headers["Content-Type"] == "text/html"
    assert third.text.lstrip().startswith("<html>")
    assert fourth.status_code == 200


def test_rate_limited_can_leave_out_retry_after(anam: AnamStub) -> None:
    anam.enqueue(RateLimited(retry_after=None))

    assert "Retry-After" not in mint(anam).headers


def test_a_reply_with_a_dict_body_is_json_with_the_given_headers(anam: AnamStub) -> None:
    anam.enqueue(Reply(200, {"sessionToken": ""}, {"X-Test": "1"}))

    answer = mint(anam)

    assert answer.json() == {"sessionToken": ""}
    assert answer.headers["X-Test"] == "1"


def test_slow_answers_normally_after_the_wait(anam: AnamStub) -> None:
    anam.enqueue(Slow(0.3))

    started = time.monotonic()
    answer = mint(anam)

    assert time.monotonic() - started >= 0.3
    assert answer.status_code == 200


def test_slow_then_applies_the_given_behaviour(anam: AnamStub) -> None:
    anam.enqueue(Slow(0.1, then=Reply(500)))

    assert mint(anam).status_code == 500


def test_slow_runs_into_the_clients_read_timeout(anam: AnamStub) -> None:
    anam.enqueue(Slow(1))

    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{anam.url}/v1/auth/session-token", json={}, timeout=(1, 0.2))


def test_reset_drops_the_connection_with_a_tcp_rst_and_no_response(anam: AnamStub) -> None:
    anam.enqueue(Reset())
    url = urlsplit(anam.url)

    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(b"POST /v1/auth/session-token HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        with pytest.raises(ConnectionResetError):
            conn.recv(1024)
    assert len(anam.requests) == 1


def test_reset_forgets_queue_records_counters_token_type_and_key_rotations(anam: AnamStub) -> None:
    anam.enqueue(Reply(500))
    mint(anam)
    anam.enqueue(Reply(500))
    anam.token_type = "legacy"
    anam.api_keys = {"rotated"}

    anam.reset()

    assert anam.requests == []
    assert anam.connections_opened == 0
    answer = mint(anam)  # with the original key, a token of the persona's own type
    assert AnamStub.claims_of(answer.json()["sessionToken"])["type"] == "ephemeral"


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
