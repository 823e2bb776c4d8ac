"""Figure 12: what a reconciliation pass costs against the number of open reservations, with and without a
site's history at Anam.

One execution environment (a spawned process running the real handlers from src/) mints N tokens through the
token function's handler (real reservations and labels in moto's table), the Anam stand-in records an ended
session for each, and the reconciliation function's handler runs one pass, timed, while every list request
to Anam waits ANAM_LATENCY_SECONDS, as Anam's list does. N is 1, 10 and 50, each with an empty history and
with HISTORY past sessions of the prefix. The reference is one bare list request to the stand-in (its latency
included) times the rounds of lookups the pass needs (N / LOOKUPS_AT_ONCE, rounded up); the history's effect
is the pass with it over the pass without. `python -m scripts.bench.reconcile` runs this figure alone.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests

from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, create_quota_table
from local.standins.anam import AnamStub
from scripts.bench.report import Row, table
from scripts.bench.stand import API_KEY, PARAMETER_NAME, SECRET_ID, seed_bench

SRC = Path(__file__).resolve().parents[2] / "src"
sys.path.insert(0, str(SRC))

from token_vendor.domain.reconciliation import LOOKUPS_AT_ONCE  # noqa: E402 - from src/, put on the path above

TABLE = "bench-reconcile"
PREFIX = "bench-stack"
ANAM_LATENCY_SECONDS = 0.25
HISTORY = 30_000
OPEN_COUNTS = (1, 10, 50)
RUNS = 3  # passes per figure: the median is quoted
PASS_TIMEOUT_SECONDS = 60.0  # ReconcileFunction's Timeout


def reconcile_rows() -> list[Row]:
    with MotoServer() as moto, AnamStub(api_keys=(API_KEY,)) as stub:
        seed_bench(moto.url)
        create_quota_table(moto.url, TABLE)
        round_trip = _bare_list_request(stub)
        parent, child = multiprocessing.get_context("spawn").Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=_environment, args=(_variables(moto.url, stub.url), child)
        )
        process.start()
        try:
            _ask(parent, ("pass", 0))  # the cold start, with nothing open: Anam is not asked
            rows = []
            for open_count in OPEN_COUNTS:
                without = _passes(parent, stub, open_count, 0)
                with_history = _passes(parent, stub, open_count, HISTORY)
                rows += _rows(open_count, without, with_history, round_trip)
        finally:
            parent.send(None)
            process.join(timeout=30)
    return rows


def _passes(parent: Connection, stub: AnamStub, open_count: int, history: int) -> tuple[float, int]:
    """The median pass time (ms) over RUNS passes, each settling `open_count` fresh reservations, and the
    list requests Anam got in each."""
    print(f"   12. {open_count} open, {history} past sessions", flush=True)
    times, requests_seen = [], set()
    for _ in range(RUNS):
        stub.sessions.clear()
        stub.requests.clear()
        if history:
            stub.sessions.add_history(PREFIX, history, ended_by=time.time() - 900)
        statuses = _ask(parent, ("mint", open_count))
        if statuses != [200] * open_count:
            raise SystemExit(f"bench: minting answered {statuses}")
        started = time.time() - 600
        for label in [request.json["clientLabel"] for request in stub.requests if request.json]:
            stub.sessions.add(label, started_at=started, ended_at=started + 90)
        stub.sessions.latency_seconds = ANAM_LATENCY_SECONDS
        milliseconds, summary = _ask(parent, ("pass", open_count))
        if summary.get("settledUsed") != open_count:
            raise SystemExit(f"bench: the pass settled {summary} of {open_count}")
        times.append(milliseconds)
        requests_seen.add(stub.sessions.list_requests)
    if len(requests_seen) != 1:
        raise SystemExit(f"bench: list requests varied between passes: {requests_seen}")
    return statistics.median(times), requests_seen.pop()


def _rows(
    open_count: int, without: tuple[float, int], with_history: tuple[float, int], round_trip: float
) -> list[Row]:
    rounds = math.ceil(open_count / LOOKUPS_AT_ONCE)
    ideal = rounds * round_trip
    pages = math.ceil((HISTORY + open_count) / 100)
    return [
        Row(
            f"12. reconcile pass, {open_count} open",
            f"{without[0]:.0f} ms, {without[1]} Anam requests",
            f"{ideal:.0f} ms ({rounds} x a list request's {round_trip:.0f} ms; {LOOKUPS_AT_ONCE} at once)",
            without[0] / ideal,
        ),
        Row(
            f"12. reconcile pass, {open_count} open, {HISTORY:,} past",
            f"{with_history[0]:.0f} ms, {with_history[1]} Anam requests",
            f"{without[0]:.0f} ms (the same pass, no history)",
            with_history[0] / without[0],
            target=f"paging the prefix: {pages} requests in series",
            met=with_history[1] == without[1],
        ),
    ]


def _bare_list_request(stub: AnamStub) -> float:
    """One list request to the stand-in, its latency included, on a pooled connection: median of 5 (ms)."""
    stub.sessions.latency_seconds = ANAM_LATENCY_SECONDS
    session = requests.Session()
    samples = []
    for _ in range(6):
        started = time.perf_counter()
        session.get(
            f"{stub.url}/v1/sessions",
            params={"search": f"{PREFIX}:{'0' * 32}", "perPage": "100", "page": "1"},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        ).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    stub.sessions.clear()
    return statistics.median(samples[1:])  # the first opens the connection


def _variables(moto_url: str, anam_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "ANAM_API_KEY_SECRET_ID": SECRET_ID,
        "PERSONA_PARAMETER_NAME": PARAMETER_NAME,
        "ANAM_API_BASE_URL": anam_url,
        "QUOTA_TABLE_NAME": TABLE,
        "MAX_SESSION_LENGTH_SECONDS": "600",
        "CALLER_SESSIONS_PER_HOUR": "0",
        "CALLER_SESSIONS_PER_DAY": "0",
        "DAILY_SESSION_MINUTES": "1000000",
        "MONTHLY_SESSION_MINUTES": "10000000",
        "POWERTOOLS_SERVICE_NAME": PREFIX,
        "POWERTOOLS_METRICS_NAMESPACE": "AnamTokenVendor",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def _ask(parent: Connection, command: tuple[str, int]) -> Any:
    parent.send(command)
    return parent.recv()


def _environment(variables: Mapping[str, str], connection: Connection) -> None:
    """One execution environment: mints through the token function's handler, passes through the
    reconciliation function's, as told on `connection`."""
    os.environ.update(variables)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the metrics' EMF lines; for the process's life
    from local.lambda_context import LambdaContext
    from scripts.bench.stand import post_event
    from token_vendor.handler import lambda_handler as token_handler
    from token_vendor.reconcile_handler import lambda_handler as reconcile_handler

    while (command := connection.recv()) is not None:
        kind, count = command
        if kind == "mint":
            answers = [token_handler(post_event(), LambdaContext()) for _ in range(count)]
            connection.send([answer["statusCode"] for answer in answers])
        else:
            started = time.perf_counter()
            summary = reconcile_handler(
                {"reconcile": True}, LambdaContext(timeout_seconds=PASS_TIMEOUT_SECONDS)
            )
            connection.send(((time.perf_counter() - started) * 1000, summary))


if __name__ == "__main__":
    print(table(reconcile_rows()))
