"""The function's configuration: every environment variable, its default and its check, in one place.

Parsing never raises. Problems are collected and reported as one `configuration_error` at the point of the
request where configuration is first needed (docs/contract.md §3: checks of the request itself come first),
so a typo in a variable gives callers a JSON answer and operators a log line, never a crashed environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from token_vendor.errors import ErrorCode, TokenVendorError

T = TypeVar("T")

DEFAULT_ANAM_API_BASE_URL = "https://api.anam.ai"
DEFAULT_TURNSTILE_SITEVERIFY_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
ANY_ORIGIN = "*"
HUMAN_VERIFICATION_OFF = "off"
HUMAN_VERIFICATION_TURNSTILE = "turnstile"
TRUSTED_PROXY_OFF = "off"
TRUSTED_PROXY_CLOUDFRONT = "cloudfront"
# What a token's clientLabel starts with when neither CLIENT_LABEL_PREFIX nor POWERTOOLS_SERVICE_NAME is set.
DEFAULT_CLIENT_LABEL_PREFIX = "anam-token-vendor"


@dataclass(frozen=True)
class Settings:
    secret_id: str = ""
    persona_parameter: str = ""
    anam_api_base_url: str = DEFAULT_ANAM_API_BASE_URL
    allowed_origins: frozenset[str] = frozenset()
    prompt_max_chars: int = 4000
    secret_max_age_seconds: int = 300
    persona_max_age_seconds: int = 60
    anam_timeout_seconds: float = 10.0
    max_session_length_seconds: int | None = None
    personas_parameter_path: str | None = None
    caller_jwt_required: bool = False
    quota_table_name: str | None = None
    caller_sessions_per_hour: int = 10
    caller_sessions_per_day: int = 30
    daily_session_minutes: int | None = None
    monthly_session_minutes: int | None = None
    human_verification: str = HUMAN_VERIFICATION_OFF
    turnstile_siteverify_url: str = DEFAULT_TURNSTILE_SITEVERIFY_URL
    trusted_proxy: str = TRUSTED_PROXY_OFF
    trace_subsegments: bool = False
    reconcile_usage: bool | None = None  # None: on whenever a minutes budget is (docs/contract.md §11)
    client_label_prefix: str = DEFAULT_CLIENT_LABEL_PREFIX
    min_session_seconds: int | None = None  # None: 120, or the cap when that is shorter (§12)
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        problems: list[str] = []

        def read(name: str, parse: Callable[[str], T], default: T) -> T:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                return parse(raw)
            except ValueError as exc:
                problems.append(f"{name}={raw[:40]!r} is invalid: {exc}")
                return default

        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            return value

        settings = cls(
            secret_id=required("ANAM_API_KEY_SECRET_ID"),
            persona_parameter=required("PERSONA_PARAMETER_NAME"),
            anam_api_base_url=read("ANAM_API_BASE_URL", _base_url, DEFAULT_ANAM_API_BASE_URL),
            allowed_origins=read("ALLOWED_ORIGINS", _origins, frozenset()),
            prompt_max_chars=read("PROMPT_MAX_CHARS", _positive_int, 4000),
            secret_max_age_seconds=read("SECRET_MAX_AGE_SECONDS", _non_negative_int, 300),
            persona_max_age_seconds=read("PERSONA_MAX_AGE_SECONDS", _non_negative_int, 60),
            anam_timeout_seconds=read("ANAM_TIMEOUT_SECONDS", _positive_float, 10.0),
            max_session_length_seconds=read("MAX_SESSION_LENGTH_SECONDS", _positive_int, None),
            personas_parameter_path=read("PERSONAS_PARAMETER_PATH", _parameter_path, None),
            caller_jwt_required=read("CALLER_JWT_REQUIRED", _boolean, False),
            quota_table_name=read("QUOTA_TABLE_NAME", str, None),
            caller_sessions_per_hour=read("CALLER_SESSIONS_PER_HOUR", _non_negative_int, 10),
            caller_sessions_per_day=read("CALLER_SESSIONS_PER_DAY", _non_negative_int, 30),
            daily_session_minutes=read("DAILY_SESSION_MINUTES", _positive_int, None),
            monthly_session_minutes=read("MONTHLY_SESSION_MINUTES", _positive_int, None),
            human_verification=read("HUMAN_VERIFICATION", _human_verification, HUMAN_VERIFICATION_OFF),
            turnstile_siteverify_url=read(
                "TURNSTILE_SITEVERIFY_URL", _base_url, DEFAULT_TURNSTILE_SITEVERIFY_URL
            ),
            trusted_proxy=read("TRUSTED_PROXY", _trusted_proxy, TRUSTED_PROXY_OFF),
            trace_subsegments=read("TRACE_SUBSEGMENTS", _boolean, False),
            reconcile_usage=read("RECONCILE_USAGE", _boolean, None),
            client_label_prefix=read(
                "CLIENT_LABEL_PREFIX",
                _label_prefix,
                _label_prefix_or_default(environ.get("POWERTOOLS_SERVICE_NAME", "")),
            ),
            min_session_seconds=read("MIN_SESSION_SECONDS", _positive_int, None),
        )
        problems.extend(settings._combination_problems())
        return cls(**{**settings.__dict__, "problems": tuple(problems)})

    @property
    def turnstile_enabled(self) -> bool:
        return self.human_verification == HUMAN_VERIFICATION_TURNSTILE

    @property
    def behind_cloudfront(self) -> bool:
        return self.trusted_proxy == TRUSTED_PROXY_CLOUDFRONT

    @property
    def has_budget(self) -> bool:
        return self.daily_session_minutes is not None or self.monthly_session_minutes is not None

    @property
    def reconciles(self) -> bool:
        """Tokens labelled at Anam and settled against their sessions (§11): the guard on, a minutes budget
        set, and RECONCILE_USAGE not false."""
        return self.quota_table_name is not None and self.has_budget and self.reconcile_usage is not False

    @property
    def shortest_session_seconds(self) -> int:
        """The least a budget's remainder may grant (§12): MIN_SESSION_SECONDS, else 120 s or the cap."""
        if self.min_session_seconds is not None:
            return self.min_session_seconds
        return min(120, self.max_session_length_seconds or 120)

    def _combination_problems(self) -> list[str]:
        """Settings that are each valid but cannot work together (docs/contract.md §2)."""
        return self._budget_problems() + self._remainder_problems()

    def _remainder_problems(self) -> list[str]:
        problems = []
        low = self.min_session_seconds
        if low is not None and (low < 60 or (self.max_session_length_seconds or low) < low):
            problems.append(
                f"MIN_SESSION_SECONDS={low} must be at least 60 and at most MAX_SESSION_LENGTH_SECONDS"
            )
        return problems

    def _budget_problems(self) -> list[str]:
        cap = self.max_session_length_seconds
        if self.has_budget and cap is None:
            return [
                "DAILY_SESSION_MINUTES or MONTHLY_SESSION_MINUTES is set without MAX_SESSION_LENGTH_SECONDS: "
                "the spend guard cannot know what a session may cost"
            ]
        minutes = -(-cap // 60) if cap is not None else 0  # what one token reserves, rounded up
        return [
            f"MAX_SESSION_LENGTH_SECONDS={cap} reserves {minutes} minutes a token, more than "
            f"{name}={budget}: no token could ever be minted"
            for name, budget in (
                ("DAILY_SESSION_MINUTES", self.daily_session_minutes),
                ("MONTHLY_SESSION_MINUTES", self.monthly_session_minutes),
            )
            if budget is not None and minutes > budget
        ]

    def require_valid(self) -> None:
        if self.problems:
            raise TokenVendorError(ErrorCode.CONFIGURATION_ERROR, "; ".join(self.problems))


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a whole number above 0")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a number of seconds above 0")
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in {"true", "false", "1", "0", "yes", "no"}:
        raise ValueError("must be true or false")
    return lowered in {"true", "1", "yes"}


