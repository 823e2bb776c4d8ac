"""The faults the fault proxy (local/fault_proxy.py) puts on a request: an answer instead of the service's, a
reset connection, a delay, each either instead of forwarding or after the service has applied the request,
and the errors AWS's JSON protocol answers with.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

_AWS_JSON = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class Fault:
    kind: Literal["status", "reset", "delay"]
    status_code: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    # The request reaches the service and is applied; only then does the fault happen to its answer: what
    # DynamoDB documents as a write of unknown outcome (a 500, a read timeout, a connection closed after
    # sending).
    applied: bool = False

    def after_applying(self) -> Fault:
        """This fault, once the service has applied the request: the answer is lost to it."""
        return replace(self, applied=True)

    @classmethod
    def status(
        cls,
        code: int,
        body: bytes | str | Mapping[str, Any] = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer with this status instead of forwarding (a mapping body is sent as JSON)."""
        merged = dict(headers or {})
        if isinstance(body, Mapping):
            merged.setdefault("Content-Type", "application/json")
            raw = json.dumps(body).encode()
        else:
            raw = body.encode() if isinstance(body, str) else body
        return cls("status", status_code=code, body=raw, headers=tuple(merged.items()))

    @classmethod
    def reset(cls) -> Fault:
        """Drop the client's connection with a TCP RST, without forwarding or answering."""
        return cls("reset")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait, then forward: one slow request, e.g. to run into the client's read timeout."""
        return cls("delay", seconds=seconds)


def _aws_error(status: int, error_type: str, message: str) -> Fault:
    # The AWS JSON protocol (SSM, Secrets Manager): botocore reads the error code from `__type` (and
    # x-amzn-ErrorType); its standard retry mode retries ThrottlingException and any 500/502/503/504.
    headers = {
        "Content-Type": _AWS_JSON,
        "x-amzn-ErrorType": error_type,
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    return Fault.status(status, {"__type": error_type, "message": message}, headers)


def aws_throttling() -> Fault:
    """What SSM answers over its GetParameter quota: 400 ThrottlingException, "Rate exceeded"."""
    return _aws_error(400, "ThrottlingException", "Rate exceeded")


def aws_server_error() -> Fault:
    return _aws_error(500, "InternalServerError", "An internal error occurred")


def aws_unavailable() -> Fault:
    return _aws_error(503, "ServiceUnavailable", "Service Unavailable")


def aws_refused() -> Fault:
    """A 400 that is not throttling: DynamoDB refused the request and changed nothing."""
    return _aws_error(400, "ValidationException", "One or more parameter values were invalid")
