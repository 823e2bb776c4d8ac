"""`make invoke EVENT=...`: the handler run once on each sample event, its response as JSON on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local import invoke
from local.standins.anam import AnamStub
from tests.local.processes import REPO, developer_env

EVENTS = sorted(path for path in (REPO / "events").glob("*.json") if path.name != "env.json")


@pytest.fixture(scope="module")
def invocations() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every sample event invoked at once: each run starts its own emulation, so they are independent."""
    running = {
        event.name: subprocess.Popen(
            [sys.executable, "-m", "local.invoke", str(event.relative_to(REPO))],
            cwd=REPO,
            env=developer_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for event in EVENTS
    }
    finished = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=120)
        finished[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return finished


@pytest.mark.parametrize("event", [path.name for path in EVENTS])
def test_invoke_prints_the_handlers_response_as_json(
    invocations: dict[str, subprocess.CompletedProcess[str]], event: str
) -> None:
    finished = invocations[event]

    assert finished.returncode == 0, finished.stderr[-2000:]
    response = json.loads(finished.stdout)
    assert isinstance(response, dict)
    assert "errorMessage" not in response
    assert response.get("error") != "unsupported_event"


@pytest.mark.parametrize("event", [path.name for path in EVENTS])
def test_invoke_warns_that_it_runs_offline(
    invocations: dict[str, subprocess.CompletedProcess[str]], event: str
) -> None:
    assert "OFFLINE" in invocations[event].stderr


@pytest.mark.skipif(
    not (REPO / "events" / "post-with-prompt.json").exists(), reason="no events/post-with-prompt.json"
)
def test_invoking_a_post_returns_a_token_from_the_stand_in(
    invocations: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    response = json.loads(invocations["post-with-prompt.json"].stdout)

    assert response["statusCode"] == 200
    assert AnamStub.claims_of(json.loads(response["body"])["sessionToken"])["type"] == "ephemeral"


def test_function_variables_merge_parameters_and_the_functions_own(tmp_path: Path) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps(
            {
                "Parameters": {"POWERTOOLS_LOG_LEVEL": "DEBUG", "PROMPT_MAX_CHARS": "10"},
                "TokenVendorFunction": {"PROMPT_MAX_CHARS": "20", "ANAM_API_KEY_SECRET_ID": "anam/api-key"},
            }
        )
    )

    assert invoke.function_variables(env_file) == {
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "PROMPT_MAX_CHARS": "20",
        "ANAM_API_KEY_SECRET_ID": "anam/api-key",
    }


def test_a_missing_event_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = invoke.main([str(tmp_path / "missing.json")])

    assert code == 2
    assert "missing.json" in capsys.readouterr().err


def test_make_invoke_prints_only_the_answer_on_stdout() -> None:
    # As a person types it, not inside another make (whose MAKELEVEL would add "Entering directory" lines).
    env = {k: v for k, v in developer_env().items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}

    finished = subprocess.run(
        ["make", "invoke", "EVENT=events/post-with-prompt.json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    assert json.loads(finished.stdout)["statusCode"] == 200
