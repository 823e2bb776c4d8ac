"""Calling the real handler the way API Gateway and EventBridge do, and reading what it logged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from local.http_api_event import http_api_event, http_response
from local.lambda_context import LambdaContext
from token_vendor.handler import lambda_handler
from token_vendor.observability import logger

ORIGIN = "https://app.example.com"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Function:
    """One Lambda execution environment running the real handler."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.prompts: list[str] = []

    def request(
        self,
        method: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        path: str = "/session-token",
        timeout_seconds: float = 15.0,
        source_ip: str = "127.0.0.1",
        claims: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request through API Gateway; `claims`: a signed-in caller whose JWT the authorizer verified."""
        self.prompts.extend(_prompts_in(body))
        event = http_api_event(method, path, headers=headers, body=body, source_ip=source_ip, claims=claims)
        result = lambda_handler(event, LambdaContext(timeout_seconds=timeout_seconds))
        response = http_response(result)
        answer = Answer(response.status, response.headers, response.body)
        self.answers.append(answer)
        return answer

    def post(self, payload: Mapping[str, Any] | None = None, **kwargs: Any) -> Answer:
        headers = {"content-type": "application/json", "origin": ORIGIN, **kwargs.pop("headers", {})}
        body = json.dumps(payload) if payload is not None else None
        return self.request("POST", body, headers, **kwargs)

    def invoke(self, event: Any, timeout_seconds: float | None = None) -> Any:
        """Any other event, as EventBridge or `aws lambda invoke` sends it, with the time the template gives
        the function that receives it (a pass: ReconcileFunction's), unless a test sets another."""
        context = LambdaContext.for_event(event)
        if timeout_seconds is not None:
            context.timeout_seconds = timeout_seconds
        return lambda_handler(event, context)

    @property
    def tokens(self) -> list[str]:
        """Every session token the function handed out."""
        bodies = [answer.json() for answer in self.answers if answer.status == 200]
        return [body["sessionToken"] for body in bodies if isinstance(body, dict) and "sessionToken" in body]

    def error_answers_text(self) -> str:
        return "\n".join(
            f"{answer.status} {dict(answer.headers)} {answer.body.decode(errors='replace')}"
            for answer in self.answers
            if answer.status >= 300
        )


def _prompts_in(body: bytes | str | None) -> list[str]:
    """What a visitor typed into a request: its prompt and its variables' values."""
    try:
        fields = json.loads(body or "")
        prompt, variables = fields.get("prompt"), fields.get("variables")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return []
    values = list(variables.values()) if isinstance(variables, dict) else []
    return [text for text in (prompt, *values) if isinstance(text, str)]


class Logs:
    """The function's log lines (Powertools JSON), captured from its own handler."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.getvalue()

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    def with_message(self, message: str) -> list[dict[str, Any]]:
        return [record for record in self.records if record.get("message") == message]


@contextmanager
def captured_logs() -> Iterator[Logs]:
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield Logs(stream)
    finally:
        handler.setStream(previous)
