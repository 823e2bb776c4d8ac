"""The fault proxy: forwards unchanged, injects the faults AWS and Anam produce, counts what went through."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from local.fault_proxy import Fault, FaultProxy, aws_server_error, aws_throttling, aws_unavailable
from local.moto_server import MotoServer, seed
from local.standins.anam import AnamStub, Reset

KEY = "test-anam-key"
PERSONA = {"personaId": "6d0b6b5e-0000-4000-8000-000000000001"}


@pytest.fixture
def anam_proxy(anam: AnamStub) -> Iterator[FaultProxy]:
    with FaultProxy(anam.url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def seeded_moto() -> Iterator[MotoServer]:
    with MotoServer() as moto:
        seed(
            moto.url,
            secret_id="anam/api-key",
            secret_value=KEY,
            parameter_name="/anam/persona",
            persona=PERSONA,
        )
        yield moto


@pytest.fixture
def aws_proxy(seeded_moto: MotoServer) -> Iterator[FaultProxy]:
    with FaultProxy(seeded_moto.url) as proxy:
        yield proxy


def client(service: str, proxy: FaultProxy, attempts: int = 3) -> Any:
    """A client as the function builds one: botocore's standard retry mode, short backoff irrelevant here."""
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return session.client(service, endpoint_url=proxy.url, config=config)


def mint(proxy: FaultProxy, session: Any = requests) -> requests.Response:
    answer: requests.Response = session.post(
        f"{proxy.url}/v1/auth/session-token",
        json={"personaConfig": PERSONA},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=5,
    )
    return answer


def test_proxy_forwards_requests_unchanged(anam_proxy: FaultProxy, anam: AnamStub) -> None:
    answer = mint(anam_proxy)

    assert answer.status_code == 200
    assert AnamStub.claims_of(answer.json()["sessionToken"])["type"] == "stateful"
    [received] = anam.requests
    assert received.headers["Authorization"] == f"Bearer {KEY}"
    assert received.json == {"personaConfig": PERSONA}
    assert (anam_proxy.requests_seen, anam_proxy.requests_forwarded) == (1, 1)
    assert anam_proxy.targets_seen == ["POST /v1/auth/session-token"]


def test_proxy_keeps_connections_alive_on_both_sides(anam_proxy: FaultProxy, anam: AnamStub) -> None:
    with requests.Session() as session:
        for _ in range(3):
            mint(anam_proxy, session)

    assert anam_proxy.connections_opened == 1
    assert anam.connections_opened == 1


def test_proxy_survives_the_target_closing_its_idle_connection(
    anam_proxy: FaultProxy, anam: AnamStub
) -> None:
    with requests.Session() as session:
        mint(anam_proxy, session)
        anam.close_idle_connections()  # before or after its FIN reaches the proxy: both must work

        assert mint(anam_proxy, session).status_code == 200
    assert anam.connections_opened == 2


def test_a_status_fault_answers_instead_of_forwarding(anam_proxy: FaultProxy, anam: AnamStub) -> None:
    anam_proxy.enqueue(Fault.status(503, {"message": "busy"}, {"Retry-After": "3"}))

    answer = mint(anam_proxy)

    assert (answer.status_code, answer.json(), answer.headers["Retry-After"]) == (
        503,
        {"message": "busy"},
        "3",
    )
    assert (anam_proxy.requests_seen, anam_proxy.requests_forwarded) == (1, 0)
    assert anam.requests == []


def test_a_reset_fault_drops_the_connection_without_an_answer(anam_proxy: FaultProxy) -> None:
    anam_proxy.enqueue(Fault.reset())
    url = urlsplit(anam_proxy.url)

    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            conn.recv(1024)
    assert anam_proxy.requests_forwarded == 0


def test_a_reset_by_the_target_reaches_the_client_as_a_reset(anam_proxy: FaultProxy, anam: AnamStub) -> None:
    anam.enqueue(Reset())

    with pytest.raises(requests.ConnectionError):
        mint(anam_proxy)


