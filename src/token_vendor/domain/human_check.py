"""Human verification's rules and port (docs/contract.md §10): what a siteverify answer means for a request.

Pure: the token's shape, and the verdict (refused, misconfigured, or passed for an allowed host). Asking
Cloudflare is the adapter's business (`adapters/turnstile.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from token_vendor.domain.values import Credentials
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.settings import ANY_ORIGIN

# Cloudflare: a Turnstile token is at most 2048 characters. A longer one is refused without asking.
TOKEN_MAX_CHARS = 2048
# siteverify's answers about the secret itself: the operator's to fix, not the visitor's.
_SECRET_ERRORS = frozenset({"missing-input-secret", "invalid-input-secret"})


@dataclass(frozen=True)
class Verdict:
    """What siteverify answered."""

    success: bool
    hostname: str | None = None
    error_codes: tuple[str, ...] = ()


class HumanCheck(Protocol):
    def verify(self, token: str | None, remote_ip: str, credentials: Credentials, deadline: float) -> None:
        """Pass, or raise: 403 verification_failed, 500 configuration_error, 503 dependency_unavailable.
        `deadline` is a time.monotonic() value no call may run past."""


def secret_key(credentials: Credentials) -> str:
    if not credentials.turnstile_secret_key:
        raise TokenVendorError(
            ErrorCode.CONFIGURATION_ERROR,
            'HUMAN_VERIFICATION is turnstile but the API key secret holds no "turnstileSecretKey"',
        )
    return credentials.turnstile_secret_key


def require_token(token: str | None) -> str:
    """The token when it could be one; a missing, empty or oversized one is refused before siteverify."""
    if not token or not token.strip():
        raise TokenVendorError(ErrorCode.VERIFICATION_FAILED, "no turnstileToken in the request")
    if len(token) > TOKEN_MAX_CHARS:
        raise TokenVendorError(ErrorCode.VERIFICATION_FAILED, "turnstileToken longer than a Turnstile token")
    return token


def judge(verdict: Verdict, allowed_hosts: frozenset[str]) -> None:
    """Raise unless the verdict is a pass for one of `allowed_hosts` (any host when that is empty)."""
    if _SECRET_ERRORS & set(verdict.error_codes):
        raise TokenVendorError(
            ErrorCode.CONFIGURATION_ERROR, f"siteverify refused the Turnstile secret: {verdict.error_codes}"
        )
    if not verdict.success:
        raise TokenVendorError(
            ErrorCode.VERIFICATION_FAILED, f"siteverify refused the token: {list(verdict.error_codes)}"
        )
    if allowed_hosts and (verdict.hostname or "").lower() not in allowed_hosts:
        raise TokenVendorError(
            ErrorCode.VERIFICATION_FAILED,
            f"the token was issued on {verdict.hostname!r}, not the host of an allowed origin",
        )


def allowed_hosts(origins: Iterable[str]) -> frozenset[str]:
    """The hosts a token may come from: those of ALLOWED_ORIGINS; none to check when it is `*` or empty."""
    origins = set(origins)
    if ANY_ORIGIN in origins:
        return frozenset()
    return frozenset((urlsplit(origin).hostname or "").lower() for origin in origins) - {""}
