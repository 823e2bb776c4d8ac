"""template.yaml as CloudFormation would create it: SAM's own transform, then the parameters, conditions and
intrinsic functions resolved for one set of parameter values, offline.

The transform is `samtranslator`, the library that AWS runs for `Transform: AWS::Serverless-2016-10-31`. What
it leaves for CloudFormation (Fn::If, Fn::Sub, Ref, ...) is resolved here for the few functions the template
uses; an unknown one fails the test rather than passing unresolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
REGION = "eu-west-1"
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}
# What an operator answers for the parameters that have no default (a guided deploy asks for them).
REQUIRED_ANSWERS = {"DailySessionMinutes": "600"}
_NO_VALUE = object()


class Deployed:
    """The resources of one stack, every value resolved: `deployed.properties("HttpApi")`."""

    def __init__(
        self,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = "anam-token-vendor-prod",
        region: str = REGION,
    ) -> None:
        sam = yaml_parse(TEMPLATE.read_text())
        # The transform needs an S3 location; `sam deploy` puts the built package there.
        for function in ("TokenVendorFunction", "ReconcileFunction"):
            sam["Resources"][function]["Properties"]["CodeUri"] = "s3://deployment-bucket/package.zip"
        translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
        self.cloudformation = translator.translate(
            sam, parameter_values={**REQUIRED_ANSWERS, **(parameters or {})}, get_managed_policy_map=dict
        )
        declared = self.cloudformation.get("Parameters", {})
        given = {**REQUIRED_ANSWERS, **(parameters or {})}
        unanswered = [name for name, spec in declared.items() if "Default" not in spec and name not in given]
        assert not unanswered, f"template parameters without a default: {unanswered}; add to REQUIRED_ANSWERS"
        self.parameters: dict[str, Any] = {
            **{name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec},
            **given,
            **PSEUDO_PARAMETERS,
            "AWS::Region": region,
            "AWS::StackName": stack_name,
        }
        self.conditions: dict[str, bool] = {}
        for name in self.cloudformation.get("Conditions", {}):
            self._condition(name)
        self.resources = {
            name: resource
            for name, resource in self.cloudformation["Resources"].items()
            if "Condition" not in resource or self.conditions[resource["Condition"]]
        }

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved = self.resolve(self.resources[logical_id].get("Properties", {}))
        assert isinstance(resolved, dict)
        return resolved

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: self.properties(name)
            for name, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._function(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:
        match name:
            case "Ref":
                if argument == "AWS::NoValue":
                    return _NO_VALUE
                if argument in self.parameters:
                    return self.parameters[argument]
                assert argument in self.cloudformation["Resources"], f"Ref to unknown {argument}"
                return f"<{argument}>"
            case "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self._condition(condition) else if_false)
            case "Fn::Sub":
                return self._sub(argument)
            case "Fn::Split":
                separator, text = argument
                return self.resolve(text).split(separator)
            case "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            case "Fn::Join":
                separator, items = argument
                return separator.join(self.resolve(items))
            case "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return f"<{logical_id}.{attribute}>"
            case "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return str(left) == str(right)
            case "Fn::Not":
                return not self.resolve(argument[0])
            case "Fn::And":
                return all(self.resolve(item) for item in argument)
            case "Fn::Or":
                return any(self.resolve(item) for item in argument)
            case "Condition":
                return self._condition(argument)
        raise AssertionError(f"{name} is not resolved by tests/template/deployed.py")

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.cloudformation["Conditions"][name]))
        return self.conditions[name]

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(value) for name, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return str(self._function("Fn::GetAtt", name))
            return str(self._function("Ref", name))

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
