"""docs/contract.md §7, traces: subsegments are opt-in, cost no import when off, and carry no secret when on.

Tracing patches botocore and requests for the whole process, so each case runs the handler in a child
process, set up as Lambda runs it, with the X-Ray daemon played by a UDP socket on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from local.http_api_event import http_api_event
from tests.conftest import API_KEY
from tests.support.leak_scan import scan

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "Mention the winter offer to Mr. Abernathy-Tolliver."

CHILD = """
import json, sys
from local.lambda_context import LambdaContext
from token_vendor.handler import lambda_handler

results = [lambda_handler(event, LambdaContext()) for event in json.load(sys.stdin)]
print(json.dumps({"results": results, "xray_imported": "aws_xray_sdk" in sys.modules}))
"""


@pytest.fixture
def xray_daemon():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.2)
        yield daemon


def run_in_lambda_like_process(env: dict[str, str], daemon: socket.socket, trace: bool) -> dict[str, Any]:
    events = [
        {"warmup": True},
        http_api_event(
            "POST", headers={"content-type": "application/json"}, body=json.dumps({"prompt": PROMPT})
        ),
    ]
    child_env = {
        **env,
        "PATH": os.environ["PATH"],
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        "POWERTOOLS_SERVICE_NAME": "anam-token-vendor",
        "POWERTOOLS_METRICS_NAMESPACE": "AnamTokenVendor",
        "TRACE_SUBSEGMENTS": "true" if trace else "false",
        # What Lambda sets for a sampled invocation.
        "AWS_LAMBDA_FUNCTION_NAME": "anam-token-vendor",
        "LAMBDA_TASK_ROOT": str(ROOT / "src"),
        "_X_AMZN_TRACE_ID": "Root=1-6743e3a0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    process = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        env=child_env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    output = json.loads(process.stdout.splitlines()[-1])
    output["documents"] = _received(daemon)
    output["log"] = process.stderr
    return output


def _received(daemon: socket.socket) -> list[dict[str, Any]]:
    documents, deadline = [], time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            datagram = daemon.recv(65536).decode()
        except TimeoutError:
            continue
        header, _, document = datagram.partition("\n")
        assert json.loads(header)["format"] == "json"
        documents.append(json.loads(document))
    return documents


def test_with_tracing_off_the_x_ray_sdk_is_not_even_imported(function_env, xray_daemon):
    run = run_in_lambda_like_process(function_env, xray_daemon, trace=False)
    assert run["results"][0] == {"warmed": True}
    assert run["results"][1]["statusCode"] == 200
    assert run["xray_imported"] is False
    assert run["documents"] == []


def test_with_tracing_on_aws_and_anam_calls_are_subsegments_without_secrets(function_env, xray_daemon):
    run = run_in_lambda_like_process(function_env, xray_daemon, trace=True)
    token = json.loads(run["results"][1]["body"])["sessionToken"]
    scan.register(PROMPT, token)

    names = {document["name"] for document in run["documents"]}
    assert {"ssm", "secretsmanager", "127.0.0.1"} <= names, names
    traces = json.dumps(run["documents"])
    for secret in (API_KEY, token, PROMPT, "Abernathy"):
        assert secret not in traces
