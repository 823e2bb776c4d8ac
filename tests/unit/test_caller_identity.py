"""Who the caller is (docs/contract.md §8): the verified JWT subject, else the source address."""

import pytest

from local.http_api_event import http_api_event
from token_vendor.api.caller import identify
from token_vendor.domain.caller import require_authenticated
from token_vendor.errors import ErrorCode, TokenVendorError


def caller_of(**kwargs):
    return identify(http_api_event("POST", **kwargs)["requestContext"])


def test_a_signed_in_caller_is_its_verified_subject():
    caller = caller_of(claims={"sub": "user-42", "email": "a@example.com"}, source_ip="203.0.113.9")
    assert caller.identity == "sub:user-42"
    assert caller.authenticated
    assert caller.claims["email"] == "a@example.com"


def test_an_anonymous_ipv4_caller_is_its_address():
    assert caller_of(source_ip="203.0.113.9").identity == "ip:203.0.113.9"


@pytest.mark.parametrize("address", ["2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"])
def test_an_ipv6_caller_is_its_slash_64(address):
    assert caller_of(source_ip=address).identity == "ip:2001:db8:1:2::/64"


def test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address():
    assert caller_of(source_ip="::ffff:203.0.113.9").identity == "ip:203.0.113.9"


def test_headers_a_client_can_write_never_change_the_caller():
    spoofed = caller_of(
        source_ip="203.0.113.9",
        headers={"x-forwarded-for": "198.51.100.1", "x-real-ip": "198.51.100.2", "forwarded": "for=1.2.3.4"},
    )
    assert spoofed.identity == "ip:203.0.113.9"


def test_claims_without_a_subject_leave_the_caller_counted_by_address():
    caller = caller_of(claims={"email": "a@example.com"}, source_ip="203.0.113.9")
    assert caller.identity == "ip:203.0.113.9"
    assert caller.authenticated


def test_claims_on_a_route_the_authorizer_does_not_guard_are_not_there():
    event = http_api_event("post", claims={"sub": "user-42"})
    assert not identify(event["requestContext"]).authenticated


def test_required_authentication_refuses_an_anonymous_caller_only():
    with pytest.raises(TokenVendorError) as refused:
        require_authenticated(caller_of(), required=True)
    assert refused.value.code is ErrorCode.UNAUTHENTICATED
    require_authenticated(caller_of(claims={"sub": "u"}), required=True)
    require_authenticated(caller_of(), required=False)
