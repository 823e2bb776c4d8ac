"""The API key (Secrets Manager) and the personas (SSM Parameter Store), cached per execution environment.

docs/contract.md §4 and §6: fetched on first use, all at once on a cold start; reused for their max age with
no AWS call; a transient failure to refresh serves the value already held, a definitive one is a configuration
error. Powertools Parameters does the fetching (GetParametersByPath's pages included); this module adds what
it lacks: parsing, the max-age cache with stale-on-error, and time bounds.

Time bounds: every fetch runs in a thread of its own, which the request waits for only as long as it can. With
nothing held, that is until the caller's deadline (the Lambda's remaining time), so that the SDK's retries
never outlive the invocation: the caller answers 503 in time and the fetch finishes for the next request.
With a value held, a refresh makes one short attempt and is waited for at most about a second; then the held
value is served. One fetch per value at a time: concurrent first loads (a request and the init prefetch)
share it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import MappingProxyType
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
# a burst of cold starts exceeds. Standard mode backs off exponentially with jitter. A request waits for them
# only until its deadline (see the module's docstring).
AWS_CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 5}
)
# A refresh while a value is held: one attempt, with timeouts no longer than these. If it fails, the held
# value is served and the next attempt comes STALE_RETRY_SECONDS later, so retrying now would only make the
# request wait. The request waits for it REFRESH_WAIT_SECONDS at most (§6: "about one second"); a slower
# refresh goes on in the background and updates the value when it succeeds.
REFRESH_CONNECT_TIMEOUT_SECONDS = 1.0
REFRESH_READ_TIMEOUT_SECONDS = 2.0
REFRESH_WAIT_SECONDS = 1.0
# After a failed refresh, keep serving the held value this long before asking AWS again, so an outage
# does not add a fetch to every request.
STALE_RETRY_SECONDS = 10.0
# docs/contract.md §4: a named persona's name, the last segment of its parameter's name.
PERSONA_NAME = re.compile(r"[a-z0-9_-]{1,64}")

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


@dataclass(frozen=True)
class Credentials:
    """What the API key secret holds. Never in a repr: a logged object must not carry a secret."""

    api_key: str = field(repr=False)
    turnstile_secret_key: str | None = field(default=None, repr=False)


# A named persona whose stored value is broken: a request for it is a configuration error, not the others.
@dataclass(frozen=True)
class _BrokenPersona:
    detail: str


NamedPersonas = Mapping[str, PersonaTemplate | _BrokenPersona]


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


class ConfigStore:
    def __init__(
        self,
        settings: Settings,
        client_factory: Callable[[str, Config], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        providers = _Providers(client_factory or aws_clients())
        self._credentials = _CachedValue(
            what=f"API key secret {settings.secret_id!r}",
            fetch=lambda refresh: providers.secrets(refresh).get(settings.secret_id, max_age=0),
            parse=parse_credentials,
            max_age=settings.secret_max_age_seconds,
            clock=clock,
        )
        self._default = _CachedValue(
            what=f"persona parameter {settings.persona_parameter!r}",
            fetch=lambda refresh: providers.ssm(refresh).get(
                settings.persona_parameter, max_age=0, transform="json", decrypt=True
            ),
            parse=_persona,
            max_age=settings.persona_max_age_seconds,
            clock=clock,
        )
        self._named: _CachedValue[NamedPersonas] | None = None
        if settings.personas_parameter_path:
            # Asked for without a trailing slash: GetParametersByPath is authorized against the path as sent,
            # and the template grants exactly `parameter/anam/personas`.
            path = settings.personas_parameter_path.rstrip("/") or "/"
            self._named = _CachedValue(
                what=f"personas path {path!r}",
                fetch=lambda refresh: providers.ssm(refresh).get_multiple(
                    path, max_age=0, decrypt=True, recursive=False
                ),
                parse=lambda raw: _named_personas(raw, path),
                max_age=settings.persona_max_age_seconds,
                clock=clock,
            )

    def load(
        self, persona_name: str | None = None, deadline: float | None = None
    ) -> tuple[Credentials, PersonaTemplate]:
        """The credentials and the persona `persona_name` picks (the default one for None).

        On a cold start, everything is fetched at once (one round trip, not three). `deadline` (a
        `time.monotonic()` value) is when the caller must stop waiting for AWS: 503 then, not a timed-out
        Lambda. Raises unknown_persona for a name that no persona has.
        """
        personas = self._default if persona_name is None else self._named
        needed = [self._credentials] if personas is None else [self._credentials, personas]
        self._start_fetches(self._all if self._credentials.is_empty else needed)
        credentials = self._credentials.get(deadline)
        if persona_name is None:
            return credentials, self._default.get(deadline)
        named = self._named.get(deadline) if self._named is not None else {}
        return credentials, _pick(named, persona_name)

    def load_all(self, deadline: float | None = None) -> None:
        """The credentials and every persona into the cache (warm-up, init prefetch). A broken named
        persona raises its configuration error after everything is loaded: warm-ups report it."""
        self._start_fetches(self._all)
        self._credentials.get(deadline)
        self._default.get(deadline)
        if self._named is not None:
            broken = [p for p in self._named.get(deadline).values() if isinstance(p, _BrokenPersona)]
            if broken:
                raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, broken[0].detail)

    def fresh_api_key(self, deadline: float | None = None) -> str:
        """The key fetched again now, bypassing the cache: after Anam refused the held one (rotation)."""
        return self._credentials.get(deadline, force_fetch=True).api_key

    @property
    def _all(self) -> list[_CachedValue[Any]]:
        return [self._credentials, self._default, *([self._named] if self._named is not None else [])]

    @staticmethod
    def _start_fetches(values: Iterable[_CachedValue[Any]]) -> None:
        for value in values:
            value.start_fetch()


def _pick(named: NamedPersonas, name: str) -> PersonaTemplate:
    persona = named.get(name)
    if persona is None:
        # The caller's message lists no names (§4); the log says which name was asked for.
        raise TokenVendorError(ErrorCode.UNKNOWN_PERSONA, f"no persona named {name[:64]!r}")
    if isinstance(persona, _BrokenPersona):
        raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, persona.detail)
    return persona


class _Providers:
    """The Powertools providers over this environment's clients: the usual ones and the refresh ones.

    Built on first use, once even when the cold start's fetches ask from several threads. They cache nothing
    (max_age=0 on every call): `_CachedValue` owns the cache, so that it also owns the time bounds.
    """

    def __init__(self, client_factory: Callable[[str, Config], Any]) -> None:
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._built: dict[tuple[str, bool], Any] = {}

    def secrets(self, refresh: bool) -> SecretsProvider:
        return self._provider("secretsmanager", refresh, SecretsProvider)  # type: ignore[no-any-return]

    def ssm(self, refresh: bool) -> SSMProvider:
        return self._provider("ssm", refresh, SSMProvider)  # type: ignore[no-any-return]

    def _provider(self, service: str, refresh: bool, kind: type) -> Any:
        with self._lock:
            if (service, refresh) not in self._built:
                config = _refresh_client_config() if refresh else AWS_CLIENT_CONFIG
                self._built[service, refresh] = kind(boto3_client=self._client_factory(service, config))
            return self._built[service, refresh]


def _refresh_client_config() -> Config:
    """The usual client's configuration (read now, so that tests can set it), for one short attempt."""
    return AWS_CLIENT_CONFIG.merge(
        Config(
            connect_timeout=min(AWS_CLIENT_CONFIG.connect_timeout, REFRESH_CONNECT_TIMEOUT_SECONDS),
            read_timeout=min(AWS_CLIENT_CONFIG.read_timeout, REFRESH_READ_TIMEOUT_SECONDS),
            retries={"mode": "standard", "total_max_attempts": 1},
        )
    )


