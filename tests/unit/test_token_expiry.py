"""docs/contract.md §3, success: `expiresAt` is the token's `exp` claim, unverified; none without one."""

import base64
import json

import pytest

from token_vendor.domain.values import token_expiry


def jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part(claims)}.signature"


def test_exp_is_read_as_an_iso_utc_time():
    assert token_expiry(jwt({"exp": 1795512600})) == "2026-11-24T09:30:00Z"


@pytest.mark.parametrize(
    "token", ["opaque-token", jwt({"iat": 1}), jwt({"exp": "soon"}), jwt({"exp": True}), "a.!!!.c", "a.e30"]
)
def test_a_token_without_a_usable_exp_has_no_expiry(token):
    assert token_expiry(token) is None
