"""The edge as a wall (docs/contract.md §8): with the API's custom domain, the distribution reaches the API
through that name and the execute-api endpoint is off, so nothing reaches the function around the
distribution; the distribution's policies deploy in a second region under the same stack name; its IPv6 can be
turned off for an operator who relies on WAF's rate rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts.template_variant import variant
from tests.template.deployed import Deployed

ON = {"EdgeDistribution": "on"}
DOMAIN = "token-origin.example.com"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
WALL = {**ON, "EdgeApiDomainName": DOMAIN, "EdgeApiCertificateArn": CERTIFICATE}
# CloudFront's policies are named per account, whatever the region the stack runs in.
ACCOUNT_WIDE_NAMES = {
    "AWS::CloudFront::CachePolicy": ("CachePolicyConfig", "Name"),
    "AWS::CloudFront::OriginRequestPolicy": ("OriginRequestPolicyConfig", "Name"),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),  # dashboards are global to the account too
}


def execute_api_disabled(deployed: Deployed) -> Any:
    (server,) = deployed.properties("HttpApi")["Body"]["servers"]
    return server["x-amazon-apigateway-endpoint-configuration"]["disableExecuteApiEndpoint"]


def origin_domain(deployed: Deployed) -> str:
    (origin,) = deployed.properties("Edge")["DistributionConfig"]["Origins"]
    domain: str = origin["DomainName"]
    return domain


def account_wide_names(deployed: Deployed) -> list[str]:
    names = []
    for resource_type, path in ACCOUNT_WIDE_NAMES.items():
        for properties in deployed.of_type(resource_type).values():
            value: Any = properties
            for step in path:
                value = value[step]
            names.append(str(value))
    return names


def test_without_a_custom_domain_the_execute_api_endpoint_stays_open_and_is_the_origin():
    deployed = Deployed(ON)

    assert execute_api_disabled(deployed) is False
    assert origin_domain(deployed) == "<HttpApi>.execute-api.eu-west-1.amazonaws.com"
    assert not deployed.of_type("AWS::ApiGatewayV2::DomainName")


def test_with_a_custom_domain_the_distribution_reaches_the_api_through_it_alone():
    deployed = Deployed(WALL)

    assert origin_domain(deployed) == DOMAIN
    assert execute_api_disabled(deployed) is True


def test_the_custom_domain_is_regional_with_its_certificate_and_maps_to_the_apis_stage():
    deployed = Deployed(WALL)

    (domain,) = deployed.of_type("AWS::ApiGatewayV2::DomainName").values()
    assert domain["DomainName"] == DOMAIN
    assert domain["DomainNameConfigurations"] == [
        {"CertificateArn": CERTIFICATE, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}
    ]
    (mapping,) = deployed.of_type("AWS::ApiGatewayV2::ApiMapping").values()
    assert mapping == {
        "DomainName": "<EdgeApiDomain>",
        "ApiId": "<HttpApi>",
        "Stage": "<HttpApiApiGatewayDefaultStage>",
    }
    assert deployed.resources["HttpApiApiGatewayDefaultStage"]["Type"] == "AWS::ApiGatewayV2::Stage"


def test_with_a_custom_domain_the_outputs_name_it_and_the_dns_target():
    deployed = Deployed(WALL)
    outputs = deployed.cloudformation["Outputs"]

    assert deployed.resolve(outputs["SessionTokenUrl"]["Value"]) == f"https://{DOMAIN}/session-token"
    assert outputs["EdgeApiDomainTarget"]["Value"] == {"Fn::GetAtt": ["EdgeApiDomain", "RegionalDomainName"]}
    assert deployed.conditions[outputs["EdgeApiDomainTarget"]["Condition"]] is True
    assert Deployed(ON).conditions[outputs["EdgeApiDomainTarget"]["Condition"]] is False


def test_own_mode_closes_the_execute_api_endpoint_too():
    deployed = Deployed({**WALL, "EdgeDistribution": "own"})

    assert execute_api_disabled(deployed) is True
    assert "Edge" not in deployed.resources
    assert "EdgeApiDomain" in deployed.resources


@pytest.mark.parametrize(
    ("parameters", "rule"),
    [
        (
            {"EdgeApiDomainName": DOMAIN, "EdgeApiCertificateArn": CERTIFICATE},
            "TheApiDomainIsTheDistributionsOrigin",
        ),
        ({**ON, "EdgeApiDomainName": DOMAIN}, "TheApiDomainIsTheDistributionsOrigin"),
        ({**ON, "EdgeApiCertificateArn": CERTIFICATE}, "ACertificateNeedsItsDomain"),
        ({"EdgeIpv6": "off"}, "IPv6IsTheDistributions"),
        ({"EdgeDistribution": "own", "EdgeIpv6": "off"}, "IPv6IsTheDistributions"),
    ],
    ids=[
        "domain-without-distribution",
        "domain-without-certificate",
        "certificate-without-domain",
        "ipv6-without-distribution",
        "ipv6-with-own-distribution",
    ],
)
def test_a_combination_that_cannot_work_is_refused_by_a_rule(parameters, rule):
    deployed = Deployed(parameters)

    assert broken_rules(deployed) == [rule]


def test_the_wall_and_the_defaults_break_no_rule():
    assert broken_rules(Deployed(WALL)) == []
    assert broken_rules(Deployed({**WALL, "EdgeDistribution": "own"})) == []
    assert broken_rules(Deployed({**ON, "EdgeIpv6": "off"})) == []
    assert broken_rules(Deployed()) == []


def broken_rules(deployed: Deployed) -> list[str]:
    """The template's Rules whose condition holds and one of whose assertions fails, as CloudFormation checks
    them before it changes anything."""
    broken = []
    for name, rule in deployed.cloudformation["Rules"].items():
        if "RuleCondition" in rule and not deployed.resolve(rule["RuleCondition"]):
            continue
        if not all(deployed.resolve(assertion["Assert"]) for assertion in rule["Assertions"]):
            broken.append(name)
    return broken


@pytest.mark.parametrize("ipv6", ["on", "off"])
def test_the_distributions_ipv6_follows_the_option(ipv6):
    config = Deployed({**ON, "EdgeIpv6": ipv6})

    assert config.properties("Edge")["DistributionConfig"]["IPV6Enabled"] is (ipv6 == "on")


def test_ipv6_is_on_by_default():
    assert Deployed(ON).properties("Edge")["DistributionConfig"]["IPV6Enabled"] is True


def test_one_stack_name_deploys_in_two_regions_without_a_name_clash():
    ireland = account_wide_names(Deployed(ON, region="eu-west-1"))
    virginia = account_wide_names(Deployed(ON, region="us-east-1"))

    assert len(ireland) == len(ACCOUNT_WIDE_NAMES)
    assert set(ireland).isdisjoint(virginia)
    assert all(len(name) <= 128 for name in ireland + virginia)


def test_the_linters_variant_has_the_walls_defaults_and_refuses_an_unknown_parameter():
    template = variant(WALL)

    assert {name: template["Parameters"][name]["Default"] for name in WALL} == WALL
    with pytest.raises(ValueError, match="EdgeDomain"):
        variant({"EdgeDomain": DOMAIN})
