"""A local stand-in for Anam's token API that checks requests as Anam would and can misbehave on request.

Normal behaviour of `POST /v1/auth/session-token`: 401 for a missing or unknown key, 415 for a body that is
not declared JSON, 400 for a body Anam would refuse (see `anam_rules`), else 200 with an HS256 JWT carrying
the claims Anam's tokens carry, signed with PyJWT. `GET /v1/sessions` lists the sessions the SDK started
with those tokens (`anam_sessions`), under the same key check. Tests queue other behaviours (`Reply`,
`Slow`, `Reset`, `Html`, `RateLimited`), one consumed per request, to see how the function copes.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import jwt
from jwt.types import Options

from local.http_plumbing import Headers, LocalRequestHandler, LocalService, ReceivedRequest
from local.standins import anam_rules
from local.standins.anam_sessions import SESSIONS_PATH, SessionLog

__all__ = [
    "AnamStub",
    "Behaviour",
    "Headers",
    "Html",
    "RateLimited",
    "ReceivedRequest",
    "Reply",
    "Reset",
    "Slow",
]

TOKEN_PATH = "/v1/auth/session-token"  # noqa: S105 - a URL path, not a password
TOKEN_LIFETIME_SECONDS = 3600
STUB_ACCOUNT_ID = "00000000-0000-4000-8000-00000000a11a"
# Not a secret: only this stand-in signs with it, and no real service accepts its tokens. 32 bytes or more,
# the least RFC 7518 asks of an HS256 key (PyJWT warns about a shorter one).
STUB_SIGNING_SECRET = b"anam-stub-signing-secret-not-a-real-key"
_ALGORITHM = "HS256"
# Verification is the signature only: the SDK routes judge `exp` themselves (an expired token is still one
# this stand-in signed), and no other claim is checked, so PyJWT's own claim checks are all off.
_SIGNATURE_ONLY: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}


@dataclass(frozen=True)
class Reply:
    """Answer with this status, body (a dict is sent as JSON) and headers."""

    status: int
    body: bytes | str | dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Slow:
    """Wait, then behave normally (or as `then` says): for timeouts and time budgets."""

    seconds: float
    then: Behaviour | None = None


@dataclass(frozen=True)
class Reset:
    """Read the request, then drop the connection with a TCP RST and no response."""


@dataclass(frozen=True)
class Html:
    """An HTML error page, as a load balancer or gateway in front of Anam sends."""

    status: int = 502


Behaviour: TypeAlias = Reply | Slow | Reset | Html


def RateLimited(retry_after: str | None = "7") -> Reply:
    """Anam's 429, with Retry-After unless `retry_after` is None."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(429, {"message": "Rate limit exceeded"}, headers)


