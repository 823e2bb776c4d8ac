"""Schemathesis against `make dev`: requests generated from docs/openapi.yaml, valid ones and broken ones,
and every answer checked against the document: status, headers, content type, body.

Schemathesis reads only the document, never this code, so a disagreement between the two fails here whichever
side is wrong. What it cannot know from the document is left out: whether a valid request is accepted depends
on the server's state (named personas, the caller's quota), not on the request's shape.
"""

from __future__ import annotations

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

# "/{otherPath}" documents the 404 of every other path; its one broken value, "session-token", is this path.
schema = schemathesis.openapi.from_path(DOCUMENT).exclude(path="/{otherPath}")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def dev_url() -> Iterator[str]:
    server = DevServer()
    try:
        yield server.wait_until_serving()
    finally:
        server.stop()


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_of_make_dev_is_one_the_document_describes(
    case: schemathesis.Case, dev_url: str
) -> None:
    case.call_and_validate(base_url=dev_url, checks=CHECKS)
