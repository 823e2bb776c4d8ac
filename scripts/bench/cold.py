"""Figures 1 and 2: the handler's import, and the first request of a fresh process with 50 ms per call."""

from __future__ import annotations

import json
import statistics
import time
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

from local.moto_server import REGION
from local.standins.anam import TOKEN_PATH
from local.world import DEFAULT_PERSONA_PATH
from scripts.bench.interpreters import Interpreter
from scripts.bench.processes import alternating, one
from scripts.bench.report import Row, ratio_row
from scripts.bench.stand import (
    ADDED_DELAY_SECONDS,
    API_KEY,
    PARAMETER_NAME,
    PROMPT,
    SECRET_ID,
    Stand,
    post_event,
)

IMPORT_TARGET = 1.3
COLD_TARGET = 1.2
ROUND_TRIP_SAMPLES = 15


def import_row(stand: Stand, interpreter: Interpreter, runs: int) -> tuple[Row, float]:
    """Figure 1, and its reference's median (the import of boto3 and requests), which figure 2 starts from."""
    reference_import, handler_import = alternating(
        runs,
        lambda: float(one(stand, interpreter, "import-reference")["ms"]),
        lambda: float(one(stand, interpreter, "import-handler")["ms"]),
    )
    import_ms = statistics.median(reference_import)
    row = ratio_row(
        "1. handler import",
        statistics.median(handler_import),
        import_ms,
        "import boto3, requests",
        IMPORT_TARGET,
    )
    return row, import_ms


def first_request_row(
    stand: Stand, interpreter: Interpreter, runs: int, import_ms: float
) -> tuple[Row, float]:
    """Figure 2, and its median (import and first request), which figure 7 compares the prefetch with."""
    stand.delay(ADDED_DELAY_SECONDS)
    aws_round_trip = _aws_round_trip(stand)
    anam_round_trip = _anam_round_trip(stand)
    event = post_event()

    cold_imports: list[float] = []

    def cold() -> float:
        stand.reset_counters()
        result = one(stand, interpreter, "cold", event)
        if result["status"] != 200:
            raise SystemExit(f"bench: the cold request answered {result['status']}")
        cold_imports.append(float(result["import_ms"]))
        return float(result["ms"])

    (cold_ms,) = alternating(runs, cold)
    stand.delay(0.0)
    ideal = import_ms + aws_round_trip + anam_round_trip
    row = ratio_row(
        "2. first request, +50 ms/call",
        statistics.median(cold_ms),
        ideal,
        f"{import_ms:.0f} import + {aws_round_trip:.0f} AWS + {anam_round_trip:.0f} Anam",
        COLD_TARGET,
        detail=f"import {statistics.median(cold_imports):.0f} + request",
    )
    return row, statistics.median(cold_ms)


def _aws_round_trip(stand: Stand) -> float:
    """One bare AWS call through the proxy on a new connection (the slower of the two the function makes)."""
    calls = {
        "AmazonSSM.GetParameter": {"Name": PARAMETER_NAME, "WithDecryption": True},
        "secretsmanager.GetSecretValue": {"SecretId": SECRET_ID},
    }
    medians = []
    for target, payload in calls.items():
        service = "ssm" if target.startswith("AmazonSSM") else "secretsmanager"
        headers = {
            "X-Amz-Target": target,
            "Content-Type": "application/x-amz-json-1.1",
            # moto routes by the credential scope; it does not check the signature.
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
        }
        medians.append(_round_trip(stand.aws.url, "/", json.dumps(payload).encode(), headers))
    return max(medians)


def _anam_round_trip(stand: Stand) -> float:
    """One bare POST to the Anam stand-in through the proxy on a new connection, with the function's body."""
    body = json.dumps(_anam_body(), separators=(",", ":")).encode()
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    return _round_trip(stand.anam.url, TOKEN_PATH, body, headers)


def _anam_body() -> dict[str, Any]:
    persona = json.loads(DEFAULT_PERSONA_PATH.read_text(encoding="utf-8"))
    persona["systemPrompt"] = persona["systemPrompt"].replace("{{prompt}}", PROMPT)
    return {"personaConfig": persona}


def _round_trip(url: str, path: str, body: bytes, headers: dict[str, str]) -> float:
    parts = urlsplit(url)
    samples = []
    for _ in range(ROUND_TRIP_SAMPLES):
        started = time.perf_counter()
        connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise SystemExit(f"bench: the bare round trip to {url}{path} answered {response.status}")
    return statistics.median(samples)
