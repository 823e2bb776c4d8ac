"""The Anam stand-in's connections, and the behaviours tests queue on it (slow, reset, rate limited)."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from urllib3.util.connection import is_connection_dropped

from local.standins.anam import AnamStub, Html, RateLimited, Reply, Reset, Slow
from tests.faults.answer_checks import wait_until
from tests.local.test_anam_standin import mint


def test_stub_serves_many_requests_over_one_kept_alive_connection(anam: AnamStub) -> None:
    with requests.Session() as session:
        for _ in range(3):
            assert mint(anam, session=session).status_code == 200

    assert anam.connections_opened == 1


def pooled_connections(session: requests.Session, url: str) -> list[Any]:
    pool = session.get_adapter(url).poolmanager.connection_from_url(url)  # type: ignore[attr-defined]
    return [connection for connection in list(pool.pool.queue) if connection is not None and connection.sock]


def test_closing_idle_connections_moves_the_next_request_to_a_new_connection(anam: AnamStub) -> None:
    with requests.Session() as session:
        mint(anam, session=session)
        anam.close_idle_connections()
        wait_until(lambda: all(map(is_connection_dropped, pooled_connections(session, anam.url))))

        assert mint(anam, session=session).status_code == 200

    assert anam.connections_opened == 2


def test_queued_behaviours_answer_in_order_then_normal_behaviour_resumes(anam: AnamStub) -> None:
    anam.enqueue(Reply(503, "busy"), RateLimited(), Html())

    first, second, third, fourth = (mint(anam) for _ in range(4))

    assert (first.status_code, first.text) == (503, "busy")
    assert (second.status_code, second.headers["Retry-After"]) == (429, "7")
    assert second.json() == {"message": "Rate limit exceeded"}
    assert third.status_code == 502
    assert third.headers["Content-Type"] == "text/html"
    assert third.text.lstrip().startswith("<html>")
    assert fourth.status_code == 200


def test_rate_limited_can_leave_out_retry_after(anam: AnamStub) -> None:
    anam.enqueue(RateLimited(retry_after=None))

    assert "Retry-After" not in mint(anam).headers


def test_a_reply_with_a_dict_body_is_json_with_the_given_headers(anam: AnamStub) -> None:
    anam.enqueue(Reply(200, {"sessionToken": ""}, {"X-Test": "1"}))

    answer = mint(anam)

    assert answer.json() == {"sessionToken": ""}
    assert answer.headers["X-Test"] == "1"


def test_slow_answers_normally_after_the_wait(anam: AnamStub) -> None:
    anam.enqueue(Slow(0.3))

    started = time.monotonic()
    answer = mint(anam)

    assert time.monotonic() - started >= 0.3
    assert answer.status_code == 200


def test_slow_then_applies_the_given_behaviour(anam: AnamStub) -> None:
    anam.enqueue(Slow(0.1, then=Reply(500)))

    assert mint(anam).status_code == 500


def test_slow_runs_into_the_clients_read_timeout(anam: AnamStub) -> None:
    anam.enqueue(Slow(1))

    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{anam.url}/v1/auth/session-token", json={}, timeout=(1, 0.2))


def test_reset_drops_the_connection_with_a_tcp_rst_and_no_response(anam: AnamStub) -> None:
    anam.enqueue(Reset())
    url = urlsplit(anam.url)

    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(b"POST /v1/auth/session-token HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        with pytest.raises(ConnectionResetError):
            conn.recv(1024)
    assert len(anam.requests) == 1


def test_reset_forgets_queue_records_counters_token_type_and_key_rotations(anam: AnamStub) -> None:
    anam.enqueue(Reply(500))
    mint(anam)
    anam.enqueue(Reply(500))
    anam.token_type = "legacy"
    anam.api_keys = {"rotated"}

    anam.reset()

    assert anam.requests == []
    assert anam.connections_opened == 0
    answer = mint(anam)  # with the original key, a token of the persona's own type
    assert AnamStub.claims_of(answer.json()["sessionToken"])["type"] == "ephemeral"
