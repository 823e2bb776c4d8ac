"""docs/contract.md §3, CORS, through the handler: the same answers in tests, `sam local` and AWS."""

import pytest

from tests.support.function import ORIGIN

pytestmark = pytest.mark.usefixtures("function_env")

PREFLIGHT = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}


def access_control(headers) -> dict:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


def test_a_preflight_from_an_allowed_origin_gets_204_and_the_headers(function, anam):
    answer = function.request("OPTIONS", headers={"origin": ORIGIN, **PREFLIGHT})
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in answer.headers["Access-Control-Allow-Headers"]
    assert "Authorization" in answer.headers["Access-Control-Allow-Headers"]
    assert answer.headers["Vary"] == "Origin"
    assert anam.requests == []


def test_a_preflight_from_another_origin_gets_204_and_no_access_control_header(function):
    answer = function.request("OPTIONS", headers={"origin": "https://evil.example.com", **PREFLIGHT})
    assert answer.status == 204
    assert access_control(answer.headers) == {}


def test_a_post_from_an_allowed_origin_carries_allow_origin(function):
    answer = function.post()
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_error_answers_to_an_allowed_origin_carry_allow_origin_so_the_browser_can_read_them(function):
    answer = function.request("GET", headers={"origin": ORIGIN})
    assert answer.status == 405
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_a_post_from_another_origin_carries_no_access_control_header(function):
    answer = function.post(headers={"origin": "https://evil.example.com"})
    assert access_control(answer.headers) == {}


def test_star_allows_any_origin(function, monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", "*")
    answer = function.request("OPTIONS", headers={"origin": "https://anything.example.com", **PREFLIGHT})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_without_allowed_origins_there_are_no_cors_headers(function, monkeypatch):
    monkeypatch.delenv("ALLOWED_ORIGINS")
    answer = function.request("OPTIONS", headers={"origin": ORIGIN, **PREFLIGHT})
    assert answer.status == 204
    assert access_control(answer.headers) == {}
    assert "Vary" not in answer.headers


def test_the_request_line_names_an_origin_whose_browser_cannot_read_the_answer(function, logs):
    function.post(headers={"origin": "https://evil.example.com"})
    function.post()

    refused, allowed = (record.get("origin_refused") for record in logs.with_message("Request handled"))
    assert (refused, allowed) == ("https://evil.example.com", None)
