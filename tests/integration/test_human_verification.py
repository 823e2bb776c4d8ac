"""docs/contract.md §10 over real HTTP: Turnstile tokens verified with siteverify (a local stand-in) before
the spend guard, so that a request that fails the check spends neither the caller's quota nor a budget."""

from __future__ import annotations

import pytest

from local.moto_server import MotoServer, aws_client
from local.standins.anam import AnamStub
from local.standins.turnstile import TurnstileStub
from scripts.spend_switch import pause
from tests.conftest import API_KEY, SECRET_ID, TURNSTILE_SECRET_KEY
from tests.support.function import Answer, Function

VISITOR = "203.0.113.7"
PAGE_HOST = "app.example.com"  # the host of the fixtures' ALLOWED_ORIGINS


def assert_refused(answer: Answer, status: int, code: str) -> None:
    assert (answer.status, answer.json()["code"]) == (status, code)


def test_a_request_with_a_fresh_token_from_the_allowed_page_gets_a_session_token(
    function: Function, turnstile: TurnstileStub
) -> None:
    assert function.post({"turnstileToken": turnstile.issue(PAGE_HOST)}, source_ip=VISITOR).status == 200


def test_siteverify_is_asked_with_the_secret_the_token_the_callers_address_and_an_idempotency_key(
    function: Function, turnstile: TurnstileStub
) -> None:
    token = turnstile.issue(PAGE_HOST)
    function.post({"turnstileToken": token}, source_ip=VISITOR)
    [asked] = turnstile.requests
    assert {name: asked[name] for name in ("secret", "response", "remoteip")} == {
        "secret": TURNSTILE_SECRET_KEY,
        "response": token,
        "remoteip": VISITOR,
    }
    assert len(asked["idempotency_key"]) >= 32


@pytest.mark.parametrize(
    "body", [{}, {"turnstileToken": None}, {"turnstileToken": ""}], ids=["absent", "null", "empty"]
)
def test_a_request_without_a_token_is_403_and_siteverify_is_not_asked(
    function: Function, turnstile: TurnstileStub, anam: AnamStub, body: dict[str, object]
) -> None:
    answer = function.post(body, source_ip=VISITOR)
    assert_refused(answer, 403, "verification_failed")
    assert "Complete the check again" in answer.json()["error"]
    assert (turnstile.requests, anam.requests) == ([], [])


def test_a_token_used_once_already_is_403(function: Function, turnstile: TurnstileStub) -> None:
    token = turnstile.issue(PAGE_HOST)
    function.post({"turnstileToken": token})
    assert_refused(function.post({"turnstileToken": token}), 403, "verification_failed")


def test_a_token_siteverify_never_issued_is_403(function: Function, turnstile: TurnstileStub) -> None:
    assert_refused(function.post({"turnstileToken": "forged.token"}), 403, "verification_failed")


def test_a_token_longer_than_turnstile_issues_is_403_without_asking(
    function: Function, turnstile: TurnstileStub
) -> None:
    assert_refused(function.post({"turnstileToken": "x" * 2049}), 403, "verification_failed")
    assert turnstile.requests == []


def test_a_token_solved_on_a_host_that_is_not_an_allowed_origin_is_403(
    function: Function, turnstile: TurnstileStub
) -> None:
    token = turnstile.issue("evil.example.net")
    assert_refused(function.post({"turnstileToken": token}), 403, "verification_failed")


def test_any_host_passes_when_any_origin_is_allowed(
    function: Function, turnstile: TurnstileStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "*")
    assert function.post({"turnstileToken": turnstile.issue("anywhere.example.org")}).status == 200


def test_a_secret_without_a_turnstile_key_is_a_configuration_error(
    function: Function, turnstile: TurnstileStub, moto_server: MotoServer
) -> None:
    aws_client("secretsmanager", moto_server.url).put_secret_value(SecretId=SECRET_ID, SecretString=API_KEY)
    assert_refused(function.post({"turnstileToken": turnstile.issue(PAGE_HOST)}), 500, "configuration_error")


def test_a_warm_up_reports_a_secret_without_a_turnstile_key_before_a_visitor_meets_it(
    function: Function, turnstile: TurnstileStub, moto_server: MotoServer
) -> None:
    aws_client("secretsmanager", moto_server.url).put_secret_value(SecretId=SECRET_ID, SecretString=API_KEY)
    assert function.invoke({"warmup": True}) == {"warmed": False, "error": "configuration_error"}


def test_a_warm_up_with_human_verification_configured_succeeds(function: Function, turnstile: TurnstileStub):
    assert function.invoke({"warmup": True}) == {"warmed": True}
    assert turnstile.requests == [], "a warm-up verifies no token"


def test_a_turnstile_secret_that_siteverify_refuses_is_a_configuration_error(
    function: Function, turnstile: TurnstileStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turnstile, "secret_key", "the-widget-was-rotated")
    assert_refused(function.post({"turnstileToken": turnstile.issue(PAGE_HOST)}), 500, "configuration_error")


def test_a_bot_that_fails_the_check_spends_none_of_the_visitors_quota(
    function: Function, turnstile: TurnstileStub, guarded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLER_SESSIONS_PER_HOUR", "1")
    for _ in range(3):
        function.post({"turnstileToken": "forged.token"}, source_ip=VISITOR)
    assert function.post({"turnstileToken": turnstile.issue(PAGE_HOST)}, source_ip=VISITOR).status == 200


def test_verification_answers_before_the_spend_guard(
    function: Function, turnstile: TurnstileStub, guarded: str, moto_server: MotoServer
) -> None:
    pause(aws_client("dynamodb", moto_server.url), guarded)
    assert_refused(function.post({"turnstileToken": "forged.token"}), 403, "verification_failed")
    assert_refused(function.post({"turnstileToken": turnstile.issue(PAGE_HOST)}), 503, "minting_paused")


def test_the_turnstile_secret_never_reaches_an_answer_or_the_log(
    function: Function, turnstile: TurnstileStub, logs: object
) -> None:
    function.post({"turnstileToken": "forged.token"})
    function.post({"turnstileToken": turnstile.issue(PAGE_HOST)})
    # tests/support/leak_scan.py fails the run if the secret shows up anywhere; this test makes it try.
    assert all(TURNSTILE_SECRET_KEY.encode() not in answer.body for answer in function.answers)