@dataclass(frozen=True)
class _Fetch(Generic[T]):
    started: float
    result: Future[T]


class _CachedValue(Generic[T]):
    """One value fetched from AWS: parsed, cached for its max age, refreshed with the bounds of the module
    docstring, and held on a transient error."""

    def __init__(
        self,
        what: str,
        fetch: Callable[[bool], object],
        parse: Callable[[object], T],
        max_age: float,
        clock: Callable[[], float],
    ) -> None:
        self.what = what
        self._fetch_raw = fetch  # its argument: whether this is a refresh of a held value
        self._parse = parse
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._raw: object = None
        self._fresh_until = 0.0
        self._fetch: _Fetch[T] | None = None

    @property
    def is_empty(self) -> bool:
        return self._value is None

    def start_fetch(self) -> None:
        """Start fetching in the background, unless the value is fresh or a fetch is already running."""
        with self._lock:
            if not self._is_fresh():
                self._running_fetch()

    def get(self, deadline: float | None = None, force_fetch: bool = False) -> T:
        with self._lock:
            if self._is_fresh() and not force_fetch:
                return self._value  # type: ignore[return-value]  # _is_fresh: not None
            fetch = self._running_fetch()
            held = None if force_fetch else self._value
        if held is None:
            try:
                return self._wait(fetch, deadline)
            except TimeoutError:
                raise TokenVendorError(
                    ErrorCode.DEPENDENCY_UNAVAILABLE, f"{self.what}: no answer before the deadline"
                ) from None
        # Waited for from the fetch's start, so that two refreshes started together cost one wait, and a
        # refresh that an earlier request already waited for costs this one nothing.
        until = fetch.started + REFRESH_WAIT_SECONDS
        try:
            return self._wait(fetch, until if deadline is None else min(until, deadline))
        except TimeoutError:
            logger.warning(
                "Refresh is slow; serving the value held",
                extra={"source": self.what, "waited_seconds": REFRESH_WAIT_SECONDS},
            )
            return held

    def _is_fresh(self) -> bool:
        return self._value is not None and self._clock() < self._fresh_until

    def _running_fetch(self) -> _Fetch[T]:
        """The fetch in flight, or a new one (called with the lock held)."""
        if self._fetch is None:
            fetch: _Fetch[T] = _Fetch(self._clock(), Future())
            refresh = self._value is not None
            threading.Thread(
                target=self._run, args=(fetch.result, refresh), name="config-fetch", daemon=True
            ).start()
            self._fetch = fetch
        return self._fetch

    def _wait(self, fetch: _Fetch[T], until: float | None) -> T:
        """The fetch's value or error; TimeoutError when it has neither by `until`."""
        timeout = None if until is None else max(0.0, until - self._clock())
        return fetch.result.result(timeout)

    def _run(self, result: Future[T], refresh: bool) -> None:
        try:
            value = self._fetch_and_parse(refresh)
        except BaseException as exc:  # handed to whoever waits, as if it had been raised to them
            self._finish(result, exc)
        else:
            self._finish(result, value)

    def _finish(self, result: Future[T], outcome: T | BaseException) -> None:
        with self._lock:
            self._fetch = None
        if isinstance(outcome, BaseException):
            result.set_exception(outcome)
        else:
            result.set_result(outcome)

    def _fetch_and_parse(self, refresh: bool) -> T:
        try:
            raw = self._fetch_raw(refresh)
        except TransformParameterError as exc:
            raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"{self.what} is not valid JSON") from exc
        except GetParameterError as exc:
            return self._on_fetch_error(exc.__context__ or exc)
        # Parsed again only when it changed: the same text gives the same value.
        value = self._value if self._value is not None and raw == self._raw else self._parse(raw)
        with self._lock:
            self._value, self._raw = value, raw
            self._fresh_until = self._clock() + self._max_age
        return value

    def _on_fetch_error(self, cause: BaseException) -> T:
        reason = _describe(cause)
        if not _is_transient(cause):
            raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"{self.what}: {reason}")
        held = self._value
        if held is None:
            raise TokenVendorError(ErrorCode.DEPENDENCY_UNAVAILABLE, f"{self.what}: {reason}")
        with self._lock:
            self._fresh_until = self._clock() + STALE_RETRY_SECONDS
        logger.warning(
            "Refresh failed; serving the value held",
            extra={"source": self.what, "reason": reason, "retry_in_seconds": STALE_RETRY_SECONDS},
        )
        return held


