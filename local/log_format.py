"""A compact, human log format for `make dev`; in AWS the function logs JSON (Powertools' own format).

The function's Logger is created once (token_vendor.observability), so the dev server swaps the formatter of
its handler after importing it: nothing in the function knows about this format. Each record becomes one line:

    21:04:05 INFO  Request handled  method=POST status=200 latency_ms=12.3 cold_start=True

Keys that are the same on every line (service, function name and ARN, request ids, location) are left out.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

# On every line, or only useful when logs of several functions meet in CloudWatch.
_OMITTED = frozenset(
    {
        "level",
        "message",
        "timestamp",
        "location",
        "service",
        "sampling_rate",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "xray_trace_id",
        "exception",
        "exception_name",
        "exception_notes",
        "stack_trace",
    }
)


class CompactFormatter(LambdaPowertoolsFormatter):
    """One short line per record, the exception (if any) below it; keys the function appends still show."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        clock = time.strftime("%H:%M:%S")
        extras = " ".join(f"{key}={value}" for key, value in log.items() if key not in _OMITTED)
        line = f"{clock} {log.get('level', ''):<5} {log.get('message', '')}"
        if extras:
            line = f"{line}  {extras}"
        if log.get("exception"):
            line = f"{line}\n{log['exception']}"
        return line


def use_compact_format(logger_name: str) -> None:
    """Give the Powertools logger named `logger_name` (its service name) the compact format."""
    for handler in logging.getLogger(logger_name).handlers:
        handler.setFormatter(CompactFormatter())
