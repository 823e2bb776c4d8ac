"""The set-up `make dev` and `make invoke` share: offline by default and saying so, real Anam with a key."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import requests

from local.moto_server import aws_client
from local.standins.anam import AnamStub
from local.world import (
    DEFAULT_PERSONA_PATH,
    Emulation,
    EmulationError,
    EmulationOptions,
    start,
)


def test_the_example_persona_is_an_ephemeral_persona_that_takes_a_prompt() -> None:
    persona = json.loads(DEFAULT_PERSONA_PATH.read_text())

    assert {"avatarId", "voiceId", "llmId", "name", "systemPrompt"} <= set(persona)
    assert persona["llmId"] == "0934d97d-0c3a-4f33-91b0-5e136a0ef466"
    assert "{{prompt}}" in persona["systemPrompt"]
    assert persona["maxSessionLengthSeconds"] == 600


def test_without_an_anam_key_the_function_gets_the_stand_in_and_a_notice(
    running: list[Emulation],
) -> None:
    environ: dict[str, str] = {"AWS_PROFILE": "production"}
    notice = io.StringIO()

    emulation = start(EmulationOptions(), environ, notice)
    running.append(emulation)

    assert emulation.offline
    assert emulation.stub is not None
    assert emulation.moto is not None
    assert environ["ANAM_API_BASE_URL"] == emulation.stub.url
    assert environ["AWS_ENDPOINT_URL"] == emulation.moto.url
    assert environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in environ
    assert (environ["ANAM_API_KEY_SECRET_ID"], environ["PERSONA_PARAMETER_NAME"]) == (
        "anam/api-key",
        "/anam/persona",
    )
    assert "OFFLINE" in notice.getvalue()
    assert "NOT real" in notice.getvalue()
    assert emulation.stub.url in notice.getvalue()


def test_offline_the_seeded_key_is_one_the_stand_in_accepts(running: list[Emulation]) -> None:
    environ: dict[str, str] = {}
    emulation = start(EmulationOptions(stub_token_type="legacy"), environ, io.StringIO())
    running.append(emulation)
    assert emulation.moto is not None
    assert emulation.stub is not None

    key = aws_client("secretsmanager", emulation.moto.url).get_secret_value(SecretId="anam/api-key")[
        "SecretString"
    ]
    answer = requests.post(
        f"{emulation.stub.url}/v1/auth/session-token",
        json={"personaConfig": json.loads(DEFAULT_PERSONA_PATH.read_text())},
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    )

    assert answer.status_code == 200
    assert AnamStub.claims_of(answer.json()["sessionToken"])["type"] == "legacy"


def test_with_an_anam_key_the_key_is_seeded_and_the_real_anam_is_used(running: list[Emulation]) -> None:
    environ = {"ANAM_API_KEY": "my-real-key", "ANAM_API_KEY_SECRET_ID": "team/anam"}
    notice = io.StringIO()

    emulation = start(EmulationOptions(), environ, notice)
    running.append(emulation)
    assert emulation.moto is not None

    secret = aws_client("secretsmanager", emulation.moto.url).get_secret_value(SecretId="team/anam")
    assert secret["SecretString"] == "my-real-key"
    assert emulation.stub is None
    assert "ANAM_API_BASE_URL" not in environ
    assert notice.getvalue() == ""


def test_real_aws_needs_the_secret_and_parameter_names() -> None:
    with pytest.raises(EmulationError, match="--secret-id"):
        start(EmulationOptions(real_aws=True), {}, io.StringIO())


def test_real_aws_starts_and_seeds_nothing() -> None:
    environ = {"AWS_PROFILE": "dev"}

    emulation = start(
        EmulationOptions(real_aws=True, secret_id="s", parameter_name="/p"), environ, io.StringIO()
    )

    assert (emulation.moto, emulation.stub) == (None, None)
    assert environ["AWS_PROFILE"] == "dev"
    assert "AWS_ENDPOINT_URL" not in environ
    assert (environ["ANAM_API_KEY_SECRET_ID"], environ["PERSONA_PARAMETER_NAME"]) == ("s", "/p")


def test_a_persona_file_that_is_not_json_is_reported_before_anything_starts(tmp_path: Path) -> None:
    persona = tmp_path / "persona.json"
    persona.write_text("{not json")

    with pytest.raises(EmulationError, match="not valid JSON"):
        start(EmulationOptions(persona_path=persona), {}, io.StringIO())
