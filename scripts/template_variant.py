"""template.yaml with other parameter defaults, as JSON, for the linters that judge one configuration only.

checkov resolves a conditional resource with the parameters' defaults, so the resources that are off by
default (the CloudFront distribution, the API's custom domain) are never checked on the template as written.
`scripts/lint-template.sh` runs cfn-lint and checkov a second time on this variant, with them on.

    .venv/bin/python -m scripts.template_variant EdgeDistribution=on EdgeIpv6=off > variant.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"


def variant(defaults: Mapping[str, str], template_path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template (intrinsics in their long form), each named parameter's default replaced."""
    template: dict[str, Any] = yaml_parse(template_path.read_text(encoding="utf-8"))
    parameters = template["Parameters"]
    unknown = sorted(set(defaults) - set(parameters))
    if unknown:
        raise ValueError(f"template.yaml has no parameter {', '.join(unknown)}")
    for name, value in defaults.items():
        parameters[name]["Default"] = value
    return template


def main(argv: Sequence[str]) -> int:
    pairs = [argument.partition("=") for argument in argv]
    if not pairs or any(not sep for _, sep, _ in pairs):
        print("usage: python -m scripts.template_variant NAME=VALUE ...", file=sys.stderr)
        return 2
    try:
        template = variant({name: value for name, _, value in pairs})
    except ValueError as exc:
        print(f"template_variant: {exc}", file=sys.stderr)
        return 2
    json.dump(template, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
