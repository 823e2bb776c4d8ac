"""Translate between plain HTTP and API Gateway HTTP API (payload format 2.0) events.

Used by the dev server, `make invoke`'s callers and the tests, so all of them feed the handler the same shape
that API Gateway sends: lower-cased headers, `cookies` split out, binary bodies base64-encoded, the method as
the client spelled it, and the route key of the route the template's HTTP API matches. The JWT authorizer
is emulated as AWS runs it: it guards only the `POST /session-token` route (methods are case-sensitive, so
`post` lands on `ANY /session-token`), and only there do verified claims reach the event.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_TEXT_TYPES = ("application/json", "text/")
ROUTE_PATH = "/session-token"
# The template's routes: POST alone (so the optional authorizer guards it), every other method through ANY.
AUTHORIZED_ROUTE = f"POST {ROUTE_PATH}"
OTHER_METHODS_ROUTE = f"ANY {ROUTE_PATH}"


def route_key(method: str, path: str) -> str:
    """The route key API Gateway matches: exact method and path, case-sensitive."""
    if path != ROUTE_PATH:
        return "$default"
    return AUTHORIZED_ROUTE if method == "POST" else OTHER_METHODS_ROUTE


def http_api_event(
    method: str,
    path: str = "/session-token",
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    query: str = "",
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for one request, as API Gateway would build it.

    `claims`: the caller signed in; the authorizer verified its JWT and, on the route it guards, passes the
    claims on (as strings, as API Gateway does).
    """
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
    route = route_key(method, path)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id or uuid.uuid4().hex[:16],
            "routeKey": route,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if claims is not None and route == AUTHORIZED_ROUTE:
        event["requestContext"]["authorizer"] = {
            "jwt": {"claims": {str(k): str(v) for k, v in claims.items()}, "scopes": None}
        }
    if cookies:
        event["cookies"] = cookies
    if query:
        pairs = (part.partition("=") for part in query.split("&") if part)
        event["queryStringParameters"] = {name: value for name, _, value in pairs}
    if body is not None and body != b"" and body != "":
        raw = body.encode() if isinstance(body, str) else body
        content_type = lowered.get("content-type", "")
        if _is_text(content_type, raw):
            event["body"] = raw.decode()
        else:
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
    return event


def _is_text(content_type: str, raw: bytes) -> bool:
    # API Gateway base64-encodes bodies it does not recognise as text; a non-UTF-8 body cannot be text.
    if not content_type.startswith(_TEXT_TYPES):
        return not content_type and _is_utf8(raw)
    return _is_utf8(raw)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def http_response(result: Mapping[str, Any]) -> HttpResponse:
    """The HTTP response API Gateway would send for a handler's payload 2.0 result."""
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return HttpResponse(status=int(result.get("statusCode", 200)), headers=headers, body=body)
