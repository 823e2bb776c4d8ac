"""docs/contract.md §3 and §5 for a 200 whose body cannot be read: Anam has minted a token, so the answer is
502 upstream_invalid_response after that one attempt, and when the body stops arriving past the budget, 504
upstream_timeout, also after one attempt ("a read timeout is not retried: Anam may have minted a token").

A failure to read the body is not a failure to connect: it is never retried as one.
"""

import pytest

from local.fault_proxy import Fault, FaultProxy
from local.standins.anam import AnamStub
from tests.faults.answer_checks import PROMPT, assert_error, assert_nothing_leaked
from tests.faults.raw_http import RawHttpServer
from tests.support.function import Function, Logs

HEADERS_OF_A_200 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
FIRST_BYTES_OF_ITS_BODY = b'{"sessionToken": "eyJhbGciOiJIUzI1NiJ9.eyJle'
MINTED_ONE = "Anam answered 200, so it minted a token: asking again mints another"


def test_a_200_whose_body_cannot_be_decoded_is_upstream_invalid_response_after_one_attempt(
    function: Function, anam_proxy: FaultProxy, anam: AnamStub, logs: Logs
):
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    anam_proxy.enqueue(Fault.status(200, b"these bytes are not gzip", headers))

    answer = function.post({"prompt": PROMPT})

    assert anam_proxy.requests_seen == 1, MINTED_ONE
    assert_error(answer, 502, "upstream_invalid_response")
    assert_nothing_leaked(answer, logs)


def test_a_200_whose_body_ends_before_its_length_is_upstream_invalid_response_after_one_attempt(
    function: Function, raw_anam: RawHttpServer, logs: Logs
):
    raw_anam.reply = HEADERS_OF_A_200 + FIRST_BYTES_OF_ITS_BODY  # then the connection closes

    answer = function.post({"prompt": PROMPT})

    assert raw_anam.requests_seen == 1, MINTED_ONE
    assert_error(answer, 502, "upstream_invalid_response")
    assert_nothing_leaked(answer, logs)


def test_a_200_whose_body_stops_arriving_past_the_budget_is_upstream_timeout_after_one_attempt(
    function: Function, raw_anam: RawHttpServer, logs: Logs, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ANAM_TIMEOUT_SECONDS", "0.3")
    raw_anam.reply = HEADERS_OF_A_200 + FIRST_BYTES_OF_ITS_BODY
    raw_anam.stall_seconds = 1.0

    answer = function.post({"prompt": PROMPT})

    assert raw_anam.requests_seen == 1, "a read timeout is not retried"
    assert_error(answer, 504, "upstream_timeout")
    assert_nothing_leaked(answer, logs)
