"""`make dev`: the real handler behind http://127.0.0.1:3000/session-token, as API Gateway would run it.

Each HTTP request becomes a payload 2.0 event with a fresh Lambda context; requests run one at a time through
a handler imported once, like a single warm execution environment. AWS and Anam are set up by
`local.world` (offline by default, loudly). The example page (examples/web/dist) is served at
http://127.0.0.1:3000/, wired to this endpoint and, offline, to the Anam stand-in (local/web_page.py).
The function logs in a compact human format here (JSON with `--log-format json`, as in AWS). Run
`python -m local.dev_server --help` for the options.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import errno
import json
import os
import secrets
import signal
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from types import FrameType
from urllib.parse import urlsplit

from local import dev_server_options as options
from local import reconcile, web_page
from local.edge_proxy import EdgeProxy
from local.execution_environment import ExecutionEnvironment
from local.http_api_event import http_api_event, http_response
from local.http_body import UnreadableBody
from local.http_plumbing import Headers, LocalHTTPServer, LocalRequestHandler
from local.log_format import use_compact_format
from local.world import EmulationError, EmulationOptions, load_handler, start

ROUTE = "/session-token"
# Where a page says its session ended (contract §12): the API's second path, which reaches the function too.
SESSION_ENDED_ROUTE = "/session-ended"
EXIT_CANNOT_START = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = options.parser().parse_args(argv)
    # Started from a background shell or `nohup`, the process inherits SIGINT ignored, and Python keeps it so:
    # Ctrl-C (and a test's stop) would then do nothing. Ctrl-C always ends the server here.
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
        if exc.errno == errno.EADDRINUSE:
            reason = f'the port is already in use; pick another: make dev ARGS="--port {args.port + 1}"'
        else:
            reason = exc.strerror or str(exc)
        print(f"dev_server: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return EXIT_CANNOT_START
    emulation = edge = None
    origin_secret = secrets.token_urlsafe(32) if args.behind_cloudfront else None
    try:
        os.environ["ALLOWED_ORIGINS"] = _with_own_origin(args.allowed_origins, args.host, args.port)
        emulation = start(
            EmulationOptions(
                persona_path=args.persona,
                real_aws=args.aws,
                secret_id=args.secret_id,
                parameter_name=args.parameter_name,
                stub_token_type=args.stub_token_type,
                stub_port=args.stub_port,
                spend_guard=not args.no_guard,
                origin_verify_secret=origin_secret,
            )
        )
        handler = load_handler()
        if args.log_format == "human":
            use_compact_format(os.environ["POWERTOOLS_SERVICE_NAME"])
        stand_in = emulation.stub.url if emulation.stub is not None else None
        personas = web_page.describe_personas() if emulation.environ.get("PERSONAS_PARAMETER_PATH") else []
        page = web_page.page_config(ROUTE, stand_in, personas, os.environ.get("TURNSTILE_SITE_KEY"))
        server.owner = ExecutionEnvironment(handler, page, quiet_metrics=args.log_format == "human")
        if stand_in is not None:
            print(f"Offline Anam stand-in at {stand_in}", flush=True)
        if "QUOTA_TABLE_NAME" in emulation.environ and emulation.moto is not None:
            print(_spend_guard_notice(emulation.environ["QUOTA_TABLE_NAME"], emulation.moto.url), flush=True)
        port = server.socket.getsockname()[1]
        if origin_secret is not None:
            edge = EdgeProxy(f"http://{args.host}:{port}", origin_secret, args.host, args.edge_port).start()
            print(edge.notice(ROUTE), flush=True)
        print(f"Serving http://{args.host}:{port}{ROUTE}", flush=True)
        print(f"Example page: http://{args.host}:{port}/   <- open this in a browser", flush=True)
        server.serve_forever()
    except EmulationError as exc:
        print(f"dev_server: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    finally:
        server.server_close()
        server.close_connections(idle_only=False)
        if edge is not None:
            edge.stop()
        if emulation is not None:
            emulation.stop()
    return 0


def _spend_guard_notice(table: str, endpoint_url: str) -> str:
    switch = f"make {{}} TABLE={table} ENDPOINT={endpoint_url}"
    return (
        "Spend guard on (--no-guard turns it off): 10 tokens an hour per caller, or CALLER_SESSIONS_PER_HOUR;"
        " restarting make dev empties it."
        f"\n  Pause minting: {switch.format('pause')}\n  Resume: {switch.format('resume')}"
    )


def _with_own_origin(allowed_origins: str, host: str, port: int) -> str:
    """The example page this server serves calls the endpoint from the server's own origin."""
    origins = [origin.strip() for origin in allowed_origins.split(",") if origin.strip()]
    if "*" in origins:
        return allowed_origins
    own = [f"http://{name}:{port}" for name in dict.fromkeys([host, "127.0.0.1", "localhost"])]
    return ",".join(dict.fromkeys([*origins, *own]))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM ends the server the way Ctrl-C does: through the same clean shutdown.
    raise KeyboardInterrupt


