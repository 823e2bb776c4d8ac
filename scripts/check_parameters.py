"""The stack parameters that cannot work together, refused before `make deploy` runs `sam deploy`.

CloudFormation's `Rules` cannot compare numbers (their functions are equality, membership and logic only), so
template.yaml cannot refuse these itself; the function refuses the first at its first invocation too
(docs/contract.md §2), but a stack that deploys and then refuses every visitor is noticed too late:

- `MaxSessionLengthSeconds`, rounded up to minutes, above `DailySessionMinutes` or `MonthlySessionMinutes`:
  no token could ever fit the budget;
- `ReservedConcurrency` below `ProvisionedConcurrency` (both set): the environments kept ready could never
  all run.

    python -m scripts.check_parameters --config-env prod    # what `make deploy ENV=prod` runs first
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from local.moto_server import load_template

SAMCONFIG_PATH = Path(__file__).resolve().parents[1] / "samconfig.toml"
NO_BUDGET = "none"


def problems(parameters: Mapping[str, str]) -> list[str]:
    """What cannot work in these parameter values (the template's defaults filled in)."""
    found = []
    cap = parameters.get("MaxSessionLengthSeconds", "")
    if cap:
        minutes = math.ceil(int(cap) / 60)
        for name in ("DailySessionMinutes", "MonthlySessionMinutes"):
            budget = parameters.get(name, NO_BUDGET)
            if budget not in ("", NO_BUDGET) and minutes > int(budget):
                found.append(
                    f"MaxSessionLengthSeconds={cap} reserves {minutes} minutes a token, more than "
                    f"{name}={budget}: no token could ever be minted"
                )
    reserved, provisioned = (
        int(parameters.get(name, "0") or 0) for name in ("ReservedConcurrency", "ProvisionedConcurrency")
    )
    if reserved and provisioned and reserved < provisioned:
        found.append(
            f"ReservedConcurrency={reserved} is below ProvisionedConcurrency={provisioned}: Lambda cannot "
            "keep more environments ready than the function may run"
        )
    return found


def stack_parameters(config_env: str) -> dict[str, str]:
    """The template's defaults, overridden by samconfig.toml's parameter_overrides for `config_env`."""
    declared = load_template()["Parameters"]
    values = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    overrides = tomllib.loads(SAMCONFIG_PATH.read_text())[config_env]["deploy"]["parameters"]
    for override in overrides.get("parameter_overrides", []):
        name, _, value = override.partition("=")
        values[name] = value
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.check_parameters")
    parser.add_argument("--config-env", required=True, help="an environment of samconfig.toml (dev, prod)")
    found = problems(stack_parameters(parser.parse_args(argv).config_env))
    for problem in found:
        print(f"check_parameters: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
