"""docs/contract.md §5 under Anam faults, over real HTTP: connection resets, 5xx, 429, slowness and garbage
answers.

Faults are injected by a proxy in front of the Anam stand-in (`anam_proxy`): every faulted attempt is answered
by the proxy, so the stand-in mints a token only for an attempt that gets through. What a case checks: the
contract's status and code, how many attempts the function made, that Anam minted at most one token, and that
neither the key, nor the prompt, nor a token reached the answer or the log.
"""

import json
from dataclasses import dataclass

import pytest

from local.fault_proxy import Fault, FaultProxy
from local.standins.anam import AnamStub, Behaviour, Html, Reset
from tests.conftest import API_KEY
from tests.faults.answer_checks import PROMPT, assert_answer, assert_nothing_leaked, wait_until
from tests.support.function import Function, Logs

# An upstream that echoes what it was sent: the function must cut the key and the prompt out of its log.
ECHOING = {"message": f"failed while serving {PROMPT!r} for key {API_KEY}"}
GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
HTTP_DATE = "Tue, 24 Nov 2026 09:31:00 GMT"


@dataclass(frozen=True)
class Outcome:
    status: int
    code: str | None = None  # None: a session token
    attempts: int = 1  # requests the function sent towards Anam
    retry_after: str | None = None


def reset() -> Fault:
    return Fault.reset()


def server_error(status: int = 503) -> Fault:
    return Fault.status(status, ECHOING)


def gateway_page() -> Fault:
    return Fault.status(502, GATEWAY_PAGE, {"Content-Type": "text/html"})


def rate_limited(retry_after: str | None) -> Fault:
    return Fault.status(429, ECHOING, {"Retry-After": retry_after} if retry_after else {})


def ok_without_a_token(body: str | bytes, content_type: str = "application/json") -> Fault:
    return Fault.status(200, body, {"Content-Type": content_type})


def sent_after(*faults: Fault) -> tuple[Fault, ...]:
    return faults


# Each row: what the proxy does to the first attempts (later ones reach the stand-in), and the answer.
ANAM_FAULTS = [
    pytest.param(sent_after(reset()), Outcome(200, attempts=2), id="a reset, then a token"),
    pytest.param(sent_after(reset(), reset()), Outcome(200, attempts=3), id="two resets, then a token"),
    pytest.param(
        sent_after(reset(), reset(), reset()),
        Outcome(502, "upstream_unavailable", attempts=3),
        id="three resets",
    ),
    pytest.param(sent_after(server_error(500)), Outcome(200, attempts=2), id="a 500, then a token"),
    pytest.param(
        sent_after(reset(), server_error(503)), Outcome(200, attempts=3), id="a reset and a 503, then a token"
    ),
    pytest.param(
        sent_after(server_error(500), server_error(503), server_error(504)),
        Outcome(502, "upstream_unavailable", attempts=3),
        id="500, 503, 504",
    ),
    pytest.param(
        sent_after(gateway_page()), Outcome(200, attempts=2), id="a gateway's HTML 502, then a token"
    ),
    pytest.param(
        sent_after(gateway_page(), gateway_page(), gateway_page()),
        Outcome(502, "upstream_unavailable", attempts=3),
        id="three HTML 502s",
    ),
    pytest.param(
        sent_after(*[Fault.status(503, b"\x00" * 1_000_000, {"Content-Type": "text/plain"})] * 3),
        Outcome(502, "upstream_unavailable", attempts=3),
        id="three 503s with huge bodies",
    ),
    pytest.param(
        sent_after(rate_limited("30")), Outcome(429, "rate_limited", retry_after="30"), id="429 with seconds"
    ),
    pytest.param(
        sent_after(rate_limited(HTTP_DATE)),
        Outcome(429, "rate_limited", retry_after=HTTP_DATE),
        id="429 with an HTTP date",
    ),
    pytest.param(
        sent_after(rate_limited("soon")),
        Outcome(429, "rate_limited"),
        id="429 with an unreadable Retry-After",
    ),
    pytest.param(sent_after(rate_limited(None)), Outcome(429, "rate_limited"), id="429 without Retry-After"),
    pytest.param(
        sent_after(server_error(503), rate_limited("5")),
        Outcome(429, "rate_limited", attempts=2, retry_after="5"),
        id="a 503, then a 429",
    ),
    pytest.param(
        sent_after(ok_without_a_token("OK", "text/plain")),
        Outcome(502, "upstream_invalid_response"),
        id="200 with a text body",
    ),
    pytest.param(
        sent_after(ok_without_a_token('{"sessionToken": "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3')),
        Outcome(502, "upstream_invalid_response"),
        id="200 with truncated JSON",
    ),
    pytest.param(
        sent_after(ok_without_a_token(json.dumps([{"sessionToken": "a.b.c"}]))),
        Outcome(502, "upstream_invalid_response"),
        id="200 with a JSON array",
    ),
    pytest.param(
        sent_after(ok_without_a_token("null")), Outcome(502, "upstream_invalid_response"), id="200 with null"
    ),
    pytest.param(
        sent_after(ok_without_a_token('{"sessionToken": 12345}')),
        Outcome(502, "upstream_invalid_response"),
        id="200 with a number for a token",
    ),
    pytest.param(
        sent_after(ok_without_a_token(json.dumps({"padding": "x" * 2_000_000}))),
        Outcome(502, "upstream_invalid_response"),
        id="200 with a huge body",
    ),
]


