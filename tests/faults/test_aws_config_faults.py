"""docs/contract.md §6 under AWS faults, over real HTTP: Secrets Manager and SSM throttling, failing,
resetting, stalling.

At a cold start nothing is held: a fault that outlasts the SDK's retries is a 503 with Retry-After, one that
does not is absorbed. At a refresh the held values are served and a warning logged. The `function` fixture
gives the SDK two attempts per call, so two queued faults are a persistent failure and one is a blip.
"""

import itertools
from collections.abc import Callable

import pytest
from botocore.config import Config

from local.fault_proxy import Fault, FaultProxy, aws_server_error, aws_throttling, aws_unavailable
from local.standins.anam import AnamStub
from tests.conftest import API_KEY, FAST_AWS_CLIENT_CONFIG
from tests.faults.answer_checks import PROMPT, assert_error, assert_nothing_leaked, assert_token, wait_until
from tests.support.function import Answer, Function, Logs
from token_vendor.adapters import aws_clients

GET_SECRET = "GetSecretValue"
GET_PERSONA = "GetParameter"
SDK_ATTEMPTS = 2  # FAST_AWS_CLIENT_CONFIG's total_max_attempts
READ_TIMEOUT_SECONDS = 0.3
STALL_SECONDS = 0.8  # past READ_TIMEOUT_SECONDS

FAULTS: dict[str, Callable[[], Fault]] = {
    "throttling": aws_throttling,
    "server-error": aws_server_error,
    "unavailable": aws_unavailable,
    "reset": Fault.reset,
}
SOURCE_IN_LOG = {GET_SECRET: "API key secret", GET_PERSONA: "persona parameter"}


def each_fault_on_one_dependency(first: str, second: str) -> list[object]:
    """Every fault once, on the two dependencies in turn: each fault and each dependency is covered."""
    return [
        pytest.param(fault, dependency, id=f"{name}-{dependency}")
        for (name, fault), dependency in zip(FAULTS.items(), itertools.cycle((first, second)), strict=False)
    ]


@pytest.fixture
def short_aws_read_timeout(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """So that a stalled AWS call times out in a fraction of a second (production: 3 s)."""
    config = FAST_AWS_CLIENT_CONFIG.merge(Config(read_timeout=READ_TIMEOUT_SECONDS))
    monkeypatch.setattr(aws_clients, "AWS_CLIENT_CONFIG", config)


@pytest.fixture
def max_ages_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request refreshes both values, so every request can meet a fault."""
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "0")


def assert_dependency_unavailable(answer: Answer, anam: AnamStub, logs: Logs, dependency: str) -> None:
    assert_error(answer, 503, "dependency_unavailable")
    assert 1 <= int(answer.headers["Retry-After"]) <= 10
    assert anam.requests == [], "no token is requested without the key and the persona"
    [failure] = logs.with_message("Request failed")
    assert SOURCE_IN_LOG[dependency] in failure["detail"], "the log says which dependency failed"
    assert "arn:aws" not in answer.body.decode()
    assert_nothing_leaked(answer, logs)


def assert_served_from_held_values(answer: Answer, anam: AnamStub, logs: Logs, dependency: str) -> None:
    assert_token(answer)
    assert anam.requests[-1].headers["Authorization"] == f"Bearer {API_KEY}"
    assert anam.requests[-1].json == anam.requests[0].json, "the held persona, merged as before"
    [warning] = logs.with_message("Refresh failed; serving the value held")
    assert SOURCE_IN_LOG[dependency] in warning["source"]
    assert_nothing_leaked(answer, logs)


@pytest.mark.parametrize(("fault", "dependency"), each_fault_on_one_dependency(GET_SECRET, GET_PERSONA))
def test_a_cold_start_answers_503_with_retry_after_while_aws_keeps_failing(
    function: Function, aws: FaultProxy, anam: AnamStub, logs: Logs, fault, dependency
):
    aws.enqueue(*[fault() for _ in range(SDK_ATTEMPTS)], match=dependency)

    answer = function.post({"prompt": PROMPT})

    assert_dependency_unavailable(answer, anam, logs, dependency)


@pytest.mark.parametrize("fault", [pytest.param(fault, id=name) for name, fault in FAULTS.items()])
def test_a_cold_start_rides_out_one_failure_of_each_dependency(
    function: Function, aws: FaultProxy, logs: Logs, fault
):
    aws.enqueue(fault(), match=GET_SECRET)
    aws.enqueue(fault(), match=GET_PERSONA)

    answer = function.post({"prompt": PROMPT})

    assert_token(answer)
    assert aws.requests_seen == 2 * SDK_ATTEMPTS, "each dependency was asked again once"
    assert_nothing_leaked(answer, logs)


@pytest.mark.usefixtures("max_ages_zero")
@pytest.mark.parametrize(("fault", "dependency"), each_fault_on_one_dependency(GET_PERSONA, GET_SECRET))
def test_a_refresh_that_keeps_failing_serves_the_held_values_with_a_warning(
    function: Function, aws: FaultProxy, anam: AnamStub, logs: Logs, fault, dependency
):
    assert_token(function.post({"prompt": PROMPT}))
    aws.enqueue(*[fault() for _ in range(SDK_ATTEMPTS)], match=dependency)

    answer = function.post({"prompt": PROMPT})

    assert_served_from_held_values(answer, anam, logs, dependency)


@pytest.mark.usefixtures("short_aws_read_timeout")
def test_a_cold_start_answers_503_when_aws_stalls_past_the_read_timeout(
    function: Function, aws: FaultProxy, anam: AnamStub, logs: Logs
):
    aws.enqueue(*[Fault.delay(STALL_SECONDS) for _ in range(SDK_ATTEMPTS)], match=GET_SECRET)

    answer = function.post({"prompt": PROMPT})

    assert_dependency_unavailable(answer, anam, logs, GET_SECRET)
    wait_until(lambda: aws.requests_forwarded == aws.requests_seen)  # the stalled calls, landing late


@pytest.mark.usefixtures("short_aws_read_timeout", "max_ages_zero")
def test_a_refresh_that_stalls_past_the_read_timeout_serves_the_held_values(
    function: Function, aws: FaultProxy, anam: AnamStub, logs: Logs
):
    assert_token(function.post({"prompt": PROMPT}))
    aws.enqueue(*[Fault.delay(STALL_SECONDS) for _ in range(SDK_ATTEMPTS)], match=GET_PERSONA)

    answer = function.post({"prompt": PROMPT})

    assert_served_from_held_values(answer, anam, logs, GET_PERSONA)
    wait_until(lambda: aws.requests_forwarded == aws.requests_seen)
