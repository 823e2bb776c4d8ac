"""The reconciliation function's own entry point (template.yaml's ReconcileFunction): the pass, and nothing
else, with its metrics flushed as the main handler flushes them."""

from __future__ import annotations

import time

from local.lambda_context import LambdaContext
from local.moto_server import aws_client
from tests.support.reservations import PREFIX, budget_keys, counter, put_reservation
from token_vendor.reconcile_handler import lambda_handler


def test_the_reconcile_function_runs_the_pass(function_env, reconciling, anam, moto_server, capsys):
    dynamodb = aws_client("dynamodb", moto_server.url)
    reservation_id = put_reservation(dynamodb, reconciling)
    started = time.time() - 600
    anam.sessions.add(f"{PREFIX}:{reservation_id}", started_at=started, ended_at=started + 90)

    summary = lambda_handler({"reconcile": True}, LambdaContext(timeout_seconds=60))

    assert (summary["reconciled"], summary["minutesGivenBack"]) == (True, 8)
    assert counter(dynamodb, reconciling, budget_keys()[0]) == 2
    assert '"ReconcilePasses":[1.0]' in capsys.readouterr().out


def test_any_other_event_is_answered_not_raised(function_env):
    answer = lambda_handler({"warmup": True}, LambdaContext(timeout_seconds=60))
    assert answer == {"error": "unsupported_event"}
