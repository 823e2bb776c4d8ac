"""docs/contract.md §6: the AWS SDK's retries never run past the Lambda's remaining time, and a refresh while
a value is held costs a request at most about a second; with the production client configuration (five
attempts, 2 s connect and 3 s read timeouts), which alone could keep a request waiting for over 15 s.
"""

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.fault_proxy import Fault, FaultProxy, aws_throttling
from local.standins.anam import AnamStub
from tests.conftest import PERSONA, PRODUCTION_AWS_CLIENT_CONFIG
from tests.faults.answer_checks import PROMPT, assert_error, assert_nothing_leaked, assert_token, wait_until
from tests.support.function import Answer, Function, Logs
from token_vendor.adapters import aws_clients, max_age_cache

GET_SECRET = "GetSecretValue"
GET_PERSONA = "GetParameter"
PRODUCTION_READ_TIMEOUT = 3.0
# "At most about a second" (§6), measured around the whole request, Anam's stand-in included.
HELD_REFRESH_BUDGET_SECONDS = 1.8


@pytest.fixture
def production_aws_clients(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_clients, "AWS_CLIENT_CONFIG", PRODUCTION_AWS_CLIENT_CONFIG)


@pytest.fixture
def refresh_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "0")


@pytest.fixture
def stalled_calls_land(aws: FaultProxy) -> Iterator[None]:
    """After the test: the fetches the function stopped waiting for have ended, and their calls reached moto,
    so that none of them lands in (or logs into) the next test."""
    yield
    wait_until(lambda: not any(t.name == "config-fetch" for t in threading.enumerate()), timeout_seconds=20)
    wait_until(lambda: aws.requests_forwarded == aws.requests_seen, timeout_seconds=10)


def timed(function: Function, **kwargs: Any) -> tuple[float, Answer]:
    started = time.monotonic()
    answer = function.post({"prompt": PROMPT}, **kwargs)
    return time.monotonic() - started, answer


@pytest.mark.usefixtures("production_aws_clients", "refresh_every_request", "stalled_calls_land")
def test_a_refresh_while_aws_stalls_serves_the_held_values_within_about_a_second(
    function: Function, aws: FaultProxy, anam: AnamStub, logs: Logs
):
    assert_token(function.post({"prompt": PROMPT}))
    # Within the production read timeout: without a bound of its own, the refresh would simply wait for it.
    aws.enqueue(*[Fault.delay(PRODUCTION_READ_TIMEOUT - 0.5) for _ in range(5)], match=GET_PERSONA)

    elapsed, answer = timed(function)

    assert_token(answer)
    assert elapsed < HELD_REFRESH_BUDGET_SECONDS
    assert anam.requests[-1].json == anam.requests[0].json, "the held persona"
    assert_nothing_leaked(answer, logs)


@pytest.mark.usefixtures("production_aws_clients", "refresh_every_request")
def test_a_refresh_while_aws_throttles_makes_one_attempt_and_serves_the_held_values(
    function: Function, aws: FaultProxy, logs: Logs
):
    assert_token(function.post({"prompt": PROMPT}))
    aws.reset_counters()
    aws.enqueue(*[aws_throttling() for _ in range(5)], match=GET_SECRET)

    elapsed, answer = timed(function)

    assert_token(answer)
    assert elapsed < HELD_REFRESH_BUDGET_SECONDS
    assert aws.targets_seen.count(f"secretsmanager.{GET_SECRET}") == 1, "no retries: the held key is served"
    [warning] = logs.with_message("Refresh failed; serving the value held")
    assert "API key secret" in warning["source"]


@pytest.mark.usefixtures("production_aws_clients", "stalled_calls_land")
def test_a_cold_start_answers_503_before_the_lambda_times_out_while_aws_stalls(
    function: Function, aws: FaultProxy, anam: AnamStub, logs: Logs
):
    lambda_timeout = 2.0
    aws.enqueue(Fault.delay(PRODUCTION_READ_TIMEOUT + 0.5), match=GET_SECRET)

    elapsed, answer = timed(function, timeout_seconds=lambda_timeout)

    assert elapsed < lambda_timeout, "the function's own answer, not API Gateway's for a timed-out Lambda"
    assert_error(answer, 503, "dependency_unavailable")
    assert anam.requests == []
    assert_nothing_leaked(answer, logs)


@pytest.mark.usefixtures("production_aws_clients", "stalled_calls_land")
def test_a_warm_up_while_aws_stalls_reports_its_failure_before_the_lambda_times_out(
    function: Function, aws: FaultProxy
):
    lambda_timeout = 2.0
    aws.enqueue(Fault.delay(PRODUCTION_READ_TIMEOUT + 0.5), match=GET_SECRET)

    started = time.monotonic()
    result = function.invoke({"warmup": True}, timeout_seconds=lambda_timeout)

    assert time.monotonic() - started < lambda_timeout
    assert result == {"warmed": False, "error": "dependency_unavailable"}


@pytest.mark.usefixtures("production_aws_clients", "stalled_calls_land")
def test_the_fetch_a_timed_out_request_left_running_serves_the_next_request(
    function: Function, aws: FaultProxy
):
    aws.enqueue(Fault.delay(1.0), match=GET_SECRET)
    _, first = timed(function, timeout_seconds=1.0)
    assert_error(first, 503, "dependency_unavailable")
    wait_until(lambda: aws.requests_forwarded == aws.requests_seen)

    assert_token(function.post({"prompt": PROMPT}))
    assert aws.targets_seen.count(f"secretsmanager.{GET_SECRET}") == 1, "the first fetch, finished, was kept"


@pytest.mark.usefixtures("production_aws_clients", "stalled_calls_land")
def test_a_refresh_slower_than_its_wait_serves_the_held_values_and_updates_them_in_the_background(
    function: Function, aws: FaultProxy, anam: AnamStub, aws_admin: Any, logs: Logs, monkeypatch
):
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "2")
    assert_token(function.post({"prompt": PROMPT}))
    aws_admin.put_persona(json.dumps({**PERSONA, "name": "Cara 2"}))
    time.sleep(2.1)
    aws.reset_counters()
    aws.enqueue(Fault.delay(max_age_cache.REFRESH_WAIT_SECONDS + 0.5), match=GET_PERSONA)

    elapsed, answer = timed(function)

    assert_token(answer)
    assert elapsed < HELD_REFRESH_BUDGET_SECONDS
    assert anam.requests[-1].json["personaConfig"]["name"] == PERSONA["name"], "the held persona"
    [warning] = logs.with_message("Refresh is slow; serving the value held")
    assert "persona parameter" in warning["source"]
    wait_until(lambda: not any(t.name == "config-fetch" for t in threading.enumerate()))
    assert_token(function.post({"prompt": PROMPT}))
    assert anam.requests[-1].json["personaConfig"]["name"] == "Cara 2", "what the slow refresh brought"
    assert aws.targets_seen.count(f"AmazonSSM.{GET_PERSONA}") == 1
