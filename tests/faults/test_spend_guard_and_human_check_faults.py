"""docs/contract.md §9 and §10 under faults: the spend guard and the human check fail closed.

DynamoDB failing, resetting or stalling past the SDK's retries is 503 dependency_unavailable with nothing
minted; a blip the retries absorb is not seen; throttling (a hot item) is retried with backoff within the
request's time and ends in a token. siteverify down, slow or answering garbage is 503 after
its one retry, which carries the same idempotency key; a blip is absorbed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.fault_proxy import Fault, FaultProxy, aws_server_error, aws_throttling, aws_unavailable
from local.standins.anam import AnamStub, Reply, Slow
from local.standins.turnstile import SITEVERIFY_PATH, TurnstileStub
from tests.faults.answer_checks import PROMPT, assert_error, assert_nothing_leaked, assert_token, wait_until
from tests.support.function import Function, Logs
from token_vendor.adapters import turnstile as turnstile_adapter

# The pause switch's read: every reservation makes exactly one, so a fault there hits one request for sure.
PAUSE_READ = "GetItem"
UPDATE = "DynamoDB_20120810.UpdateItem"
SDK_ATTEMPTS = 2  # FAST_DYNAMODB_CLIENT_CONFIG's total_max_attempts
GARBAGE = "<html><body>Bad gateway</body></html>"

DYNAMODB_FAULTS: dict[str, Callable[[], Fault]] = {
    "server-error": aws_server_error,
    "unavailable": aws_unavailable,
    "reset": Fault.reset,
}


@pytest.mark.parametrize("fault", DYNAMODB_FAULTS.values(), ids=DYNAMODB_FAULTS.keys())
def test_dynamodb_failing_past_the_retries_is_503_and_nothing_is_minted(
    function: Function, guarded: str, aws: FaultProxy, anam: AnamStub, logs: Logs, fault: Callable[[], Fault]
) -> None:
    aws.enqueue(*(fault() for _ in range(SDK_ATTEMPTS)), match=PAUSE_READ)
    answer = function.post({"prompt": PROMPT})
    assert_error(answer, 503, "dependency_unavailable")
    assert 1 <= int(answer.headers["Retry-After"]) <= 10
    assert anam.requests == []
    assert_nothing_leaked(answer, logs)


def test_throttling_past_the_sdks_retries_is_retried_with_backoff_and_ends_in_a_token(
    function: Function, guarded: str, aws: FaultProxy, anam: AnamStub
) -> None:
    aws.enqueue(*(aws_throttling() for _ in range(3 * SDK_ATTEMPTS)), match="UpdateItem")
    assert_token(function.post())


def test_a_failed_reservation_gives_back_what_its_other_counters_took(
    function: Function, guarded: str, aws: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLER_SESSIONS_PER_HOUR", "1")
    aws.enqueue(*(aws_unavailable() for _ in range(SDK_ATTEMPTS)), match=PAUSE_READ)
    assert_error(function.post(), 503, "dependency_unavailable")
    assert_token(function.post())  # the hour's only token was given back


@pytest.mark.parametrize("fault", DYNAMODB_FAULTS.values(), ids=DYNAMODB_FAULTS.keys())
def test_a_dynamodb_blip_is_absorbed_by_the_sdks_retry(
    function: Function, guarded: str, aws: FaultProxy, fault: Callable[[], Fault]
) -> None:
    aws.enqueue(fault(), match=PAUSE_READ)
    assert_token(function.post())


def test_a_stalled_dynamodb_never_holds_the_request_past_the_lambdas_time(
    function: Function, guarded: str, aws: FaultProxy
) -> None:
    function.post()  # warm: the key and the persona are held
    aws.enqueue(Fault.delay(5.0), Fault.delay(5.0), match=PAUSE_READ)
    started = time.monotonic()
    answer = function.post(timeout_seconds=3.0)
    assert_error(answer, 503, "dependency_unavailable")
    assert time.monotonic() - started < 3.0


@pytest.fixture(scope="session")
def siteverify_fault_proxy(turnstile_stub: TurnstileStub) -> Iterator[FaultProxy]:
    with FaultProxy(turnstile_stub.url) as proxy:
        yield proxy


@pytest.fixture
def siteverify(
    siteverify_fault_proxy: FaultProxy, turnstile: TurnstileStub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """siteverify reached through a fault-injecting proxy; attempts time out after 0.3 s (production: 2 s)."""
    siteverify_fault_proxy.clear_faults()
    siteverify_fault_proxy.reset_counters()
    monkeypatch.setenv("TURNSTILE_SITEVERIFY_URL", siteverify_fault_proxy.url + SITEVERIFY_PATH)
    monkeypatch.setattr(turnstile_adapter, "ATTEMPT_SECONDS", 0.3)
    yield siteverify_fault_proxy
    siteverify_fault_proxy.clear_faults()


SITEVERIFY_FAULTS: dict[str, Callable[[], Fault]] = {
    "5xx": lambda: Fault.status(503, "Service Unavailable"),
    "reset": Fault.reset,
    "slow": lambda: Fault.delay(0.6),
}


@pytest.mark.parametrize("fault", SITEVERIFY_FAULTS.values(), ids=SITEVERIFY_FAULTS.keys())
def test_siteverify_failing_twice_is_503_and_nothing_is_minted(
    function: Function,
    siteverify: FaultProxy,
    turnstile: TurnstileStub,
    anam: AnamStub,
    logs: Logs,
    fault: Callable[[], Fault],
) -> None:
    siteverify.enqueue(fault(), fault())
    answer = function.post({"turnstileToken": turnstile.issue("app.example.com"), "prompt": PROMPT})
    assert_error(answer, 503, "dependency_unavailable")
    assert anam.requests == []
    assert_nothing_leaked(answer, logs)


def test_siteverify_answering_garbage_is_503(
    function: Function, siteverify: FaultProxy, turnstile: TurnstileStub
) -> None:
    siteverify.enqueue(Fault.status(200, GARBAGE, {"Content-Type": "text/html"}))
    assert_error(
        function.post({"turnstileToken": turnstile.issue("app.example.com")}), 503, "dependency_unavailable"
    )


def test_siteverify_unreachable_is_503(
    function: Function, turnstile: TurnstileStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("TURNSTILE_SITEVERIFY_URL", f"http://127.0.0.1:{port}{SITEVERIFY_PATH}")
    assert_error(
        function.post({"turnstileToken": turnstile.issue("app.example.com")}), 503, "dependency_unavailable"
    )


@pytest.mark.parametrize("fault", SITEVERIFY_FAULTS.values(), ids=SITEVERIFY_FAULTS.keys())
def test_a_siteverify_blip_is_retried_once_and_absorbed(
    function: Function, siteverify: FaultProxy, turnstile: TurnstileStub, fault: Callable[[], Fault]
) -> None:
    siteverify.enqueue(fault())
    assert_token(function.post({"turnstileToken": turnstile.issue("app.example.com")}))


def test_the_retry_after_a_lost_answer_carries_the_same_idempotency_key_and_passes(
    function: Function, siteverify: FaultProxy, turnstile: TurnstileStub
) -> None:
    # The first attempt reaches siteverify, which uses the token up, but its answer comes too late.
    siteverify.enqueue(Fault.delay(0.6))
    token = turnstile.issue("app.example.com")
    assert_token(function.post({"turnstileToken": token}))

    def asked() -> list[dict[str, str]]:
        # Only this token's: a slow request of an earlier test may land late.
        return [fields for fields in turnstile.requests if fields.get("response") == token]

    wait_until(lambda: len(asked()) == 2)
    first, retry = asked()
    assert first["idempotency_key"] == retry["idempotency_key"]


def fail_anam_then_fault_the_give_back(aws: FaultProxy, anam: AnamStub, fault: Callable[[], Fault]) -> Any:
    """The next token's Anam call fails after a moment; once its two counters are reserved, each of their
    give-backs meets `fault` once."""
    reserved = aws.targets_seen.count(UPDATE) + 2
    anam.enqueue(Slow(1.0, then=Reply(400, {"message": "bad avatar"})))

    def fault_once_reserved() -> None:
        wait_until(lambda: aws.targets_seen.count(UPDATE) >= reserved)
        aws.enqueue(fault(), fault(), match="UpdateItem")

    breaker = threading.Thread(target=fault_once_reserved)
    breaker.start()
    return breaker


def test_a_throttled_give_back_is_retried_and_the_token_comes_back(
    function: Function, guarded: str, aws: FaultProxy, anam: AnamStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLER_SESSIONS_PER_HOUR", "1")
    function.post(source_ip="198.51.100.1")  # cold: the key and the persona are loaded
    breaker = fail_anam_then_fault_the_give_back(aws, anam, aws_throttling)
    assert_error(function.post(), 502, "upstream_rejected")
    breaker.join()
    assert_token(function.post())


def test_a_give_back_that_may_have_been_applied_is_never_sent_again(
    function: Function, guarded: str, aws: FaultProxy, anam: AnamStub, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # A 500 may come after DynamoDB applied the write: sent again, the give-back could count below what was
    # spent. It stays a failure (RefundFailures): the caller's count stays high, never low.
    monkeypatch.setenv("CALLER_SESSIONS_PER_HOUR", "1")
    function.post(source_ip="198.51.100.1")
    breaker = fail_anam_then_fault_the_give_back(aws, anam, aws_server_error)
    assert_error(function.post(), 502, "upstream_rejected")
    breaker.join()
    assert_error(function.post(), 429, "quota_exceeded")
    assert '"RefundFailures"' in capsys.readouterr().out
