"""Cloudflare Turnstile's siteverify (docs/contract.md §10): the human check's adapter, over `requests`.

One POST with the secret, the token, the caller's address and an idempotency key; one retry with the same key
(siteverify then answers as it did, instead of "already used") when the first attempt failed to connect,
timed out or got a 5xx, all within a few seconds and never past the request's deadline. Anything but an
answer is 503: the check fails closed. The secret is sent in the body only and never logged.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from token_vendor.adapters.http_session import attempt_timeouts, new_session
from token_vendor.domain.deadline import GaveUp, Retry, retry_until
from token_vendor.domain.human_check import Verdict, judge, require_token, secret_key
from token_vendor.domain.values import Credentials
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger

ATTEMPTS = 2
# The whole verification's budget, both attempts included: a visitor waits for it before Anam is asked.
BUDGET_SECONDS = 4.0
# One attempt's share, so that a slow first attempt leaves time for the retry.
ATTEMPT_SECONDS = 2.0


class TurnstileCheck:
    def __init__(
        self,
        siteverify_url: str,
        allowed_hosts: frozenset[str],
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = siteverify_url
        self._allowed_hosts = allowed_hosts
        self._session = session or new_session(siteverify_url)
        self._clock = clock

    def verify(self, token: str | None, remote_ip: str, credentials: Credentials, deadline: float) -> None:
        secret = secret_key(credentials)
        verdict = self._siteverify(secret, require_token(token), remote_ip, deadline)
        judge(verdict, self._allowed_hosts)

    def _siteverify(self, secret: str, token: str, remote_ip: str, deadline: float) -> Verdict:
        payload = {
            "secret": secret,
            "response": token,
            "remoteip": remote_ip,
            "idempotency_key": str(uuid.uuid4()),
        }
        deadline = min(deadline, self._clock() + BUDGET_SECONDS)

        def attempt(remaining: float) -> Verdict:
            try:
                response = self._session.post(
                    self._url,
                    json=payload,
                    # Connect and read together within the attempt's share, not each of them apart.
                    timeout=attempt_timeouts(min(remaining, ATTEMPT_SECONDS)),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise Retry(f"siteverify unreachable: {type(exc).__name__}") from exc
            if response.status_code >= 500:
                raise Retry(f"siteverify answered {response.status_code}")
            verdict = _verdict(response)
            if verdict is None:
                raise TokenVendorError(
                    ErrorCode.DEPENDENCY_UNAVAILABLE,
                    f"siteverify answered {response.status_code} without a verdict",
                )
            return verdict

        try:
            return retry_until(
                attempt, attempts=ATTEMPTS, deadline=deadline, clock=self._clock, on_retry=_log_retry
            )
        except GaveUp as gave_up:
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, gave_up.failure) from None


def _log_retry(_: int, failure: str) -> None:
    logger.warning("Retrying Turnstile siteverify", extra={"failure": failure})


def _verdict(response: requests.Response) -> Verdict | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        return None
    codes = body.get("error-codes")
    hostname = body.get("hostname")
    return Verdict(
        success=body["success"],
        hostname=hostname if isinstance(hostname, str) else None,
        error_codes=tuple(str(code) for code in codes) if isinstance(codes, list) else (),
    )
