"""Figure 6: what the spend guard adds to a warm p50, against its DynamoDB requests sent bare the same way
(the pause's read, four conditional counter writes and the reservation's record, all at once from a thread
pool: one round trip against DynamoDB; against moto, whose one process serves them with one CPU, nearly the
sum of six)."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.moto_server import aws_client, create_quota_table
from local.standins.anam import TOKEN_PATH
from scripts.bench.cold import ROUND_TRIP_SAMPLES
from scripts.bench.interpreters import Interpreter
from scripts.bench.processes import Child
from scripts.bench.report import Row
from scripts.bench.stand import API_KEY, Stand, environ, post_event
from scripts.bench.warm import percentiles

# The spend guard as deployed, every control on, limits too high to refuse: each token reserves five items.
GUARD_TABLE = "bench-quota"
GUARD_ENVIRON = {
    "QUOTA_TABLE_NAME": GUARD_TABLE,
    "MAX_SESSION_LENGTH_SECONDS": "600",
    "CALLER_SESSIONS_PER_HOUR": "1000000000",
    "CALLER_SESSIONS_PER_DAY": "1000000000",
    "DAILY_SESSION_MINUTES": "1000000000",
    "MONTHLY_SESSION_MINUTES": "1000000000",
}


def guard_row(stand: Stand, interpreter: Interpreter) -> Row:
    """Figure 6: what the guard adds to a warm p50, and how much of it is not its one DynamoDB round trip."""
    create_quota_table(stand.moto.url, GUARD_TABLE)
    without = _warm_p50(stand, interpreter, {})
    with_guard = _warm_p50(stand, interpreter, GUARD_ENVIRON)
    round_trip = _reservation_requests(stand)
    added = with_guard - without
    return Row(
        "6. spend guard, warm p50 added",
        f"{added:.2f} ms ({without:.2f} -> {with_guard:.2f})",
        f"{round_trip:.2f} ms (the same 6 requests, bare, at once: p50)",
        added / round_trip,
        target=f"beyond it: {added - round_trip:+.2f} ms",
    )


def _warm_p50(stand: Stand, interpreter: Interpreter, extra_environ: dict[str, str]) -> float:
    with environ(stand, extra_environ):
        child = Child(stand, interpreter, "warm", post_event())
        try:
            child.read()
            sent = stand.stub.requests[-1].body.decode()
            child.send({"body": sent, "key": API_KEY, "url": stand.anam_twin.url + TOKEN_PATH})
            result = child.read()
        finally:
            child.close()
    if result["statuses"] != [200]:
        raise SystemExit(f"bench: warm answers {result['statuses']} (guard: {bool(extra_environ)})")
    return percentiles(result["latencies"])[0]


def _reservation_requests(stand: Stand) -> float:
    """What one reservation sends, bare, through the AWS proxy from a pooled client, all six at once."""
    dynamodb = aws_client("dynamodb", stand.aws.url)
    expires = str(int(time.time()) + 86400)

    def counter(key: str) -> Callable[[], Any]:
        return lambda: dynamodb.update_item(
            TableName=GUARD_TABLE,
            Key={"pk": {"S": key}},
            UpdateExpression="ADD used :one SET expiresAt = :expires",
            ConditionExpression="attribute_not_exists(used) OR used <= :room",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":room": {"N": "1000000000"},
                ":expires": {"N": expires},
            },
        )

    def requests() -> list[Callable[[], Any]]:
        return [
            lambda: dynamodb.get_item(
                TableName=GUARD_TABLE, Key={"pk": {"S": "control"}}, ConsistentRead=True
            ),
            *(
                counter(key)
                for key in ("caller#bench#hour", "caller#bench#day", "budget#day", "budget#month")
            ),
            lambda: dynamodb.put_item(
                TableName=GUARD_TABLE,
                Item={"pk": {"S": f"reservation#{uuid.uuid4().hex}"}, "expiresAt": {"N": expires}},
            ),
        ]

    samples = []
    with ThreadPoolExecutor(max_workers=6) as pool:
        for sample in range(ROUND_TRIP_SAMPLES * 4 + 1):
            started = time.perf_counter()
            for future in [pool.submit(request) for request in requests()]:
                future.result()
            if sample:  # the first opens the pooled connections
                samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)
