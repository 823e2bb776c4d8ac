"""template.yaml's reconciliation (docs/contract.md §11): a function of its own that a schedule sends
{"reconcile": true}, there whenever the guard counts minutes, with the time a pass needs and never two passes
at once; the records each role may write and read, and an alarm when passes keep failing."""

from __future__ import annotations

import pytest

from local.lambda_context import PASS_TIMEOUT_SECONDS, TOKEN_TIMEOUT_SECONDS
from tests.template.deployed import Deployed

TABLE_ARN = "<QuotaTable.Arn>"
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0000-1111"


def reconcile_schedule(deployed: Deployed) -> dict | None:
    found = [
        schedule
        for schedule in deployed.of_type("AWS::Scheduler::Schedule").values()
        if schedule["Target"]["Input"] == '{"reconcile": true}'
    ]
    return found[0] if found else None


def statements(deployed: Deployed, role_name: str = "TokenVendorFunctionRole") -> dict[str, dict]:
    role = deployed.properties(role_name)
    found = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    return {statement["Sid"]: statement for statement in found if "Sid" in statement}


def test_by_default_a_pass_runs_every_five_minutes_in_its_own_function_and_tokens_are_labelled():
    deployed = Deployed()
    schedule = reconcile_schedule(deployed)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule.get("State", "ENABLED") == "ENABLED"
    assert schedule["Target"]["Arn"] == "<ReconcileFunction.Arn>"
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    variables = deployed.properties("TokenVendorFunction")["Environment"]["Variables"]
    assert variables["RECONCILE_USAGE"] == "true"
    assert "CLIENT_LABEL_PREFIX" not in variables  # the stack's name, through POWERTOOLS_SERVICE_NAME


def test_a_pass_has_its_own_time_and_never_runs_beside_another():
    deployed = Deployed()
    function = deployed.properties("ReconcileFunction")
    assert function["Handler"] == "token_vendor.reconcile_handler.lambda_handler"
    assert function["Timeout"] > deployed.properties("TokenVendorFunction")["Timeout"]
    # The tests invoke each entry with the time its function has here.
    assert (function["Timeout"], deployed.properties("TokenVendorFunction")["Timeout"]) == (
        PASS_TIMEOUT_SECONDS,
        TOKEN_TIMEOUT_SECONDS,
    )
    assert function["ReservedConcurrentExecutions"] == 1  # a tick that finds a pass running is throttled
    invoke_config = deployed.properties("ReconcileFunctionEventInvokeConfig")
    assert (invoke_config["MaximumRetryAttempts"], invoke_config["MaximumEventAgeInSeconds"]) == (0, 60)


@pytest.mark.parametrize("stack_name", ["anam-token-vendor-dev", "shop-prod"])
def test_the_pass_reads_what_the_token_function_writes(stack_name):
    deployed = Deployed({"MonthlySessionMinutes": "6000", "KmsKeyArn": KMS_KEY}, stack_name=stack_name)
    minting = deployed.properties("TokenVendorFunction")["Environment"]["Variables"]
    passing = deployed.properties("ReconcileFunction")["Environment"]["Variables"]
    shared = (
        "ANAM_API_KEY_SECRET_ID", "ANAM_API_BASE_URL", "QUOTA_TABLE_NAME", "DAILY_SESSION_MINUTES",
        "MONTHLY_SESSION_MINUTES", "MAX_SESSION_LENGTH_SECONDS", "RECONCILE_USAGE", "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE", "CLIENT_LABEL_PREFIX",
    )  # fmt: skip
    assert {name: passing.get(name) for name in shared} == {name: minting.get(name) for name in shared}
    # The key, decrypted through Secrets Manager; no persona, no other secret.
    found = statements(deployed, "ReconcileFunctionRole")
    assert found["ReadTheAnamApiKey"] == statements(deployed)["ReadTheAnamApiKey"]
    assert found["DecryptTheSecret"]["Resource"] == KMS_KEY
    assert not [s for s in found.values() if "ssm" in str(s["Action"])]


@pytest.mark.parametrize(
    "parameters",
    [{"ReconcileSchedule": "off"}, {"DailySessionMinutes": "none"}, {"SpendGuard": "off"}],
    ids=["schedule-off", "no-budget", "guard-off"],
)
def test_without_the_schedule_or_a_minutes_budget_nothing_is_reconciled(parameters):
    deployed = Deployed(parameters)
    schedule = reconcile_schedule(deployed)
    assert schedule is None or schedule["State"] == "DISABLED"
    variables = deployed.properties("TokenVendorFunction")["Environment"]["Variables"]
    assert variables["RECONCILE_USAGE"] == "false"
    assert "ReconcileFailuresAlarm" not in deployed.resources
    assert "ReconcileFunction" not in deployed.resources
    assert "RecordReservations" not in statements(deployed)


def test_the_token_function_writes_records_only_under_their_own_keys_and_the_pass_reads_only_the_open_index():
    deployed = Deployed()
    record = statements(deployed)["RecordReservations"]
    assert (record["Action"], record["Resource"]) == ("dynamodb:PutItem", TABLE_ARN)
    assert record["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["reservation#*"]}}
    assert "FindOpenReservations" not in statements(deployed)

    passing = statements(deployed, "ReconcileFunctionRole")
    assert passing["FindOpenReservations"]["Action"] == "dynamodb:Query"
    assert passing["FindOpenReservations"]["Resource"].endswith("/index/open-reservations")
    assert passing["SettleReservations"]["Resource"] == TABLE_ARN
    assert "dynamodb:PutItem" not in str(passing["SettleReservations"]["Action"])
    assert passing["NeverWriteThePauseSwitch"]["Effect"] == "Deny"


def test_the_table_has_the_sparse_index_of_open_reservations():
    [index] = Deployed().properties("QuotaTable")["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "open-reservations"
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["openShard", "createdAt"]
    assert index["Projection"] == {"ProjectionType": "ALL"}


def test_an_hour_without_a_successful_pass_raises_the_alarm_a_stopped_schedule_too():
    alarm = Deployed().properties("ReconcileFailuresAlarm")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (12, 12)
    assert {query["MetricStat"]["Period"] for query in alarm["Metrics"] if "MetricStat" in query} == {300}
    assert alarm["TreatMissingData"] == "breaching"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
