"""The function may read the named personas' path it is given, exactly that path, and only when given one."""

from __future__ import annotations

from typing import Any

from tests.template.deployed import Deployed

PARAMETERS = "arn:aws:ssm:eu-west-1:123456789012:parameter"


def statements(deployed: Deployed) -> list[dict[str, Any]]:
    role = deployed.properties("TokenVendorFunctionRole")
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_the_function_may_read_by_path_exactly_the_personas_path():
    deployed = Deployed({"PersonasParameterPath": "/anam/personas"})

    (statement,) = [s for s in statements(deployed) if s.get("Sid") == "ReadTheNamedPersonas"]
    assert statement["Action"] == "ssm:GetParametersByPath"
    # GetParametersByPath is authorized against the path in the request, which the function sends like this.
    assert statement["Resource"] == f"{PARAMETERS}/anam/personas"
    assert (
        deployed.properties("TokenVendorFunction")["Environment"]["Variables"]["PERSONAS_PARAMETER_PATH"]
        == "/anam/personas"
    )


def test_without_a_personas_path_the_function_may_read_no_path():
    deployed = Deployed({})

    assert not [s for s in statements(deployed) if "ssm:GetParametersByPath" in str(s.get("Action"))]