def _base_url(raw: str) -> str:
    if not raw.startswith(("https://", "http://")):
        raise ValueError("must start with https://")
    return raw.rstrip("/")


def _parameter_path(raw: str) -> str:
    if not raw.startswith("/"):
        raise ValueError("must be an SSM path starting with /, such as /anam/personas/")
    return raw.rstrip("/") + "/"


# The separator of a clientLabel's parts (domain/reconciliation.py) may not appear in the prefix: a label
# must tell its deployment and its reservation apart however the persona's own label is written.
_LABEL_PREFIX = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _label_prefix(raw: str) -> str:
    if not _LABEL_PREFIX.fullmatch(raw):
        raise ValueError("must be 1-64 letters, digits, '.', '_' or '-'")
    return raw


def _label_prefix_or_default(service_name: str) -> str:
    """The stack's name (POWERTOOLS_SERVICE_NAME) when it can be a prefix, else the project's name."""
    name = service_name.strip()
    return name if _LABEL_PREFIX.fullmatch(name) else DEFAULT_CLIENT_LABEL_PREFIX


def _human_verification(raw: str) -> str:
    lowered = raw.lower()
    if lowered not in {HUMAN_VERIFICATION_OFF, HUMAN_VERIFICATION_TURNSTILE}:
        raise ValueError("must be off or turnstile")
    return lowered


def _trusted_proxy(raw: str) -> str:
    lowered = raw.lower()
    if lowered not in {TRUSTED_PROXY_OFF, TRUSTED_PROXY_CLOUDFRONT}:
        raise ValueError("must be off or cloudfront")
    return lowered


def _origins(raw: str) -> frozenset[str]:
    origins = frozenset(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins - {ANY_ORIGIN}:
        if not origin.startswith(("https://", "http://")):
            raise ValueError(f"{origin[:40]!r} is not an origin such as https://app.example.com")
    return origins
