"""docs/contract.md §5, §6: what is fetched when, what is reused, and what a dependency blip does."""

import json
import time

import pytest

from local.fault_proxy import FaultProxy, aws_server_error, aws_throttling
from local.standins.anam import AnamStub
from tests.conftest import API_KEY, PARAMETER_NAME, PRODUCTION_AWS_CLIENT_CONFIG, ROTATED_API_KEY
from token_vendor.adapters import aws_clients

pytestmark = pytest.mark.usefixtures("function_env")

SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-24T09:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/warm-up"],
    "detail": {},
}


def aws_calls(aws: FaultProxy, name: str) -> int:
    return sum(name in target for target in aws.targets_seen)


@pytest.mark.parametrize(
    "event", [SCHEDULED_EVENT, {"warmup": True}], ids=["scheduled-event", "warmup-input"]
)
def test_a_warm_up_loads_the_cache_and_mints_no_token(function, aws: FaultProxy, anam: AnamStub, event):
    assert function.invoke(event) == {"warmed": True}
    assert anam.requests == []
    assert aws_calls(aws, "GetSecretValue") == aws_calls(aws, "GetParameter") == 1

    assert function.post().status == 200
    assert aws_calls(aws, "GetSecretValue") == aws_calls(aws, "GetParameter") == 1, "the request was warm"


def published_metrics(stdout: str) -> set[str]:
    """The metric names in the EMF documents Powertools printed."""
    names: set[str] = set()
    for line in stdout.splitlines():
        if line.startswith("{") and "_aws" in line:
            for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
                names.update(metric["Name"] for metric in directive["Metrics"])
    return names


def test_a_failed_warm_up_reports_the_code_and_counts_a_failure_without_raising(function, aws_admin, capsys):
    aws_admin.put_persona("{not json")
    assert function.invoke({"warmup": True}) == {"warmed": False, "error": "configuration_error"}
    assert "WarmUpFailures" in published_metrics(capsys.readouterr().out)


def test_a_successful_warm_up_counts_no_failure(function, capsys):
    assert function.invoke({"warmup": True}) == {"warmed": True}
    published = published_metrics(capsys.readouterr().out)
    assert "WarmUps" in published
    assert "WarmUpFailures" not in published


def test_warm_invocations_make_no_aws_call(function, aws: FaultProxy):
    function.post()
    calls_after_cold_start = aws.requests_seen
    for _ in range(5):
        assert function.post({"prompt": "again"}).status == 200
    assert calls_after_cold_start == 2
    assert aws.requests_seen == calls_after_cold_start


def test_the_cold_start_fetches_key_and_persona_concurrently(function, aws: FaultProxy):
    aws.rendezvous = 2  # neither is answered before both are asked: asked in turn, the first waits 5 s
    assert function.post().status == 200
    assert aws.max_in_flight == 2


def test_one_connection_to_anam_serves_every_warm_invocation(function, anam: AnamStub):
    for _ in range(5):
        assert function.post().status == 200
    assert anam.connections_opened == 1


def test_values_are_fetched_again_after_their_max_age(
    function, aws: FaultProxy, aws_admin, anam, monkeypatch
):
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "1")
    function.post()
    aws_admin.put_persona(json.dumps({"personaId": "p-new"}))
    function.post()
    assert "personaId" not in anam.requests[-1].json["personaConfig"], "within max age, the cached persona"
    time.sleep(1.1)
    function.post()
    assert anam.requests[-1].json["personaConfig"] == {"personaId": "p-new"}
    assert aws_calls(aws, "GetSecretValue") == 1, "the key's max age is longer"


def test_a_rotated_key_is_fetched_afresh_when_anam_refuses_the_cached_one(
    function, aws_admin, anam: AnamStub
):
    assert function.post().status == 200
    aws_admin.put_secret(ROTATED_API_KEY)
    anam.api_keys = {ROTATED_API_KEY}

    assert function.post().status == 200
    assert [r.headers["Authorization"] for r in anam.requests[-2:]] == [
        f"Bearer {API_KEY}",
        f"Bearer {ROTATED_API_KEY}",
    ]
    assert function.post().status == 200
    assert anam.requests[-1].headers["Authorization"] == f"Bearer {ROTATED_API_KEY}"


@pytest.mark.parametrize("fault", [aws_throttling, aws_server_error], ids=["throttling", "5xx"])
def test_a_failed_refresh_serves_the_values_held(function, aws: FaultProxy, monkeypatch, logs, fault):
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "0")
    assert function.post().status == 200
    aws.enqueue(*[fault()] * 4)

    assert function.post().status == 200
    assert logs.with_message("Refresh failed; serving the value held")


def test_after_a_failed_refresh_aws_is_left_alone_for_a_while(function, aws: FaultProxy, monkeypatch):
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "0")
    function.post()
    aws.enqueue(*[aws_throttling()] * 2, match="GetParameter")
    function.post()
    calls = aws.requests_seen
    assert function.post().status == 200
    assert aws.requests_seen == calls


def test_a_definitive_refresh_failure_is_a_configuration_error_not_stale(function, aws_admin, monkeypatch):
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "0")
    assert function.post().status == 200
    aws_admin.ssm.delete_parameter(Name=PARAMETER_NAME)
    assert function.post().json()["code"] == "configuration_error"


def test_a_cold_start_survives_transient_throttling(function, aws: FaultProxy, monkeypatch):
    monkeypatch.setattr(aws_clients, "AWS_CLIENT_CONFIG", PRODUCTION_AWS_CLIENT_CONFIG)
    aws.enqueue(aws_throttling(), aws_throttling(), match="GetParameter")
    aws.enqueue(aws_throttling(), match="GetSecretValue")
    assert function.post().status == 200


def test_the_production_aws_clients_have_timeouts_and_standard_retries():
    config = PRODUCTION_AWS_CLIENT_CONFIG
    assert (config.connect_timeout, config.read_timeout) == (2, 3)
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
