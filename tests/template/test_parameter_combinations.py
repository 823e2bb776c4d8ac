"""scripts/check_parameters.py: the parameter values that cannot work together are refused before a deploy
(CloudFormation's Rules cannot compare numbers)."""

from __future__ import annotations

import pytest

from scripts.check_parameters import main, problems


@pytest.mark.parametrize("budget", ["DailySessionMinutes", "MonthlySessionMinutes"])
def test_a_session_cap_that_rounds_up_past_a_budget_is_refused(budget):
    (problem,) = problems({"MaxSessionLengthSeconds": "601", budget: "10"})
    assert budget in problem
    assert "11 minutes" in problem


def test_a_cap_that_fits_no_budget_or_no_cap_is_fine():
    assert problems({"MaxSessionLengthSeconds": "600", "DailySessionMinutes": "10"}) == []
    assert problems({"MaxSessionLengthSeconds": "600", "DailySessionMinutes": "none"}) == []
    assert problems({"MaxSessionLengthSeconds": "", "DailySessionMinutes": "5"}) == []


def test_reserved_concurrency_below_provisioned_concurrency_is_refused():
    (problem,) = problems({"ReservedConcurrency": "2", "ProvisionedConcurrency": "3"})
    assert "ReservedConcurrency=2" in problem
    assert problems({"ReservedConcurrency": "3", "ProvisionedConcurrency": "3"}) == []
    assert problems({"ReservedConcurrency": "0", "ProvisionedConcurrency": "3"}) == []


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_environment_of_samconfig_passes(environment):
    assert main(["--config-env", environment]) == 0
