"""The values that cross the layers: what the API key secret holds, and a minted session token."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from token_vendor.errors import ErrorCode, TokenVendorError


@dataclass(frozen=True)
class Credentials:
    """What the API key secret holds. Never in a repr: a logged object must not carry a secret."""

    api_key: str = field(repr=False)
    turnstile_secret_key: str | None = field(default=None, repr=False)
    # What CloudFront adds to every request it sends (docs/contract.md §8), and the value it sent before a
    # rotation, accepted until the operator removes it.
    origin_verify_secret: str | None = field(default=None, repr=False)
    origin_verify_secret_previous: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SessionToken:
    token: str
    expires_at: str | None  # ISO 8601 UTC, as the answer carries it
    max_session_length_seconds: int | None = None  # the session's cap, for the page's countdown (§3)

    @property
    def expires_epoch(self) -> int | None:
        """The token's `exp`, epoch seconds (what the reservation's record must not fall short of)."""
        if self.expires_at is None:
            return None
        return int(datetime.strptime(self.expires_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def parse_credentials(raw: object) -> Credentials:
    """The secret's value: the key as a plain string, or a JSON object {"apiKey": "...",
    "turnstileSecretKey": "...", "originVerifySecret": "...", "originVerifySecretPrevious": "..."} (the others
    only with human verification, docs/contract.md §10, and behind CloudFront, §8)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    text = str(raw or "").strip()
    if not text.startswith("{"):
        if not text:
            raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, "API key secret is empty")
        return Credentials(api_key=text)
    try:
        fields = json.loads(text)
    except ValueError:
        fields = None
    api_key = fields.get("apiKey") if isinstance(fields, dict) else None
    if not isinstance(api_key, str) or not api_key.strip():
        raise TokenVendorError(
            ErrorCode.CONFIGURATION_ERROR, 'API key secret is a JSON object without a string "apiKey"'
        )
    return Credentials(
        api_key=api_key.strip(),
        turnstile_secret_key=_optional(fields, "turnstileSecretKey"),
        origin_verify_secret=_optional(fields, "originVerifySecret"),
        origin_verify_secret_previous=_optional(fields, "originVerifySecretPrevious"),
    )


def _optional(fields: dict[str, object], name: str) -> str | None:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


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
