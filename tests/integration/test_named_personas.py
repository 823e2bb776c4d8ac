"""docs/contract.md §4, "Named personas", over real HTTP: every parameter directly under
PERSONAS_PARAMETER_PATH is a persona a request picks by name, read with GetParametersByPath (all pages),
cached, refreshed and held on error like the default persona, each broken one breaking only itself.
"""

import json
import time
from typing import Any

import pytest

from local.fault_proxy import Fault, FaultProxy, aws_throttling
from local.moto_server import seed_personas
from local.standins.anam import AnamStub
from tests.conftest import PERSONA
from tests.support.function import Function, Logs

pytestmark = pytest.mark.usefixtures("function_env")

PATH = "/anam/personas/"
GET_BY_PATH = "GetParametersByPath"
SALES = {**PERSONA, "name": "Sam", "systemPrompt": "You are Sam, who sells. {{prompt}}"}
SUPPORT = {"personaConfig": {"personaId": "5d1f0b52-support"}, "clientLabel": "help-centre"}
TUTOR = {
    **PERSONA,
    "name": "Amélie",
    "systemPrompt": "Tu es Amélie, tutrice de français.",
    "languageCode": "fr",
}


def aws_access_denied() -> Fault:
    return Fault.status(
        400,
        {"__type": "AccessDeniedException", "message": "not authorized to perform ssm:GetParametersByPath"},
        {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "AccessDeniedException"},
    )


def calls(aws: FaultProxy, name: str) -> int:
    return aws.targets_seen.count(f"AmazonSSM.{name}")


