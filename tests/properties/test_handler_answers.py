"""docs/contract.md §3 through the real handler: any HTTP API event (any method, content type, body and base64
flag) gets a JSON answer with a code, or a token, or an empty preflight; never an exception, never a 5xx other
than the documented ones for the configuration or the dependency at fault.

Each property runs its examples in one execution environment (the `function` fixture), against moto and the
Anam stand-in; examples do not depend on each other, as the configuration is the same for all of them.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given

from local.http_api_event import HttpResponse, http_api_event, http_response
from tests.properties import strategies as gen
from tests.properties.spec_model import Outcome, request_outcomes
from tests.support.function import ORIGIN, Function
from token_vendor.errors import ERRORS, ErrorCode

PREFLIGHT = "preflight"
TOKEN = "token"
DEFAULT_PROMPT_MAX_CHARS = 4000
NOTHING_LISTENS = "http://127.0.0.1:9"  # the discard port


def event_for(method: str, content_type: str | None, body: str | None, is_base64: bool) -> dict[str, Any]:
    """An HTTP API event as API Gateway sends it, with exactly this method, body and base64 flag."""
    headers = {"origin": ORIGIN} | ({"content-type": content_type} if content_type is not None else {})
    event = http_api_event("POST", headers=headers)
    event["requestContext"]["http"]["method"] = method
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def answers_spec_3_allows(
    method: str, content_type: str | None, body: str | None, is_base64: bool
) -> set[Outcome]:
    # Methods are case-sensitive (RFC 9110); fetch() upper-cases only the standard ones before sending.
    if method == "OPTIONS":
        return {PREFLIGHT}
    if method != "POST":
        return {"method_not_allowed"}
    return request_outcomes(content_type, body, is_base64, DEFAULT_PROMPT_MAX_CHARS)


def what_the_caller_got(response: HttpResponse, api_event: dict[str, Any]) -> str:
    """The answer's kind (preflight, token or error code), after checking its shape."""
    if response.status == 204:
        assert response.body == b""
        return PREFLIGHT
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.body)
    if response.status == 200:
        assert isinstance(body["sessionToken"], str)
        return TOKEN
    assert set(body) == {"error", "code", "requestId"}
    assert body["requestId"] == api_event["requestContext"]["requestId"]
    assert ERRORS[ErrorCode(body["code"])].status == response.status
    return str(body["code"])


def invoke(
    function: Function, method: str, content_type: str | None, body: tuple[str | None, bool]
) -> tuple[str, set[str]]:
    """What the caller got, and what docs/contract.md §3 allows for this request when everything it needs
    works."""
    text, is_base64 = body
    api_event = event_for(method, content_type, text, is_base64)
    got = what_the_caller_got(http_response(function.invoke(api_event)), api_event)
    event(got)  # for hypothesis's statistics
    allowed = {
        TOKEN if isinstance(outcome, tuple) else outcome
        for outcome in answers_spec_3_allows(method, content_type, text, is_base64)
    }
    return got, allowed


@gen.HANDLER
@given(method=gen.methods, content_type=gen.content_types, body=gen.http_bodies())
def test_with_a_valid_configuration_any_request_gets_spec_3s_answer_and_never_a_5xx(
    function: Function, method, content_type, body
):
    got, allowed = invoke(function, method, content_type, body)
    assert got in allowed


@dataclass(frozen=True)
class Breakage:
    """Something wrong with the configuration or a dependency, and the codes that may then answer."""

    apply: Callable[[pytest.MonkeyPatch, Any], None]
    codes: frozenset[str]


def point_anam_nowhere(env: pytest.MonkeyPatch) -> None:
    env.setenv("ANAM_API_BASE_URL", NOTHING_LISTENS)
    env.setenv("ANAM_TIMEOUT_SECONDS", "0.05")  # a short budget: few backoffs per example


BREAKAGES = {
    "secret variable unset": Breakage(
        lambda env, admin: env.delenv("ANAM_API_KEY_SECRET_ID"), frozenset({"configuration_error"})
    ),
    "prompt limit not a number": Breakage(
        lambda env, admin: env.setenv("PROMPT_MAX_CHARS", "abc"), frozenset({"configuration_error"})
    ),
    "persona parameter missing": Breakage(
        lambda env, admin: env.setenv("PERSONA_PARAMETER_NAME", "/anam/no-such-persona"),
        frozenset({"configuration_error"}),
    ),
    "persona not JSON": Breakage(
        lambda env, admin: admin.put_persona("{oops"), frozenset({"configuration_error"})
    ),
    "AWS unreachable": Breakage(
        lambda env, admin: env.setenv("AWS_ENDPOINT_URL", NOTHING_LISTENS),
        frozenset({"dependency_unavailable"}),
    ),
    "Anam unreachable": Breakage(
        lambda env, admin: point_anam_nowhere(env),
        frozenset({"upstream_unavailable", "upstream_timeout"}),
    ),
}


@pytest.fixture(params=list(BREAKAGES), ids=list(BREAKAGES))
def breakage(
    request: pytest.FixtureRequest,
    function_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    aws_admin: Any,
) -> Breakage:
    broken = BREAKAGES[request.param]
    broken.apply(monkeypatch, aws_admin)
    return broken


@gen.HANDLER
@given(method=gen.methods, content_type=gen.content_types, body=gen.http_bodies())
def test_with_a_broken_configuration_requests_are_checked_first_then_answered_with_the_documented_code(
    function: Function, breakage: Breakage, method, content_type, body
):
    got, allowed = invoke(function, method, content_type, body)
    if TOKEN in allowed:
        allowed = (allowed - {TOKEN}) | breakage.codes
    assert got in allowed
