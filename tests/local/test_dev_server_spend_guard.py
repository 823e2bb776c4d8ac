"""`make dev` runs the spend guard as deployed, against an emulated table made from template.yaml, so that a
frontend developer meets the 429 a visitor would; `--no-guard` turns it off."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
import requests

from local.moto_server import QUOTA_TABLE_RESOURCE, TEMPLATE_PATH, aws_client, template_resource
from local.world import Emulation, EmulationOptions, start
from tests.local.processes import DevServer
from tests.support.dynamodb_engines import clear_of_a_window_end

DEFAULT_HOURLY_TOKENS = 10  # CALLER_SESSIONS_PER_HOUR's default


def test_the_guards_table_is_made_from_the_templates_definition(running: list[Emulation]) -> None:
    environ: dict[str, str] = {}
    notice = io.StringIO()
    emulation = start(EmulationOptions(), environ, notice)
    running.append(emulation)
    assert emulation.moto is not None
    dynamodb = aws_client("dynamodb", emulation.moto.url)
    table = dynamodb.describe_table(TableName=environ["QUOTA_TABLE_NAME"])["Table"]
    declared = template_resource(TEMPLATE_PATH, QUOTA_TABLE_RESOURCE)["Properties"]
    assert table["KeySchema"] == declared["KeySchema"]
    assert table["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]
    ttl = dynamodb.describe_time_to_live(TableName=environ["QUOTA_TABLE_NAME"])["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")


def test_no_guard_sets_no_table(running: list[Emulation]) -> None:
    environ: dict[str, str] = {}
    running.append(start(EmulationOptions(spend_guard=False), environ, io.StringIO()))
    assert "QUOTA_TABLE_NAME" not in environ


def statuses(server: DevServer, count: int) -> list[int]:
    url = f"{server.wait_until_serving()}/session-token"
    clear_of_a_window_end(margin_seconds=15.0)  # the count is per UTC hour: all of them in one
    return [requests.post(url, json={}, timeout=10).status_code for _ in range(count)]


@pytest.mark.parametrize(
    ("args", "last_status"), [((), 429), (("--no-guard",), 200)], ids=["guard-on", "no-guard"]
)
def test_a_developer_meets_the_hourly_limit_unless_the_guard_is_off(
    args: tuple[str, ...], last_status: int
) -> None:
    server = DevServer(*args)
    try:
        assert statuses(server, DEFAULT_HOURLY_TOKENS + 1) == [200] * DEFAULT_HOURLY_TOKENS + [last_status]
        assert any("Pause minting: make pause" in line for line in server.stdout) is (last_status == 429)
    finally:
        server.stop()


def test_the_pause_command_make_dev_prints_pauses_its_guard() -> None:
    server = DevServer()
    try:
        url = f"{server.wait_until_serving()}/session-token"
        printed = next(line for line in server.stdout if "Pause minting: make pause" in line)
        table, endpoint = re.search(r"TABLE=(\S+) ENDPOINT=(\S+)", printed).groups()  # type: ignore[union-attr]
        switch = [
            sys.executable,
            "-m",
            "scripts.spend_switch",
            "pause",
            "--table",
            table,
            "--endpoint-url",
            endpoint,
        ]
        subprocess.run(switch, check=True, capture_output=True, timeout=60)

        answer = requests.post(url, json={}, timeout=10)

        assert (answer.status_code, answer.json()["code"]) == (503, "minting_paused")
    finally:
        server.stop()
