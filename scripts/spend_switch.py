"""Pause or resume all minting (docs/contract.md §9): the spend guard's control item, flipped with one write.

    python -m scripts.spend_switch pause  --table TABLE [--endpoint-url http://127.0.0.1:PORT]
    python -m scripts.spend_switch resume --table TABLE [--endpoint-url ...]

The same as the documented AWS CLI commands (docs/spend-guard.md):
    aws dynamodb put-item --table-name TABLE --item '{"pk":{"S":"control"},"paused":{"BOOL":true}}'
    aws dynamodb put-item --table-name TABLE --item '{"pk":{"S":"control"},"paused":{"BOOL":false}}'
Without --endpoint-url it uses the usual AWS credential chain; `make dev` prints the table and its endpoint.
`make pause TABLE=... [ENDPOINT=...]` and `make resume ...` run it in .venv-dev.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import boto3

from local.moto_server import aws_client

# The names the function's DynamoDB ledger checks; the integration tests pause through this module.
CONTROL_KEY = "control"
KEY = "pk"
PAUSED = "paused"


def pause(dynamodb: Any, table: str) -> None:
    _set(dynamodb, table, paused=True)


def resume(dynamodb: Any, table: str) -> None:
    _set(dynamodb, table, paused=False)


def _set(dynamodb: Any, table: str, *, paused: bool) -> None:
    dynamodb.put_item(TableName=table, Item={KEY: {"S": CONTROL_KEY}, PAUSED: {"BOOL": paused}})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.spend_switch", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=["pause", "resume"])
    parser.add_argument("--table", required=True, help="the spend guard's table (the stack's QuotaTableName)")
    parser.add_argument("--endpoint-url", help="a local emulation's URL (make dev prints it)")
    args = parser.parse_args(argv)
    dynamodb = aws_client("dynamodb", args.endpoint_url) if args.endpoint_url else boto3.client("dynamodb")
    (pause if args.action == "pause" else resume)(dynamodb, args.table)
    print(f"minting {'paused' if args.action == 'pause' else 'resumed'} ({args.table})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
