"""The optional CloudFront distribution in front of the HTTP API (docs/contract.md §8), as CloudFormation
would create it: off by default; on, the origin secret comes from the API key secret (a dynamic reference,
never a parameter in clear), the viewer's address reaches the function, nothing is cached, and the function
trusts the distribution exactly then.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.template.deployed import Deployed

ON = {"EdgeDistribution": "on"}
WEB_ACL = (
    "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge-rate-limit/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
)


def distribution(deployed: Deployed) -> dict[str, Any]:
    config: dict[str, Any] = deployed.properties("Edge")["DistributionConfig"]
    return config


def trusted_proxy(deployed: Deployed) -> str:
    variables: dict[str, str] = deployed.properties("TokenVendorFunction")["Environment"]["Variables"]
    return variables["TRUSTED_PROXY"]


def test_off_by_default_there_is_no_distribution_and_the_function_trusts_no_proxy():
    deployed = Deployed()

    assert [name for name, r in deployed.resources.items() if r["Type"].startswith("AWS::CloudFront::")] == []
    assert trusted_proxy(deployed) == "off"


def test_on_the_function_trusts_the_distribution():
    assert trusted_proxy(Deployed(ON)) == "cloudfront"


def test_own_trusts_the_operators_distribution_and_makes_none():
    deployed = Deployed({"EdgeDistribution": "own"})

    assert trusted_proxy(deployed) == "cloudfront"
    assert "Edge" not in deployed.resources


@pytest.mark.parametrize(
    ("secret_id", "version", "reference"),
    [
        (
            "anam/prod/api-key",
            "",
            "{{resolve:secretsmanager:anam/prod/api-key:SecretString:originVerifySecret}}",
        ),
        (
            "anam/prod/api-key",
            "5b2e6a1c-0d3f-4e8a-9b7c-1a2b3c4d5e6f",
            "{{resolve:secretsmanager:anam/prod/api-key:SecretString:originVerifySecret"
            "::5b2e6a1c-0d3f-4e8a-9b7c-1a2b3c4d5e6f}}",
        ),
    ],
    ids=["current-version", "pinned-version"],
)
def test_the_origin_header_holds_the_secrets_origin_secret_by_dynamic_reference(
    secret_id, version, reference
):
    deployed = Deployed({**ON, "AnamApiKeySecretId": secret_id, "EdgeSecretVersion": version})

    (origin,) = distribution(deployed)["Origins"]
    assert origin["OriginCustomHeaders"] == [{"HeaderName": "x-origin-verify", "HeaderValue": reference}]


def test_the_origin_is_the_http_api_over_https_and_viewers_must_use_https():
    config = distribution(Deployed(ON))

    (origin,) = config["Origins"]
    assert origin["DomainName"] == "<HttpApi>.execute-api.eu-west-1.amazonaws.com"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"
    assert {"POST", "OPTIONS"} <= set(config["DefaultCacheBehavior"]["AllowedMethods"])


def test_the_origin_request_policy_forwards_the_viewer_address_and_what_the_function_reads():
    deployed = Deployed(ON)

    behaviour = distribution(deployed)["DefaultCacheBehavior"]
    assert behaviour["OriginRequestPolicyId"] == "<EdgeOriginRequestPolicy>"
    headers = deployed.properties("EdgeOriginRequestPolicy")["OriginRequestPolicyConfig"]["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"
    assert set(headers["Headers"]) == {
        "CloudFront-Viewer-Address",
        "Origin",
        "Content-Type",
        "Access-Control-Request-Method",
        "Access-Control-Request-Headers",
    }


def test_nothing_is_cached_and_the_authorization_header_reaches_the_authorizer():
    deployed = Deployed(ON)

    assert distribution(deployed)["DefaultCacheBehavior"]["CachePolicyId"] == "<EdgeCachePolicy>"
    policy = deployed.properties("EdgeCachePolicy")["CachePolicyConfig"]
    assert (policy["MinTTL"], policy["DefaultTTL"]) == (0, 0)
    assert policy["MaxTTL"] <= 1
    assert policy["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"] == ["Authorization"]
    assert distribution(deployed)["DefaultCacheBehavior"]["CachedMethods"] == ["GET", "HEAD"]


def test_a_web_acl_is_attached_by_arn_when_given():
    assert distribution(Deployed({**ON, "EdgeWebAclArn": WEB_ACL}))["WebACLId"] == WEB_ACL
    assert "WebACLId" not in distribution(Deployed(ON))


def test_the_distributions_url_is_an_output_when_it_is_on():
    outputs = Deployed(ON).cloudformation["Outputs"]

    assert outputs["EdgeSessionTokenUrl"]["Value"] == {"Fn::Sub": "https://${Edge.DomainName}/session-token"}
    assert outputs["EdgeSessionTokenUrl"]["Condition"] == "EdgeOn"
