"""docs/contract.md §7: one structured line per request, and none of the secrets in any line."""

import pytest

from local.standins.anam import Reply
from tests.conftest import API_KEY

pytestmark = pytest.mark.usefixtures("function_env")

PROMPT = "The visitor is Ms. Quinlan-Okafor, asking about invoice 88-1172."


def test_each_request_logs_one_line_with_status_code_latencies_prompt_length_and_cold_start(function, logs):
    function.post({"prompt": PROMPT})
    function.post({"prompt": PROMPT, "bogus": 1})

    first, second = logs.with_message("Request handled")
    assert first["status"] == 200
    assert first["latency_ms"] > 0
    assert first["upstream_ms"] > 0
    assert first["prompt_length"] == len(PROMPT)
    assert first["cold_start"] is True
    assert "code" not in first
    assert (second["status"], second["code"], second["cold_start"]) == (400, "invalid_request", False)


def test_log_lines_carry_the_api_gateway_request_id_as_correlation_id(function, logs):
    answer = function.request("GET")
    [line] = logs.with_message("Request handled")
    assert line["correlation_id"] == answer.json()["requestId"]


def test_no_log_line_holds_the_key_the_token_or_the_prompt(function, anam, logs):
    token = function.post({"prompt": PROMPT}).json()["sessionToken"]
    anam.enqueue(Reply(400, {"message": f"bad systemPrompt: You are Cara. {PROMPT}"}))
    function.post({"prompt": PROMPT})
    anam.api_keys = set()
    function.post({"prompt": PROMPT})

    assert logs.records, "something was logged"
    for secret in (API_KEY, token, PROMPT, "Quinlan"):
        assert secret not in logs.text
    assert "bad systemPrompt" in logs.text, "Anam's message is logged, with the prompt cut out"


def test_an_invalid_configuration_is_reported_clearly_once_at_the_first_invocation(
    function, monkeypatch, logs
):
    monkeypatch.setenv("PROMPT_MAX_CHARS", "abc")
    function.post()
    function.post()
    [report] = logs.with_message("Invalid configuration")
    assert "PROMPT_MAX_CHARS" in report["problems"][0]