class _DevHandler(LocalRequestHandler):
    def respond(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        status = self._answer(url.path, url.query)
        if status is None:
            return  # the page's own files are not worth a log line each
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"{self.command} {url.path} {status} {elapsed_ms:.0f} ms", flush=True)

    def _answer(self, path: str, query: str) -> int | None:
        """Answer the request; its status, or None for one of the page's files."""
        try:
            body = self.read_body()
        except UnreadableBody:
            # API Gateway answers such a request itself; the function never sees it. Where the body ends is
            # unknown, so nothing more can be read from this connection.
            self.close_connection = True
            self.send_json(400, {"message": "Bad Request"})
            return 400
        if path in (ROUTE, SESSION_ENDED_ROUTE):
            return self._invoke(path, query, body)
        if path == reconcile.ROUTE and self.command == "POST":  # `make reconcile`
            return reconcile.answer(self, self.server.owner)
        if self.command in ("GET", "HEAD") and self._serve_page(path):
            return None
        # API Gateway's own answer for a route the API does not have.
        self.send_json(404, {"message": "Not Found"})
        return 404

    def _serve_page(self, path: str) -> int:
        """The example page and its files; 0 when `path` is none of them."""
        environment: ExecutionEnvironment = self.server.owner
        if path in ("/", "/index.html"):
            config = {**environment.page, "endpoint": f"http://{self._host()}{ROUTE}"}
            self.send_reply(200, _PAGE_HEADERS["html"], web_page.index_html(config))
            return 200
        found = web_page.static_file(path.removeprefix("/"))
        if found is None:
            return 0
        content_type, content = found
        self.send_reply(200, [("Content-Type", content_type), *_PAGE_HEADERS["file"]], content)
        return 200

    def _host(self) -> str:
        # The name the browser used (localhost or 127.0.0.1): the page then calls its own origin.
        port = self.server.socket.getsockname()[1]
        return self.headers.get("Host") or f"127.0.0.1:{port}"

    def _invoke(self, path: str, query: str, body: bytes) -> int:
        environment: ExecutionEnvironment = self.server.owner
        headers = Headers(self.headers.items())
        event = http_api_event(
            self.command,
            path,
            headers=dict(headers),
            body=body or None,
            query=query,
            source_ip=self.client_address[0],
            claims=_unverified_claims(headers.get("Authorization", "")),
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
        self._note_refused_origin(headers, response.headers)
        return response.status

    def _note_refused_origin(self, request: Headers, response: Mapping[str, str]) -> None:
        """Say so when a browser will refuse to let its page read the answer: it shows the page no reason."""
        origin = request.get("Origin")
        if not origin or origin == f"http://{self._host()}":
            return  # not a cross-origin request: CORS does not apply
        if any(name.lower() == "access-control-allow-origin" for name in response):
            return
        allowed = os.environ.get("ALLOWED_ORIGINS", "")
        with_origin = f"{allowed},{origin}" if allowed else origin
        print(
            f"CORS: refused origin {origin}: not in ALLOWED_ORIGINS={allowed or '(empty)'}, so the browser "
            f'hides this answer from the page. To allow it: make dev ARGS="--allowed-origins {with_origin}"',
            flush=True,
        )


# The page is rebuilt while the server runs (`make web`): the browser must not keep an old copy.
_PAGE_HEADERS = {
    "html": [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
    "file": [("Cache-Control", "no-cache")],
}


def _unverified_claims(authorization: str) -> dict[str, str] | None:
    """The claims of a `Bearer <JWT>` sign-in token, NOT verified: the dev server's stand-in for the HTTP
    API's JWT authorizer, so that a page's sign-in token and a persona's claim variables can be tried here."""
    scheme, _, token = authorization.partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    return {
        str(name): value if isinstance(value, str) else json.dumps(value) for name, value in claims.items()
    }


if __name__ == "__main__":
    sys.exit(main())
