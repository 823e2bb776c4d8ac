"""The API key (Secrets Manager) and the persona (SSM Parameter Store), cached per execution environment.

SPEC 6: fetched on first use, both at once on a cold start; reused for their max age with no AWS call;
a transient failure to refresh serves the value already held, a definitive one is a configuration error.
Powertools Parameters does the fetching and the max-age cache; this module adds what it lacks: parsing,
stale-on-error and the concurrent cold fetch.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger
from token_vendor.persona import PersonaTemplate, parse_template
from token_vendor.settings import Settings

T = TypeVar("T")

# Explicit timeouts, and retries sized for throttling bursts: SSM's default GetParameter quota is 40/s, which
# a burst of cold starts exceeds. Standard mode backs off exponentially with jitter: 4 retries wait up to
# 1 + 2 + 4 + 8 s, inside the function's timeout.
AWS_CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 5}
)
# After a failed refresh, keep serving the held value this long before asking AWS again, so an outage
# does not add the SDK's retries to every request.
STALE_RETRY_SECONDS = 10.0

_DEFINITIVE_ERRORS = frozenset(
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


def aws_clients() -> Callable[[str], Any]:
    """A client factory for one execution environment: every client from one session, one at a time.

    One session, so that the endpoint data and service list it loads are parsed once, not once per client
    (about 35 ms of a cold start); one at a time, because the cold start asks from two threads and sessions
    are not thread-safe. The first client's call then overlaps the second client's creation.
    AWS_ENDPOINT_URL (moto in tests) is honoured by boto3 itself.
    """
    session = boto3.session.Session()
    lock = threading.Lock()

    def client(service: str) -> Any:
        with lock:
            return session.client(service, config=AWS_CLIENT_CONFIG)

    return client


class ConfigStore:
    def __init__(
        self,
        settings: Settings,
        client_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        client_factory = client_factory or aws_clients()
        self._api_key = _CachedValue(
            what=f"API key secret {settings.secret_id!r}",
            fetch=_lazy_fetch(
                lambda: SecretsProvider(boto3_client=client_factory("secretsmanager")),
                settings.secret_id,
                max_age=settings.secret_max_age_seconds,
            ),
            parse=_api_key,
            clock=clock,
        )
        self._persona = _CachedValue(
            what=f"persona parameter {settings.persona_parameter!r}",
            fetch=_lazy_fetch(
                lambda: SSMProvider(boto3_client=client_factory("ssm")),
                settings.persona_parameter,
                max_age=settings.persona_max_age_seconds,
                transform="json",
                decrypt=True,
            ),
            parse=_persona,
            clock=clock,
        )

    def load(self) -> tuple[str, PersonaTemplate]:
        """The API key and the persona; on a cold start, fetched concurrently (one round trip, not two)."""
        if self._api_key.is_empty and self._persona.is_empty:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="config") as pool:
                api_key = pool.submit(self._api_key.get)
                persona = pool.submit(self._persona.get)
                return api_key.result(), persona.result()
        return self._api_key.get(), self._persona.get()

    def fresh_api_key(self) -> str:
        """The key fetched again now, bypassing every cache: after Anam refused the held one (rotation)."""
        return self._api_key.get(force_fetch=True)


def _lazy_fetch(
    make_provider: Callable[[], SecretsProvider | SSMProvider], name: str, **options: Any
) -> Callable[[bool], object]:
    """A fetch through a Powertools provider that is built (with its boto3 client) on first use."""
    provider: list[SecretsProvider | SSMProvider] = []

    def fetch(force_fetch: bool) -> object:
        if not provider:
            provider.append(make_provider())
        return provider[0].get(name, force_fetch=force_fetch, **options)

    return fetch


@dataclass
class _CachedValue(Generic[T]):
    what: str
    fetch: Callable[[bool], object]
    parse: Callable[[object], T]
    clock: Callable[[], float]
    _raw: object = None
    _parsed: T | None = None
    _stale_until: float = 0.0

    @property
    def is_empty(self) -> bool:
        return self._parsed is None

    def get(self, force_fetch: bool = False) -> T:
        if self._parsed is not None and not force_fetch and self.clock() < self._stale_until:
            return self._parsed
        try:
            raw = self.fetch(force_fetch)
        except TransformParameterError as exc:
            raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"{self.what} is not valid JSON") from exc
        except GetParameterError as exc:
            return self._on_fetch_error(exc.__context__ or exc)
        # Powertools hands back its cached object itself: parse it only when it is a new one.
        if raw is not self._raw or self._parsed is None:
            self._parsed = self.parse(raw)
            self._raw = raw
        return self._parsed

    def _on_fetch_error(self, cause: BaseException) -> T:
        reason = _describe(cause)
        if not _is_transient(cause):
            raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"{self.what}: {reason}")
        if self._parsed is None:
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, f"{self.what}: {reason}")
        self._stale_until = self.clock() + STALE_RETRY_SECONDS
        logger.warning(
            "Refresh failed; serving the value held",
            extra={"source": self.what, "reason": reason, "retry_in_seconds": STALE_RETRY_SECONDS},
        )
        return self._parsed


def _api_key(raw: object) -> str:
    """The secret's value: the key as a plain string, or a JSON object {"apiKey": "..."}."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    text = str(raw or "").strip()
    if text.startswith("{"):
        try:
            text = str(json.loads(text).get("apiKey") or "").strip()
        except (ValueError, AttributeError):
            text = ""
        if not text:
            raise TokenVendorError(
                ErrorCode.CONFIGURATION_ERROR, 'API key secret is a JSON object without a string "apiKey"'
            )
    if not text:
        raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, "API key secret is empty")
    return text


def _persona(raw: object) -> PersonaTemplate:
    template = parse_template(raw)
    if template.migrated_brain_type:
        logger.warning("The persona uses brainType, which Anam deprecated; sending it as llmId. Rename it.")
    return template


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code not in _DEFINITIVE_ERRORS and (status >= 500 or status in (0, 429) or "Throttl" in code)
    return isinstance(error, BotoCoreError | OSError)


def _describe(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
