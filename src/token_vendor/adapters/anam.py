"""The call to Anam's token endpoint (docs/contract.md §5): one pooled session, retries inside a time budget.

Knows HTTP and Anam's answers; knows nothing of Lambda or AWS. Every outcome other than a token is raised as a
`TokenVendorError`, with Anam's own message kept for the log only.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from token_vendor.adapters.http_session import IdleLimitedPool, PooledAdapter, attempt_timeouts, new_session
from token_vendor.domain.deadline import Backoff, GaveUp, Retry, retry_until
from token_vendor.domain.values import SessionToken, token_expiry
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger, redact

TOKEN_PATH = "/v1/auth/session-token"  # noqa: S105 (a URL path, not a secret)
MAX_RETRIES = 2  # after the first attempt, for 5xx and connection errors only
BACKOFF = Backoff(base_seconds=0.2, cap_seconds=2.0)
_REJECTED = frozenset({400, 403, 404, 422})


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes | None  # None: the body could not be read (cut short, or not in its declared encoding)


class AnamClient:
    def __init__(
        self,
        base_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.url = base_url + TOKEN_PATH
        self.session = new_session(self.url)
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    def connect(self, timeout: float) -> None:
        """Open the pooled connection to Anam now, sending nothing, so that the next call finds it open.

        Raises what connecting raises (OSError, ssl.SSLError); a connection that failed is not kept. Through
        an HTTP proxy (HTTPS_PROXY), nothing is opened ahead: the first call connects, as without this.
        """
        adapter = self.session.get_adapter(self.url)
        pool = adapter.pool_for(self.session, self.url) if isinstance(adapter, PooledAdapter) else None
        if isinstance(pool, IdleLimitedPool):
            pool.open_connection(timeout)

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

        def attempt(remaining: float) -> SessionToken:
            try:
                # stream=True: the status and headers arrive here, the body is read apart (_receive), so a
                # failure to read it is not taken for a failure to connect.
                response = self.session.post(
                    self.url,
                    data=payload,
                    headers=headers,
                    timeout=attempt_timeouts(remaining),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.ReadTimeout as exc:
                # Anam may already have minted a token: a retry could mint a second one. Give up.
                raise TokenVendorError(ErrorCode.UPSTREAM_TIMEOUT, "read timed out") from exc
            except requests.RequestException as exc:
                raise Retry(f"connection failed: {type(exc).__name__}") from exc
            answer = _receive(response)
            if answer.status >= 500:
                raise Retry(f"Anam answered {answer.status}: {_anam_message(answer, redactions)}")
            return _token_or_error(answer, redactions)

        try:
            return retry_until(
                attempt,
                attempts=MAX_RETRIES + 1,
                deadline=deadline,
                backoff=BACKOFF,
                clock=self._clock,
                sleep=self._sleep,
                jitter=self._jitter,
                on_retry=_log_retry,
            )
        except GaveUp as gave_up:
            if gave_up.started == 0:
                raise TokenVendorError(ErrorCode.UPSTREAM_TIMEOUT, "no time left for attempt 1") from None
            raise TokenVendorError(ErrorCode.UPSTREAM_UNAVAILABLE, gave_up.describe()) from None


def _log_retry(attempt: int, failure: str) -> None:
    logger.warning("Retrying Anam", extra={"attempt": attempt, "failure": failure})


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


def _anam_message(answer: _Answer, redactions: tuple[str, ...]) -> str:
    """Anam's own explanation for the log: its JSON `message`/`error`, or a description of the body."""
    value = _json(answer.body)
    if isinstance(value, dict):
        parts = [value[k] for k in ("message", "error") if isinstance(value.get(k), str)]
        if parts:
            # Redacted before it is cut short: a secret cut in two would no longer match.
            return redact(" / ".join(parts), redactions)[:300]
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
