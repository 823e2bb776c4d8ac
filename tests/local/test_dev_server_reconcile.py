"""`make dev` end to end for the reconciliation (docs/local-development.md): the page's token, the session its
SDK starts and stops at the Anam stand-in, then `make reconcile`'s command gives the unused minutes back."""

from __future__ import annotations

import json
import re

import requests

from tests.local.processes import DevServer, run_module
from tests.support.dynamodb_engines import clear_of_a_window_end

STAND_IN = re.compile(r"^Offline Anam stand-in at (http://127\.0\.0\.1:\d+)$")


def test_start_stop_then_make_reconcile_gives_back_what_the_session_did_not_use() -> None:
    server = DevServer()
    try:
        base = server.wait_until_serving()
        stand_in = server.wait_for_line(STAND_IN).group(1)
        clear_of_a_window_end(margin_seconds=15.0)  # the day's budget the summary reports is the token's day
        # What the page does on Start: a token from the endpoint, then the SDK starts the engine session.
        token = requests.post(f"{base}/session-token", json={}, timeout=10).json()["sessionToken"]
        started = requests.post(
            f"{stand_in}/v1/engine/session", headers={"Authorization": f"Bearer {token}"}, json={}, timeout=10
        )
        session_id = started.json()["sessionId"]
        # ... and on Stop, offline: the stand-in hears that the session ended.
        stopped = requests.post(
            f"{stand_in}/standin/session/stop", json={"sessionId": session_id}, timeout=10
        )
        assert stopped.status_code == 204

        reconciled = run_module("local.reconcile", "--url", base)

        assert reconciled.returncode == 0, reconciled.stderr
        summary = json.loads(reconciled.stdout)
        assert (summary["settledUsed"], summary["minutesReserved"], summary["minutesUsed"]) == (1, 10, 1)
        assert summary["minutesGivenBack"] == 9
        assert summary["budgetsUsedPercent"] == {"daily": round(100 / 600, 1)}
        assert "9 given back" in reconciled.stderr
        again = json.loads(run_module("local.reconcile", "--url", base).stdout)
        assert (again["openBefore"], again["minutesGivenBack"]) == (0, 0)
    finally:
        server.stop()


def test_make_reconcile_without_make_dev_says_so() -> None:
    result = run_module("local.reconcile", "--url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "is it running?" in result.stderr
