"""AWS emulated by moto's server: seeding what the function reads, resetting, and never the real AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from local.moto_server import MotoServer, aws_client, seed

SECRET_ID = "anam/api-key"
PARAMETER = "/anam/persona"
PERSONA = {"personaId": "6d0b6b5e-0000-4000-8000-000000000001"}


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def fresh_moto(moto: MotoServer) -> MotoServer:
    moto.reset()
    return moto


def seed_defaults(
    url: str, *, value: str = "key-1", persona: Mapping[str, Any] | str = PERSONA, secure: bool = True
) -> None:
    seed(
        url,
        secret_id=SECRET_ID,
        secret_value=value,
        parameter_name=PARAMETER,
        persona=persona,
        secure=secure,
    )


def test_moto_server_listens_on_loopback_only(moto: MotoServer) -> None:
    assert moto.url.startswith("http://127.0.0.1:")


def test_seed_stores_the_key_and_the_persona_as_a_secure_string(fresh_moto: MotoServer) -> None:
    seed_defaults(fresh_moto.url)

    secret = aws_client("secretsmanager", fresh_moto.url).get_secret_value(SecretId=SECRET_ID)
    parameter = aws_client("ssm", fresh_moto.url).get_parameter(Name=PARAMETER, WithDecryption=True)[
        "Parameter"
    ]
    assert secret["SecretString"] == "key-1"
    assert parameter["Type"] == "SecureString"
    assert json.loads(parameter["Value"]) == PERSONA


def test_seed_again_updates_both_values(fresh_moto: MotoServer) -> None:
    seed_defaults(fresh_moto.url)

    seed_defaults(fresh_moto.url, value="key-2", persona='{"personaId": "other"}', secure=False)

    secret = aws_client("secretsmanager", fresh_moto.url).get_secret_value(SecretId=SECRET_ID)
    parameter = aws_client("ssm", fresh_moto.url).get_parameter(Name=PARAMETER)["Parameter"]
    assert secret["SecretString"] == "key-2"
    assert (parameter["Type"], parameter["Value"]) == ("String", '{"personaId": "other"}')


def test_reset_forgets_everything_seeded(fresh_moto: MotoServer) -> None:
    seed_defaults(fresh_moto.url)

    fresh_moto.reset()

    secrets = aws_client("secretsmanager", fresh_moto.url)
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.get_secret_value(SecretId=SECRET_ID)


@pytest.mark.parametrize("endpoint", ["https://ssm.us-east-1.amazonaws.com", "http://10.0.0.5:5000"])
def test_aws_client_refuses_any_endpoint_but_this_machine(endpoint: str) -> None:
    with pytest.raises(ValueError, match="local"):
        aws_client("ssm", endpoint)
