"""The world around the function on a laptop, set up for `make dev` (dev_server) and `make invoke` (invoke).

Three set-ups, chosen by the environment:
- default: Secrets Manager and SSM emulated by moto in this process, seeded with the persona file and the
  named personas of local/personas/, and Anam replaced by the bundled stand-in, whose tokens the real Anam
  rejects; a loud notice says so.
- ANAM_API_KEY set: the same emulated AWS, seeded with that key, and the real Anam API.
- real AWS (`--aws`): the usual credential chain, the named secret and parameter as they are, the real Anam.
The function's environment variables are set before the handler is imported, as Lambda does.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, create_quota_table, seed, seed_personas
from local.standins import anam_sdk_routes
from local.standins.anam import AnamStub

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PERSONA_PATH = Path(__file__).with_name("persona.example.json")
DEFAULT_SECRET_ID = "anam/api-key"  # noqa: S105 - the secret's name, as in events/env.json
DEFAULT_PARAMETER_NAME = "/anam/persona"
# Named personas (docs/contract.md §4): each <name>.json in the folder is stored as <path>/<name>.
DEFAULT_PERSONAS_DIR = Path(__file__).with_name("personas")
DEFAULT_PERSONAS_PATH = "/anam/personas"
# The spend guard runs as deployed, against a table made from template.yaml's own definition: a developer
# meets the 429s (CALLER_SESSIONS_PER_HOUR, default 10) and 503s that visitors would.
DEV_QUOTA_TABLE = "anam-token-vendor-quota"
DEV_SESSION_SECONDS = "600"  # the template's MaxSessionLengthSeconds
DEV_DAILY_MINUTES = "600"
FUNCTION_DEFAULTS = {
    "POWERTOOLS_SERVICE_NAME": "anam-token-vendor",
    "POWERTOOLS_METRICS_NAMESPACE": "AnamTokenVendor",
}
# Anything that could send the emulated set-up's AWS calls elsewhere than moto, or sign them with real keys.
_AWS_OVERRIDES = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)

Handler = Callable[[Any, Any], Any]


class EmulationError(Exception):
    """The requested set-up cannot start; the message says what to change."""


@dataclass(frozen=True)
class EmulationOptions:
    persona_path: Path = DEFAULT_PERSONA_PATH
    real_aws: bool = False
    secret_id: str | None = None
    parameter_name: str | None = None
    stub_token_type: str | None = None
    stub_port: int = 0
    spend_guard: bool = True
    personas_dir: Path | None = DEFAULT_PERSONAS_DIR
    # Behind a simulated CloudFront (local/edge_proxy.py): the origin secret seeded next to the key, and the
    # function told to trust the edge (TRUSTED_PROXY=cloudfront).
    origin_verify_secret: str | None = None


@dataclass
class Emulation:
    """What is running for the function; `stop()` ends it."""

    moto: MotoServer | None = None
    stub: AnamStub | None = None
    environ: dict[str, str] = field(default_factory=dict)  # the variables set for the function

    @property
    def offline(self) -> bool:
        return self.stub is not None

    def stop(self) -> None:
        if self.stub is not None:
            self.stub.stop()
        if self.moto is not None:
            self.moto.stop()


def offline_banner(stub_url: str) -> str:
    rule = "!" * 78
    return "\n".join(
        [
            rule,
            "!!  OFFLINE: ANAM_API_KEY is not set.",
            f"!!  Session tokens come from the bundled Anam stand-in at {stub_url}.",
            "!!  They are NOT real: the real Anam API and its JS SDK will reject them.",
            "!!  For real tokens: ANAM_API_KEY=<your key> make dev   (or make invoke)",
            rule,
        ]
    )


def start(
    options: EmulationOptions,
    environ: MutableMapping[str, str] | None = None,
    notice: TextIO | None = None,
) -> Emulation:
    """Start what `options` and the environment ask for and set the function's variables in `environ`."""
    environ = os.environ if environ is None else environ
    notice = sys.stderr if notice is None else notice
    secret_id = options.secret_id or environ.get("ANAM_API_KEY_SECRET_ID")
    parameter_name = options.parameter_name or environ.get("PERSONA_PARAMETER_NAME")
    if options.real_aws:
        if options.origin_verify_secret is not None:
            raise EmulationError("--behind-cloudfront runs against the emulated AWS only: leave out --aws")
        if not secret_id or not parameter_name:
            raise EmulationError(
                "--aws needs the secret and the parameter to read: pass --secret-id and --parameter-name "
                "or set ANAM_API_KEY_SECRET_ID and PERSONA_PARAMETER_NAME"
            )
        return _configure(Emulation(), environ, secret_id, parameter_name, {})
    persona = _read_persona(options.persona_path)
    moto = MotoServer().start()
    emulation = Emulation(moto=moto)
    try:
        api_key = environ.get("ANAM_API_KEY", "").strip()
        settings: dict[str, str] = {}
        if not api_key:
            api_key = f"offline-{secrets.token_hex(8)}"
            emulation.stub = _start_stub(api_key, options)
            settings["ANAM_API_BASE_URL"] = emulation.stub.url
            print(offline_banner(emulation.stub.url), file=notice, flush=True)
        secret_id, parameter_name = secret_id or DEFAULT_SECRET_ID, parameter_name or DEFAULT_PARAMETER_NAME
        secret_value = api_key
        if options.origin_verify_secret is not None:
            secret_value = json.dumps({"apiKey": api_key, "originVerifySecret": options.origin_verify_secret})
            settings["TRUSTED_PROXY"] = "cloudfront"
        seed(
            moto.url,
            secret_id=secret_id,
            secret_value=secret_value,
            parameter_name=parameter_name,
            persona=persona,
        )
        if options.personas_dir is not None:
            settings |= _named_personas(moto.url, options.personas_dir)
        settings |= _emulated_aws(moto.url)
        if options.spend_guard:
            settings["QUOTA_TABLE_NAME"] = create_quota_table(moto.url, DEV_QUOTA_TABLE)
            settings |= _budget_as_deployed(environ)
        return _configure(emulation, environ, secret_id, parameter_name, settings)
    except BaseException:
        emulation.stop()
        raise


