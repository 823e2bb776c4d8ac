"""`make dev`: the real handler behind a local HTTP server, offline (and saying so) without ANAM_API_KEY."""

from __future__ import annotations

import base64
import http.client
import json
import re
import signal
import socket
from urllib.parse import urlsplit

import pytest
import requests

from local import dev_server as dev_server_module
from local.standins.anam import AnamStub
from tests.local.processes import DevServer, run_module

DEV_ORIGIN = "http://localhost:5173"
DEFAULT_ORIGINS = "http://localhost:5173,http://127.0.0.1:5173"


@pytest.fixture(scope="module")
def url(dev_server: DevServer) -> str:
    return f"{dev_server.wait_until_serving()}/session-token"


def handled_requests(dev_server: DevServer) -> list[str]:
    """The function's own "Request handled" lines, in the dev server's compact format."""
    return [line for line in dev_server.stdout if " Request handled " in line]


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

    assert len(handled) >= 2
    assert [" cold_start=True " in line for line in handled].count(True) == 1


def test_the_function_logs_a_compact_line_per_record_and_no_metric_blobs(
    dev_server: DevServer, url: str
) -> None:
    requests.post(url, json={"prompt": "hello"}, timeout=30)

    line = dev_server.wait_for_line(re.compile(r"^\d\d:\d\d:\d\d INFO  Request handled  .*status=200"))

    assert "function_arn" not in line.string
    assert not [line for line in dev_server.stdout if line.startswith("{")]


def test_json_logs_and_metrics_as_in_aws_on_request() -> None:
    server = DevServer("--log-format", "json")
    try:
        url = f"{server.wait_until_serving()}/session-token"
        requests.post(url, timeout=30)
        requests.post(url, timeout=30)
        server.wait_for_line(re.compile(r"^POST /session-token 200 \d+ ms$"))
        logs = [json.loads(line) for line in server.stdout if line.startswith("{")]
    finally:
        server.stop()

    handled = [log for log in logs if log.get("message") == "Request handled"]
    assert len({log["function_request_id"] for log in handled}) == len(handled) == 2
    assert any("_aws" in log for log in logs)


def test_a_refused_origin_is_named_in_the_log_with_how_to_allow_it(dev_server: DevServer, url: str) -> None:
    requests.post(url, headers={"Origin": "http://127.0.0.1:9"}, timeout=30)

    line = dev_server.wait_for_line(re.compile(r"^CORS: refused origin http://127\.0\.0\.1:9: .*"))

    assert f"ALLOWED_ORIGINS={DEFAULT_ORIGINS}," in line.string
    assert f'make dev ARGS="--allowed-origins {DEFAULT_ORIGINS},' in line.string
    assert line.string.endswith(',http://127.0.0.1:9"')


def test_the_page_make_dev_serves_may_call_the_endpoint_from_its_own_origin(
    dev_server: DevServer, url: str
) -> None:
    own_origin = url.removesuffix("/session-token")
    answer = requests.post(url, headers={"Origin": own_origin}, timeout=30)

    assert answer.headers["Access-Control-Allow-Origin"] == own_origin


def test_an_allowed_origin_leaves_no_cors_line(dev_server: DevServer, url: str) -> None:
    requests.post(url, headers={"Origin": DEV_ORIGIN}, timeout=30)
    requests.post(url, headers={"Origin": "http://127.0.0.1:10"}, timeout=30)
    dev_server.wait_for_line(re.compile(r"^CORS: refused origin http://127\.0\.0\.1:10: "))

    assert not [line for line in dev_server.stdout if line.startswith(f"CORS: refused origin {DEV_ORIGIN}")]


def test_dev_server_prints_the_example_pages_url(dev_server: DevServer) -> None:
    match = dev_server.wait_for_line(re.compile(r"^Example page: (http://127\.0\.0\.1:\d+/) "))

    assert match.group(1) == f"http://127.0.0.1:{dev_server.port}/"


def test_the_example_page_is_served_at_the_root(url: str) -> None:
    answer = requests.get(url.replace("/session-token", "/"), timeout=30)

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/../README.md", "/%2e%2e/README.md", "/.gitignore", "/tests/e2e.test.mjs"])
def test_nothing_but_the_built_pages_own_files_is_served(url: str, path: str) -> None:
    answer = requests.get(url.replace("/session-token", path), timeout=30)

    assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"})


def test_the_session_ended_path_reaches_the_function(dev_server: DevServer, url: str) -> None:
    # What the page's beacon sends (contract §12): the API routes both paths to the function.
    answer = requests.post(
        url.replace("/session-token", "/session-ended"),
        data="a-handle",
        headers={"Content-Type": "text/plain;charset=UTF-8"},
        timeout=30,
    )

    # The function's answer: 204 once it takes handles, its own JSON error until then; not the gateway's 404.
    assert answer.status_code == 204 or "requestId" in answer.json(), answer.text
    assert dev_server.wait_for_line(re.compile(r"^POST /session-ended \d{3} \d+ ms$"))


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


def test_ctrl_c_stops_a_dev_server_started_with_sigint_ignored() -> None:
    # A background job of a non-interactive shell, or `nohup`, starts its commands with SIGINT ignored;
    # Python then leaves it ignored, and neither Ctrl-C nor a test's stop would end the server.
    server = DevServer(sigint_ignored=True)
    server.wait_until_serving()

    code = server.stop(signal.SIGINT, timeout=10)

    assert code == 0
    assert "Traceback" not in "\n".join(server.stderr)


def sign_in_token(claims: object) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"Bearer eyJhbGciOiJub25lIn0.{encoded}.c2ln"


def test_a_sign_in_tokens_claims_reach_the_function_as_the_authorizer_would_pass_them() -> None:
    claims = dev_server_module._unverified_claims(sign_in_token({"sub": "visitor-1", "email_verified": True}))

    assert claims == {"sub": "visitor-1", "email_verified": "true"}


@pytest.mark.parametrize(
    "authorization", ["", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.%%%.c", sign_in_token(["sub"])]
)
def test_no_claims_without_a_readable_bearer_jwt(authorization: str) -> None:
    assert dev_server_module._unverified_claims(authorization) is None


@pytest.mark.parametrize("method", ["TRACE", "post"])
def test_a_method_other_than_post_and_options_reaches_the_function_as_spelled_and_gets_405(
    url: str, method: str
) -> None:
    # http.client sends the method as given; requests would upper-case it.
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.request(method, parts.path, body="{}", headers={"content-type": "application/json"})
    answer = connection.getresponse()

    assert (answer.status, json.loads(answer.read())["code"]) == (405, "method_not_allowed")
    connection.close()
