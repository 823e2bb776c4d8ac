"""Every answer the endpoint gives that is not a token: one table of codes, statuses and messages.

Errors are raised where they are known, as `TokenVendorError(code, detail)`, and turned into HTTP in one
place (`responses.error_response`). `detail` is for the operator's log, never for the caller: the message a
caller sees comes from this table only, so no ARN, key or upstream body can reach a browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    PERSONA_CONFIG_NOT_ALLOWED = "persona_config_not_allowed"
    PROMPT_TOO_LONG = "prompt_too_long"
    PROMPT_NOT_SUPPORTED = "prompt_not_supported"
    UNKNOWN_PERSONA = "unknown_persona"
    INVALID_VARIABLE = "invalid_variable"
    UNAUTHENTICATED = "unauthenticated"
    DIRECT_ACCESS_REFUSED = "direct_access_refused"
    VERIFICATION_FAILED = "verification_failed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    CONFIGURATION_ERROR = "configuration_error"
    INTERNAL_ERROR = "internal_error"
    UPSTREAM_AUTH_FAILED = "upstream_auth_failed"
    UPSTREAM_REJECTED = "upstream_rejected"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    UPSTREAM_INVALID_RESPONSE = "upstream_invalid_response"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable"
    BUDGET_EXHAUSTED = "budget_exhausted"
    MINTING_PAUSED = "minting_paused"
    UPSTREAM_TIMEOUT = "upstream_timeout"


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    message: str
    retry_after: str | None = None


_OPERATOR = "The service's operator can find the cause in its logs under this requestId."

ERRORS: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.INVALID_JSON: ErrorSpec(
        400,
        "The request body is not valid JSON (or names a key twice). "
        'Send no body, or a JSON object such as {{"prompt": "..."}}.',
    ),
    ErrorCode.INVALID_REQUEST: ErrorSpec(400, "{reason}"),
    ErrorCode.PERSONA_CONFIG_NOT_ALLOWED: ErrorSpec(
        400,
        'The persona is defined on the server, so a request may not set "{field}". '
        'Send only an optional "prompt".',
    ),
    ErrorCode.PROMPT_TOO_LONG: ErrorSpec(400, '"prompt" is longer than {limit} characters.'),
    ErrorCode.PROMPT_NOT_SUPPORTED: ErrorSpec(
        400,
        'This persona does not take a prompt. Send the request without "prompt".',
    ),
    ErrorCode.UNKNOWN_PERSONA: ErrorSpec(
        400,
        'There is no persona of that name. Send the name of a persona this service offers, or no "persona".',
    ),
    ErrorCode.INVALID_VARIABLE: ErrorSpec(400, 'The variable "{variable}" {reason}'),
    ErrorCode.UNAUTHENTICATED: ErrorSpec(
        401, "This endpoint needs a signed-in caller. Sign in again and send the Authorization header."
    ),
    ErrorCode.DIRECT_ACCESS_REFUSED: ErrorSpec(
        403,
        "This endpoint answers only through the site's own address (its CloudFront distribution). Call it "
        "there, not at the API's execute-api address.",
    ),
    ErrorCode.VERIFICATION_FAILED: ErrorSpec(
        403,
        "The human verification did not pass (missing, expired or already used). Complete the check again "
        "and send its new token.",
    ),
    ErrorCode.NOT_FOUND: ErrorSpec(404, "Not found. Session tokens are issued by POST /session-token."),
    ErrorCode.METHOD_NOT_ALLOWED: ErrorSpec(
        405, "{method} cannot be used here: request a session token with POST.{hint}"
    ),
    ErrorCode.BODY_TOO_LARGE: ErrorSpec(413, "The request body is larger than 16 KiB."),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: ErrorSpec(
        415, "Send the request body as application/json (text/plain is accepted too)."
    ),
    ErrorCode.RATE_LIMITED: ErrorSpec(
        429, "Anam is limiting how many sessions can start right now. Try again after a short wait."
    ),
    ErrorCode.QUOTA_EXCEEDED: ErrorSpec(
        429,
        "You have started as many avatar sessions as this site allows for now. You can start another later.",
    ),
    ErrorCode.CONFIGURATION_ERROR: ErrorSpec(500, f"The token service is misconfigured. {_OPERATOR}"),
    ErrorCode.INTERNAL_ERROR: ErrorSpec(500, f"The token service failed unexpectedly. {_OPERATOR}"),
    ErrorCode.UPSTREAM_AUTH_FAILED: ErrorSpec(
        502, f"Anam refused the service's API key; the key must be replaced. {_OPERATOR}"
    ),
    ErrorCode.UPSTREAM_REJECTED: ErrorSpec(
        502, f"Anam refused to start a session for this persona. {_OPERATOR}"
    ),
    ErrorCode.UPSTREAM_UNAVAILABLE: ErrorSpec(502, "Anam is unavailable right now. Try again shortly."),
    ErrorCode.UPSTREAM_INVALID_RESPONSE: ErrorSpec(
        502, "Anam answered without a usable session token. Try again shortly."
    ),
    ErrorCode.DEPENDENCY_UNAVAILABLE: ErrorSpec(
        503,
        "The token service cannot reach a service it depends on right now. Try again in a few seconds.",
        retry_after="3",
    ),
    ErrorCode.BUDGET_EXHAUSTED: ErrorSpec(
        503, "This site has used all the avatar time it offers for now. Please come back later."
    ),
    ErrorCode.MINTING_PAUSED: ErrorSpec(
        503, "The site's operator has paused new avatar sessions. Try again later."
    ),
    ErrorCode.UPSTREAM_TIMEOUT: ErrorSpec(504, "Anam did not answer in time. Try again."),
}


class TokenVendorError(Exception):
    """An answer other than a token, with what the operator needs to know kept apart from the caller's."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str = "",
        *,
        retry_after: str | None = None,
        **message_args: object,
    ) -> None:
        spec = ERRORS[code]
        self.code = code
        self.status = spec.status
        self.message = spec.message.format(**message_args)
        self.detail = detail
        self.retry_after = retry_after or spec.retry_after
        super().__init__(f"{code}: {detail or self.message}")
