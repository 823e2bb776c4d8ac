"""docs/contract.md §6: a new execution environment loads the key and persona and opens its connection to
Anam during the init, before its first request; never fails or stalls the init; and under SnapStart fetches
nothing before the snapshot.

Lambda tells the function which init it is in AWS_LAMBDA_INITIALIZATION_TYPE. Each test sets it as Lambda
would and calls `prefetch.start()`, what the handler module does at the end of its imports (the module itself
was imported once, with no init type set, so the rest of the suite loads on first use).
"""

from __future__ import annotations

import random
import sys
import threading
import time
import types
from collections.abc import Callable

import pytest

from local.fault_proxy import FaultProxy, aws_unavailable
from local.standins.anam import AnamStub
from tests.faults.answer_checks import wait_until
from tests.support.function import Function, Logs
from token_vendor import prefetch, wiring
from token_vendor.adapters import aws_clients


def new_environment(monkeypatch: pytest.MonkeyPatch, init_type: str) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", init_type)
    prefetch.start()


def prefetch_over() -> bool:
    """The prefetch and the fetches it started (adapters/max_age_cache.py names their threads) are over."""
    return not any(thread.name.startswith(("prefetch", "config-fetch")) for thread in threading.enumerate())


@pytest.mark.parametrize("init_type", ["on-demand", "provisioned-concurrency"])
def test_the_first_request_after_a_prefetching_init_makes_no_aws_call_and_opens_no_connection(
    function: Function, aws: FaultProxy, anam: AnamStub, monkeypatch: pytest.MonkeyPatch, init_type: str
):
    new_environment(monkeypatch, init_type)
    wait_until(lambda: anam.connections_opened == 1)  # the stand-in counts it once it has accepted it
    assert (aws.requests_seen, len(anam.requests)) == (2, 0)

    answer = function.post({"prompt": "Hello"})

    assert answer.status == 200, answer.body
    assert aws.requests_seen == 2, "the key and the persona were ready"
    assert anam.connections_opened == 1, "the connection opened during the init was used"


@pytest.mark.usefixtures("guarded")
def test_with_the_spend_guard_on_the_first_request_after_a_prefetching_init_builds_no_client(
    function: Function, aws: FaultProxy, monkeypatch: pytest.MonkeyPatch
):
    built: list[str] = []

    def counting_factory():
        make = aws_clients.aws_clients()

        def client(service, config):
            built.append(service)
            return make(service, config)

        return client

    monkeypatch.setattr(wiring, "aws_clients", counting_factory)
    new_environment(monkeypatch, "on-demand")
    wait_until(prefetch_over)
    built_during_the_init = list(built)

    answer = function.post()

    assert answer.status == 200, answer.body
    assert "dynamodb" in built_during_the_init
    assert built == built_during_the_init, "the first request built no client"
    assert sorted(t for t in aws.targets_seen if "DynamoDB" in t) == [
        "DynamoDB_20120810.GetItem",  # the pause switch
        "DynamoDB_20120810.UpdateItem",  # the caller's hour
        "DynamoDB_20120810.UpdateItem",  # and day
    ]


