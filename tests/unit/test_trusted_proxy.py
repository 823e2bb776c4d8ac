"""Behind CloudFront (docs/contract.md §8): the origin secret, the viewer's address, the caller it makes."""

import pytest

from local.http_api_event import http_api_event
from token_vendor.api.caller import identify
from token_vendor.domain.trusted_proxy import (
    ORIGIN_SECRET_MIN_CHARS,
    origin_secrets,
    require_origin_secret,
    viewer_address,
)
from token_vendor.domain.values import Credentials
from token_vendor.errors import ErrorCode, TokenVendorError

SECRET = "s" * ORIGIN_SECRET_MIN_CHARS
PREVIOUS = "p" * ORIGIN_SECRET_MIN_CHARS


def code_of(action) -> ErrorCode:
    with pytest.raises(TokenVendorError) as caught:
        action()
    return caught.value.code


def test_the_matching_origin_header_passes():
    require_origin_secret({"x-origin-verify": SECRET}, (SECRET,))


def test_the_previous_secret_passes_while_the_secret_still_holds_it():
    secrets = origin_secrets(
        Credentials(api_key="k", origin_verify_secret=SECRET, origin_verify_secret_previous=PREVIOUS)
    )
    require_origin_secret({"x-origin-verify": PREVIOUS}, secrets)
    require_origin_secret({"x-origin-verify": SECRET}, secrets)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-origin-verify": ""},
        {"x-origin-verify": SECRET[:-1]},
        {"x-origin-verify": SECRET + "x"},
        {"x-origin-verify": PREVIOUS},
        {"x-origin-verify": "é" * 32},
    ],
    ids=["absent", "empty", "shorter", "longer", "another", "not-ascii"],
)
def test_a_request_without_the_secret_is_refused_as_direct_access(headers):
    assert code_of(lambda: require_origin_secret(headers, (SECRET,))) is ErrorCode.DIRECT_ACCESS_REFUSED


def test_the_refusal_says_nothing_of_the_secret():
    with pytest.raises(TokenVendorError) as caught:
        require_origin_secret({"x-origin-verify": SECRET[:-1]}, (SECRET,))
    assert SECRET[:8] not in f"{caught.value.detail} {caught.value.message}"


@pytest.mark.parametrize(
    "credentials",
    [
        Credentials(api_key="k"),
        Credentials(api_key="k", origin_verify_secret="too-short"),
        Credentials(api_key="k", origin_verify_secret=SECRET, origin_verify_secret_previous="too-short"),
        Credentials(api_key="k", origin_verify_secret_previous=PREVIOUS),
    ],
    ids=["none", "short", "short-previous", "previous-only"],
)
def test_a_secret_without_a_usable_origin_secret_is_a_configuration_error(credentials):
    assert code_of(lambda: origin_secrets(credentials)) is ErrorCode.CONFIGURATION_ERROR


@pytest.mark.parametrize(
    ("header", "address"),
    [
        ("203.0.113.7:50123", "203.0.113.7"),
        ("2001:db8:1:2::7:443", "2001:db8:1:2::7"),
        ("2001:db8::1:443", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("  198.51.100.1:0 ", "198.51.100.1"),
    ],
)
def test_the_viewer_address_is_the_ip_before_the_last_colon(header, address):
    assert viewer_address({"cloudfront-viewer-address": header}) == address


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "203.0.113.7",
        "203.0.113.7:",
        "203.0.113.7:http",
        "203.0.113.7:70000",
        "edge:443",
        "2001:db8::1",
        "x" * 300,
    ],
)
def test_no_usable_viewer_address_is_the_distributions_misconfiguration(header):
    headers = {} if header is None else {"cloudfront-viewer-address": header}
    assert code_of(lambda: viewer_address(headers)) is ErrorCode.CONFIGURATION_ERROR


def caller_behind_the_edge(viewer: str, **kwargs):
    address = viewer_address({"cloudfront-viewer-address": viewer})
    return identify(http_api_event("POST", source_ip="130.176.0.1", **kwargs)["requestContext"], address)


def test_two_viewers_behind_one_edge_address_are_two_callers():
    first, second = caller_behind_the_edge("203.0.113.7:50123"), caller_behind_the_edge("198.51.100.4:50123")
    assert (first.identity, second.identity) == ("ip:203.0.113.7", "ip:198.51.100.4")
    assert first.source_ip == "203.0.113.7"


def test_the_same_viewer_on_another_port_is_one_caller():
    assert caller_behind_the_edge("203.0.113.7:50123") == caller_behind_the_edge("203.0.113.7:61000")


def test_an_ipv6_viewer_counts_by_its_slash_64():
    first = caller_behind_the_edge("2001:db8:1:2:aaaa::1:443")
    second = caller_behind_the_edge("2001:db8:1:2:bbbb::9:50000")
    assert first.identity == second.identity == "ip:2001:db8:1:2::/64"


def test_the_verified_subject_still_wins_over_the_viewer_address():
    caller = caller_behind_the_edge("203.0.113.7:50123", claims={"sub": "user-42"})
    assert (caller.identity, caller.source_ip) == ("sub:user-42", "203.0.113.7")
