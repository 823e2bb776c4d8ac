"""The spend guard's table as the ledger and the records reach it (docs/contract.md §9): one client for reads,
one for writes, every attempt inside the request's deadline, and the one classification of a write's outcome.

A read is retried by the SDK (standard mode) and then on contention: reading twice changes nothing. A write is
sent by a client that makes one attempt, and `write` decides whether to send it again from what the attempt's
answer says (`Outcome`, domain/settlement.py): throttling, a conflict with a transaction and a request that
never left are retried until the deadline; an answer lost after sending (a 5xx, a read timeout, a connection
closed) is retried only for a write that says it may be repeated (a change of a record's state under an owner
mark), never for a counter's change, which would count twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from token_vendor.adapters.aws_clients import Failure, aws_clients, classify, error_code, is_contention
from token_vendor.adapters.http_session import MAX_IDLE_SECONDS
from token_vendor.domain.deadline import GIVE_BACK_ROUND_TRIP_SECONDS, Backoff, GaveUp, Retry, retry_until
from token_vendor.domain.settlement import Outcome
from token_vendor.errors import ErrorCode, TokenVendorError

KEY = "pk"
USED = "used"
EXPIRES_AT = "expiresAt"
CONDITION_FAILED = "ConditionalCheckFailedException"

# Short timeouts: a write of one small item answers in milliseconds. Standard mode retries reads on throttling
# and 5xx; every attempt is also bounded by the request's deadline (below). A pool big enough for a token's
# five requests and a give-back's four at once.
CLIENT_CONFIG = Config(
    connect_timeout=0.5,
    read_timeout=1,
    retries={"mode": "standard", "total_max_attempts": 3},
    max_pool_connections=16,
)
# The longest one attempt can take (connect + read timeout): no attempt starts that could end past the
# deadline. A give-back keeps time for three of them (domain/deadline.py).
ATTEMPT_SECONDS = GIVE_BACK_ROUND_TRIP_SECONDS
# Contention (a hot key throttled, a conflict with a transaction) and requests never sent: tried again after a
# jittered wait, as long as the deadline allows. The SDK makes one attempt per write, so these are all.
WRITE_ATTEMPTS = 10
CONTENTION_BACKOFF = Backoff(base_seconds=0.02, cap_seconds=0.5)
NOT_SENT = (ConnectTimeoutError, EndpointConnectionError)
# One pool per execution environment, whatever is built and rebuilt: a token's five requests, a give-back's
# four. Its threads start on first use, never at import (so never before a SnapStart snapshot).
_REQUESTS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="spend-ledger")


class _DeadlineReached(Exception):
    """Raised before an attempt that could not finish in the time left (botocore does not retry it)."""


@dataclass(frozen=True)
class Written:
    """One write's outcome, and what failed when it did not apply (for the log)."""

    outcome: Outcome
    detail: str = ""


def outcome_of(error: BaseException) -> Outcome:
    """What a failed write did, as DynamoDB documents it: a 4xx answer changed nothing, nor did a request that
    never left; a 5xx, a read timeout or a connection closed after sending may have been applied."""
    if isinstance(error, (_DeadlineReached, *NOT_SENT)):
        return Outcome.NOT_APPLIED
    if isinstance(error, ClientError):
        if error_code(error) == CONDITION_FAILED:
            return Outcome.DECLINED
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return Outcome.NOT_APPLIED if 400 <= status < 500 else Outcome.UNKNOWN
    return Outcome.UNKNOWN


