"""template.yaml's reconciliation (docs/contract.md §11): a second schedule sending {"reconcile": true}, on
whenever the guard counts minutes, the records its role may write, and an alarm when passes keep failing."""

from __future__ import annotations

import pytest

from tests.template.deployed import Deployed

TABLE_ARN = "<QuotaTable.Arn>"


def reconcile_schedule(deployed: Deployed) -> dict | None:
    found = [
        schedule
        for schedule in deployed.of_type("AWS::Scheduler::Schedule").values()
        if schedule["Target"]["Input"] == '{"reconcile": true}'
    ]
    return found[0] if found else None


def statements(deployed: Deployed) -> dict[str, dict]:
    role = deployed.properties("TokenVendorFunctionRole")
    found = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    return {statement["Sid"]: statement for statement in found if "Sid" in statement}


def test_by_default_a_pass_runs_every_five_minutes_and_tokens_are_labelled():
    deployed = Deployed()
    schedule = reconcile_schedule(deployed)
    assert schedule is not None
    assert (schedule["ScheduleExpression"], schedule["State"]) == ("rate(5 minutes)", "ENABLED")
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    variables = deployed.properties("TokenVendorFunction")["Environment"]["Variables"]
    assert variables["RECONCILE_USAGE"] == "true"
    assert "CLIENT_LABEL_PREFIX" not in variables  # the stack's name, through POWERTOOLS_SERVICE_NAME


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
    assert "RecordReservations" not in statements(deployed)


def test_the_role_writes_records_only_under_their_own_keys_and_reads_only_the_open_index():
    found = statements(Deployed())
    record, query = found["RecordReservations"], found["FindOpenReservations"]
    assert (record["Action"], record["Resource"]) == ("dynamodb:PutItem", TABLE_ARN)
    assert record["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["reservation#*"]}}
    assert query["Action"] == "dynamodb:Query"
    assert query["Resource"].endswith("/index/open-reservations")


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
