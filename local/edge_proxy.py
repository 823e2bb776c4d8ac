"""A simulated CloudFront in front of `make dev` (`make dev ARGS=--behind-cloudfront`; docs/contract.md §8).

Like the template's distribution, it adds the origin secret as `x-origin-verify` and the viewer's address as
`CloudFront-Viewer-Address` to every request, replacing whatever the client sent under those names, and
forwards it to the dev server. The viewer is the address and port the proxy saw, or the value of an
`X-Simulated-Viewer: <ip>:<port>` header, so that one laptop can play several visitors behind one edge and see
them counted apart. The dev server itself then plays API Gateway, whose sourceIp is this proxy's address.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from local.http_plumbing import Headers, LocalRequestHandler, LocalService
from local.world import EmulationError

SIMULATED_VIEWER_HEADER = "X-Simulated-Viewer"
ORIGIN_VERIFY_HEADER = "x-origin-verify"
VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"
# What the edge sets itself, and what belongs to one hop only: never passed on as the client sent it.
_REPLACED = frozenset({ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER.lower(), SIMULATED_VIEWER_HEADER.lower()})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "trailer", "upgrade", "transfer-encoding"})
_ORIGIN_TIMEOUT_SECONDS = 30.0


class EdgeProxy(LocalService):
    """The edge: `start()` it in front of the dev server at `origin_url`; `url` is where viewers call."""

    def __init__(self, origin_url: str, origin_secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _EdgeHandler, "edge-proxy")
        self.origin_url = origin_url
        self._origin_secret = origin_secret

    def start(self) -> EdgeProxy:
        try:
            return super().start()
        except OSError as exc:
            port = self._address[1]
            raise EmulationError(
                f"cannot start the simulated CloudFront on port {port}: {exc.strerror}"
            ) from exc

    def origin_headers(self, received: Headers, client_address: tuple[str, int]) -> dict[str, str]:
        """The headers the origin gets: the client's (its Host kept, so that the example page served through
        the edge calls the edge), less what the edge sets itself, plus the secret and the viewer's address."""
        host, port = client_address[:2]
        viewer = received.get(SIMULATED_VIEWER_HEADER) or f"{host}:{port}"  # IPv6 unbracketed, as CloudFront
        kept = {
            name: value for name, value in received.items() if name.lower() not in _REPLACED | _HOP_BY_HOP
        }
        return {**kept, ORIGIN_VERIFY_HEADER: self._origin_secret, VIEWER_ADDRESS_HEADER: viewer}

    def notice(self, route: str) -> str:
        direct = f"{self.origin_url}{route}"
        return (
            f"Behind a simulated CloudFront: {self.url}{route}  <- call this one; {direct} now answers 403"
            f"\n  The example page through it: {self.url}/"
            f"\n  Several visitors through one edge: add -H '{SIMULATED_VIEWER_HEADER}: 203.0.113.7:50000'"
            " with another address for each; each is counted as its own caller"
        )


class _EdgeHandler(LocalRequestHandler):
    def respond(self) -> None:
        edge: EdgeProxy = self.server.owner
        body = self.read_body()
        headers = edge.origin_headers(Headers(self.headers.items()), self.client_address)
        origin = urlsplit(edge.origin_url)
        connection = http.client.HTTPConnection(
            origin.hostname or "", origin.port, timeout=_ORIGIN_TIMEOUT_SECONDS
        )
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            status, reply_headers, payload = response.status, response.getheaders(), response.read()
        except OSError:
            # What CloudFront answers when its origin cannot be reached.
            self.send_json(502, {"message": "The edge could not reach the dev server."})
            return
        finally:
            connection.close()
        self.send_reply(status, [(n, v) for n, v in reply_headers if n.lower() not in _HOP_BY_HOP], payload)