def test_a_request_that_arrives_while_the_prefetch_runs_joins_its_fetches_instead_of_fetching_again(
    function: Function, aws: FaultProxy, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(prefetch, "INIT_BOUND_SECONDS", 0.1)
    aws.delay_seconds = 0.5  # the prefetch is still waiting for AWS when the init ends

    new_environment(monkeypatch, "on-demand")
    answer = function.post()

    assert answer.status == 200, answer.body
    assert aws.requests_seen == 2, "one GetSecretValue and one GetParameter, not two of each"
    assert aws.max_in_flight == 2


def test_an_aws_outage_during_init_ends_the_init_in_its_bound_and_the_first_request_loads_normally(
    function: Function, aws: FaultProxy, logs: Logs, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(prefetch, "INIT_BOUND_SECONDS", 0.3)
    aws.delay_seconds = 0.6  # the prefetch's fetches fail after 1.2 s or more
    aws.enqueue(*[aws_unavailable()] * 4)  # every attempt of both fetches (the tests' AWS config: 2 each)

    started = time.monotonic()
    new_environment(monkeypatch, "on-demand")
    init_seconds = time.monotonic() - started
    wait_until(prefetch_over)
    aws.delay_seconds = 0.0  # AWS is back when the first request comes
    answer = function.post()

    assert init_seconds < 0.9, "the init waited for the prefetch past its bound"
    [incomplete] = logs.with_message("Prefetch incomplete; loading on first use")
    assert incomplete["code"] == "dependency_unavailable"
    assert answer.status == 200, answer.body
    assert aws.requests_seen == 6, "four failed attempts during the init, then one fetch of each"


def test_a_broken_configuration_does_not_fail_the_init_and_the_first_request_answers_it(
    function: Function, aws: FaultProxy, logs: Logs, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PROMPT_MAX_CHARS", "many")

    new_environment(monkeypatch, "on-demand")
    answer = function.post()

    [incomplete] = logs.with_message("Prefetch incomplete; loading on first use")
    assert incomplete["code"] == "configuration_error"
    assert (answer.status, answer.json()["code"]) == (500, "configuration_error")
    assert aws.requests_seen == 0


def test_without_an_init_type_nothing_is_loaded_before_the_first_request(
    function: Function, aws: FaultProxy, anam: AnamStub
):
    prefetch.start()  # as in tests, the dev server and `make invoke`: AWS_LAMBDA_INITIALIZATION_TYPE unset

    assert (aws.requests_seen, anam.connections_opened) == (0, 0)


@pytest.fixture
def restore_hooks(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], None]]:
    """The python3.13 runtime's snapshot_restore_py: the hooks registered to run after each restore."""
    hooks: list[Callable[[], None]] = []
    runtime_library = types.ModuleType("snapshot_restore_py")
    runtime_library.register_after_restore = hooks.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime_library)
    return hooks


def test_under_snapstart_the_snapshot_holds_no_secret_and_no_socket_and_each_restore_prefetches(
    function: Function,
    aws: FaultProxy,
    anam: AnamStub,
    monkeypatch: pytest.MonkeyPatch,
    restore_hooks: list[Callable[[], None]],
):
    new_environment(monkeypatch, "snap-start")
    assert (aws.requests_seen, anam.connections_opened) == (0, 0), "fetched or connected before the snapshot"

    for hook in restore_hooks:  # Lambda restores the snapshot
        hook()
    wait_until(lambda: anam.connections_opened == 1)
    assert aws.requests_seen == 2
    answer = function.post()

    assert answer.status == 200, answer.body
    assert (aws.requests_seen, anam.connections_opened) == (2, 1)


def test_environments_restored_from_one_snapshot_do_not_share_their_retry_jitter(
    function: Function, monkeypatch: pytest.MonkeyPatch, restore_hooks: list[Callable[[], None]]
):
    new_environment(monkeypatch, "snap-start")
    random.seed(42)  # the state the snapshot holds
    in_the_snapshot = random.Random(42).random()

    for hook in restore_hooks:
        hook()

    assert random.random() != in_the_snapshot


def test_under_snapstart_without_the_runtime_hooks_everything_loads_on_first_use(
    function: Function, aws: FaultProxy, anam: AnamStub, logs: Logs, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # makes the import fail

    new_environment(monkeypatch, "snap-start")
    assert (aws.requests_seen, anam.connections_opened) == (0, 0)
    answer = function.post()

    assert logs.with_message("No SnapStart runtime hooks (snapshot_restore_py); loading on first use")
    assert answer.status == 200, answer.body


def test_a_restore_hook_that_fails_is_logged_and_never_raises_into_the_runtime(
    function: Function,
    monkeypatch: pytest.MonkeyPatch,
    restore_hooks: list[Callable[[], None]],
    logs: Logs,
):
    new_environment(monkeypatch, "snap-start")

    def broken() -> None:
        raise RuntimeError("broken prefetch")

    monkeypatch.setattr(prefetch, "prefetch", broken)
    for hook in restore_hooks:
        hook()  # raises nothing
    assert logs.with_message("The restore hook failed; loading on first use")
    assert function.post().status == 200
