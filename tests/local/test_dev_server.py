"""`make dev`: the real handler behind a local HTTP server, offline (and saying so) without ANAM_API_KEY."""

from __future__ import annotations

import json
import re
import signal
import socket
from collections.abc import Iterator

import pytest
import requests

from local.anam_stub import AnamStub
from tests.local.processes import DevServer, run_module

DEV_ORIGIN = "http://localhost:5173"


@pytest.fixture(scope="module")
def dev_server() -> Iterator[DevServer]:
    server = DevServer()
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def url(dev_server: DevServer) -> str:
    return f"{dev_server.wait_until_serving()}/session-token"


def handled_requests(dev_server: DevServer) -> list[dict[str, object]]:
    logs = [json.loads(line) for line in dev_server.stdout if line.startswith("{")]
    return [log for log in logs if log.get("message") == "Request handled"]


def test_dev_server_says_where_it_serves(dev_server: DevServer, url: str) -> None:
    assert url == f"http://127.0.0.1:{dev_server.port}/session-token"


def test_dev_server_says_loudly_that_it_is_offline(dev_server: DevServer) -> None:
    banner = "\n".join(dev_server.stderr)

    assert "OFFLINE" in banner
    assert "NOT real" in banner
    assert dev_server.wait_for_line(re.compile(r"^Offline Anam stand-in at http://127\.0\.0\.1:\d+$"))


def test_a_post_gets_a_session_token_from_the_offline_stand_in(url: str) -> None:
    answer = requests.post(url, json={"prompt": "The visitor is on the pricing page."}, timeout=30)

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert AnamStub.claims_of(body["sessionToken"])["type"] == "ephemeral"
    assert body["expiresAt"].endswith("Z")


def test_a_preflight_from_the_default_dev_origin_is_allowed(url: str) -> None:
    answer = requests.options(
        url,
        headers={"Origin": DEV_ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=30,
    )

    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN


def test_each_request_gets_one_log_line(dev_server: DevServer, url: str) -> None:
    requests.get(url, timeout=30)

    assert dev_server.wait_for_line(re.compile(r"^GET /session-token 405 \d+ ms$"))


def test_requests_share_one_warm_execution_environment(dev_server: DevServer, url: str) -> None:
    requests.post(url, timeout=30)
    requests.post(url, timeout=30)
    dev_server.wait_for_line(re.compile(r"^POST /session-token 200 \d+ ms$"))

    handled = handled_requests(dev_server)

    assert [log["cold_start"] for log in handled].count(True) == 1
    assert len({log["function_request_id"] for log in handled}) == len(handled)


def test_other_paths_get_api_gateways_404(url: str) -> None:
    answer = requests.post(url.replace("/session-token", "/other"), timeout=30)

    assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"})


def test_a_taken_port_is_a_one_line_error_and_exit_code_2() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        finished = run_module("local.dev_server", "--port", str(port))

    assert finished.returncode == 2
    assert finished.stderr.strip().count("\n") == 0
    assert "already in use" in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_dev_server_shuts_down_cleanly(signum: int) -> None:
    server = DevServer()
    server.wait_until_serving()

    code = server.stop(signum)

    assert code == 0
    assert "Traceback" not in "\n".join(server.stderr)
