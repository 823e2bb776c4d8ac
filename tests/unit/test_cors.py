"""docs/contract.md §3, CORS: allowed origins get the headers, others get none, and no configuration means no
CORS."""

from token_vendor.api.cors import cors_headers

ALLOWED = frozenset({"https://app.example.com"})


def test_an_allowed_origins_preflight_gets_origin_methods_headers_and_vary():
    headers = cors_headers("https://app.example.com", ALLOWED, preflight=True)
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert {"Content-Type", "Authorization"} <= set(headers["Access-Control-Allow-Headers"].split(", "))
    assert headers["Vary"] == "Origin"


def test_an_allowed_origins_request_gets_the_allow_origin_header_and_may_read_retry_after():
    assert cors_headers("https://app.example.com", ALLOWED, preflight=False) == {
        "Vary": "Origin",
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Expose-Headers": "Retry-After",
    }


def test_another_origin_gets_no_access_control_header_at_all():
    for preflight in (True, False):
        headers = cors_headers("https://evil.example.com", ALLOWED, preflight=preflight)
        assert not [name for name in headers if name.startswith("Access-Control-")]


def test_a_star_configuration_answers_star():
    headers = cors_headers("https://any.example.com", frozenset({"*"}), preflight=False)
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_without_allowed_origins_there_are_no_cors_headers():
    assert cors_headers("https://app.example.com", frozenset(), preflight=True) == {}
