"""A raw HTTP server, for the broken responses neither the Anam stand-in nor the fault proxy can send."""

from __future__ import annotations

import socketserver
import time


class RawHttpServer(socketserver.ThreadingTCPServer):
    """Answers every request with the same raw bytes, then stalls, then closes the connection: the broken
    HTTP that neither the stand-in nor the proxy can send (a body cut short of its Content-Length, a body
    that stops arriving)."""

    daemon_threads = True

    def __init__(self, reply: bytes = b"", stall_seconds: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _RawHandler)
        self.reply = reply
        self.stall_seconds = stall_seconds
        self.requests_seen = 0

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _RawHandler(socketserver.StreamRequestHandler):
    server: RawHttpServer

    def handle(self) -> None:
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        self.rfile.read(length)
        self.server.requests_seen += 1
        self.wfile.write(self.server.reply)
        self.wfile.flush()
        time.sleep(self.server.stall_seconds)
