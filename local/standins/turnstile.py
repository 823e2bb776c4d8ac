"""A local stand-in for Cloudflare Turnstile's siteverify, answering as Cloudflare documents.

`POST /turnstile/v0/siteverify`, the body form-encoded or JSON (`secret`, `response`, `remoteip`,
`idempotency_key`), answered 200 with `{"success", "error-codes", "challenge_ts", "hostname", ...}`:
- the stand-in's own secret (`secret_key`) verifies the tokens it issued (`issue(hostname)`, what the widget
  would give a browser on that host): each once; a second use is `timeout-or-duplicate`, except a retry with
  the same idempotency key, which gets the first answer again; a token it never issued is
  `invalid-input-response`;
- Cloudflare's dummy test secrets behave as documented: `1x...AA` passes any token, `2x...AA` fails it,
  `3x...AA` answers `timeout-or-duplicate`;
- any other secret is `invalid-input-secret`; a missing one `missing-input-secret`, a missing token
  `missing-input-response`.
Faults (down, slow, garbage) come from a `FaultProxy` in front of it, as for the other stand-ins.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from local.http_plumbing import LocalRequestHandler, LocalService, ReceivedRequest

SITEVERIFY_PATH = "/turnstile/v0/siteverify"
STUB_SECRET_KEY = "stub-turnstile-secret"  # noqa: S105 - only this stand-in accepts it
PASSING_TEST_SECRET = "1x0000000000000000000000000000000AA"  # noqa: S105 - Cloudflare's public dummy secrets
FAILING_TEST_SECRET = "2x0000000000000000000000000000000AA"  # noqa: S105
SPENT_TEST_SECRET = "3x0000000000000000000000000000000AA"  # noqa: S105
DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX"  # noqa: S105 - what the dummy sitekeys give the browser
DUMMY_HOSTNAME = "example.com"


class TurnstileStub(LocalService):
    def __init__(self, secret_key: str = STUB_SECRET_KEY, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler, "turnstile-stub")
        self.secret_key = secret_key
        self.requests: list[dict[str, str]] = []  # the fields of each verification asked for
        self._issued: dict[str, str] = {}  # token -> hostname, until it is used
        self._answered: dict[str, dict[str, Any]] = {}  # idempotency key -> the answer given
        self._lock = threading.Lock()

    @property
    def siteverify_url(self) -> str:
        return self.url + SITEVERIFY_PATH

    def issue(self, hostname: str = "app.example.com") -> str:
        """A token, as the widget on a page at `hostname` would hand the browser."""
        token = f"stub.{secrets.token_urlsafe(24)}"
        with self._lock:
            self._issued[token] = hostname
        return token

    def reset(self) -> None:
        with self._lock:
            self._issued.clear()
            self._answered.clear()
            self.requests.clear()

    def answer(self, fields: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(fields)
            key = fields.get("idempotency_key")
            if key and key in self._answered:
                return self._answered[key]
            answer = self._verify(fields.get("secret", ""), fields.get("response", ""))
            if key:
                self._answered[key] = answer
            return answer

    def _verify(self, secret: str, token: str) -> dict[str, Any]:
        if not secret:
            return _refused("missing-input-secret")
        if secret == PASSING_TEST_SECRET:
            return _passed(DUMMY_HOSTNAME) if token else _refused("missing-input-response")
        if secret == FAILING_TEST_SECRET:
            return _refused("invalid-input-response")
        if secret == SPENT_TEST_SECRET:
            return _refused("timeout-or-duplicate")
        if secret != self.secret_key:
            return _refused("invalid-input-secret")
        if not token:
            return _refused("missing-input-response")
        if token in self._issued:
            return _passed(self._issued.pop(token))
        if token.startswith("stub."):
            return _refused("timeout-or-duplicate")  # issued here once, and already used
        return _refused("invalid-input-response")


def _passed(hostname: str) -> dict[str, Any]:
    return {
        "success": True,
        "error-codes": [],
        "challenge_ts": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "hostname": hostname,
        "action": "",
        "cdata": "",
    }


def _refused(code: str) -> dict[str, Any]:
    return {"success": False, "error-codes": [code], "messages": []}


def _fields(request: ReceivedRequest) -> dict[str, str]:
    if request.headers.get("Content-Type", "").startswith("application/json"):
        body = request.json if isinstance(request.json, dict) else {}
        return {str(name): str(value) for name, value in body.items()}
    return dict(parse_qsl(request.body.decode("utf-8", "replace")))


class _Handler(LocalRequestHandler):
    def respond(self) -> None:
        request = self.received()
        if request.route != SITEVERIFY_PATH:
            self.send_json(404, {"success": False, "error-codes": ["not-found"]})
        elif request.method != "POST":
            self.send_json(405, {"success": False, "error-codes": ["bad-request"]})
        else:
            stub: TurnstileStub = self.server.owner
            self.send_reply(
                200,
                [("Content-Type", "application/json")],
                json.dumps(stub.answer(_fields(request))).encode(),
            )
