"""`make deploy ENV=...`: each environment of samconfig.toml deploys its own stack without a question asked
and without rewriting the file."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.template.deployed import Deployed

REPO = Path(__file__).resolve().parents[2]
SAMCONFIG = tomllib.loads((REPO / "samconfig.toml").read_text())
ENVIRONMENTS = [
    name for name, sections in SAMCONFIG.items() if isinstance(sections, dict) and "deploy" in sections
]


def overrides(environment: str) -> dict[str, str]:
    pairs = SAMCONFIG[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_there_is_a_dev_and_a_prod_environment_each_with_its_own_stack():
    assert {"dev", "prod"} <= set(ENVIRONMENTS)
    stack_names = [SAMCONFIG[name]["global"]["parameters"]["stack_name"] for name in ENVIRONMENTS]
    assert len(set(stack_names)) == len(stack_names)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_answers_every_parameter_the_template_requires_with_a_value_it_accepts(environment):
    declared = Deployed().cloudformation["Parameters"]
    given = overrides(environment)

    assert set(given) <= set(declared), "a parameter the template does not have"
    required = {name for name, spec in declared.items() if "Default" not in spec}
    assert required <= set(given), (
        f"sam deploy --config-env {environment} would stop for {required - set(given)}"
    )
    for name, value in given.items():
        assert re.fullmatch(declared[name].get("AllowedPattern", ".*"), value), f"{name}={value}"
        assert value in map(str, declared[name].get("AllowedValues", [value])), f"{name}={value}"


def test_make_deploy_deploys_the_environment_it_is_given_without_the_guided_questions():
    dry_run = subprocess.run(
        ["make", "-n", "deploy", "ENV=prod"], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    deploy = [line for line in dry_run.stdout.splitlines() if "sam.sh deploy" in line]
    assert deploy == ["scripts/sam.sh deploy --config-env prod"]
