"""What an operator relies on once the stack runs: alarms that watch real metrics of this stack alone,
warm-ups retried by no one but the schedule, and logs that survive the stack."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest

from local.fault_proxy import FaultProxy, aws_unavailable
from local.moto_server import aws_client, create_quota_table
from local.standins.anam import Reply, Slow
from scripts.spend_switch import pause
from tests.conftest import PERSONA
from tests.faults.answer_checks import wait_until
from tests.template.deployed import Deployed
from token_vendor.observability import metrics

Metric = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, name, dimensions
UPDATE = "DynamoDB_20120810.UpdateItem"


def watched_metrics(deployed: Deployed) -> set[Metric]:
    """The function's own metrics (not AWS/...) that the stack's alarms watch."""
    watched = set()
    for alarm in deployed.of_type("AWS::CloudWatch::Alarm").values():
        specs = [alarm] + [
            query["MetricStat"]["Metric"] for query in alarm.get("Metrics", []) if "MetricStat" in query
        ]
        for spec in specs:
            if "MetricName" in spec and not spec["Namespace"].startswith("AWS/"):
                dimensions = frozenset((d["Name"], d["Value"]) for d in spec.get("Dimensions", []))
                watched.add((spec["Namespace"], spec["MetricName"], dimensions))
    return watched


def emitted_metrics(stdout: str) -> set[Metric]:
    """Every metric in the EMF records the function printed: the way CloudWatch reads them."""
    emitted = set()
    for line in stdout.splitlines():
        try:
            record: Any = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or "_aws" not in record:
            continue
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(record[name])) for name in dimension_set)
                for metric in directive["Metrics"]:
                    emitted.add((directive["Namespace"], metric["Name"], dimensions))
    return emitted


# Where the deployed function finds its AWS resources and Anam; everything else comes from the template.
POINTERS_TO_STAND_INS = (
    "ANAM_API_KEY_SECRET_ID",
    "PERSONA_PARAMETER_NAME",
    "ANAM_API_BASE_URL",
    "ALLOWED_ORIGINS",
)


def run_as_deployed(
    deployed: Deployed, function_env: dict[str, str], moto_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function's environment as the template sets it, pointed at the local stand-ins."""
    environment = deployed.properties("TokenVendorFunction")["Environment"]["Variables"]
    for name, value in environment.items():
        if name.startswith("POWERTOOLS_") or name in POINTERS_TO_STAND_INS:
            continue
        if name == "QUOTA_TABLE_NAME" and value:
            value = create_quota_table(moto_server.url, "spend-guard")
        monkeypatch.setenv(name, value)
    # Powertools read these at import; the deployed function gets the template's values.
    monkeypatch.setattr(metrics, "service", environment["POWERTOOLS_SERVICE_NAME"])
    monkeypatch.setattr(metrics, "namespace", environment["POWERTOOLS_METRICS_NAMESPACE"])


def fail_the_next_give_back(aws: FaultProxy, anam: Any) -> threading.Thread:
    """The next token's Anam call fails after a moment, and DynamoDB fails every write once its counters
    are reserved (a caller's hour and day, the day's budget): its give-back cannot happen."""
    reserved = aws.targets_seen.count(UPDATE) + 3
    anam.enqueue(Slow(1.0, then=Reply(400, {"message": "bad avatar"})))

    def break_dynamodb_once_reserved() -> None:
        wait_until(lambda: aws.targets_seen.count(UPDATE) >= reserved)
        aws.enqueue(*[aws_unavailable() for _ in range(20)], match="UpdateItem")

    breaker = threading.Thread(target=break_dynamodb_once_reserved)
    breaker.start()
    return breaker


def test_every_metric_an_alarm_watches_is_one_the_function_emits(
    function_env, moto_server, function, anam, aws, aws_admin, capsys, monkeypatch
):
    deployed = Deployed()
    run_as_deployed(deployed, function_env, moto_server, monkeypatch)
    # A day's budget of two sessions (the template's default cap: 600 s), one lost to a failed give-back, so
    # that the guard's refusals show.
    monkeypatch.setenv("DAILY_SESSION_MINUTES", "20")
    capsys.readouterr()

    aws_admin.put_persona("{not json")
    assert function.invoke({"warmup": True})["warmed"] is False
    aws_admin.put_persona(json.dumps(PERSONA))
    anam.enqueue(Reply(503), Reply(503), Reply(503))
    assert function.post().status == 502  # its reservation given back
    breaker = fail_the_next_give_back(aws, anam)
    assert function.post().status == 502  # its reservation not given back: RefundFailures
    breaker.join()
    aws.clear_faults()
    assert function.invoke({"warmup": True})["warmed"] is True  # publishes the budget's share used
    assert function.post().status == 200
    assert function.post().json()["code"] == "budget_exhausted"
    pause(aws_client("dynamodb", moto_server.url), os.environ["QUOTA_TABLE_NAME"])
    assert function.post().json()["code"] == "minting_paused"
    anam.enqueue(*[Reply(503)] * 6)  # every attempt of both open reservations' lookups, made at once
    assert function.invoke({"reconcile": True})["error"] == "session_list_failed"

    watched, emitted = watched_metrics(deployed), emitted_metrics(capsys.readouterr().out)
    assert watched, "the template's alarms watch none of the function's metrics"
    assert watched <= emitted, f"watched but never emitted: {watched - emitted}"


def test_each_stack_watches_its_own_metric_stream():
    dev, prod = Deployed(stack_name="anam-token-vendor-dev"), Deployed(stack_name="anam-token-vendor-prod")

    def service_names(deployed: Deployed) -> set[str]:
        emitted = deployed.properties("TokenVendorFunction")["Environment"]["Variables"][
            "POWERTOOLS_SERVICE_NAME"
        ]
        watched = {
            value
            for _, _, dimensions in watched_metrics(deployed)
            for name, value in dimensions
            if name == "service"
        }
        return {emitted} | watched

    assert service_names(dev) == {"anam-token-vendor-dev"}
    assert service_names(prod) == {"anam-token-vendor-prod"}


def test_failed_warm_ups_are_alarmed_and_retried_by_no_one_but_the_next_tick():
    deployed = Deployed()

    invoke_config = deployed.properties("TokenVendorFunctionEventInvokeConfig")
    assert invoke_config["MaximumRetryAttempts"] == 0
    assert any(name == "WarmUpFailures" for _, name, _ in watched_metrics(deployed))


def test_without_a_warm_up_schedule_there_is_no_warm_up_alarm():
    assert all(
        name != "WarmUpFailures" for _, name, _ in watched_metrics(Deployed({"WarmupSchedule": "off"}))
    )


@pytest.mark.parametrize("log_group", ["FunctionLogGroup", "AccessLogGroup"])
def test_logs_outlive_the_stack_under_names_no_earlier_group_can_hold(log_group):
    deployed = Deployed()
    resource = deployed.resources[log_group]

    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert "LogGroupName" not in deployed.properties(log_group), "a fixed name collides with a retained group"
    function_logging = deployed.properties("TokenVendorFunction").get("LoggingConfig", {})
    assert log_group != "FunctionLogGroup" or function_logging["LogGroup"] == "<FunctionLogGroup>"
