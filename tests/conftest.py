"""Fixtures shared by every suite: AWS emulated by moto's server, Anam by a stand-in, both on 127.0.0.1,
each behind a fault-injecting proxy, and the real handler configured against them. DynamoDB's transaction
conflicts are modelled on every proxy in front of a DynamoDB (local/dynamodb_conflicts.py), and the spend
guard's tests also run against AWS's DynamoDB Local (`dynamodb`).

Every test that uses `function` starts from a fresh execution environment, fresh AWS state seeded with a key
and a persona, and an Anam stand-in with no queued behaviour.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

# Powertools reads these when the function's modules are imported, as Lambda has them set by then.
os.environ["POWERTOOLS_SERVICE_NAME"] = "anam-token-vendor"
os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "AnamTokenVendor"

import pytest
from botocore.config import Config

from local.fault_proxy import FaultProxy
from local.moto_server import MotoServer, aws_client, create_quota_table, seed
from local.standins.anam import AnamStub
from local.standins.turnstile import STUB_SECRET_KEY, TurnstileStub
from tests.support.dynamodb_engines import (
    DynamoDb,
    clear_of_a_window_end,
    conflict_modelled_proxy,
    fresh_proxy,
)
from tests.support.function import Function, Logs, captured_logs
from tests.support.leak_scan import scan
from token_vendor import wiring
from token_vendor.adapters import aws_clients, dynamodb_table

API_KEY = "test-anam-key"
SECRET_ID = "anam/api-key"
PARAMETER_NAME = "/anam/persona"
PERSONA: dict[str, Any] = {
    "avatarId": "30fa96d0-26c4-4e55-94a0-517025942e18",
    "voiceId": "6bfbe25a-979d-40f3-a92b-5394170af54b",
    "llmId": "0934d97d-0c3a-4f33-91b0-5e136a0ef466",
    "name": "Cara",
    "systemPrompt": "You are Cara, a helpful guide. {{prompt}}",
}
PRODUCTION_AWS_CLIENT_CONFIG = aws_clients.AWS_CLIENT_CONFIG
ROTATED_API_KEY = "rotated-anam-key"
scan.always_secret |= {API_KEY, ROTATED_API_KEY}

# Fewer AWS attempts than production so tests of failing dependencies take a second, not fifteen.
FAST_AWS_CLIENT_CONFIG = aws_clients.AWS_CLIENT_CONFIG.merge(
    Config(retries={"mode": "standard", "total_max_attempts": 2})
)


def reset_aws(moto_server: MotoServer) -> None:
    """AWS as an operator leaves it after following the README: the key and the persona, nothing else."""
    moto_server.reset()
    seed(
        moto_server.url,
        secret_id=SECRET_ID,
        secret_value=API_KEY,
        parameter_name=PARAMETER_NAME,
        persona=PERSONA,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(scan, "leak-scan")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def aws_proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    yield from conflict_modelled_proxy(moto_server.url)


@pytest.fixture
def aws(aws_proxy: FaultProxy) -> Iterator[FaultProxy]:
    """moto behind a fault-injecting proxy: what the function sees as AWS. No faults queued, counters at 0."""
    yield from fresh_proxy(aws_proxy)


@pytest.fixture(scope="session")
def anam_stub() -> Iterator[AnamStub]:
    with AnamStub(api_keys=(API_KEY,)) as stub:
        yield stub


@pytest.fixture
def anam(anam_stub: AnamStub) -> Iterator[AnamStub]:
    anam_stub.reset()
    yield anam_stub
    scan.register(*anam_stub.api_keys)
    for received in anam_stub.requests:
        scan.register(received.headers.get("Authorization", "").removeprefix("Bearer "))
    anam_stub.reset()


@pytest.fixture
def function_env(
    monkeypatch: pytest.MonkeyPatch, moto_server: MotoServer, aws: FaultProxy, anam: AnamStub
) -> dict[str, str]:
    """The function's environment, as the template sets it, pointed at the local stand-ins."""
    for name in [n for n in os.environ if n.startswith(("AWS_", "ANAM_"))]:
        monkeypatch.delenv(name)
    env = {
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ANAM_API_KEY_SECRET_ID": SECRET_ID,
        "PERSONA_PARAMETER_NAME": PARAMETER_NAME,
        "ANAM_API_BASE_URL": anam.url,
        "ALLOWED_ORIGINS": "https://app.example.com",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_aws(moto_server)
    aws.reset_counters()  # seeding went direct, but be explicit: counts start at the function's first call
    monkeypatch.setattr(aws_clients, "AWS_CLIENT_CONFIG", FAST_AWS_CLIENT_CONFIG)
    wiring.reset()
    return env


@pytest.fixture
def function(
    function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Function]:
    """A fresh execution environment of the real handler (tests may set more env vars before first use)."""
    monkeypatch.setattr("aws_lambda_powertools.logging.logger.is_cold_start", True)
    function = Function()
    yield function
    # A fetch the function stopped waiting for ends before the next test, so it never logs into that one.
    settle_background_fetches()
    wiring.reset()
    scan.register(*function.prompts, *function.tokens)
    request.node.add_report_section("teardown", "error answers", function.error_answers_text())


def settle_background_fetches(timeout_seconds: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while any(thread.name.startswith("config-fetch") for thread in threading.enumerate()):
        if time.monotonic() > deadline:
            pytest.fail("a configuration fetch was still running 20 s after its test")
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def function_logs(request: pytest.FixtureRequest) -> Iterator[Logs]:
    """Every line the function logs in any test: shown with the test's report and read by the leak scan."""
    with captured_logs() as captured:
        yield captured
    request.node.add_report_section("teardown", "function log", captured.text)


@pytest.fixture
def logs(function_logs: Logs) -> Logs:
    return function_logs


@pytest.fixture
def aws_admin(moto_server: MotoServer) -> Any:
    """What an operator does in the console: direct clients to the emulated AWS, not through the proxy."""

    class Admin:
        secrets = aws_client("secretsmanager", moto_server.url)
        ssm = aws_client("ssm", moto_server.url)

        def put_persona(self, value: str) -> None:
            self.ssm.put_parameter(Name=PARAMETER_NAME, Value=value, Type="SecureString", Overwrite=True)

        def put_secret(self, value: str) -> None:
            self.secrets.put_secret_value(SecretId=SECRET_ID, SecretString=value)

    return Admin()


QUOTA_TABLE = "anam-token-vendor-quota"
TURNSTILE_SECRET_KEY = STUB_SECRET_KEY
scan.always_secret |= {TURNSTILE_SECRET_KEY}
# The spend guard's DynamoDB client with fewer attempts, as FAST_AWS_CLIENT_CONFIG for the others.
FAST_DYNAMODB_CLIENT_CONFIG = dynamodb_table.CLIENT_CONFIG.merge(
    Config(retries={"mode": "standard", "total_max_attempts": 2})
)


@pytest.fixture
def guarded(function_env: dict[str, str], dynamodb: DynamoDb, monkeypatch: pytest.MonkeyPatch) -> str:
    """The function with the spend guard on (QUOTA_TABLE_NAME), as the template deploys it; its limits at
    their defaults until a test sets CALLER_SESSIONS_PER_HOUR and the like. Returns the table's name.

    The table is in `dynamodb` (moto unless the test asks for DynamoDB Local too), fresh: function_env has
    just emptied moto, and DynamoDB Local's table is created anew. It starts clear of the hour's end: a
    test's tokens must all count in one hour's window."""
    clear_of_a_window_end(margin_seconds=15.0)
    table = create_quota_table(dynamodb.url, QUOTA_TABLE)
    if dynamodb.engine != "moto":
        # boto3 reads a service's own endpoint before AWS_ENDPOINT_URL: only DynamoDB goes elsewhere.
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.proxy.url)
    monkeypatch.setenv("QUOTA_TABLE_NAME", table)
    monkeypatch.setenv("MAX_SESSION_LENGTH_SECONDS", "600")
    monkeypatch.setattr(dynamodb_table, "CLIENT_CONFIG", FAST_DYNAMODB_CLIENT_CONFIG)
    return table


@pytest.fixture(scope="session")
def turnstile_stub() -> Iterator[TurnstileStub]:
    with TurnstileStub() as stub:
        yield stub


@pytest.fixture
def turnstile(
    turnstile_stub: TurnstileStub,
    function_env: dict[str, str],
    moto_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TurnstileStub]:
    """Human verification on, against the Turnstile stand-in; the secret holds the key and the Turnstile
    secret. Tests get a browser's token with `turnstile.issue("app.example.com")`."""
    turnstile_stub.reset()
    monkeypatch.setenv("HUMAN_VERIFICATION", "turnstile")
    monkeypatch.setenv("TURNSTILE_SITEVERIFY_URL", turnstile_stub.siteverify_url)
    secret = json.dumps({"apiKey": API_KEY, "turnstileSecretKey": TURNSTILE_SECRET_KEY})
    aws_client("secretsmanager", moto_server.url).put_secret_value(SecretId=SECRET_ID, SecretString=secret)
    yield turnstile_stub
    turnstile_stub.reset()


ORIGIN_VERIFY_SECRET = "test-origin-verify-secret-0123456789abcdef"
PREVIOUS_ORIGIN_VERIFY_SECRET = "test-previous-origin-secret-9876543210fedcba"
scan.always_secret |= {ORIGIN_VERIFY_SECRET, PREVIOUS_ORIGIN_VERIFY_SECRET}


@pytest.fixture
def behind_cloudfront(function_env: dict[str, str], aws_admin: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The function behind the template's CloudFront distribution (TRUSTED_PROXY=cloudfront); the secret holds
    the key and the origin secret, which is returned: what the distribution adds as x-origin-verify."""
    monkeypatch.setenv("TRUSTED_PROXY", "cloudfront")
    aws_admin.put_secret(json.dumps({"apiKey": API_KEY, "originVerifySecret": ORIGIN_VERIFY_SECRET}))
    return ORIGIN_VERIFY_SECRET


@pytest.fixture
def reconciling(guarded: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The spend guard with minutes budgets, so that tokens are labelled and settled against Anam's sessions
    (docs/contract.md §11): 100 minutes a day, 1000 a month, 10-minute caps. Returns the table's name."""
    monkeypatch.setenv("DAILY_SESSION_MINUTES", "100")
    monkeypatch.setenv("MONTHLY_SESSION_MINUTES", "1000")
    return guarded
