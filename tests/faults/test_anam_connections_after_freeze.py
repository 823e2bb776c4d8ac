"""docs/contract.md §5's pooled connection after Lambda froze the environment: the connection the function
kept to Anam may be dead when it thaws. Either way the caller gets a token, over a new connection, and Anam
mints only one.
"""

import time

import pytest
from urllib3.util.connection import is_connection_dropped

from local.fault_proxy import Fault, FaultProxy
from local.standins.anam import AnamStub
from tests.faults.answer_checks import PROMPT, assert_nothing_leaked, assert_token, wait_until
from tests.support.function import Function, Logs
from token_vendor import wiring
from token_vendor.adapters import http_session


def pooled_connections_saw_their_fin() -> bool:
    client = wiring.get_anam_client()
    adapter = client.session.get_adapter(client.url)
    assert isinstance(adapter, http_session.PooledAdapter)
    pool = adapter.pool_for(client.session, client.url)
    pooled = list(pool.pool.queue) if pool.pool is not None else []
    idle = [connection for connection in pooled if connection is not None and connection.sock]
    return all(is_connection_dropped(connection) for connection in idle)


def test_a_connection_anam_closed_while_the_environment_was_frozen_is_replaced_before_use(
    function: Function, anam: AnamStub, logs: Logs
):
    assert_token(function.post({"prompt": PROMPT}))
    anam.close_idle_connections()  # Anam's idle timeout ran out while the environment was frozen
    wait_until(pooled_connections_saw_their_fin)  # as they have when the environment thaws

    answer = function.post({"prompt": PROMPT})

    assert_token(answer)
    assert anam.connections_opened == 2
    assert len(anam.requests) == 2
    assert not logs.with_message("Retrying Anam"), "the dead connection was noticed before it was used"
    assert_nothing_leaked(answer, logs)


def test_a_reused_connection_reset_on_its_first_request_is_retried_on_a_new_one(
    function: Function, anam_proxy: FaultProxy, anam: AnamStub, logs: Logs
):
    assert_token(function.post({"prompt": PROMPT}))
    anam_proxy.enqueue(Fault.reset())  # a middlebox forgot the connection while the environment was frozen

    answer = function.post({"prompt": PROMPT})

    assert_token(answer)
    assert anam_proxy.connections_opened == 2
    assert anam_proxy.requests_seen == 3
    assert len(anam.requests) == 2, "one token minted per caller request"
    [retry] = logs.with_message("Retrying Anam")
    assert retry["failure"].startswith("connection failed")
    assert_nothing_leaked(answer, logs)


def test_a_connection_that_went_silent_while_idle_is_replaced_and_costs_the_caller_no_wait(
    function: Function, anam_proxy: FaultProxy, anam: AnamStub, logs: Logs, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(http_session, "MAX_IDLE_SECONDS", 0.2)
    monkeypatch.setenv("ANAM_TIMEOUT_SECONDS", "3")
    assert_token(function.post({"prompt": PROMPT}))
    anam_proxy.go_silent()  # a NAT or load balancer forgot the connection while the environment was frozen
    time.sleep(0.3)  # idle past the limit

    started = time.monotonic()
    answer = function.post({"prompt": PROMPT})

    assert_token(answer)
    assert time.monotonic() - started < 1.0, "sent into the silent connection, it waited for the read timeout"
    assert anam_proxy.connections_opened == 2
    assert len(anam.requests) == 2
    assert_nothing_leaked(answer, logs)
