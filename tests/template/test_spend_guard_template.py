"""template.yaml's spend guard (docs/contract.md §9, §10): on by default, a budget the operator must choose,
its table reachable by the function alone and only as the guard uses it, an alarm at 80 % of each budget."""

from __future__ import annotations

import json

import pytest

from tests.template.deployed import Deployed

TABLE_ARN = "<QuotaTable.Arn>"


def environment(deployed: Deployed) -> dict[str, str]:
    variables: dict[str, str] = deployed.properties("TokenVendorFunction")["Environment"]["Variables"]
    return variables


def guard_statement(deployed: Deployed) -> dict[str, object] | None:
    role = deployed.properties("TokenVendorFunctionRole")
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    found = [s for s in statements if s.get("Sid") == "ReserveInTheSpendGuardTable"]
    return found[0] if found else None


def test_the_guard_is_on_by_default_with_the_budget_the_operator_gave():
    deployed = Deployed()  # REQUIRED_ANSWERS: DailySessionMinutes=600, as a guided deploy would ask
    variables = environment(deployed)
    assert variables["QUOTA_TABLE_NAME"] == "<QuotaTable>"
    assert (variables["DAILY_SESSION_MINUTES"], variables["MONTHLY_SESSION_MINUTES"]) == ("600", "")
    assert (variables["CALLER_SESSIONS_PER_HOUR"], variables["CALLER_SESSIONS_PER_DAY"]) == ("10", "30")
    assert variables["MAX_SESSION_LENGTH_SECONDS"] == "600"
    assert variables["HUMAN_VERIFICATION"] == "off"


def test_a_guided_deploy_asks_for_the_daily_budget():
    parameters = Deployed().cloudformation["Parameters"]
    assert "Default" not in parameters["DailySessionMinutes"]


def test_the_table_is_on_demand_encrypted_recoverable_and_cleaned_up_by_ttl():
    table = Deployed().properties("QuotaTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_the_table_outlives_the_stack_and_a_replacement_and_refuses_deletion():
    deployed = Deployed()
    resource = deployed.resources["QuotaTable"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert deployed.properties("QuotaTable")["DeletionProtectionEnabled"] is True


def test_the_open_reservations_are_listed_by_a_sparse_sharded_index():
    table = Deployed().properties("QuotaTable")
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "open-reservations"
    assert index["KeySchema"] == [
        {"AttributeName": "openShard", "KeyType": "HASH"},
        {"AttributeName": "createdAt", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types == {"pk": "S", "openShard": "S", "createdAt": "N"}


def test_the_function_may_only_reserve_give_back_and_read_in_its_own_table():
    # Writing the reservations' records and querying their index is the reconciliation's own statement
    # (tests/template/test_reconciliation_template.py).
    statement = guard_statement(Deployed())
    assert statement is not None
    assert sorted(statement["Action"]) == [  # type: ignore[call-overload]
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
    ]
    assert statement["Resource"] == TABLE_ARN


def test_the_function_can_never_write_the_pause_switch():
    role = Deployed().properties("TokenVendorFunctionRole")
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= set(deny["Action"])
    assert deny["Resource"] == TABLE_ARN
    assert deny["Condition"] == {"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["control"]}}


def test_give_backs_that_fail_are_alarmed():
    alarm = Deployed().properties("RefundFailuresAlarm")
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == ("RefundFailures", "Sum", 1)
    assert alarm["TreatMissingData"] == "notBreaching"
    # What it says is what the code does: a lost answer is never given back twice, a refused one is.
    description = " ".join(alarm["AlarmDescription"].split())
    assert "never sent again" in description
    assert "the next reconciliation pass gives it back" in description


def test_the_role_is_granted_no_transaction_it_never_sends():
    role = Deployed().properties("TokenVendorFunctionRole")
    actions = [
        action
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in statement["Action"]
    ]
    assert not [action for action in actions if "Transact" in action]


def test_with_the_guard_off_there_is_no_table_no_permission_and_no_limit():
    deployed = Deployed({"SpendGuard": "off"})
    assert "QuotaTable" not in deployed.resources
    assert guard_statement(deployed) is None
    assert "RefundFailuresAlarm" not in deployed.resources
    assert environment(deployed)["QUOTA_TABLE_NAME"] == ""
    assert environment(deployed)["DAILY_SESSION_MINUTES"] == ""


@pytest.mark.parametrize(
    ("parameters", "alarms"),
    [
        ({}, {"daily"}),
        ({"MonthlySessionMinutes": "9000"}, {"daily", "monthly"}),
        ({"DailySessionMinutes": "none"}, set()),
    ],
    ids=["daily", "daily-and-monthly", "none"],
)
def test_each_budget_has_an_alarm_at_80_percent(parameters, alarms):
    deployed = Deployed(parameters)
    found = {
        dimensions["budget"]: alarm
        for alarm in deployed.of_type("AWS::CloudWatch::Alarm").values()
        if alarm.get("MetricName") == "BudgetUsedPercent"
        for dimensions in [{d["Name"]: d["Value"] for d in alarm["Dimensions"]}]
    }
    assert set(found) == alarms
    assert all(
        (alarm["Threshold"], alarm["ComparisonOperator"]) == (80, "GreaterThanOrEqualToThreshold")
        for alarm in found.values()
    )


def test_the_dashboard_shows_tokens_refusals_budget_use_and_anam_latency():
    body = json.loads(Deployed().properties("Dashboard")["DashboardBody"])
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert titles == [
        "Tokens issued",
        "Refusals by code",
        "Budget used (%)",
        "Anam latency (ms)",
        "Minutes reserved and used (settled tokens)",
        "Ledger writes at risk (counted high, never low)",
    ]
    searches = [
        metric[0]["expression"]
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
        if isinstance(metric[0], dict)
    ]
    # This stack's metrics only: a dev and a prod stack in one account publish under one namespace.
    assert len(searches) == 2
    assert all('service="anam-token-vendor-prod"' in search for search in searches)
