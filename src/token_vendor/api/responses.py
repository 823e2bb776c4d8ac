"""The HTTP answers: a token, an error (from the one table in errors.py), an empty preflight."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_lambda_powertools.event_handler import Response

from token_vendor.domain.values import SessionToken
from token_vendor.errors import ErrorCode, TokenVendorError

JSON = "application/json"
ALLOW = "POST, OPTIONS"


def token_response(token: SessionToken) -> Response[str]:
    body: dict[str, str | int] = {"sessionToken": token.token}
    if token.expires_at:
        body["expiresAt"] = token.expires_at
    if token.max_session_length_seconds is not None:
        body["maxSessionLengthSeconds"] = token.max_session_length_seconds
    return _json(200, body)


def error_response(error: TokenVendorError, request_id: str) -> Response[str]:
    response = _json(error.status, {"error": error.message, "code": str(error.code), "requestId": request_id})
    if error.retry_after:
        response.headers["Retry-After"] = error.retry_after
    if error.code is ErrorCode.METHOD_NOT_ALLOWED:
        response.headers["Allow"] = ALLOW
    return response


def preflight_response() -> Response[str]:
    return Response(status_code=204, body="", headers={})


def _json(status: int, body: Mapping[str, str | int]) -> Response[str]:
    return Response(
        status_code=status, content_type=JSON, body=json.dumps(body, separators=(",", ":")), headers={}
    )
