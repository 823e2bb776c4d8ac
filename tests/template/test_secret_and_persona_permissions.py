"""The function may read its one secret and its one persona parameter, however the operator names them."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from tests.template.deployed import Deployed

SECRETS = "arn:aws:secretsmanager:eu-west-1:123456789012:secret"
# Secrets Manager appends "-" and 6 random characters to every secret's name to make its ARN.
SECRET_ARN = f"{SECRETS}:anam/api-key-AbC123"
PARAMETER_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/anam/persona"


def granted(deployed: Deployed, sid: str) -> list[str]:
    role = deployed.properties("TokenVendorFunctionRole")
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    (statement,) = [s for s in statements if s.get("Sid") == sid]
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def can_read(deployed: Deployed, sid: str, arn: str) -> bool:
    # IAM's wildcards: "?" one character, "*" any run of them; fnmatchcase's, minus its [] classes.
    return any(fnmatchcase(arn, pattern) for pattern in granted(deployed, sid))


@pytest.mark.parametrize(
    "secret_id",
    ["anam/api-key", SECRET_ARN, f"{SECRETS}:anam/api-key"],
    ids=["name", "complete ARN", "ARN without its suffix"],
)
def test_the_function_may_read_the_secret_it_is_given_and_no_other(secret_id):
    deployed = Deployed({"AnamApiKeySecretId": secret_id})

    assert can_read(deployed, "ReadTheAnamApiKey", SECRET_ARN)
    assert not can_read(deployed, "ReadTheAnamApiKey", f"{SECRETS}:anam/other-key-AbC123")
    assert not can_read(deployed, "ReadTheAnamApiKey", f"{SECRETS}:anam/api-key-admin-AbC123")


@pytest.mark.parametrize(
    "parameter_name",
    ["/anam/persona", "anam/persona", PARAMETER_ARN],
    ids=["name with a leading slash", "name without one", "ARN"],
)
def test_the_function_may_read_the_persona_parameter_it_is_given_and_no_other(parameter_name):
    deployed = Deployed({"PersonaParameterName": parameter_name})

    assert granted(deployed, "ReadThePersona") == [PARAMETER_ARN]
