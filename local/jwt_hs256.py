"""Sign and verify HS256 JSON Web Tokens with the standard library, for the Anam stand-in's session tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

_HEADER = {"alg": "HS256", "typ": "JWT"}


def sign(claims: Mapping[str, Any], secret: bytes) -> str:
    signing_input = f"{_encode_json(_HEADER)}.{_encode_json(claims)}"
    return f"{signing_input}.{_b64(_mac(signing_input, secret))}"


def verify(token: str, secret: bytes) -> dict[str, Any]:
    """The token's claims; ValueError when it is malformed or was not signed with `secret`."""
    try:
        header, claims, signature = token.split(".")
    except ValueError:
        raise ValueError("not a JWT: expected three dot-separated parts") from None
    expected = _mac(f"{header}.{claims}", secret)
    if not hmac.compare_digest(expected, _unb64(signature)):
        raise ValueError("signature does not match")
    decoded = json.loads(_unb64(claims))
    if not isinstance(decoded, dict):
        raise ValueError("claims are not a JSON object")
    return decoded


def _mac(signing_input: str, secret: bytes) -> bytes:
    return hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()


def _encode_json(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
