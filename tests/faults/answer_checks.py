"""What every answer to a fault must show a caller, and must not: the checks the fault cases share."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tests.conftest import API_KEY, ROTATED_API_KEY
from tests.support.function import Answer, Logs

# What a caller sends in every fault case: it must reach no answer and no log line.
PROMPT = "The visitor is Ms. Quinlan-Okafor, asking about invoice 88-1172."
# Any JWT, as Anam's session tokens are: none may reach a log line or an error answer.
_JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def assert_error(answer: Answer, status: int, code: str) -> None:
    """docs/contract.md §3's error answer: this status and code, JSON with a message and the request id, never
    cached."""
    assert (answer.status, answer.json().get("code")) == (status, code), answer.body
    assert set(answer.json()) == {"error", "code", "requestId"}
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"


def assert_token(answer: Answer) -> None:
    assert answer.status == 200, answer.body
    assert _JWT.fullmatch(answer.json()["sessionToken"])


def assert_answer(answer: Answer, status: int, code: str | None) -> None:
    """A token when `code` is None, else that error."""
    if code is None:
        assert_token(answer)
    else:
        assert_error(answer, status, code)


def assert_nothing_leaked(answer: Answer, logs: Logs) -> None:
    """No API key, prompt or session token in what the caller got (its own token aside) or in any log line."""
    said_to_caller = answer.body.decode() + repr(dict(answer.headers))
    if answer.status == 200:
        said_to_caller = said_to_caller.replace(answer.json()["sessionToken"], "")
    for place, text in (("the answer", said_to_caller), ("the log", logs.text)):
        for secret in (API_KEY, ROTATED_API_KEY, PROMPT, "Quinlan"):
            assert secret not in text, f"{secret[:4]}... leaked into {place}"
        assert not _JWT.search(text), f"a session token leaked into {place}"


def wait_until(condition: Callable[[], bool], timeout_seconds: float = 5.0) -> None:
    """For work a slow peer finishes after the function has given up on it."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)
