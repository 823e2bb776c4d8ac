"""The happy path over real HTTP: a caller gets a token, and Anam gets exactly what it should."""

import json
from datetime import UTC, datetime

import pytest

from local.standins.anam import AnamStub
from tests.conftest import API_KEY, PERSONA

pytestmark = pytest.mark.usefixtures("function_env")


def test_a_post_returns_a_session_token_and_its_expiry(function, anam: AnamStub):
    answer = function.post({"prompt": "The visitor is on the pricing page."})

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert set(body) == {"sessionToken", "expiresAt"}
    claims = AnamStub.claims_of(body["sessionToken"])
    assert body["expiresAt"].endswith("Z")
    assert claims["type"] == "ephemeral"


def test_expires_at_is_the_tokens_exp_claim(function):
    body = function.post().json()
    exp = AnamStub.claims_of(body["sessionToken"])["exp"]
    assert body["expiresAt"] == datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_anam_receives_the_key_as_bearer_and_the_merged_persona_as_json(function, anam: AnamStub):
    function.post({"prompt": "Talk about pricing."})

    [sent] = anam.requests
    assert (sent.method, sent.path) == ("POST", "/v1/auth/session-token")
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json == {
        "personaConfig": {**PERSONA, "systemPrompt": "You are Cara, a helpful guide. Talk about pricing."}
    }


def test_no_body_sends_the_stored_persona_with_placeholders_emptied(function, anam: AnamStub):
    assert function.request("POST").status == 200
    assert anam.requests[0].json["personaConfig"]["systemPrompt"] == "You are Cara, a helpful guide. "


def test_a_text_plain_body_from_a_browser_is_accepted(function, anam: AnamStub):
    answer = function.request(
        "POST", json.dumps({"prompt": "hi"}), {"content-type": "text/plain;charset=UTF-8"}
    )
    assert answer.status == 200


def test_a_request_body_template_sends_its_session_options_and_label(function, aws_admin, anam: AnamStub):
    template = {
        "personaConfig": {"personaId": "2b5b6e4c-3ac2-4a25-8b52-6a2a3e0b1c11"},
        "sessionOptions": {"sessionReplay": {"enableSessionReplay": False}},
        "clientLabel": "website",
    }
    aws_admin.put_persona(json.dumps(template))

    answer = function.post()

    assert answer.status == 200
    assert anam.requests[0].json == template
    assert AnamStub.claims_of(answer.json()["sessionToken"])["type"] == "stateful"


def test_a_json_secret_with_an_api_key_field_is_read(function, aws_admin):
    aws_admin.put_secret(json.dumps({"apiKey": API_KEY}))
    assert function.post().status == 200


def test_a_plain_string_parameter_works_like_a_secure_string(function, aws_admin, monkeypatch):
    aws_admin.ssm.put_parameter(Name="/anam/plain", Value=json.dumps(PERSONA), Type="String", Overwrite=True)
    monkeypatch.setenv("PERSONA_PARAMETER_NAME", "/anam/plain")
    assert function.post().status == 200


def test_brain_type_is_migrated_to_llm_id_with_a_deprecation_warning(function, aws_admin, anam, logs):
    legacy = {k: v for k, v in PERSONA.items() if k != "llmId"} | {"brainType": "ANAM_LLAMA_v3_3_70B_V1"}
    aws_admin.put_persona(json.dumps(legacy))

    assert function.post().status == 200

    sent = anam.requests[0].json["personaConfig"]
    assert sent["llmId"] == "ANAM_LLAMA_v3_3_70B_V1"
    assert "brainType" not in sent
    assert any("brainType" in r["message"] and r["level"] == "WARNING" for r in logs.records)


def test_the_session_length_cap_is_applied(function, monkeypatch, anam):
    monkeypatch.setenv("MAX_SESSION_LENGTH_SECONDS", "300")
    function.post()
    assert anam.requests[0].json["personaConfig"]["maxSessionLengthSeconds"] == 300


def test_a_non_http_event_is_answered_unsupported_without_raising(function):
    assert function.invoke({"Records": [{"eventSource": "aws:sqs"}]}) == {"error": "unsupported_event"}
    assert function.invoke("just a string") == {"error": "unsupported_event"}
