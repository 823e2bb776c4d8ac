"""The command line of `make dev` (`python -m local.dev_server --help`): its options and their defaults."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from local.standins.anam_rules import TOKEN_TYPES
from local.world import DEFAULT_PERSONA_PATH

DEFAULT_ALLOWED_ORIGINS = "http://localhost:5173,http://127.0.0.1:5173"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.dev_server",
        description="Serve the handler locally. Offline Anam stand-in unless ANAM_API_KEY is set.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=3000, help="port to listen on (default: %(default)s)")
    parser.add_argument(
        "--allowed-origins",
        default=os.environ.get("ALLOWED_ORIGINS") or DEFAULT_ALLOWED_ORIGINS,
        help="the function's ALLOWED_ORIGINS (default: $ALLOWED_ORIGINS, else %(default)s)",
    )
    parser.add_argument(
        "--persona",
        type=Path,
        default=DEFAULT_PERSONA_PATH,
        help="persona JSON seeded into the emulated SSM parameter (default: local/persona.example.json)",
    )
    parser.add_argument(
        "--aws",
        action="store_true",
        help="use real AWS (usual credential chain) instead of the emulation; nothing is seeded",
    )
    parser.add_argument("--secret-id", help="Secrets Manager secret (default: $ANAM_API_KEY_SECRET_ID)")
    parser.add_argument("--parameter-name", help="SSM parameter (default: $PERSONA_PARAMETER_NAME)")
    parser.add_argument(
        "--stub-token-type",
        choices=TOKEN_TYPES,
        help="make the offline Anam stand-in mint this type of token (e.g. legacy, to test the browser)",
    )
    parser.add_argument(
        "--stub-port", type=int, default=0, help="port of the offline Anam stand-in (default: any free one)"
    )
    parser.add_argument(
        "--no-guard",
        action="store_true",
        help="no spend guard (by default it runs against an emulated table, as deployed: 10 tokens an hour)",
    )
    parser.add_argument(
        "--behind-cloudfront",
        action="store_true",
        help="put a simulated CloudFront in front (TRUSTED_PROXY=cloudfront): direct requests then get 403",
    )
    parser.add_argument(
        "--edge-port", type=int, default=0, help="port of the simulated CloudFront (default: any free one)"
    )
    parser.add_argument(
        "--log-format",
        choices=("human", "json"),
        default="human",
        help="the function's logs: a short line each, or JSON and EMF as in AWS (default: %(default)s)",
    )
    return parser
