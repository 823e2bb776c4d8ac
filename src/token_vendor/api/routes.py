"""The HTTP API's routes on /session-token: POST mints, OPTIONS answers a preflight, anything else is refused.

Powertools matches methods case-insensitively; HTTP (RFC 9110) and API Gateway's routes do not. A `post`
reaches AWS's `ANY` route, which the JWT authorizer does not guard, so each route checks the method exactly
as the client spelled it before anything else (docs/contract.md §3).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from token_vendor.api.caller import identify
from token_vendor.api.middleware import VIEWER_ADDRESS, http_conventions
from token_vendor.api.responses import preflight_response, token_response
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.minting import HttpRequest, mint_session_token

PATH = "/session-token"
MINT = "POST"
PREFLIGHT = "OPTIONS"

app = APIGatewayHttpResolver()
app.use(middlewares=[http_conventions])


@app.post(PATH)
def create_session_token() -> Response[str]:
    event = app.current_event
    require_method(event.request_context.http.method, MINT)
    request = HttpRequest(
        headers=event.headers,
        body=event.body,
        is_base64_encoded=bool(event.is_base64_encoded),
        caller=identify(event.raw_event["requestContext"], app.context.get(VIEWER_ADDRESS)),
    )
    token = mint_session_token(request, lambda: app.lambda_context.get_remaining_time_in_millis() / 1000)
    return token_response(token)


@app.route(PATH, method=PREFLIGHT)
def preflight() -> Response[str]:
    require_method(app.current_event.request_context.http.method, PREFLIGHT)
    return preflight_response()


@app.not_found
def other_route(_: NotFoundError) -> Response[str]:
    # Any method but POST and OPTIONS on our path; any other path (in AWS, API Gateway answers those itself).
    method, path = app.current_event.request_context.http.method, app.current_event.path
    if path != PATH:
        raise TokenVendorError(ErrorCode.NOT_FOUND, f"{method[:16]} {path[:100]}")
    raise method_not_allowed(method)


def require_method(method: str, expected: str) -> None:
    if method != expected:
        raise method_not_allowed(method)


def method_not_allowed(method: str) -> TokenVendorError:
    if method.upper() == "GET":
        hint = " GET was Anam's legacy token flow and is no longer supported."
    elif method.upper() in (MINT, PREFLIGHT):
        hint = f" Methods are case-sensitive: send {method.upper()}, not {method}."
    else:
        hint = ""
    return TokenVendorError(
        ErrorCode.METHOD_NOT_ALLOWED, f"method {method[:16]}", method=method[:16], hint=hint
    )