@pytest.mark.parametrize(("faults", "outcome"), ANAM_FAULTS)
def test_each_anam_fault_ends_in_the_specs_answer(
    function: Function, anam_proxy: FaultProxy, anam: AnamStub, logs: Logs, faults, outcome: Outcome
):
    anam_proxy.enqueue(*faults)

    answer = function.post({"prompt": PROMPT})

    assert_answer(answer, outcome.status, outcome.code)
    assert answer.headers.get("Retry-After") == outcome.retry_after
    assert anam_proxy.requests_seen == outcome.attempts
    assert len(anam.requests) == (1 if outcome.code is None else 0), "Anam minted at most one token"
    assert_nothing_leaked(answer, logs)


# Each row: what the stand-in does (no proxy), the answer, and how many connections the function opened.
STAND_IN_FAULTS = [
    pytest.param((Reset(),), Outcome(200, attempts=2), 2, id="a reset, then a token"),
    pytest.param(
        (Reset(), Html(502)), Outcome(200, attempts=3), 2, id="a reset and an HTML 502, then a token"
    ),
    pytest.param(
        (Reset(), Reset(), Reset()), Outcome(502, "upstream_unavailable", attempts=3), 3, id="three resets"
    ),
]


@pytest.mark.parametrize(("behaviours", "outcome", "connections"), STAND_IN_FAULTS)
def test_the_stand_ins_own_resets_are_retried_on_new_connections(
    function: Function,
    anam: AnamStub,
    logs: Logs,
    behaviours: tuple[Behaviour, ...],
    outcome: Outcome,
    connections: int,
):
    anam.enqueue(*behaviours)

    answer = function.post({"prompt": PROMPT})

    assert_answer(answer, outcome.status, outcome.code)
    assert len(anam.requests) == outcome.attempts
    assert anam.connections_opened == connections, "a reset connection is never reused"
    assert_nothing_leaked(answer, logs)


SLOWNESS = [
    pytest.param("2", sent_after(Fault.delay(0.3)), Outcome(200), id="slow, within the budget"),
    pytest.param(
        "2",
        sent_after(server_error(503), Fault.delay(0.3)),
        Outcome(200, attempts=2),
        id="a 503, then slow within the budget",
    ),
    pytest.param(
        "0.3", sent_after(Fault.delay(0.6)), Outcome(504, "upstream_timeout"), id="slower than the budget"
    ),
    pytest.param(
        "0.5",  # room for the first attempt and its backoff (at most 0.2 s) before the slow one
        sent_after(server_error(503), Fault.delay(0.8)),
        Outcome(504, "upstream_timeout", attempts=2),
        id="a 503, then slower than what is left of the budget",
    ),
]


@pytest.mark.parametrize(("budget_seconds", "faults", "outcome"), SLOWNESS)
def test_a_slow_anam_is_waited_for_within_the_budget_and_never_asked_twice_past_it(
    function: Function,
    anam_proxy: FaultProxy,
    anam: AnamStub,
    logs: Logs,
    monkeypatch: pytest.MonkeyPatch,
    budget_seconds: str,
    faults,
    outcome: Outcome,
):
    monkeypatch.setenv("ANAM_TIMEOUT_SECONDS", budget_seconds)
    anam_proxy.enqueue(*faults)

    answer = function.post({"prompt": PROMPT})

    assert_answer(answer, outcome.status, outcome.code)
    assert anam_proxy.requests_seen == outcome.attempts, "a read timeout is not retried"
    wait_until(lambda: len(anam.requests) == 1)  # the slow attempt reaches Anam late, but it does
    assert anam_proxy.requests_seen == outcome.attempts
    assert_nothing_leaked(answer, logs)


def test_a_long_prompt_anam_echoes_back_leaves_no_fragment_in_the_log(
    function: Function, anam_proxy: FaultProxy, logs: Logs
):
    # Past the 300 characters of Anam's message that are logged: cut first, it would escape redaction.
    prompt = "Ms. Quinlan-Okafor's invoice " + "".join(f"{n:03d}-" for n in range(60))
    anam_proxy.enqueue(Fault.status(400, {"message": f"{'x' * 250} refused: {prompt}"}))

    answer = function.post({"prompt": prompt})

    assert_answer(answer, 502, "upstream_rejected")
    assert "Quinlan" not in logs.text
    assert "[redacted]" in logs.text
