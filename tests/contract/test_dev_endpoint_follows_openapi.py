"""Schemathesis against `make dev`: requests generated from docs/openapi.yaml, valid ones and broken ones,
and every answer checked against the document: status, headers, content type, body. Three ways in: `make dev`
as it starts, and with `--behind-cloudfront` both through its simulated CloudFront and around it (where the
function refuses every method of every real path with 403).

Schemathesis reads only the document, never this code, so a disagreement between the two fails here whichever
side is wrong. What it cannot know from the document is left out: whether a valid request is accepted depends
on the server's state (named personas, the caller's quota), not on the request's shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.contract.test_openapi_document import DOCUMENT
from tests.local.processes import DevServer

schema = schemathesis.openapi.from_path(DOCUMENT)
EDGE = re.compile(r"^Behind a simulated CloudFront: (http://127\.0\.0\.1:\d+)/session-token")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def plain_url() -> Iterator[str]:
    server = DevServer()
    try:
        yield server.wait_until_serving()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def behind_cloudfront_urls() -> Iterator[dict[str, str]]:
    server = DevServer("--behind-cloudfront")
    try:
        direct = server.wait_until_serving()
        yield {"through-the-edge": server.wait_for_line(EDGE).group(1), "around-the-edge": direct}
    finally:
        server.stop()


@pytest.fixture(params=["plain", "through-the-edge", "around-the-edge"])
def dev_url(request: pytest.FixtureRequest) -> str:
    if request.param == "plain":
        url: str = request.getfixturevalue("plain_url")
        return url
    urls: dict[str, str] = request.getfixturevalue("behind_cloudfront_urls")
    return urls[request.param]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_of_make_dev_is_one_the_document_describes(
    case: schemathesis.Case, dev_url: str
) -> None:
    case.call_and_validate(base_url=dev_url, checks=CHECKS)