@pytest.fixture
def personas(
    function_env: dict[str, str], moto_server: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Three named personas stored under PATH, and the function told to read them before its first request."""
    stored = {"sales": SALES, "support": SUPPORT, "tutor-fr": TUTOR}
    seed_personas(moto_server.url, PATH, stored)
    monkeypatch.setenv("PERSONAS_PARAMETER_PATH", PATH)
    return stored


@pytest.mark.usefixtures("personas")
@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("sales", {"personaConfig": {**SALES, "systemPrompt": "You are Sam, who sells. "}}),
        ("support", SUPPORT),
        ("tutor-fr", {"personaConfig": TUTOR}),
    ],
)
def test_a_request_picks_a_named_persona_by_name(function: Function, anam: AnamStub, name, sent):
    assert function.post({"persona": name}).status == 200
    assert anam.requests[-1].json == sent


@pytest.mark.usefixtures("personas")
@pytest.mark.parametrize("payload", [{}, {"persona": None}], ids=["absent", "null"])
def test_without_a_name_the_default_persona_is_used(function: Function, anam: AnamStub, payload):
    assert function.post(payload).status == 200
    assert anam.requests[-1].json["personaConfig"]["name"] == PERSONA["name"]


@pytest.mark.usefixtures("personas")
@pytest.mark.parametrize("name", ["marketing", "Sales", "sales/", "", "../persona", "x" * 65])
def test_any_other_name_is_unknown_persona_and_the_answer_lists_no_names(function: Function, anam, name):
    answer = function.post({"persona": name})

    assert (answer.status, answer.json()["code"]) == (400, "unknown_persona")
    for existing in ("sales", "support", "tutor-fr"):
        assert existing not in answer.json()["error"]
    assert anam.requests == []


def test_without_a_personas_path_every_name_is_unknown(function: Function, anam: AnamStub):
    answer = function.post({"persona": "sales"})
    assert (answer.status, answer.json()["code"]) == (400, "unknown_persona")
    assert anam.requests == []


@pytest.mark.usefixtures("personas")
@pytest.mark.parametrize(
    "broken",
    ["{not json", json.dumps({"voiceId": "v", "llmId": "l"}), json.dumps(["avatarId"])],
    ids=["invalid-json", "neither-id", "not-an-object"],
)
def test_a_broken_persona_is_a_configuration_error_and_the_others_still_work(
    function: Function, moto_server, logs: Logs, broken
):
    seed_personas(moto_server.url, PATH, {"broken": broken})

    answer = function.post({"persona": "broken"})

    assert (answer.status, answer.json()["code"]) == (500, "configuration_error")
    [failure] = logs.with_message("Request failed")
    assert f"{PATH}broken" in failure["detail"], "the log names the parameter to fix"
    assert function.post({"persona": "sales"}).status == 200
    assert function.post().status == 200


@pytest.mark.usefixtures("personas")
def test_every_page_of_parameters_is_read(function: Function, moto_server, aws: FaultProxy, anam: AnamStub):
    # SSM answers GetParametersByPath ten parameters at a time: 3 + 21 = 24 personas are three pages.
    seed_personas(moto_server.url, PATH, {f"extra-{n:02}": {**PERSONA, "name": f"P{n}"} for n in range(21)})

    for name in ("sales", "extra-00", "extra-20"):
        assert function.post({"persona": name}).status == 200

    assert anam.requests[-1].json["personaConfig"]["name"] == "P20"
    assert calls(aws, GET_BY_PATH) == 3, "each page once, for all three requests"


@pytest.mark.usefixtures("personas")
def test_only_parameters_directly_under_the_path_are_personas(function: Function, moto_server):
    seed_personas(moto_server.url, PATH, {"team/nested": PERSONA, "Upper": PERSONA})

    for name in ("team/nested", "nested", "Upper", "upper"):
        assert function.post({"persona": name}).json()["code"] == "unknown_persona", name
    assert function.post({"persona": "sales"}).status == 200


@pytest.mark.usefixtures("personas")
def test_a_cold_start_reads_key_default_and_named_personas_at_once(function: Function, aws: FaultProxy):
    aws.delay_seconds = 0.3

    assert function.post({"persona": "sales"}).status == 200

    assert aws.max_in_flight == 3
    assert calls(aws, GET_BY_PATH) == 1


@pytest.mark.usefixtures("personas")
def test_warm_requests_for_named_personas_make_no_aws_call(function: Function, aws: FaultProxy):
    function.post({"persona": "sales"})
    after_cold_start = aws.requests_seen

    for name in ("support", "tutor-fr", "sales", None):
        assert function.post({"persona": name}).status == 200

    assert aws.requests_seen == after_cold_start


@pytest.mark.usefixtures("personas")
def test_a_warm_up_loads_the_named_personas_too(function: Function, aws: FaultProxy):
    assert function.invoke({"warmup": True}) == {"warmed": True}
    assert calls(aws, GET_BY_PATH) == 1
    after_warm_up = aws.requests_seen

    assert function.post({"persona": "tutor-fr"}).status == 200
    assert aws.requests_seen == after_warm_up


@pytest.mark.usefixtures("personas")
def test_a_warm_up_reports_a_broken_named_persona(function: Function, moto_server):
    seed_personas(moto_server.url, PATH, {"broken": "{not json"})
    assert function.invoke({"warmup": True}) == {"warmed": False, "error": "configuration_error"}


@pytest.mark.usefixtures("personas")
def test_named_personas_are_read_again_after_their_max_age(
    function: Function, moto_server, aws: FaultProxy, anam: AnamStub, monkeypatch
):
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "1")
    function.post({"persona": "sales"})
    seed_personas(moto_server.url, PATH, {"sales": {**SALES, "name": "Sam 2"}, "new": PERSONA})

    assert function.post({"persona": "sales"}).status == 200
    assert anam.requests[-1].json["personaConfig"]["name"] == "Sam", "within its max age, the cached persona"
    assert function.post({"persona": "new"}).json()["code"] == "unknown_persona"
    time.sleep(1.1)
    assert function.post({"persona": "sales"}).status == 200
    assert anam.requests[-1].json["personaConfig"]["name"] == "Sam 2"
    assert function.post({"persona": "new"}).status == 200
    assert calls(aws, GET_BY_PATH) == 2


@pytest.mark.usefixtures("personas")
def test_a_failed_refresh_of_the_path_serves_the_personas_held(
    function: Function, aws: FaultProxy, anam: AnamStub, logs: Logs, monkeypatch
):
    monkeypatch.setenv("PERSONA_MAX_AGE_SECONDS", "0")
    assert function.post({"persona": "tutor-fr"}).status == 200
    aws.enqueue(aws_throttling(), aws_throttling(), match=GET_BY_PATH)

    assert function.post({"persona": "tutor-fr"}).status == 200

    assert anam.requests[-1].json == anam.requests[0].json
    [warning] = logs.with_message("Refresh failed; serving the value held")
    assert PATH.rstrip("/") in warning["source"]


@pytest.mark.usefixtures("personas")
def test_a_cold_start_answers_503_while_the_path_cannot_be_read(function: Function, aws: FaultProxy, anam):
    aws.enqueue(aws_throttling(), aws_throttling(), match=GET_BY_PATH)  # the test config's two attempts

    answer = function.post({"persona": "sales"})

    assert (answer.status, answer.json()["code"]) == (503, "dependency_unavailable")
    assert anam.requests == []


@pytest.mark.usefixtures("personas")
def test_a_path_the_function_may_not_read_is_a_configuration_error(function: Function, aws: FaultProxy):
    aws.enqueue(aws_access_denied(), match=GET_BY_PATH)

    answer = function.post({"persona": "sales"})

    assert (answer.status, answer.json()["code"]) == (500, "configuration_error")
