"""What Anam's JS SDK calls in the browser after `createClient(sessionToken)`, for the offline Anam stand-in.

`streamToVideoElement()` first starts an engine session: `POST {api.baseUrl}/v1/engine/session` with
`Authorization: Bearer <session token>` (from @anam-ai/js-sdk's CoreApiRestClient). The answer names the
engine and its signalling WebSocket; the SDK then opens `ws://<engineHost><signallingEndpoint>?session_id=...`
and negotiates WebRTC media over it. The stand-in implements the first step as Anam would (it checks that it
signed the token, that the token is not legacy, expired or already used) and refuses the WebSocket: there is
no avatar video offline, so the SDK ends with a signalling failure, never with a token error.

These calls come from a page on another origin, with an Authorization header, so the routes answer CORS
preflights for any origin. `POST /v1/metrics/client` (the SDK's telemetry) is accepted and dropped.

The engine session is recorded as a session of the token's clientLabel (anam_sessions.py). It ends when the
page's Stop posts its id to `POST /standin/session/stop`, the stand-in's own route: the SDK ends a session by
closing the signalling WebSocket, which offline never opened.

Register on a stand-in with `register(stub)` (before or after `stub.start()`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from local.http_plumbing import ReceivedRequest
from local.standins import anam_rules
from local.standins.anam import AnamStub, Reply
from local.standins.anam_sessions import STOP_PATH, session_id_of

ENGINE_SESSION_PATH = "/v1/engine/session"
METRICS_PATH = "/v1/metrics/client"
SIGNALLING_PATH = "/ws"
# Few attempts: offline the WebSocket can never open, and the SDK's default (5) only slows the failure down.
MAX_WS_RECONNECTION_ATTEMPTS = 2

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Anam-Target-Url",
    "Access-Control-Max-Age": "600",
}


def register(stub: AnamStub) -> None:
    """Add the SDK's routes to `stub`."""
    used_tokens: set[str] = set()
    lock = threading.Lock()

    def preflight(_request: ReceivedRequest) -> Reply:
        return Reply(204, None, CORS_HEADERS)

    def start_engine_session(request: ReceivedRequest) -> Reply:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _refuse(401, "Missing session token")
        try:
            claims = AnamStub.claims_of(token.strip())
        except ValueError:
            return _refuse(401, "Invalid session token")
        if str(claims.get("type", "")).lower() == anam_rules.LEGACY:
            return _refuse(401, "Legacy session tokens are no longer supported")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= time.time():
            return _refuse(401, "Session token expired")
        token_id = str(claims.get("jti") or token)
        with lock:
            if token_id in used_tokens:
                return _refuse(401, "Session token already used")
            used_tokens.add(token_id)
        engine_host = stub.url.removeprefix("http://")
        label, max_seconds = stub.minted.get(token_id, (None, None))
        body: dict[str, Any] = {
            "sessionId": stub.sessions.add(label, max_seconds=max_seconds),
            "engineHost": engine_host,
            "engineProtocol": "http",
            "signallingEndpoint": SIGNALLING_PATH,
            "clientConfig": {
                "heartbeatIntervalSeconds": 5,
                "maxWsReconnectionAttempts": MAX_WS_RECONNECTION_ATTEMPTS,
                "iceServers": [],
            },
        }
        return Reply(200, body, {"Access-Control-Allow-Origin": "*"})

    def accept_metrics(_request: ReceivedRequest) -> Reply:
        return Reply(204, None, {"Access-Control-Allow-Origin": "*"})

    def stop_session(request: ReceivedRequest) -> Reply:
        session_id = session_id_of(request)
        if session_id is None:
            return _refuse(400, 'Send {"sessionId": "<the id the engine session answered>"}')
        stopped = stub.sessions.stop(session_id)
        return Reply(204 if stopped else 404, None, {"Access-Control-Allow-Origin": "*"})

    def no_signalling(_request: ReceivedRequest) -> Reply:
        return Reply(501, {"message": "The offline Anam stand-in has no signalling server: no avatar video"})

    stub.add_route("OPTIONS", ENGINE_SESSION_PATH, preflight)
    stub.add_route("POST", ENGINE_SESSION_PATH, start_engine_session)
    stub.add_route("OPTIONS", METRICS_PATH, preflight)
    stub.add_route("POST", METRICS_PATH, accept_metrics)
    stub.add_route("GET", SIGNALLING_PATH, no_signalling)
    stub.add_route("OPTIONS", STOP_PATH, preflight)
    stub.add_route("POST", STOP_PATH, stop_session)


def _refuse(status: int, message: str) -> Reply:
    return Reply(status, {"message": message}, {"Access-Control-Allow-Origin": "*"})
