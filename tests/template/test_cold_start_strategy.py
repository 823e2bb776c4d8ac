"""The cold-start strategies template.yaml offers (docs/cold-start.md): the warm-up schedule by default,
provisioned concurrency or SnapStart on request, each on the published "live" alias that all invoke."""

from __future__ import annotations

from tests.template.deployed import Deployed

LIVE_ALIAS = "<TokenVendorFunctionAliaslive>"


def test_the_api_and_the_warm_up_schedule_invoke_the_live_alias():
    deployed = Deployed()

    routes = deployed.properties("HttpApi")["Body"]["paths"]["/session-token"]
    assert {route["x-amazon-apigateway-integration"]["uri"] for route in routes.values()} == {
        f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{LIVE_ALIAS}/invocations"
    }
    targets = {
        schedule["Target"]["Input"]: schedule["Target"]["Arn"]
        for schedule in deployed.of_type("AWS::Scheduler::Schedule").values()
    }
    # The reconciliation's passes run in a function of their own (test_reconciliation_template.py).
    assert targets == {'{"warmup": true}': LIVE_ALIAS, '{"reconcile": true}': "<ReconcileFunction.Arn>"}
    assert {p["FunctionName"] for p in deployed.of_type("AWS::Lambda::Permission").values()} == {LIVE_ALIAS}


def test_by_default_neither_provisioned_concurrency_nor_snapstart_is_billed():
    deployed = Deployed()

    [alias] = deployed.of_type("AWS::Lambda::Alias").values()
    assert "ProvisionedConcurrencyConfig" not in alias
    assert deployed.properties("TokenVendorFunction")["SnapStart"] == {"ApplyOn": "None"}
    [warm_up] = [
        schedule
        for schedule in deployed.of_type("AWS::Scheduler::Schedule").values()
        if schedule["Target"]["Input"] == '{"warmup": true}'
    ]
    assert warm_up["State"] == "ENABLED"


def test_provisioned_concurrency_keeps_that_many_environments_of_the_live_alias_initialized():
    [alias] = Deployed({"ProvisionedConcurrency": "2"}).of_type("AWS::Lambda::Alias").values()

    assert alias["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": "2"}


def test_snapstart_applies_to_the_published_versions():
    function = Deployed({"SnapStart": "on"}).properties("TokenVendorFunction")

    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
