"""Figure 6: what the spend guard adds to a warm p50, against one DynamoDB round trip (its writes are sent
together, so a reservation costs one)."""

from __future__ import annotations

import statistics
import time
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
    round_trip = _update_round_trip(stand)
    added = with_guard - without
    return Row(
        "6. spend guard, warm p50 added",
        f"{added:.2f} ms ({without:.2f} -> {with_guard:.2f})",
        f"{round_trip:.2f} ms (bare UpdateItem p50)",
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


def _update_round_trip(stand: Stand) -> float:
    """A bare pooled conditional UpdateItem through the AWS proxy: one of the reservation's writes."""
    dynamodb = aws_client("dynamodb", stand.aws.url)
    arguments: dict[str, Any] = {
        "TableName": GUARD_TABLE,
        "Key": {"pk": {"S": "budget#bench"}},
        "UpdateExpression": "ADD used :one SET expiresAt = :expires",
        "ConditionExpression": "attribute_not_exists(used) OR used <= :room",
        "ExpressionAttributeValues": {
            ":one": {"N": "1"},
            ":room": {"N": "1000000000"},
            ":expires": {"N": str(int(time.time()) + 86400)},
        },
    }
    dynamodb.update_item(**arguments)  # opens the pooled connection
    samples = []
    for _ in range(ROUND_TRIP_SAMPLES * 4):
        started = time.perf_counter()
        dynamodb.update_item(**arguments)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)
