"""An HTTP proxy in front of a local service (moto's server, the Anam stand-in): injects faults, counts.

Point the function's endpoint at `proxy.url` instead of the service: every request is forwarded unchanged
(over one kept-alive upstream connection per client connection) unless a queued `Fault` says otherwise, and
the counters show how the function used the network: how many requests, how many at once, over how many
connections. In front of DynamoDB, `conflicts` applies DynamoDB's transaction conflicts, which the emulations
do not raise (local/dynamodb_conflicts.py).
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from local.faults import Fault, aws_refused, aws_server_error, aws_throttling, aws_unavailable
from local.http_plumbing import LocalRequestHandler, LocalService

if TYPE_CHECKING:
    from local.dynamodb_conflicts import ConflictModel

__all__ = ["Fault", "FaultProxy", "aws_refused", "aws_server_error", "aws_throttling", "aws_unavailable"]

# Connection-level headers belong to one hop; the proxy manages its own on each side.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "upgrade"}
    | {"transfer-encoding", "content-length"}
)
_AWS_JSON = "application/x-amz-json-1.1"
_UPSTREAM_TIMEOUT_SECONDS = 30.0
RENDEZVOUS_SECONDS = 5.0


@dataclass(frozen=True)
class _Queued:
    fault: Fault
    match: str | None
    body: tuple[str, ...] = ()

    def matches(self, target: str, path: str, body: bytes) -> bool:
        if not all(part.encode() in body for part in self.body):
            return False
        return self.match is None or self.match in target or self.match in path


class FaultProxy(LocalService):
    def __init__(self, target_url: str, host: str = "127.0.0.1", port: int = 0) -> None:
        target = urlsplit(target_url)
        if target.scheme != "http" or not target.hostname:
            raise ValueError(f"FaultProxy forwards to plain http:// URLs only, not {target_url!r}")
        super().__init__((host, port), _ProxyHandler, "fault-proxy")
        self.target_host = target.hostname
        self.target_port = target.port or 80
        self.target_prefix = target.path.rstrip("/")
        self.delay_seconds = 0.0
        # Hold each request until this many are in flight together (for at most RENDEZVOUS_SECONDS): proves
        # that a client sends them concurrently without depending on how long each one happens to take.
        self.rendezvous = 0
        # DynamoDB's transaction conflicts, applied to what is forwarded (None: off).
        self.conflicts: ConflictModel | None = None
        self.targets_seen: list[str] = []
        self.bodies_seen: list[bytes] = []
        self._lock = threading.Lock()
        self._in_flight_changed = threading.Condition(self._lock)
        self._queue: list[_Queued] = []
        self._seen = self._forwarded = self._in_flight = self._max_in_flight = 0
        self._accepted = self._silent_through = 0
        self._unsilenced = threading.Event()

    def enqueue(self, *faults: Fault, match: str | None = None, body: str | tuple[str, ...] = ()) -> None:
        """The next requests whose X-Amz-Target or path contains `match` (any, if None), and whose body
        contains `body` (each of them, if several), get these faults."""
        parts = (body,) if isinstance(body, str) else body
        with self._lock:
            self._queue.extend(_Queued(fault, match, parts) for fault in faults)

    @property
    def faults_pending(self) -> int:
        """Queued faults no request has met yet."""
        with self._lock:
            return len(self._queue)

    def clear_faults(self) -> None:
        with self._lock:
            self._queue.clear()
            self._silent_through = 0
        self._unsilenced.set()

    def go_silent(self) -> None:
        """Every connection open now swallows its next request and never answers or closes, until
        clear_faults(): what a NAT or load balancer that forgot an idle connection does (no FIN, no RST).
        Connections opened later work normally."""
        with self._lock:
            self._silent_through = self._accepted
        self._unsilenced.clear()

    def _accept(self) -> int:
        with self._lock:
            self._accepted += 1
            return self._accepted

    def _is_silent(self, serial: int) -> bool:
        with self._lock:
            return serial <= self._silent_through

    @property
    def requests_seen(self) -> int:
        return self._seen

    @property
    def requests_forwarded(self) -> int:
        return self._forwarded

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight

    def reset_counters(self) -> None:
        with self._lock:
            self._seen = self._forwarded = self._max_in_flight = 0
            self.targets_seen.clear()
            self.bodies_seen.clear()
        if self._server is not None:
            self._server.reset_connection_count()

    def _arrived(self, target: str, path: str, body: bytes) -> Fault | None:
        with self._lock:
            self._seen += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._in_flight_changed.notify_all()
            self.targets_seen.append(target)
            self.bodies_seen.append(body)
            for index, queued in enumerate(self._queue):
                if queued.matches(target, path, body):
                    return self._queue.pop(index).fault
            return None

    def _await_rendezvous(self) -> None:
        with self._lock:
            self._in_flight_changed.wait_for(lambda: self._in_flight >= self.rendezvous, RENDEZVOUS_SECONDS)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _counted_forward(self) -> None:
        with self._lock:
            self._forwarded += 1


class _ProxyHandler(LocalRequestHandler):
    _upstream: http.client.HTTPConnection | None = None
    _serial = 0

    def setup(self) -> None:
        super().setup()
        self._serial = self.proxy._accept()

    @property
    def proxy(self) -> FaultProxy:
        proxy: FaultProxy = self.server.owner
        return proxy

    def respond(self) -> None:
        body = self.read_body()
        target = self.headers.get("X-Amz-Target") or f"{self.command} {urlsplit(self.path).path}"
        if self.proxy._is_silent(self._serial):
            self.close_connection = True
            self.proxy._unsilenced.wait(_UPSTREAM_TIMEOUT_SECONDS)
            return
        fault = self.proxy._arrived(target, self.path, body)
        try:
            self.proxy._await_rendezvous()
            time.sleep(self.proxy.delay_seconds)
            if fault is not None and fault.applied:
                self._apply_then_lose_the_answer(fault, target, body)
                return
            if fault is not None and fault.kind == "reset":
                self.abort_with_reset()
                return
            if fault is not None and fault.kind == "status":
                self.send_reply(fault.status_code, fault.headers, fault.body)
                return
            if fault is not None:
                time.sleep(fault.seconds)
            self._forward_unless_conflicting(target, body)
        finally:
            self.proxy._done()

    def _apply_then_lose_the_answer(self, fault: Fault, target: str, body: bytes) -> None:
        answer = self._exchange_upstream(body)
        if fault.kind == "reset":
            self.abort_with_reset()
        elif fault.kind == "status":
            self.send_reply(fault.status_code, fault.headers, fault.body)
        else:  # delay: the client's read timeout ends its wait first
            time.sleep(fault.seconds)
            if answer is not None:
                self.send_reply(*answer)

    def _forward_unless_conflicting(self, target: str, body: bytes) -> None:
        conflicts = self.proxy.conflicts
        if conflicts is None:
            self._forward(body)
            return
        with conflicts.apply(target, body) as refusal:
            if refusal is not None:
                self.send_reply(refusal.status_code, refusal.headers, refusal.body)
            else:
                self._forward(body)

    def _forward(self, body: bytes) -> None:
        answer = self._exchange_upstream(body)
        if answer is None:
            # Pass the failure on as what it is to the client: a broken connection, not an HTTP answer.
            self.abort_with_reset()
            return
        self.send_reply(*answer)

    def _exchange_upstream(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """Forward the request; the service's answer (None: the connection to it failed)."""
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        path = self.proxy.target_prefix + self.path
        self.proxy._counted_forward()
        try:
            response = self._exchange(path, body, headers)
        except OSError:
            self._close_upstream()
            return None
        answer = response.read()
        if response.will_close:
            self._close_upstream()
        # send_response adds its own Server and Date.
        headers_back = [(k, v) for k, v in response.getheaders() if k.lower() not in ("server", "date")]
        return response.status, headers_back, answer

    def _exchange(self, path: str, body: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
        reused = self._upstream is not None
        try:
            return self._send(path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            # The target closed the kept-alive connection while it sat idle: retry once on a fresh one,
            # as HTTP clients do; the target never saw the first attempt.
            self._close_upstream()
            return self._send(path, body, headers)

    def _send(self, path: str, body: bytes, headers: dict[str, str]) -> http.client.HTTPResponse:
        if self._upstream is None:
            self._upstream = http.client.HTTPConnection(
                self.proxy.target_host, self.proxy.target_port, timeout=_UPSTREAM_TIMEOUT_SECONDS
            )
        self._upstream.request(self.command, path, body=body, headers=headers)
        return self._upstream.getresponse()

    def _close_upstream(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._close_upstream()