def test_a_delay_fault_slows_one_request_then_forwards_it(anam_proxy: FaultProxy) -> None:
    anam_proxy.enqueue(Fault.delay(0.3))

    started = time.monotonic()
    assert mint(anam_proxy).status_code == 200
    slow = time.monotonic() - started
    started = time.monotonic()
    mint(anam_proxy)
    fast = time.monotonic() - started

    assert slow >= 0.3 > fast
    assert anam_proxy.requests_forwarded == 2


def test_delay_seconds_slows_every_request(anam_proxy: FaultProxy) -> None:
    anam_proxy.delay_seconds = 0.1

    started = time.monotonic()
    mint(anam_proxy)
    mint(anam_proxy)

    assert time.monotonic() - started >= 0.2


def test_faults_are_used_in_order_one_per_request(anam_proxy: FaultProxy) -> None:
    anam_proxy.enqueue(Fault.status(500), Fault.status(502))

    assert [mint(anam_proxy).status_code for _ in range(3)] == [500, 502, 200]


def test_max_in_flight_counts_concurrent_requests(anam_proxy: FaultProxy) -> None:
    anam_proxy.rendezvous = 3
    threads = [threading.Thread(target=mint, args=(anam_proxy,)) for _ in range(3)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert anam_proxy.max_in_flight == 3


def test_reset_counters_starts_counting_afresh(anam_proxy: FaultProxy) -> None:
    mint(anam_proxy)

    anam_proxy.reset_counters()

    assert (anam_proxy.requests_seen, anam_proxy.requests_forwarded, anam_proxy.max_in_flight) == (0, 0, 0)
    assert (anam_proxy.connections_opened, anam_proxy.targets_seen) == (0, [])


def test_targets_seen_names_each_aws_operation(aws_proxy: FaultProxy) -> None:
    client("ssm", aws_proxy).get_parameter(Name="/anam/persona", WithDecryption=True)
    client("secretsmanager", aws_proxy).get_secret_value(SecretId="anam/api-key")

    assert aws_proxy.targets_seen == ["AmazonSSM.GetParameter", "secretsmanager.GetSecretValue"]


def test_faults_hit_only_requests_matching_their_target(aws_proxy: FaultProxy) -> None:
    aws_proxy.enqueue(aws_unavailable(), match="GetParameter")

    secret = client("secretsmanager", aws_proxy, attempts=1).get_secret_value(SecretId="anam/api-key")
    with pytest.raises(ClientError):
        client("ssm", aws_proxy, attempts=1).get_parameter(Name="/anam/persona")

    assert secret["SecretString"] == KEY


@pytest.mark.parametrize("fault", [aws_throttling, aws_server_error, aws_unavailable, Fault.reset])
def test_botocore_standard_retries_absorb_each_aws_fault(aws_proxy: FaultProxy, fault: Any) -> None:
    aws_proxy.enqueue(fault(), fault(), match="GetParameter")

    answer = client("ssm", aws_proxy).get_parameter(Name="/anam/persona", WithDecryption=True)

    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert aws_proxy.requests_seen == 3


def test_botocore_reads_aws_throttling_as_a_throttling_exception(aws_proxy: FaultProxy) -> None:
    aws_proxy.enqueue(aws_throttling(), aws_throttling(), match="GetSecretValue")

    with pytest.raises(ClientError) as raised:
        client("secretsmanager", aws_proxy, attempts=2).get_secret_value(SecretId="anam/api-key")

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["Error"]["Message"] == "Rate exceeded"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_proxy_refuses_a_target_it_cannot_reach_in_plain_http() -> None:
    with pytest.raises(ValueError, match="http://"):
        FaultProxy("https://ssm.us-east-1.amazonaws.com")


def test_a_rendezvous_holds_requests_until_enough_are_in_flight(anam_proxy: FaultProxy) -> None:
    anam_proxy.rendezvous = 2
    first = threading.Thread(target=mint, args=(anam_proxy,))
    first.start()
    first.join(timeout=1.0)

    assert first.is_alive(), "answered alone"
    mint(anam_proxy)
    first.join(timeout=5.0)
    assert not first.is_alive()
    assert anam_proxy.max_in_flight == 2