def parse_credentials(raw: object) -> Credentials:
    """The secret's value: the key as a plain string, or a JSON object {"apiKey": "...",
    "turnstileSecretKey": "..."} (the second only with human verification, docs/contract.md §10)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    text = str(raw or "").strip()
    if not text.startswith("{"):
        if not text:
            raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, "API key secret is empty")
        return Credentials(api_key=text)
    try:
        fields = json.loads(text)
    except ValueError:
        fields = None
    api_key = fields.get("apiKey") if isinstance(fields, dict) else None
    if not isinstance(api_key, str) or not api_key.strip():
        raise TokenVendorError(
            ErrorCode.CONFIGURATION_ERROR, 'API key secret is a JSON object without a string "apiKey"'
        )
    turnstile = fields.get("turnstileSecretKey")
    return Credentials(
        api_key=api_key.strip(),
        turnstile_secret_key=turnstile.strip() if isinstance(turnstile, str) and turnstile.strip() else None,
    )


def _persona(raw: object, name: str | None = None) -> PersonaTemplate:
    template = parse_template(raw)
    if template.migrated_brain_type:
        logger.warning(
            "A persona uses brainType, which Anam deprecated; sending it as llmId. Rename it.",
            extra={"persona": name or "default"},
        )
    return template


def _named_personas(raw: object, path: str) -> NamedPersonas:
    """Every parameter directly under the path, by name; a broken one is kept as its error (§4)."""
    personas: dict[str, PersonaTemplate | _BrokenPersona] = {}
    for name, text in dict(raw).items():  # type: ignore[call-overload]  # GetParametersByPath: name -> value
        parameter = f"{path.rstrip('/')}/{name}"
        if not PERSONA_NAME.fullmatch(name):
            logger.warning(
                "A parameter under the personas path has a name no request can pick (1-64 of a-z0-9_-)",
                extra={"parameter": parameter[:200]},
            )
            continue
        try:
            personas[name] = _persona(json.loads(text), name)
        except ValueError:
            personas[name] = _BrokenPersona(f"named persona parameter {parameter!r} is not valid JSON")
        except TokenVendorError as err:
            personas[name] = _BrokenPersona(f"named persona parameter {parameter!r}: {err.detail}")
    for name, persona in personas.items():
        if isinstance(persona, _BrokenPersona):
            logger.error("A named persona is invalid", extra={"persona": name, "detail": persona.detail})
    return MappingProxyType(personas)


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
