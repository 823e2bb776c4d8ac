"""One warm Lambda execution environment for `make dev`: the handler imported once, one invocation at a time,
module state kept between them, and (in the human log format) stdout without EMF metric lines."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Mapping
from contextlib import redirect_stdout
from typing import Any, TextIO

from local.lambda_context import LambdaContext
from local.world import Handler


class ExecutionEnvironment:
    """One warm Lambda execution environment: one invocation at a time, module state kept between them.

    It also carries what the example page is told about this set-up (`page`: see local/web_page.py).
    """

    def __init__(
        self, handler: Handler, page: Mapping[str, Any] | None = None, *, quiet_metrics: bool = False
    ) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self._quiet_metrics = quiet_metrics
        self.page: Mapping[str, Any] = page or {}

    def invoke(self, event: Mapping[str, Any]) -> Any:
        with self._lock:
            if not self._quiet_metrics:
                return self._handler(event, LambdaContext.for_event(event))
            with redirect_stdout(_WithoutMetrics(sys.stdout)):
                return self._handler(event, LambdaContext.for_event(event))


class _WithoutMetrics(io.TextIOBase):
    """stdout without EMF metric lines: in AWS CloudWatch turns them into metrics, on a laptop they are noise
    (Powertools prints single metrics whatever POWERTOOLS_METRICS_DISABLED says)."""

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._dropped_line = False

    def write(self, text: str) -> int:
        # print() writes the line, then its "\n" apart: a dropped line takes its newline with it.
        dropped = text.startswith('{"_aws"') or (self._dropped_line and text == "\n")
        self._dropped_line = text.startswith('{"_aws"')
        if not dropped:
            self._target.write(text)
        return len(text)

    def flush(self) -> None:
        self._target.flush()
