"""`make dev`: the real handler behind http://127.0.0.1:3000/session-token, as API Gateway would run it.

Each HTTP request becomes a payload 2.0 event with a fresh Lambda context; requests run one at a time through
a handler imported once, like a single warm execution environment. AWS and Anam are set up by
`local.emulation` (offline by default, loudly). Run `python -m local.dev_server --help` for the options.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from local.anam_rules import TOKEN_TYPES
from local.emulation import (
    DEFAULT_PERSONA_PATH,
    EmulationError,
    EmulationOptions,
    Handler,
    load_handler,
    start,
)
from local.http_api_event import http_api_event, http_response
from local.http_server import Headers, LocalHTTPServer, LocalRequestHandler
from local.lambda_context import LambdaContext

ROUTE = "/session-token"
DEFAULT_ALLOWED_ORIGINS = "http://localhost:5173,http://127.0.0.1:5173"
EXIT_CANNOT_START = 2


class ExecutionEnvironment:
    """One warm Lambda execution environment: one invocation at a time, module state kept between them."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._lock = threading.Lock()

    def invoke(self, event: Mapping[str, Any]) -> Any:
        with self._lock:
            return self._handler(event, LambdaContext())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _serve(args)
    except KeyboardInterrupt:
        return 0


def _serve(args: argparse.Namespace) -> int:
    # Listen first: a taken port should fail in a second, before AWS and Anam stand-ins start.
    try:
        server = LocalHTTPServer((args.host, args.port), _DevHandler)
    except OSError as exc:
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        print(f"dev_server: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return EXIT_CANNOT_START
    emulation = None
    try:
        os.environ["ALLOWED_ORIGINS"] = args.allowed_origins
        emulation = start(
            EmulationOptions(
                persona_path=args.persona,
                real_aws=args.aws,
                secret_id=args.secret_id,
                parameter_name=args.parameter_name,
                stub_token_type=args.stub_token_type,
                stub_port=args.stub_port,
            )
        )
        server.owner = ExecutionEnvironment(load_handler())
        if emulation.stub is not None:
            print(f"Offline Anam stand-in at {emulation.stub.url}", flush=True)
        port = server.socket.getsockname()[1]
        print(f"Serving http://{args.host}:{port}{ROUTE}", flush=True)
        server.serve_forever()
    except EmulationError as exc:
        print(f"dev_server: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    finally:
        server.server_close()
        server.close_connections(idle_only=False)
        if emulation is not None:
            emulation.stop()
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM ends the server the way Ctrl-C does: through the same clean shutdown.
    raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.dev_server",
        description="Serve the handler locally. Offline Anam stand-in unless ANAM_API_KEY is set.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=3000, help="port to listen on (default: %(default)s)")
    parser.add_argument(
        "--allowed-origins",
        default=os.environ.get("ALLOWED_ORIGINS") or DEFAULT_ALLOWED_ORIGINS,
        help="the function's ALLOWED_ORIGINS (default: $ALLOWED_ORIGINS, else %(default)s)",
    )
    parser.add_argument(
        "--persona",
        type=Path,
        default=DEFAULT_PERSONA_PATH,
        help="persona JSON seeded into the emulated SSM parameter (default: local/persona.example.json)",
    )
    parser.add_argument(
        "--aws",
        action="store_true",
        help="use real AWS (usual credential chain) instead of the emulation; nothing is seeded",
    )
    parser.add_argument("--secret-id", help="Secrets Manager secret (default: $ANAM_API_KEY_SECRET_ID)")
    parser.add_argument("--parameter-name", help="SSM parameter (default: $PERSONA_PARAMETER_NAME)")
    parser.add_argument(
        "--stub-token-type",
        choices=TOKEN_TYPES,
        help="make the offline Anam stand-in mint this type of token (e.g. legacy, to test the browser)",
    )
    parser.add_argument(
        "--stub-port", type=int, default=0, help="port of the offline Anam stand-in (default: any free one)"
    )
    return parser


class _DevHandler(LocalRequestHandler):
    def respond(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        body = self.read_body()
        if url.path == ROUTE:
            status = self._invoke(url.path, url.query, body)
        else:
            # API Gateway's own answer for a route the API does not have.
            status = 404
            self.send_json(status, {"message": "Not Found"})
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"{self.command} {url.path} {status} {elapsed_ms:.0f} ms", flush=True)

    def _invoke(self, path: str, query: str, body: bytes) -> int:
        environment: ExecutionEnvironment = self.server.owner
        event = http_api_event(
            self.command,
            path,
            headers=dict(Headers(self.headers.items())),
            body=body or None,
            query=query,
            source_ip=self.client_address[0],
        )
        try:
            result = environment.invoke(event)
            response = http_response(result)
        except Exception:
            # What API Gateway answers when the function fails; the traceback is for the developer.
            traceback.print_exc()
            self.send_json(500, {"message": "Internal Server Error"})
            return 500
        self.send_reply(response.status, response.headers.items(), response.body)
        return response.status


if __name__ == "__main__":
    sys.exit(main())
