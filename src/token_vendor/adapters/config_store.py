"""The API key (Secrets Manager) and the personas (SSM Parameter Store), cached per execution environment.

docs/contract.md §4 and §6: fetched on first use, all at once on a cold start; reused for their max age with
no AWS call; a transient failure to refresh serves the value already held, a definitive one is a configuration
error. Powertools Parameters does the fetching (GetParametersByPath's pages included); this module parses what
it fetched and says what its errors mean; the cache and its time bounds are `max_age_cache.MaxAgeCache`'s.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.config import Config

from token_vendor.adapters import aws_clients
from token_vendor.adapters.aws_clients import Failure, classify, error_code
from token_vendor.adapters.max_age_cache import FetchFailed, MaxAgeCache
from token_vendor.domain.persona import PersonaTemplate, parse_template
from token_vendor.domain.values import Credentials, parse_credentials
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger
from token_vendor.settings import Settings

# docs/contract.md §4: a named persona's name, the last segment of its parameter's name.
PERSONA_NAME = re.compile(r"[a-z0-9_-]{1,64}")


# A named persona whose stored value is broken: a request for it is a configuration error, not the others.
@dataclass(frozen=True)
class _BrokenPersona:
    detail: str


NamedPersonas = Mapping[str, PersonaTemplate | _BrokenPersona]


class ConfigStore:
    def __init__(
        self,
        settings: Settings,
        client_factory: Callable[[str, Config], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        providers = _Providers(client_factory or aws_clients.aws_clients())
        secret = f"API key secret {settings.secret_id!r}"
        self._credentials = MaxAgeCache(
            what=secret,
            fetch=_fetching(
                secret, lambda refresh: providers.secrets(refresh).get(settings.secret_id, max_age=0)
            ),
            parse=parse_credentials,
            max_age=settings.secret_max_age_seconds,
            clock=clock,
        )
        default = f"persona parameter {settings.persona_parameter!r}"
        self._default = MaxAgeCache(
            what=default,
            fetch=_fetching(
                default,
                lambda refresh: providers.ssm(refresh).get(
                    settings.persona_parameter, max_age=0, transform="json", decrypt=True
                ),
            ),
            parse=_persona,
            max_age=settings.persona_max_age_seconds,
            clock=clock,
        )
        self._named: MaxAgeCache[NamedPersonas] | None = None
        if settings.personas_parameter_path:
            # Asked for without a trailing slash: GetParametersByPath is authorized against the path as sent,
            # and the template grants exactly `parameter/anam/personas`.
            path = settings.personas_parameter_path.rstrip("/") or "/"
            named = f"personas path {path!r}"
            self._named = MaxAgeCache(
                what=named,
                fetch=_fetching(
                    named,
                    lambda refresh: providers.ssm(refresh).get_multiple(
                        path, max_age=0, decrypt=True, recursive=False
                    ),
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

    def credentials(self, deadline: float | None = None) -> Credentials:
        """The secret's values alone (the origin check behind CloudFront, §8). On a cold start the personas
        are fetched at the same time: the request that follows needs them."""
        self._start_fetches(self._all if self._credentials.is_empty else [self._credentials])
        return self._credentials.get(deadline)

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
    def _all(self) -> list[MaxAgeCache[Any]]:
        return [self._credentials, self._default, *([self._named] if self._named is not None else [])]

    @staticmethod
    def _start_fetches(values: Iterable[MaxAgeCache[Any]]) -> None:
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


def _fetching(what: str, get: Callable[[bool], object]) -> Callable[[bool], object]:
    """`get` with Powertools' errors said as the cache understands them: a transient failure (FetchFailed),
    else a configuration error naming what could not be read."""

    def fetch(refresh: bool) -> object:
        try:
            return get(refresh)
        except TransformParameterError as exc:
            raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"{what} is not valid JSON") from exc
        except GetParameterError as exc:
            cause = exc.__context__ or exc
            if classify(cause) is not Failure.TRANSIENT:
                raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, f"{what}: {error_code(cause)}") from exc
            raise FetchFailed(error_code(cause)) from exc

    return fetch


class _Providers:
    """The Powertools providers over this environment's clients: the usual ones and the refresh ones.

    Built on first use, once even when the cold start's fetches ask from several threads. They cache nothing
    (max_age=0 on every call): `MaxAgeCache` owns the cache, so that it also owns the time bounds.
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
                config = aws_clients.refresh_client_config() if refresh else aws_clients.AWS_CLIENT_CONFIG
                self._built[service, refresh] = kind(boto3_client=self._client_factory(service, config))
            return self._built[service, refresh]


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
