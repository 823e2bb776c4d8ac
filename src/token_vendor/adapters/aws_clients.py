"""AWS's clients for one execution environment, their configuration, and the one classifier of AWS errors.

Every adapter that talks to AWS (the config store, the DynamoDB ledger) takes its clients from here and asks
`classify` what an error means: the operator's to fix (definitive), a passing failure worth a retry or a held
value (transient), or neither.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import Enum
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Explicit timeouts, and retries sized for throttling bursts: SSM's default GetParameter quota is 40/s, which
# a burst of cold starts exceeds. Standard mode backs off exponentially with jitter. A request waits for them
# only until its deadline (adapters/max_age_cache.py).
AWS_CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 5}
)
# A refresh while a value is held: one attempt, with timeouts no longer than these. If it fails, the held
# value is served and the next attempt comes later (adapters/max_age_cache.py), so retrying now would only
# make the request wait.
REFRESH_CONNECT_TIMEOUT_SECONDS = 1.0
REFRESH_READ_TIMEOUT_SECONDS = 2.0

# Answers about the resource or the caller's rights, not a passing failure: the operator's to fix.
DEFINITIVE_ERRORS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "DecryptionFailure",
        "InvalidKeyId",
        "InvalidParameterException",
        "InvalidRequestException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "ParameterNotFound",
        "ParameterVersionNotFound",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "ValidationException",
    }
)


# Throttling and contention that DynamoDB answers with a 400 status.
TRANSIENT_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


class Failure(Enum):
    DEFINITIVE = "definitive"  # the operator changed something: not found, access denied, invalid
    TRANSIENT = "transient"  # throttling, 5xx, timeout, connection error
    UNKNOWN = "unknown"  # any other refusal


def classify(error: BaseException) -> Failure:
    """What an error from boto3 means (see the module's docstring)."""
    if isinstance(error, ClientError):
        code = error_code(error)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in DEFINITIVE_ERRORS:
            return Failure.DEFINITIVE
        if code in TRANSIENT_ERRORS or status >= 500 or status in (0, 429) or "Throttl" in code:
            return Failure.TRANSIENT
        return Failure.UNKNOWN
    if isinstance(error, BotoCoreError | OSError):
        return Failure.TRANSIENT
    return Failure.UNKNOWN


def is_contention(error: BaseException) -> bool:
    """Throttling or a conflict with a transaction (TRANSIENT_ERRORS): "this item is busy", not "this service
    is failing", so worth retrying with backoff for as long as the request's deadline allows."""
    return isinstance(error, ClientError) and error_code(error) in TRANSIENT_ERRORS


def error_code(error: BaseException) -> str:
    """AWS's error code, or the exception's type when AWS gave none: what the logs say."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def aws_clients() -> Callable[[str, Config], Any]:
    """A client factory for one execution environment: every client from one session, one at a time.

    One session, so that the endpoint data and service list it loads are parsed once, not once per client
    (about 35 ms of a cold start); one at a time, because the cold start asks from several threads and
    sessions are not thread-safe. The first client's call then overlaps the second client's creation.
    AWS_ENDPOINT_URL (moto in tests) is honoured by boto3 itself.
    """
    session = boto3.session.Session()
    lock = threading.Lock()

    def client(service: str, config: Config) -> Any:
        with lock:
            return session.client(service, config=config)

    return client


def refresh_client_config() -> Config:
    """The usual client's configuration (read now, so that tests can set it), for one short attempt."""
    return AWS_CLIENT_CONFIG.merge(
        Config(
            connect_timeout=min(AWS_CLIENT_CONFIG.connect_timeout, REFRESH_CONNECT_TIMEOUT_SECONDS),
            read_timeout=min(AWS_CLIENT_CONFIG.read_timeout, REFRESH_READ_TIMEOUT_SECONDS),
            retries={"mode": "standard", "total_max_attempts": 1},
        )
    )
