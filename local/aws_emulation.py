"""AWS emulated by moto's server over real HTTP, so the function's boto3 clients run unmodified against it.

moto's server rather than its in-process mock: the function's clients, retries, timeouts and connection pool
do exactly what they do in Lambda, and a `FaultProxy` can sit between them and moto.
"""

from __future__ import annotations

import functools
import json
import logging
import urllib.request
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

REGION = "us-east-1"
# moto accepts any credentials; fixed dummy ones make sure no real ones from the environment are ever sent.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class MotoServer:
    """moto's threaded server on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        self._server: ThreadedMotoServer | None = None
        self._url: str | None = None

    def start(self) -> MotoServer:
        # werkzeug prints one line per request to stderr unless its logger already has a level.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server, self._url = server, f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = self._url = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("MotoServer is not running: call start() or use it as a context manager")
        return self._url

    def reset(self) -> None:
        """Delete every emulated resource (moto's /moto-api/reset)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310 - our http URL
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()


@functools.cache  # building a client costs ~0.1 s; tests and tools seed many times against one server
def aws_client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for the emulation at `endpoint_url`; refuses any endpoint that is not this machine."""
    if urlsplit(endpoint_url).hostname not in _LOOPBACK:
        raise ValueError(f"aws_client talks to local emulations only, not {endpoint_url!r}")
    session = boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS)
    return session.client(service, endpoint_url=endpoint_url)


def seed(
    endpoint_url: str,
    *,
    secret_id: str,
    secret_value: str,
    parameter_name: str,
    persona: Mapping[str, Any] | str,
    secure: bool = True,
) -> None:
    """Create or update the API key secret and the persona parameter the function reads."""
    secrets = aws_client("secretsmanager", endpoint_url)
    try:
        secrets.create_secret(Name=secret_id, SecretString=secret_value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=secret_id, SecretString=secret_value)
    value = persona if isinstance(persona, str) else json.dumps(persona)
    aws_client("ssm", endpoint_url).put_parameter(
        Name=parameter_name, Value=value, Type="SecureString" if secure else "String", Overwrite=True
    )
