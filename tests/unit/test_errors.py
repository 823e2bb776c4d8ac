"""docs/contract.md §3, errors: one table of codes, and the JSON every error answer carries. (Each code's
status is checked against docs/openapi.yaml in tests/contract.)"""

import json

from token_vendor.api.responses import error_response
from token_vendor.errors import ERRORS, ErrorCode, TokenVendorError


def test_every_code_has_a_status_and_message():
    assert set(ERRORS) == set(ErrorCode)


def test_an_error_answer_is_json_with_message_code_and_request_id_and_never_the_detail():
    arn = "arn:aws:secretsmanager:eu-west-1:1:secret:x"
    error = TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"secret {arn} not found")
    response = error_response(error, "req-123")
    body = json.loads(str(response.body))
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert body == {
        "error": ERRORS[ErrorCode.CONFIGURATION_ERROR].message,
        "code": "configuration_error",
        "requestId": "req-123",
    }
    assert "arn:" not in str(response.body)


def test_405_carries_allow_post_options():
    response = error_response(TokenVendorError(ErrorCode.METHOD_NOT_ALLOWED, method="PUT", hint=""), "r")
    assert response.headers["Allow"] == "POST, OPTIONS"
    assert json.loads(str(response.body))["error"].startswith("PUT cannot be used here")


def test_dependency_unavailable_asks_to_retry_after_a_few_seconds():
    response = error_response(TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE), "r")
    assert 1 <= int(str(response.headers["Retry-After"])) <= 10


def test_rate_limited_passes_on_the_given_retry_after():
    response = error_response(TokenVendorError(ErrorCode.RATE_LIMITED, retry_after="7"), "r")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
