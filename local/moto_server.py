"""AWS emulated by moto's server over real HTTP, so the function's boto3 clients run unmodified against it.

moto's server rather than its in-process mock: the function's clients, retries, timeouts and connection pool
do exactly what they do in Lambda, and a `FaultProxy` can sit between them and moto.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import boto3
import yaml
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

REGION = "us-east-1"
# moto accepts any credentials; fixed dummy ones make sure no real ones from the environment are ever sent.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"
QUOTA_TABLE_RESOURCE = "QuotaTable"


class MotoServer:
    """moto's threaded server on 127.0.0.1 and a free port; `serial=True`: one request at a time."""

    def __init__(self, *, serial: bool = False) -> None:
        self._serial = serial
        self._server: ThreadedMotoServer | None = None
        self._url: str | None = None

    def start(self) -> MotoServer:
        # werkzeug prints one line per request to stderr unless its logger already has a level.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server_class = _SerialMotoServer if self._serial else ThreadedMotoServer
        server = server_class(ip_address="127.0.0.1", port=0, verbose=False)
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


class _SerialMotoServer(ThreadedMotoServer):
    """moto's server answering one request at a time. moto applies a conditional write (and a transaction,
    which it rolls back by restoring a copy of the whole table) without a lock, so under its threaded server
    two writes to one item can interleave, which DynamoDB never lets happen. Served serially, each is atomic,
    as in DynamoDB, while clients still race: their requests arrive in any order."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._ip_address, self._port, app, threaded=False, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


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


def seed_personas(endpoint_url: str, path: str, personas: Mapping[str, Mapping[str, Any] | str]) -> None:
    """Store each named persona as `<path>/<name>` (docs/contract.md §4), a SecureString, as operators do."""
    ssm = aws_client("ssm", endpoint_url)
    for name, persona in personas.items():
        value = persona if isinstance(persona, str) else json.dumps(persona)
        ssm.put_parameter(Name=f"{path.rstrip('/')}/{name}", Value=value, Type="SecureString", Overwrite=True)


def create_quota_table(endpoint_url: str, table_name: str, template_path: Path = TEMPLATE_PATH) -> str:
    """The spend guard's table, new and empty, as template.yaml declares it (key schema, the open
    reservations' index, billing, TTL), so that what the tests and `make dev` run against cannot drift from
    what is deployed. Works against any DynamoDB endpoint on this machine (moto, DynamoDB Local). Returns its
    name. Deletion protection is left off: the tests delete and recreate the table.

    An older table of that name goes first: moto's servers in one process share their state."""
    properties = template_resource(template_path, QUOTA_TABLE_RESOURCE)["Properties"]
    dynamodb = aws_client("dynamodb", endpoint_url)
    with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.delete_table(TableName=table_name)
    dynamodb.create_table(
        TableName=table_name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        GlobalSecondaryIndexes=properties.get("GlobalSecondaryIndexes", []),
        BillingMode=properties["BillingMode"],
        # CloudFormation spells the API's "Enabled" as "SSEEnabled".
        SSESpecification={"Enabled": properties["SSESpecification"]["SSEEnabled"]},
    )
    dynamodb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification=properties["TimeToLiveSpecification"]
    )
    return table_name


def load_template(template_path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml as plain data (short-form intrinsics read as their arguments)."""
    template: dict[str, Any] = yaml.load(template_path.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506
    return template


def template_resource(template_path: Path, name: str) -> dict[str, Any]:
    resource: dict[str, Any] = load_template(template_path)["Resources"][name]
    return resource


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form intrinsics (!Ref, !If, ...) as plain values: only literal properties
    are used here."""


def _intrinsic(loader: Any, suffix: str, node: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_TemplateLoader.add_multi_constructor("!", _intrinsic)
