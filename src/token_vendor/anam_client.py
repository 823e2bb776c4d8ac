"""The call to Anam's token endpoint (SPEC 5): one pooled session, retries inside a time budget.

Knows HTTP and Anam's answers; knows nothing of Lambda or AWS. Every outcome other than a token is raised as a
`TokenVendorError`, with Anam's own message kept for the log only.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger, redact

TOKEN_PATH = "/v1/auth/session-token"  # noqa: S105 (a URL path, not a secret)
MAX_RETRIES = 2  # after the first attempt, for 5xx and connection errors only
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 2.0
_REJECTED = frozenset({400, 403, 404, 422})


@dataclass(frozen=True)
class SessionToken:
    token: str
    expires_at: str | None


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes | None  # None: the body could not be read (cut short, or not in its declared encoding)


def new_session(url: str) -> requests.Session:
    """One per execution environment, so warm invocations reuse the TCP/TLS connection to Anam."""
    session = requests.Session()
    # No urllib3-level retries: the budget-aware loop below owns retrying.
    session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
    # The environment's proxy and CA bundle settings, read once: with trust_env, requests reads them again
    # (and ~/.netrc, whose credentials would replace the Bearer header) on every call, 0.1 ms of each.
    environment = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies, session.verify = environment["proxies"], environment["verify"]
    session.trust_env = False
    return session


class AnamClient:
    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.url = base_url + TOKEN_PATH
        self.session = session or new_session(self.url)
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    def create_session_token(
        self, api_key: str, body: Mapping[str, Any], deadline: float, *, sensitive: tuple[str, ...] = ()
    ) -> SessionToken:
        """POST the body to Anam until it answers for good or `deadline` (a `clock()` time) passes.

        `sensitive` strings (the caller's prompt) are cut out of anything Anam says before it is logged.
        """
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        redactions = (api_key, *sensitive)
        for attempt in range(MAX_RETRIES + 1):
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise TokenVendorError(ErrorCode.UPSTREAM_TIMEOUT, f"no time left for attempt {attempt + 1}")
            try:
                # stream=True: the status and headers arrive here, the body is read apart (_receive), so a
                # failure to read it is not taken for a failure to connect.
                response = self.session.post(
                    self.url,
                    data=payload,
                    headers=headers,
                    timeout=remaining,
                    allow_redirects=False,
                    stream=True,
                )
            except requests.ReadTimeout as exc:
                # Anam may already have minted a token: a retry could mint a second one. Give up.
                raise TokenVendorError(ErrorCode.UPSTREAM_TIMEOUT, "read timed out") from exc
            except requests.RequestException as exc:
                failure = f"connection failed: {type(exc).__name__}"
            else:
                answer = _receive(response)
                if answer.status < 500:
                    return _token_or_error(answer, redactions)
                failure = f"Anam answered {answer.status}: {_anam_message(answer, redactions)}"
            self._back_off(attempt, failure, deadline)
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _back_off(self, attempt: int, failure: str, deadline: float) -> None:
        if attempt == MAX_RETRIES:
            raise TokenVendorError(ErrorCode.UPSTREAM_UNAVAILABLE, f"{failure}, after {attempt} retries")
        delay = self._jitter() * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
        if self._clock() + delay >= deadline:
            raise TokenVendorError(ErrorCode.UPSTREAM_UNAVAILABLE, f"{failure}; no time left to retry")
        logger.warning("Retrying Anam", extra={"attempt": attempt + 1, "failure": failure})
        self._sleep(delay)


def _receive(response: requests.Response) -> _Answer:
    """The answer with its body read, within the attempt's timeout."""
    try:
        body: bytes | None = response.content
    except requests.ConnectionError as exc:
        # How requests reports a read timeout in the middle of a body. As for any read timeout: no retry.
        response.close()
        raise TokenVendorError(ErrorCode.UPSTREAM_TIMEOUT, "the body stopped arriving") from exc
    except requests.RequestException:
        response.close()
        body = None
    return _Answer(response.status_code, response.headers, body)


def _token_or_error(answer: _Answer, redactions: tuple[str, ...]) -> SessionToken:
    status = answer.status
    if status == 200:
        token = _session_token(answer.body)
        if token is None:
            raise TokenVendorError(ErrorCode.UPSTREAM_INVALID_RESPONSE, _describe_body(answer))
        return SessionToken(token, token_expiry(token))
    message = f"Anam answered {status}: {_anam_message(answer, redactions)}"
    if status == 401:
        raise TokenVendorError(ErrorCode.UPSTREAM_AUTH_FAILED, message)
    if status == 429:
        raise TokenVendorError(ErrorCode.RATE_LIMITED, message, retry_after=_retry_after(answer.headers))
    if status not in _REJECTED:
        message += " (an unexpected status, treated as a refusal)"
    raise TokenVendorError(ErrorCode.UPSTREAM_REJECTED, message)


def _json(body: bytes | None) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:  # also UnicodeDecodeError
        return None


def _session_token(body: bytes | None) -> str | None:
    value = _json(body)
    token = value.get("sessionToken") if isinstance(value, dict) else None
    return token if isinstance(token, str) and token.strip() else None


def token_expiry(token: str) -> str | None:
    """The token's JWT `exp` claim as an ISO 8601 UTC time, read without verifying the signature."""
    try:
        claims_part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(claims_part + "=" * (-len(claims_part) % 4)))
        exp = claims["exp"]
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return None
        return datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (IndexError, KeyError, TypeError, ValueError, OverflowError, OSError, binascii.Error):
        return None


def _anam_message(answer: _Answer, redactions: tuple[str, ...]) -> str:
    """Anam's own explanation for the log: its JSON `message`/`error`, or a description of the body."""
    value = _json(answer.body)
    if isinstance(value, dict):
        parts = [value[k] for k in ("message", "error") if isinstance(value.get(k), str)]
        if parts:
            return redact(" / ".join(parts)[:300], redactions)
    return _describe_body(answer)


def _describe_body(answer: _Answer) -> str:
    content_type = answer.headers.get("Content-Type", "none")[:60]
    if answer.body is None:
        return f"a body of type {content_type} that could not be read"
    return f"a {len(answer.body)}-byte body of type {content_type}"


_DELTA_SECONDS = re.compile(r"\d{1,6}")


def _retry_after(headers: Mapping[str, str]) -> str | None:
    """Anam's Retry-After, passed on only when it is a valid delay or HTTP date."""
    value = headers.get("Retry-After", "").strip()
    if _DELTA_SECONDS.fullmatch(value):
        return value
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return value
