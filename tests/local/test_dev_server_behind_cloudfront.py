"""`make dev ARGS=--behind-cloudfront`: a simulated CloudFront in front of the dev server
(local/edge_proxy.py), so that a developer sees visitors behind one edge counted apart, and direct requests
refused."""

from __future__ import annotations

import re

import requests

from local.edge_proxy import EdgeProxy
from local.http_plumbing import Headers
from tests.local.processes import DevServer
from tests.support.dynamodb_engines import clear_of_a_window_end

EDGE = re.compile(r"^Behind a simulated CloudFront: (http://127\.0\.0\.1:\d+)/session-token")


def post(url: str, viewer: str | None = None) -> requests.Response:
    headers = {"X-Simulated-Viewer": viewer} if viewer else {}
    return requests.post(f"{url}/session-token", json={}, headers=headers, timeout=10)


def test_visitors_behind_one_edge_are_counted_apart_and_a_direct_request_is_refused() -> None:
    server = DevServer("--behind-cloudfront", env={"CALLER_SESSIONS_PER_HOUR": "1"})
    try:
        direct = server.wait_until_serving()
        edge = server.wait_for_line(EDGE).group(1)
        clear_of_a_window_end(margin_seconds=15.0)  # one token an hour: every request in the same hour

        answers = [
            post(edge, "203.0.113.7:50000"),
            post(edge, "203.0.113.7:50001"),
            post(edge, "198.51.100.4:50000"),
        ]
        refused = post(direct)

        assert [answer.status_code for answer in answers] == [200, 429, 200]
        assert (refused.status_code, refused.json()["code"]) == (403, "direct_access_refused")
    finally:
        server.stop()


def test_without_the_option_the_dev_server_trusts_no_edge() -> None:
    server = DevServer(env={"CALLER_SESSIONS_PER_HOUR": "1"})
    try:
        direct = server.wait_until_serving()
        clear_of_a_window_end(margin_seconds=15.0)  # one token an hour: both requests in the same hour

        statuses = [
            post(direct, "203.0.113.7:50000").status_code,
            post(direct, "198.51.100.4:50000").status_code,
        ]

        assert statuses == [200, 429]
        assert not any(EDGE.search(line) for line in server.stdout)
    finally:
        server.stop()


def test_the_edge_replaces_what_a_client_sends_under_its_own_headers() -> None:
    edge = EdgeProxy("http://127.0.0.1:9", "the-origin-secret")
    received = Headers(
        [
            ("x-origin-verify", "a guess"),
            ("CloudFront-Viewer-Address", "10.0.0.1:1"),
            ("Content-Type", "application/json"),
            ("Host", "127.0.0.1:3001"),
        ]
    )

    headers = edge.origin_headers(received, ("192.0.2.5", 54321))

    assert headers == {
        "Content-Type": "application/json",
        "Host": "127.0.0.1:3001",
        "x-origin-verify": "the-origin-secret",
        "CloudFront-Viewer-Address": "192.0.2.5:54321",
    }
