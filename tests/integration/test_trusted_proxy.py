"""docs/contract.md §8 over real HTTP: the handler behind CloudFront (TRUSTED_PROXY=cloudfront), the origin
secret in moto's Secrets Manager, the spend guard in moto's DynamoDB.

Every request comes from one edge server's address, as API Gateway sees it behind a distribution; the viewer
is in CloudFront-Viewer-Address. Without the origin secret nothing else is checked, minted or counted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.fault_proxy import FaultProxy, aws_unavailable
from local.standins.anam import AnamStub
from local.standins.turnstile import TurnstileStub
from tests.conftest import API_KEY, PREVIOUS_ORIGIN_VERIFY_SECRET, TURNSTILE_SECRET_KEY
from tests.support.function import Answer, Function

EDGE = "130.176.0.10"  # one CloudFront edge server, the sourceIp of every viewer it serves
VIEWER = "203.0.113.7"
ANOTHER_VIEWER = "198.51.100.23"


@pytest.fixture
def one_token_an_hour(guarded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLER_SESSIONS_PER_HOUR", "1")


def through_the_edge(
    function: Function, secret: str | None, viewer: str | None, method: str = "POST", **kwargs: Any
) -> Answer:
    headers = {"origin": "https://app.example.com", "content-type": "application/json"}
    if secret is not None:
        headers["x-origin-verify"] = secret
    if viewer is not None:
        headers["cloudfront-viewer-address"] = viewer
    body = kwargs.pop("body", "{}" if method == "POST" else None)
    return function.request(method, body, {**headers, **kwargs.pop("headers", {})}, source_ip=EDGE, **kwargs)


def statuses(answers: list[Answer]) -> list[tuple[int, str | None]]:
    return [(a.status, a.json().get("code") if a.body else None) for a in answers]


def test_two_viewers_behind_one_edge_address_are_two_callers(
    function: Function, behind_cloudfront: str, one_token_an_hour: None, anam: AnamStub
) -> None:
    answers = [
        through_the_edge(function, behind_cloudfront, f"{VIEWER}:50123"),
        through_the_edge(function, behind_cloudfront, f"{ANOTHER_VIEWER}:50123"),
    ]
    assert [answer.status for answer in answers] == [200, 200]
    assert len(anam.requests) == 2


def test_the_same_viewer_on_another_port_is_one_caller(
    function: Function, behind_cloudfront: str, one_token_an_hour: None
) -> None:
    answers = [
        through_the_edge(function, behind_cloudfront, f"{VIEWER}:50123"),
        through_the_edge(function, behind_cloudfront, f"{VIEWER}:61001"),
    ]
    assert statuses(answers) == [(200, None), (429, "quota_exceeded")]


def test_an_ipv6_viewer_counts_by_its_slash_64(
    function: Function, behind_cloudfront: str, one_token_an_hour: None
) -> None:
    answers = [
        through_the_edge(function, behind_cloudfront, "2001:db8:1:2:aaaa::1:443"),
        through_the_edge(function, behind_cloudfront, "2001:db8:1:2:bbbb::2:443"),
        through_the_edge(function, behind_cloudfront, "2001:db8:1:3::1:443"),
    ]
    assert statuses(answers) == [(200, None), (429, "quota_exceeded"), (200, None)]


@pytest.mark.parametrize(
    "secret", [None, "", "a-guess-of-the-origin-verify-secret-000"], ids=["none", "empty", "wrong"]
)
def test_without_the_secret_a_request_is_refused_mints_nothing_and_uses_no_quota(
    function: Function, behind_cloudfront: str, one_token_an_hour: None, anam: AnamStub, secret: str | None
) -> None:
    refused = through_the_edge(function, secret, f"{VIEWER}:50123")

    assert (refused.status, refused.json()["code"]) == (403, "direct_access_refused")
    assert "execute-api" in refused.json()["error"]
    assert anam.requests == []
    assert through_the_edge(function, behind_cloudfront, f"{VIEWER}:50123").status == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("OPTIONS", "/session-token", None),
        ("GET", "/session-token", None),
        ("post", "/session-token", "{}"),
        ("POST", "/elsewhere", "{}"),
        ("POST", "/session-token", "not json"),
    ],
    ids=["preflight", "get", "lower-case-post", "other-path", "invalid-json"],
)
def test_nothing_else_is_checked_before_the_secret(
    function: Function, behind_cloudfront: str, method: str, path: str, body: str | None
) -> None:
    answer = through_the_edge(function, None, f"{VIEWER}:50123", method, path=path, body=body)

    assert (answer.status, answer.json()["code"]) == (403, "direct_access_refused")


def test_a_preflight_through_the_distribution_is_answered(function: Function, behind_cloudfront: str) -> None:
    answer = through_the_edge(
        function,
        behind_cloudfront,
        f"{VIEWER}:50123",
        "OPTIONS",
        headers={"access-control-request-method": "POST"},
    )
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


@pytest.mark.parametrize("viewer", [None, "", "edge-server"], ids=["absent", "empty", "unreadable"])
def test_the_secret_without_a_viewer_address_is_the_distributions_misconfiguration(
    function: Function, behind_cloudfront: str, anam: AnamStub, viewer: str | None
) -> None:
    answer = through_the_edge(function, behind_cloudfront, viewer)

    assert (answer.status, answer.json()["code"]) == (500, "configuration_error")
    assert anam.requests == []


def test_without_trusted_proxy_the_viewer_header_is_never_read(
    function: Function, one_token_an_hour: None
) -> None:
    answers = [
        through_the_edge(function, None, f"{VIEWER}:50123"),
        through_the_edge(function, None, f"{ANOTHER_VIEWER}:50123"),
    ]
    assert statuses(answers) == [(200, None), (429, "quota_exceeded")]


def test_trusted_proxy_without_the_secrets_origin_secret_is_a_configuration_error(
    function: Function, behind_cloudfront: str, aws_admin: Any, anam: AnamStub
) -> None:
    aws_admin.put_secret(json.dumps({"apiKey": API_KEY}))

    answer = through_the_edge(function, behind_cloudfront, f"{VIEWER}:50123")

    assert (answer.status, answer.json()["code"]) == (500, "configuration_error")
    assert anam.requests == []
    assert function.invoke({"warmup": True}) == {"warmed": False, "error": "configuration_error"}


def test_a_warm_up_passes_with_the_origin_secret(function: Function, behind_cloudfront: str) -> None:
    assert function.invoke({"warmup": True}) == {"warmed": True}


def test_during_a_rotation_the_previous_secret_is_accepted_too(
    function: Function, behind_cloudfront: str, aws_admin: Any
) -> None:
    rotating = {
        "originVerifySecret": behind_cloudfront,
        "originVerifySecretPrevious": PREVIOUS_ORIGIN_VERIFY_SECRET,
    }
    aws_admin.put_secret(json.dumps({"apiKey": API_KEY, **rotating}))

    answers = [
        through_the_edge(function, PREVIOUS_ORIGIN_VERIFY_SECRET, f"{VIEWER}:50123"),
        through_the_edge(function, behind_cloudfront, f"{ANOTHER_VIEWER}:50123"),
    ]
    assert [answer.status for answer in answers] == [200, 200]


def test_a_signed_in_viewer_is_still_counted_by_its_sub(
    function: Function, behind_cloudfront: str, one_token_an_hour: None
) -> None:
    signed_in = {"sub": "user-42"}
    answers = [
        through_the_edge(function, behind_cloudfront, f"{VIEWER}:50123", claims=signed_in),
        through_the_edge(function, behind_cloudfront, f"{ANOTHER_VIEWER}:50123", claims=signed_in),
    ]
    assert statuses(answers) == [(200, None), (429, "quota_exceeded")]


def test_turnstile_is_told_the_viewers_address(
    function: Function, behind_cloudfront: str, turnstile: TurnstileStub, aws_admin: Any
) -> None:
    secret = {
        "apiKey": API_KEY,
        "turnstileSecretKey": TURNSTILE_SECRET_KEY,
        "originVerifySecret": behind_cloudfront,
    }
    aws_admin.put_secret(json.dumps(secret))

    answer = through_the_edge(
        function, behind_cloudfront, f"{VIEWER}:50123", body=json.dumps({"turnstileToken": turnstile.issue()})
    )

    assert answer.status == 200
    assert [request["remoteip"] for request in turnstile.requests] == [VIEWER]


def test_a_preflight_on_a_cold_start_with_secrets_manager_failing_is_503_not_a_pass(
    function: Function, behind_cloudfront: str, aws: FaultProxy
) -> None:
    aws.enqueue(
        aws_unavailable(), aws_unavailable(), match="GetSecretValue"
    )  # the SDK's two attempts in tests

    answer = through_the_edge(function, behind_cloudfront, f"{VIEWER}:50123", "OPTIONS")

    assert (answer.status, answer.json()["code"]) == (503, "dependency_unavailable")