class AnamStub(LocalService):
    def __init__(
        self, api_keys: Iterable[str] = ("test-anam-key",), host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__((host, port), _StubHandler, "anam-stub")
        self._initial_keys = frozenset(api_keys)
        self.api_keys: set[str] = set(self._initial_keys)
        self.token_type: str | None = None
        self.requests: list[ReceivedRequest] = []
        self._queue: deque[Behaviour] = deque()
        self._routes: dict[tuple[str, str], Callable[[ReceivedRequest], Reply]] = {}
        self._lock = threading.Lock()
        # What each token was minted with, by its jti: the clientLabel its session carries, and the
        # persona's maxSessionLengthSeconds, after which the engine ends the session.
        self.minted: dict[str, tuple[str | None, int | None]] = {}
        self.sessions = SessionLog()

    def enqueue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def reset(self) -> None:
        """Forget queued behaviours, recorded requests, counters, the forced token type and key rotations."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self.token_type = None
        self.api_keys = set(self._initial_keys)
        self.minted.clear()
        self.sessions.clear()
        if self._server is not None:
            self._server.reset_connection_count()

    def close_idle_connections(self) -> None:
        self._running().close_connections(idle_only=True)

    def add_route(self, method: str, path: str, handler: Callable[[ReceivedRequest], Reply]) -> None:
        self._routes[(method.upper(), path)] = handler

    @staticmethod
    def claims_of(token: str) -> dict[str, Any]:
        """A token's claims, after checking that this stand-in signed it (ValueError otherwise)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token, STUB_SIGNING_SECRET, algorithms=[_ALGORITHM], options=_SIGNATURE_ONLY
            )
        except jwt.InvalidSignatureError:
            raise ValueError("signature does not match") from None
        except jwt.PyJWTError as exc:
            raise ValueError(f"not a JWT this stand-in signed: {exc}") from None
        return claims

    def _take(self, request: ReceivedRequest) -> Behaviour | None:
        with self._lock:
            self.requests.append(request)
            return self._queue.popleft() if self._queue else None

    def _answer(self, request: ReceivedRequest) -> Reply:
        route = self._routes.get((request.method, request.route))
        if route is not None:
            return route(request)
        if request.route == SESSIONS_PATH and request.method == "GET":
            return self._list_sessions(request)
        if request.route != TOKEN_PATH:
            return Reply(404, {"message": f"Cannot {request.method} {request.route}"})
        if request.method != "POST":
            return Reply(405, {"message": "Method not allowed: POST a persona config"}, {"Allow": "POST"})
        return self._mint(request)

    def _mint(self, request: ReceivedRequest) -> Reply:
        key = _bearer_key(request.headers)
        if key is None or key not in self.api_keys:
            return Reply(401, {"message": "Invalid API key"})
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return Reply(415, {"message": "Content-Type must be application/json"})
        if not isinstance(request.json, dict):
            return Reply(400, {"message": "The request body must be a JSON object"})
        problem = anam_rules.problem_with(request.json)
        if problem is not None:
            return Reply(400, {"message": problem})
        token_type = self.token_type or anam_rules.token_type_for(request.json["personaConfig"])
        token = _token(key, token_type)
        label = request.json.get("clientLabel")
        cap = request.json["personaConfig"].get("maxSessionLengthSeconds")
        self.minted[self.claims_of(token)["jti"]] = (label, cap if isinstance(cap, int) else None)
        return Reply(200, {"sessionToken": token})

    def _list_sessions(self, request: ReceivedRequest) -> Reply:
        key = _bearer_key(request.headers)
        if key is None or key not in self.api_keys:
            return Reply(401, {"message": "Invalid API key"})
        time.sleep(self.sessions.latency_seconds)  # in this request's own thread: lookups at once overlap
        return Reply(200, self.sessions.page(urlsplit(request.path).query))


def _bearer_key(headers: Headers) -> str | None:
    scheme, _, key = headers.get("Authorization", "").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def _token(api_key: str, token_type: str) -> str:
    issued = int(time.time())
    claims = {
        "accountId": STUB_ACCOUNT_ID,
        "type": token_type,
        # Derived from the key, never the key itself: a token must not reveal the key it was minted with.
        "apiKeyId": str(uuid.UUID(bytes=hashlib.sha256(api_key.encode()).digest()[:16], version=4)),
        "iat": issued,
        "exp": issued + TOKEN_LIFETIME_SECONDS,
        # Tokens are single-use: two minted in the same second must still differ.
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, STUB_SIGNING_SECRET, algorithm=_ALGORITHM)


def _encode(reply: Reply) -> tuple[dict[str, str], bytes]:
    if isinstance(reply.body, dict):
        return {"Content-Type": "application/json", **reply.headers}, json.dumps(reply.body).encode()
    if isinstance(reply.body, str):
        return {"Content-Type": "text/plain; charset=utf-8", **reply.headers}, reply.body.encode()
    return dict(reply.headers), reply.body or b""


def _html_page(status: int) -> bytes:
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = f"{status} Error"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


class _StubHandler(LocalRequestHandler):
    @property
    def stub(self) -> AnamStub:
        stub: AnamStub = self.server.owner
        return stub

    def respond(self) -> None:
        request = self.received()
        self._behave(request, self.stub._take(request))

    def _behave(self, request: ReceivedRequest, behaviour: Behaviour | None) -> None:
        if isinstance(behaviour, Slow):
            time.sleep(behaviour.seconds)
            self._behave(request, behaviour.then)
        elif isinstance(behaviour, Reset):
            self.abort_with_reset()
        elif isinstance(behaviour, Html):
            self.send_reply(behaviour.status, [("Content-Type", "text/html")], _html_page(behaviour.status))
        else:
            reply = behaviour or self.stub._answer(request)
            headers, body = _encode(reply)
            self.send_reply(reply.status, headers.items(), body)