def load_handler() -> Handler:
    """The real handler, imported once (after the environment is set), from the repository's src/."""
    source = str(REPO_ROOT / "src")
    if source not in sys.path:
        sys.path.insert(0, source)
    from token_vendor.handler import lambda_handler

    return lambda_handler


def _read_persona(path: Path) -> str:
    # Seeded as the operator would store it: the text as it is, so the function's own checks judge it.
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EmulationError(f"cannot read the persona file {path}: {exc.strerror}") from exc
    try:
        json.loads(text)
    except ValueError as exc:
        raise EmulationError(f"the persona file {path} is not valid JSON: {exc}") from exc
    return text


def _named_personas(endpoint_url: str, folder: Path) -> dict[str, str]:
    """Each <name>.json in `folder` stored as a named persona, and the function told where they are."""
    personas = {path.stem: _read_persona(path) for path in sorted(folder.glob("*.json"))}
    if not personas:
        return {}
    seed_personas(endpoint_url, DEFAULT_PERSONAS_PATH, personas)
    return {"PERSONAS_PARAMETER_PATH": DEFAULT_PERSONAS_PATH}


def _start_stub(api_key: str, options: EmulationOptions) -> AnamStub:
    stub = AnamStub(api_keys=(api_key,), port=options.stub_port)
    stub.token_type = options.stub_token_type
    # So that a page using Anam's JS SDK gets as far offline as it can: the engine session starts, no video.
    anam_sdk_routes.register(stub)
    try:
        return stub.start()
    except OSError as exc:
        raise EmulationError(f"cannot start the Anam stand-in on port {options.stub_port}: {exc}") from exc


def _budget_as_deployed(environ: MutableMapping[str, str]) -> dict[str, str]:
    """The template's defaults (10-minute caps) and a daily budget, unless the environment sets its own:
    tokens are then labelled and `make reconcile` gives back what a session did not use (§11)."""
    chosen = {}
    if not environ.get("MAX_SESSION_LENGTH_SECONDS"):
        chosen["MAX_SESSION_LENGTH_SECONDS"] = DEV_SESSION_SECONDS
    if not environ.get("DAILY_SESSION_MINUTES") and not environ.get("MONTHLY_SESSION_MINUTES"):
        chosen["DAILY_SESSION_MINUTES"] = DEV_DAILY_MINUTES
    return chosen


def _emulated_aws(endpoint_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # No profile or config file may add real credentials or endpoints.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def _configure(
    emulation: Emulation,
    environ: MutableMapping[str, str],
    secret_id: str,
    parameter_name: str,
    settings: dict[str, str],
) -> Emulation:
    if emulation.moto is not None:
        for name in _AWS_OVERRIDES:
            environ.pop(name, None)
    chosen = {"ANAM_API_KEY_SECRET_ID": secret_id, "PERSONA_PARAMETER_NAME": parameter_name, **settings}
    for name, value in FUNCTION_DEFAULTS.items():
        chosen.setdefault(name, environ.get(name) or value)
    environ.update(chosen)
    emulation.environ = chosen
    return emulation
