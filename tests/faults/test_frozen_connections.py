"""SPEC 5's pooled connection after Lambda froze the environment: the connection the function kept to Anam may
be dead when it thaws. Either way the caller gets a token, over a new connection, and Anam mints only one.
"""

import time

from local.anam_stub import AnamStub
from local.fault_proxy import Fault, FaultProxy
from tests.faults.checks import PROMPT, assert_nothing_leaked, assert_token
from tests.support.function import Function, Logs


def test_a_connection_anam_closed_while_the_environment_was_frozen_is_replaced_before_use(
    function: Function, anam: AnamStub, logs: Logs
):
    assert_token(function.post({"prompt": PROMPT}))
    anam.close_idle_connections()  # Anam's idle timeout ran out while the environment was frozen
    time.sleep(0.05)  # for its FIN to arrive

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
