"""The HTTP/1.1 plumbing the local servers share (Anam stand-in, fault proxy, dev server).

Keep-alive is on, so connection reuse by the function's pooled clients can be counted; every connection is
tracked so a test can close the idle ones from the server side (what a server does while a Lambda environment
is frozen) or abort one with a TCP RST. Nothing is logged: request lines may carry keys or tokens.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from local.http_body import read_body


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive HTTP headers; repeated headers are joined with ", " as RFC 9110 allows."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            if key in self._items:
                value = f"{self._items[key][1]}, {value}"
            self._items[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as a server received it, for tests to inspect."""

    method: str
    path: str
    headers: Headers
    body: bytes
    json: Any  # the parsed body, or None when it is empty or not JSON

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path


def parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:  # also UnicodeDecodeError
        return None


class LocalHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its connections and whether each is between requests."""

    daemon_threads = True
    # socketserver's default backlog is 5: a burst of new connections (ten processes opening their pools at
    # once, as at a launch) would have its SYNs dropped and time out connecting, which no real endpoint does.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler_class: type[LocalRequestHandler], owner: Any = None
    ) -> None:
        super().__init__(address, handler_class)
        self.owner = owner  # the object whose behaviour the handlers serve
        self._lock = threading.Lock()
        self._busy: dict[socket.socket, bool] = {}
        self._opened = 0
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def connections_opened(self) -> int:
        with self._lock:
            return self._opened

    def reset_connection_count(self) -> None:
        with self._lock:
            self._opened = 0

    def track(self, connection: socket.socket, *, busy: bool) -> None:
        with self._lock:
            if connection not in self._busy:
                self._opened += 1
            self._busy[connection] = busy

    @contextlib.contextmanager
    def last_write(self, connection: socket.socket) -> Iterator[None]:
        """Hold while writing a response's last bytes: the connection counts as idle from then on.

        Marking it idle under the lock closes a race: a client that has read the response and then asks for
        idle connections to be closed must find this one idle, not still finishing its request.
        """
        with self._lock:
            self._busy[connection] = False
            yield

    def forget(self, connection: socket.socket) -> None:
        with self._lock:
            self._busy.pop(connection, None)

    def close_connections(self, *, idle_only: bool) -> None:
        """Close connections from the server side: the peer sees a FIN, as after a server's idle timeout."""
        with self._lock:
            chosen = [conn for conn, busy in self._busy.items() if not (idle_only and busy)]
        for connection in chosen:
            # shutdown, not close: it wakes the handler thread blocked reading the next request, which then
            # ends the connection normally. OSError: the connection is already gone.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a read timeout, a reset) is routine here, not worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def start_in_thread(self, name: str) -> None:
        # A short poll interval: shutdown() waits for the loop to notice, and tests stop servers often.
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, and end every connection so no handler thread outlives the server."""
        self.shutdown()
        self.server_close()
        self.close_connections(idle_only=False)
        if self._thread is not None:
            self._thread.join(timeout=5)


class LocalService:
    """A stand-in with a LocalHTTPServer of its own on a thread: start()/stop(), or use it with `with`."""

    def __init__(self, address: tuple[str, int], handler_class: type[LocalRequestHandler], name: str) -> None:
        self._address = address
        self._handler_class = handler_class
        self._name = name
        self._server: LocalHTTPServer | None = None

    def start(self) -> Self:
        self._server = LocalHTTPServer(self._address, self._handler_class, owner=self)
        self._server.start_in_thread(self._name)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._running().url

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far."""
        return self._running().connections_opened

    def _running(self) -> LocalHTTPServer:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running: call start() or use it in a `with`")
        return self._server


class LocalRequestHandler(BaseHTTPRequestHandler):
    """Answers every method through `respond()`, with Content-Length on every response so keep-alive works."""

    protocol_version = "HTTP/1.1"
    # Status line, headers and body go out in separate writes; with Nagle's algorithm the client's delayed
    # ACK would add ~40 ms to some responses and skew every latency measured through these servers.
    disable_nagle_algorithm = True
    server: LocalHTTPServer

    def respond(self) -> None:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        # Every method reaches respond(), also TRACE or a lower-case "post", which http.server would answer
        # with its own 501 page: API Gateway's ANY route passes them to the function, which answers 405.
        if name.startswith("do_"):
            return self.respond
        raise AttributeError(name)

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, busy=False)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.forget(self.connection)

    def handle_one_request(self) -> None:
        # Waiting for the next request line: the connection is idle until parse_request runs.
        self.server.track(self.connection, busy=False)
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.server.track(self.connection, busy=True)
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the default writes request lines to stderr, and this is a test fixture."""

    def read_body(self) -> bytes:
        """The request's body; `local.http_body.UnreadableBody` when its framing cannot be read."""
        return read_body(self.headers, self.rfile)

    def received(self) -> ReceivedRequest:
        body = self.read_body()
        return ReceivedRequest(
            method=self.command,
            path=self.path,
            headers=Headers(self.headers.items()),
            body=body,
            json=parse_json(body),
        )

    def send_reply(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "keep-alive"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        with self.server.last_write(self.connection):
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        merged = {"Content-Type": "application/json", **(headers or {})}
        self.send_reply(status, merged.items(), json.dumps(payload).encode())

    def abort_with_reset(self) -> None:
        """End the connection with a TCP RST and no response, like a crashed peer or a dropping middlebox."""
        self.close_connection = True
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference to the socket; the descriptor only really closes once it is released.
        self.rfile.close()
        self.connection.close()
