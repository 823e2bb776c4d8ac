"""`make reconcile`: run the reconciliation pass once in the function `make dev` is running, and print what it
settled (docs/contract.md §11; docs/local-development.md walks through it).

The pass has to run where the page's tokens were minted: in the dev server's execution environment, against
its emulated table and its Anam stand-in. The dev server therefore takes `POST /_local/reconcile` (a route of
its own, which API Gateway would never forward) and invokes the handler with `{"reconcile": true}`, as the
template's schedule does; this command calls that route and prints the handler's answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from local.http_plumbing import LocalRequestHandler

ROUTE = "/_local/reconcile"
DEFAULT_URL = "http://127.0.0.1:3000"
EXIT_CANNOT_REACH = 2


class _Environment(Protocol):
    def invoke(self, event: Mapping[str, Any]) -> Any: ...


def answer(handler: LocalRequestHandler, environment: _Environment) -> int:
    """The dev server's side of the route: the schedule's event, in its execution environment."""
    handler.send_json(200, environment.invoke({"reconcile": True}))
    return 200


def describe(summary: dict[str, Any]) -> str:
    """One line a person reads after pressing Stop: what came back, what still waits."""
    if not summary.get("reconciled"):
        return f"Nothing settled: {summary.get('error', 'unknown error')} (see make dev's log)."
    budgets = ", ".join(
        f"{name} {share:g} %" for name, share in summary.get("budgetsUsedPercent", {}).items()
    )
    return (
        f"Settled {summary['settledUsed']} used and {summary['settledUnused']} unused token(s): "
        f"{summary['minutesReserved']} minutes reserved, {summary['minutesUsed']} used, "
        f"{summary['minutesGivenBack']} given back. {summary['waiting']} still waiting (a session running, "
        f"or a token not yet expired). Budgets used: {budgets or 'none'}."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.reconcile", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="the dev server (default: %(default)s)")
    args = parser.parse_args(argv)
    request = urllib.request.Request(args.url.rstrip("/") + ROUTE, data=b"", method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (a URL the user gave)
            summary = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"reconcile: cannot reach make dev at {args.url} ({exc}); is it running?", file=sys.stderr)
        return EXIT_CANNOT_REACH
    print(json.dumps(summary, indent=2))
    print(describe(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
