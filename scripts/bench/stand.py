"""What the function talks to during the benchmark: moto and the Anam stand-in, each behind a FaultProxy."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local.fault_proxy import FaultProxy
from local.http_api_event import http_api_event
from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, seed
from local.standins.anam import AnamStub
from local.world import DEFAULT_PERSONA_PATH, FUNCTION_DEFAULTS

API_KEY = "bench-anam-key"
SECRET_ID = "anam/api-key"  # noqa: S105 - the secret's name
PARAMETER_NAME = "/anam/persona"
ORIGIN = "https://app.example.com"
PROMPT = "The visitor is on the pricing page."
ADDED_DELAY_SECONDS = 0.05
LAMBDA_MEMORY_MB = 512  # template.yaml's MemorySize


@dataclass
class Stand:
    """The stand-ins the function talks to: moto and Anam, each behind a FaultProxy."""

    moto: MotoServer
    stub: AnamStub
    aws: FaultProxy
    anam: FaultProxy
    # A second proxy to Anam, for figure 3's bare reference, so that the function's counts stay its own.
    anam_twin: FaultProxy
    environ: dict[str, str] = field(default_factory=dict)

    def delay(self, seconds: float) -> None:
        self.aws.delay_seconds = self.anam.delay_seconds = seconds

    def reset_counters(self) -> None:
        self.aws.reset_counters()
        self.anam.reset_counters()
        self.stub.reset()


@contextmanager
def open_stand() -> Iterator[Stand]:
    with (
        MotoServer() as moto,
        AnamStub(api_keys=(API_KEY,)) as stub,
        FaultProxy(moto.url) as aws,
        FaultProxy(stub.url) as anam,
        FaultProxy(stub.url) as anam_twin,
    ):
        seed_bench(moto.url)
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            **FUNCTION_DEFAULTS,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "ANAM_API_KEY_SECRET_ID": SECRET_ID,
            "PERSONA_PARAMETER_NAME": PARAMETER_NAME,
            "ANAM_API_BASE_URL": anam.url,
            "ALLOWED_ORIGINS": ORIGIN,
            # What Lambda sets, and AWS pointed at the proxy in front of moto, with no config of this machine.
            "AWS_LAMBDA_FUNCTION_NAME": "anam-token-vendor",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(LAMBDA_MEMORY_MB),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        yield Stand(moto, stub, aws, anam, anam_twin, environ)


@contextmanager
def environ(stand: Stand, extra: dict[str, str]) -> Iterator[None]:
    """The function's environment with `extra` added, for the children started inside."""
    before = dict(stand.environ)
    stand.environ.update(extra)
    try:
        yield
    finally:
        stand.environ.clear()
        stand.environ.update(before)


def seed_bench(moto_url: str) -> None:
    """The bench's secret (its key) and default persona, in the emulated AWS at `moto_url`."""
    seed(
        moto_url,
        secret_id=SECRET_ID,
        secret_value=API_KEY,
        parameter_name=PARAMETER_NAME,
        persona=DEFAULT_PERSONA_PATH.read_text(encoding="utf-8"),
    )


def post_event() -> dict[str, Any]:
    return http_api_event(
        "POST",
        headers={"origin": ORIGIN, "content-type": "application/json"},
        body=json.dumps({"prompt": PROMPT}),
    )
