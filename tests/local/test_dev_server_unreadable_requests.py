"""Requests that `make dev` must answer rather than drop: in AWS, API Gateway answers them itself, so a page
or a client being developed here gets an answer too, never a connection closed without one.

Sent over raw sockets: an HTTP client library would refuse to send them, or repair them first."""

from __future__ import annotations

import json
import re
import socket

import pytest

from tests.local.processes import DevServer


def exchange(server: DevServer, request: bytes) -> bytes:
    """Everything the server sends back on a connection that carries `request`, until it closes it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    assert match, f"no HTTP answer, the connection was dropped: {answer[:200]!r}"
    return int(match.group(1)), body


@pytest.mark.parametrize("length", [255, 256, 300, 4000])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_long_static_path_gets_api_gateways_404(dev_server: DevServer, method: str, length: int) -> None:
    # From 256 characters the page's file lookup fails with "file name too long".
    path = "/" + "a" * length
    request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()

    status, body = status_and_body(exchange(dev_server, request))

    assert status == 404
    if method == "GET":
        assert json.loads(body) == {"message": "Not Found"}


@pytest.mark.parametrize("content_length", ["abc", "-1", "+5", "5_0", "0x10"])
def test_a_content_length_that_is_not_a_number_gets_400_and_the_connection_closes(
    dev_server: DevServer, content_length: str
) -> None:
    request = (
        f"POST /session-token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n\r\n{{}}"
    ).encode()

    status, body = status_and_body(exchange(dev_server, request))

    assert (status, json.loads(body)) == (400, {"message": "Bad Request"})


def test_a_chunk_size_that_is_not_a_number_gets_400(dev_server: DevServer) -> None:
    request = (
        b"POST /session-token HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n"
    )

    status, body = status_and_body(exchange(dev_server, request))

    assert (status, json.loads(body)) == (400, {"message": "Bad Request"})


def test_the_server_answers_the_next_request_after_an_unreadable_one(dev_server: DevServer) -> None:
    exchange(dev_server, b"POST /session-token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n")
    request = (
        b"POST /session-token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )

    status, body = status_and_body(exchange(dev_server, request))

    assert status == 200
    assert "sessionToken" in json.loads(body)
    dev_server.wait_for_line(re.compile(r"^POST /session-token 400 \d+ ms$"))
    assert "Traceback" not in "\n".join(dev_server.stderr)
