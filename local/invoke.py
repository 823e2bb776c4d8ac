"""`make invoke EVENT=events/<file>.json`: run the handler once on an event, like `sam local invoke -e`.

No Docker: the function's variables come from events/env.json (SAM's `--env-vars` file), AWS and Anam are
set up by `local.world` as for `make dev`. The handler's response goes to stdout as JSON; its logs and
metrics go to stderr, as `sam local invoke` keeps them apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from local.lambda_context import LambdaContext
from local.world import (
    DEFAULT_PERSONA_PATH,
    REPO_ROOT,
    EmulationError,
    EmulationOptions,
    load_handler,
    start,
)

DEFAULT_ENV_VARS = REPO_ROOT / "events" / "env.json"
EXIT_HANDLER_FAILED = 1
EXIT_CANNOT_START = 2


def function_variables(path: Path) -> dict[str, str]:
    """The variables in a SAM `--env-vars` file: "Parameters" (all functions) and each function's own."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object")
    variables: dict[str, str] = {}
    sections = [document.get("Parameters", {})]
    sections += [value for key, value in document.items() if key != "Parameters" and isinstance(value, dict)]
    for section in sections:
        if isinstance(section, dict):
            variables.update({str(name): str(value) for name, value in section.items()})
    return variables


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        event = json.loads(args.event.read_text(encoding="utf-8"))
        if args.env_vars.exists():
            os.environ.update(function_variables(args.env_vars))
        emulation = start(EmulationOptions(persona_path=args.persona))
    except (OSError, ValueError, EmulationError) as exc:
        print(f"invoke: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    try:
        result, failed = _invoke(event)
    finally:
        emulation.stop()
    print(json.dumps(result, indent=2))
    return EXIT_HANDLER_FAILED if failed else 0


def _invoke(event: Any) -> tuple[Any, bool]:
    # Everything the function prints (Powertools logs, EMF metrics) goes to stderr, so stdout is the response.
    with redirect_stdout(sys.stderr):
        try:
            return load_handler()(event, LambdaContext.for_event(event)), False
        except Exception as exc:
            traceback.print_exc()
            # The shape Lambda reports an unhandled error in.
            return {"errorMessage": str(exc), "errorType": type(exc).__name__}, True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.invoke",
        description="Run the handler once on an event (offline Anam stand-in unless ANAM_API_KEY is set).",
    )
    parser.add_argument("event", type=Path, help="event JSON, e.g. events/post-with-prompt.json")
    parser.add_argument(
        "--env-vars",
        type=Path,
        default=DEFAULT_ENV_VARS,
        help="SAM --env-vars file with the function's variables (default: events/env.json)",
    )
    parser.add_argument(
        "--persona",
        type=Path,
        default=DEFAULT_PERSONA_PATH,
        help="persona JSON seeded into the emulated SSM parameter (default: local/persona.example.json)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
