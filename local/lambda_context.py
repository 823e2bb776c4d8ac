"""A Lambda context object with the attributes Powertools and the handler read."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# template.yaml's Timeout of each function (tests/template checks they agree): the token function's, and
# ReconcileFunction's, which the schedule's passes run in.
TOKEN_TIMEOUT_SECONDS = 15.0
PASS_TIMEOUT_SECONDS = 60.0


@dataclass
class LambdaContext:
    function_name: str = "anam-token-vendor-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    timeout_seconds: float = TOKEN_TIMEOUT_SECONDS
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/anam-token-vendor-local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @classmethod
    def for_event(cls, event: Any) -> LambdaContext:
        """The context of the function that receives `event` in AWS: a pass has ReconcileFunction's time."""
        is_pass = isinstance(event, dict) and event.get("reconcile") is True
        return cls(timeout_seconds=PASS_TIMEOUT_SECONDS if is_pass else TOKEN_TIMEOUT_SECONDS)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))
