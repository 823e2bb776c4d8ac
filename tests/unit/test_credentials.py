"""docs/contract.md §2, §8 and §10: what the API key secret may hold, and that no secret shows in a repr."""

import json

import pytest

from token_vendor.domain.values import Credentials, parse_credentials
from token_vendor.errors import ErrorCode, TokenVendorError

KEY = "anam-key-1234567890"
TURNSTILE = "0x4AAAAAAturnstile-secret"
ORIGIN = "origin-verify-secret-of-32-chars-or-more"
PREVIOUS = "the-origin-verify-secret-it-replaced"


@pytest.mark.parametrize(
    "stored",
    [KEY, f"  {KEY}\n", json.dumps({"apiKey": KEY}), KEY.encode()],
    ids=["plain", "padded", "json", "bytes"],
)
def test_the_key_is_read_from_either_form(stored):
    assert parse_credentials(stored) == Credentials(api_key=KEY)


def test_the_turnstile_secret_is_read_next_to_the_key():
    credentials = parse_credentials(json.dumps({"apiKey": KEY, "turnstileSecretKey": TURNSTILE}))
    assert (credentials.api_key, credentials.turnstile_secret_key) == (KEY, TURNSTILE)


def test_the_origin_secrets_are_read_next_to_the_key():
    stored = {"apiKey": KEY, "originVerifySecret": ORIGIN, "originVerifySecretPrevious": PREVIOUS}
    credentials = parse_credentials(json.dumps(stored))
    assert (credentials.origin_verify_secret, credentials.origin_verify_secret_previous) == (ORIGIN, PREVIOUS)


@pytest.mark.parametrize("stored", ["", "   ", "{}", '{"apiKey": ""}', '{"apiKey": 3}', "{not json"])
def test_a_secret_without_a_key_is_a_configuration_error(stored):
    with pytest.raises(TokenVendorError) as caught:
        parse_credentials(stored)
    assert caught.value.code is ErrorCode.CONFIGURATION_ERROR


def test_no_secret_appears_in_a_repr():
    shown = repr(
        Credentials(
            api_key=KEY,
            turnstile_secret_key=TURNSTILE,
            origin_verify_secret=ORIGIN,
            origin_verify_secret_previous=PREVIOUS,
        )
    )
    assert [secret for secret in (KEY, TURNSTILE, ORIGIN, PREVIOUS) if secret in shown] == []