class DynamoDbTable:
    """The guard's table: `request` for reads, `write` for writes, both inside the request's deadline."""

    def __init__(
        self,
        table_name: str,
        client_factory: Callable[[str, Config], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = table_name
        self._clock = clock
        self._deadline = threading.local()
        # Built with the ledger, so that the init prefetch (which builds the guard) takes its cost off the
        # first request.
        factory = client_factory or aws_clients()
        self._client = factory("dynamodb", CLIENT_CONFIG)
        one_attempt = Config(retries={"mode": "standard", "total_max_attempts": 1})
        self._write_client = factory("dynamodb", CLIENT_CONFIG.merge(one_attempt))
        self._last_used = {id(self._client): clock(), id(self._write_client): clock()}
        self._in_flight = {id(self._client): 0, id(self._write_client): 0}
        self._idle_lock = threading.Lock()
        for client in (self._client, self._write_client):
            client.meta.events.register("before-send.dynamodb", self._check_deadline)
        self.pool = _REQUESTS

    def write(self, operation: str, deadline: float, *, repeatable: bool, **arguments: Any) -> Written:
        """One UpdateItem or PutItem, sent again only while that cannot count it twice (module docstring)."""
        unknown: list[str] = []

        def attempt(_: float) -> Written:
            try:
                self.call(operation, deadline, client=self._write_client, **arguments)
            except (ClientError, BotoCoreError, _DeadlineReached) as exc:
                outcome = outcome_of(exc)
                if outcome is Outcome.DECLINED:
                    return Written(outcome)
                if outcome is Outcome.UNKNOWN:
                    unknown.append(error_code(exc))
                    if not repeatable:
                        return Written(outcome, error_code(exc))
                if outcome is Outcome.UNKNOWN or is_contention(exc) or isinstance(exc, NOT_SENT):
                    raise Retry(error_code(exc), cause=exc) from exc
                # Refused now, or no time for another try: an earlier attempt whose answer was lost may
                # still have applied.
                return Written(Outcome.UNKNOWN if unknown else outcome, error_code(exc))
            return Written(Outcome.APPLIED)

        try:
            written: Written = self._retrying(attempt, deadline, WRITE_ATTEMPTS)
        except GaveUp as gave_up:
            # Had any attempt's answer been lost, that one may have applied.
            outcome = Outcome.UNKNOWN if unknown else Outcome.NOT_APPLIED
            return Written(outcome, gave_up.failure)
        return written

    def request(self, operation: str, deadline: float, **arguments: Any) -> Any:
        """One read, retried by the SDK and then on contention until `deadline`. Raises TokenVendorError."""

        def attempt(_: float) -> Any:
            try:
                return self.call(operation, deadline, **arguments)
            except ClientError as exc:
                if is_contention(exc):
                    raise Retry(error_code(exc), cause=exc) from exc
                raise unavailable(exc) from exc
            except (BotoCoreError, _DeadlineReached) as exc:
                raise TokenVendorError(
                    ErrorCode.DEPENDENCY_UNAVAILABLE, f"DynamoDB {operation}: {type(exc).__name__}"
                ) from exc

        return self.retrying(attempt, deadline)

    def retrying(self, attempt: Callable[[float], Any], deadline: float) -> Any:
        """`attempt` retried on `Retry` with the contention backoff until `deadline` (GaveUp raised as
        503)."""
        try:
            return self._retrying(attempt, deadline, WRITE_ATTEMPTS)
        except GaveUp as gave_up:
            if isinstance(gave_up.cause, ClientError):
                raise unavailable(gave_up.cause) from gave_up.cause
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, "DynamoDB: no time left") from None

    def call(self, operation: str, deadline: float, *, client: Any = None, **arguments: Any) -> Any:
        """One SDK call, its consumed capacity asked for (what `make bench` adds up)."""
        client = client or self._client
        self._drop_idle_connections(client)
        self._deadline.value = deadline
        try:
            return getattr(client, operation)(ReturnConsumedCapacity="TOTAL", **arguments)
        finally:
            with self._idle_lock:
                self._in_flight[id(client)] -= 1

    def _retrying(self, attempt: Callable[[float], Any], deadline: float, attempts: int) -> Any:
        return retry_until(
            attempt, attempts=attempts, deadline=deadline, backoff=CONTENTION_BACKOFF, clock=self._clock
        )

    def _drop_idle_connections(self, client: Any) -> None:
        # After a freeze, a pooled connection may be one that something on the path has forgotten: a write
        # sent into it is never answered, and its outcome would be unknown although it never arrived. As for
        # Anam's connections (adapters/http_session.py), none idle past MAX_IDLE_SECONDS is reused.
        # Only the first of a token's requests after the idle spell empties the pool, and never under
        # another request in flight: that one would fail as if its answer were lost.
        with self._idle_lock:
            now = self._clock()
            idle = now - self._last_used.get(id(client), now) > MAX_IDLE_SECONDS
            self._last_used[id(client)] = now
            if idle and not self._in_flight.get(id(client)):
                client._endpoint.http_session.close()  # botocore's URLLib3Session: its pools are emptied
            self._in_flight[id(client)] = self._in_flight.get(id(client), 0) + 1

    def _check_deadline(self, **_: Any) -> None:
        deadline = getattr(self._deadline, "value", None)  # None: a call this table did not make
        if deadline is not None and self._clock() + ATTEMPT_SECONDS > deadline:
            raise _DeadlineReached


def unavailable(exc: ClientError) -> TokenVendorError:
    code = error_code(exc)
    error = (
        ErrorCode.CONFIGURATION_ERROR
        if classify(exc) is Failure.DEFINITIVE
        else ErrorCode.DEPENDENCY_UNAVAILABLE
    )
    return TokenVendorError(error, f"DynamoDB: {code}")
