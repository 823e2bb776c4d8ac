"""Every fault DynamoDB documents for a write, put on one chosen write the guard or the pass sends.

DynamoDB's error handling guide: a 4xx answer means the request was not applied (refused, or throttled:
`ProvisionedThroughputExceededException`, `ThrottlingException`); a 500, or no answer at all (a read timeout,
a connection closed after the request was sent), leaves the outcome unknown: the write may have been applied.
A request that never left (no connection) was not applied. The fault proxy in front of the engine gives the
answers, and applies the write first for the faults of unknown outcome (local/faults.py); a botocore
`before-send` hook raises what botocore raises when no connection could be made, before anything is sent.

A write is chosen by what its request body holds (`Write.body`): each is unique to one write in the
scenario a test runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from local.fault_proxy import Fault, FaultProxy, aws_refused, aws_server_error, aws_throttling
from token_vendor import wiring
from token_vendor.adapters.aws_clients import aws_clients

READ_TIMEOUT_FAULT_SECONDS = 1.6  # past the ledger's 1 s read timeout


@dataclass(frozen=True)
class Write:
    """One write the money code sends, found by substrings of its request body."""

    name: str
    body: tuple[str, ...]
    target: str = "UpdateItem"

    def matches(self, body: bytes) -> bool:
        return all(part.encode() in body for part in self.body)


RESERVE = Write("reserve", ("ADD #used :amount SET", "budget#day#"))
RECORD = Write("record", ("reservation#",), target="PutItem")
CLAIM = Write("claim", ("attribute_not_exists(#state)",))
GIVE_BACK = Write("give-back", ("ADD #used :change", "budget#day#"))
SETTLE = Write("settle", ("usedMinutes = :used",))
LET_GO = Write("reopen", ("#finished = :me",))  # the record let go: settled, or left with what is still to do
ADJUST = Write("adjust", ("ADD #used :change", "budget#day#"))

# The faults, by name; "unknown" ones were applied before the answer was lost.
SURELY_NOT_APPLIED = ("refused", "throttled", "never-sent")
UNKNOWN_OUTCOME = ("lost-500", "lost-read-timeout", "lost-connection-closed")
FAULT_NAMES = SURELY_NOT_APPLIED + UNKNOWN_OUTCOME

_ANSWERED: dict[str, Callable[[], Fault]] = {
    "refused": aws_refused,
    "throttled": aws_throttling,
    "lost-500": lambda: aws_server_error().after_applying(),
    "lost-read-timeout": lambda: Fault.delay(READ_TIMEOUT_FAULT_SECONDS).after_applying(),
    "lost-connection-closed": lambda: Fault.reset().after_applying(),
}


class NeverSent:
    """Makes the next matching request fail as botocore fails when it cannot connect: nothing is sent."""

    def __init__(self) -> None:
        self._armed: list[Write] = []
        self.raised = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._armed)

    def arm(self, write: Write) -> None:
        with self._lock:
            self._armed.append(write)

    def hook(self, request: Any, **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        with self._lock:
            for index, write in enumerate(self._armed):
                if write.matches(body):
                    del self._armed[index]
                    self.raised += 1
                    raise EndpointConnectionError(endpoint_url=request.url)


@pytest.fixture
def never_sent(monkeypatch: pytest.MonkeyPatch) -> NeverSent:
    """Every DynamoDB client the function builds carries the hook (registered as the clients are made)."""
    faults = NeverSent()

    def clients() -> Callable[[str, Any], Any]:
        factory = aws_clients()

        def client(service: str, config: Any) -> Any:
            made = factory(service, config)
            if service == "dynamodb":
                made.meta.events.register("before-send.dynamodb", faults.hook)
            return made

        return client

    monkeypatch.setattr(wiring, "aws_clients", clients)
    return faults


def inject(fault: str, write: Write, proxy: FaultProxy, never: NeverSent) -> None:
    """Put `fault` on the next `write` (once: a retry of it goes through)."""
    if fault == "never-sent":
        never.arm(write)
        return
    # Throttling is answered several times in a row, past the SDK's own retries, as a hot item would be.
    repeats = 3 if fault == "throttled" else 1
    for _ in range(repeats):
        proxy.enqueue(_ANSWERED[fault](), match=write.target, body=write.body)
