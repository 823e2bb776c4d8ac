"""Figure 10: launch day. N execution environments (processes) x M distinct callers each, all at once, against
one guard table through DynamoDB's transaction conflicts (local/dynamodb_conflicts.py, 20 ms hold): failures
(must be 0), p50 and p99 of a reservation against the same crowd each sending one bare UpdateItem (what a
single round trip costs under that load), and the capacity units per token counted from the requests the
proxy saw. Then the same crowd with one transaction per token (the design
this ledger replaced), and the ceiling that DynamoDB's per-item write limit puts on tokens per second.

Run on moto served one request at a time (atomic writes, as DynamoDB's) and, when it is installed, on AWS's
DynamoDB Local. `python -m scripts.bench.launch` runs this figure alone.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local.dynamodb_conflicts import ConflictModel
from local.dynamodb_local import DynamoDbLocal, missing
from local.fault_proxy import FaultProxy
from local.moto_server import DUMMY_CREDENTIALS, REGION, MotoServer, aws_client, create_quota_table
from scripts.bench.report import Row

# The guard runs in this process and its children (not through the handler in a fresh interpreter, as the
# other figures do): the function's package from src/, as the tests import it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from token_vendor.adapters import dynamodb_table
from token_vendor.adapters.dynamodb_ledger import DynamoDbLedger
from token_vendor.adapters.dynamodb_reservations import DynamoDbReservations
from token_vendor.adapters.dynamodb_table import DynamoDbTable
from token_vendor.domain.spend_guard import Limits
from token_vendor.errors import TokenVendorError
from token_vendor.guard import LedgerSpendGuard

TABLE = "launch-quota"
ENVIRONMENTS = 10
CALLERS_PER_ENVIRONMENT = 4  # the launch: 40 distinct visitors at once
HOLD_SECONDS = 0.02
# Every control on: the caller's hour and day, a day's and a month's budget; nothing refuses.
LIMITS = Limits(caller_sessions_per_hour=10, caller_sessions_per_day=30, daily_session_minutes=10**6,
                monthly_session_minutes=10**7)  # fmt: skip
# DynamoDB's documented throughput limit of one partition, which holds each budget item whole.
PARTITION_WRITE_UNITS_PER_SECOND = 1000
PARTITION_READ_UNITS_PER_SECOND = 3000


def launch_rows() -> list[Row]:
    rows: list[Row] = []
    with MotoServer(serial=True) as moto:
        # moto serves one request at a time: 200 requests at once queue past production's 1 s read timeout,
        # which is moto's queue, not DynamoDB. The guard there waits as long as the queue takes.
        rows += _engine_rows("moto (serial)", moto.url, patient=True)
    reason = missing()
    if reason is None:
        with DynamoDbLocal() as local:
            rows += _engine_rows("DynamoDB Local", local.url)
    else:
        print(f"   (DynamoDB Local skipped: {reason})", flush=True)
    rows.append(_ceiling_row())
    return rows


def _engine_rows(engine: str, engine_url: str, *, patient: bool = False) -> list[Row]:
    with _table_behind_conflicts(engine_url) as (proxy, model):
        _, bare = _crowd(proxy.url, "update", patient)
        round_trip = statistics.median(bare)
        model.reset_counters()
        outcomes, latencies = _crowd(proxy.url, "ledger", patient)
        tokens = outcomes.count("minted")
        failures = len(outcomes) - tokens
        writes, reads = model.write_units / max(tokens, 1), model.read_units / max(tokens, 1)
        used = _budgets_used(engine_url)
        exact = used == {"day": tokens * 10, "month": tokens * 10}
    with _table_behind_conflicts(engine_url) as (proxy, model):
        old_outcomes, _ = _crowd(proxy.url, "transaction", patient)
        cancelled = old_outcomes.count("TransactionCanceledException")
    p50, p99 = statistics.median(latencies), _percentile(latencies, 0.99)
    crowd = f"{ENVIRONMENTS} environments x {CALLERS_PER_ENVIRONMENT} callers"
    return [
        Row(
            f"10. launch day, {engine}",
            f"{failures} failed of {len(outcomes)} ({crowd}){_codes(outcomes)}; "
            f"budget exact: {'yes' if exact else 'NO'}",
            f"one transaction a token: {cancelled} of {len(old_outcomes)} cancelled (TransactionConflict)",
            target="0 failed",
            met=failures == 0 and exact,
        ),
        Row(
            f"10. reservation p50, p99, {engine}",
            f"p50 {p50 / round_trip:.1f}x, p99 {p99 / round_trip:.1f}x the bare p50 "
            f"(p99/p50 {p99 / p50:.1f})",
            "the same crowd, one bare UpdateItem each: its p50",
            p50 / round_trip,
        ),
        Row(
            f"10. capacity per token, {engine}",
            f"{writes:.1f} write units, {reads:.1f} read units (the pause's consistent read)",
            "4 counters + 1 record: 5 WCU; 1 RCU",
            target="5 WCU, 1 RCU",
            met=round(writes, 1) == 5.0 and round(reads, 1) == 1.0,
        ),
    ]


def _ceiling_row() -> Row:
    # Each budget item gets one write per token (its conditional ADD) and one more per give-back; a refused
    # caller's request writes each budget item twice (accepted, then given back).
    per_token = 1
    tokens_per_second = PARTITION_WRITE_UNITS_PER_SECOND / per_token
    return Row(
        "10. ceiling per budget item",
        f"~{tokens_per_second:,.0f} tokens/s per budget (1,000 WCU/s / {per_token} write per token); "
        f"pause read: {PARTITION_READ_UNITS_PER_SECOND:,} tokens/s",
        "each budget item is one partition key: DynamoDB's per-partition limit is 1,000 WCU/s, 3,000 RCU/s",
        target="a refused caller costs 2 writes on each budget item",
    )


@contextmanager
def _table_behind_conflicts(engine_url: str) -> Iterator[tuple[FaultProxy, ConflictModel]]:
    create_quota_table(engine_url, TABLE)
    with FaultProxy(engine_url) as proxy:
        model = ConflictModel(HOLD_SECONDS)
        proxy.conflicts = model
        yield proxy, model


def _crowd(endpoint_url: str, design: str, patient: bool = False) -> tuple[list[str], list[float]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(ENVIRONMENTS)
    results = context.Queue()
    processes = [
        context.Process(target=_environment, args=(endpoint_url, design, env, barrier, results, patient))
        for env in range(ENVIRONMENTS)
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=300) for _ in range(ENVIRONMENTS * CALLERS_PER_ENVIRONMENT)]
    for process in processes:
        process.join(timeout=10)
    return [outcome for outcome, _ in answers], [ms for _, ms in answers]


def _environment(
    endpoint_url: str, design: str, env: int, barrier: Barrier, results: Any, patient: bool
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    wait = Config(read_timeout=15) if patient else Config()
    session = boto3.session.Session(region_name=REGION, **DUMMY_CREDENTIALS)
    client = session.client(
        "dynamodb", endpoint_url=endpoint_url, config=dynamodb_table.CLIENT_CONFIG.merge(wait)
    )
    # The guard's own clients, with production's configuration (its writes' one attempt too).
    table = DynamoDbTable(
        TABLE,
        lambda service, config: session.client(service, endpoint_url=endpoint_url, config=config.merge(wait)),
    )
    guard = LedgerSpendGuard(DynamoDbLedger(table), LIMITS, DynamoDbReservations(table))
    callers = [f"10.{env}.0.{n}" for n in range(CALLERS_PER_ENVIRONMENT)]

    def one(caller: str) -> tuple[str, float]:
        started = time.perf_counter()
        outcome = {"ledger": _reserve, "transaction": _transaction, "update": _update}[design](
            guard, client, caller
        )
        return outcome, (time.perf_counter() - started) * 1000

    barrier.wait()
    with ThreadPoolExecutor(max_workers=CALLERS_PER_ENVIRONMENT) as pool:
        for answer in pool.map(one, callers):
            results.put(answer)


def _reserve(guard: LedgerSpendGuard, client: Any, caller: str) -> str:
    try:
        reservation = guard.reserve(
            caller, 600, datetime.now(UTC), hash_key="bench", deadline=time.monotonic() + 10
        )
    except TokenVendorError as err:
        return f"{err.code} ({err.detail})"  # the detail says which request failed and how
    guard.keep(reservation, None)
    return "minted"


def _transaction(guard: LedgerSpendGuard, client: Any, caller: str) -> str:
    """One token as the replaced ledger wrote it: the pause's check and four counters in one transaction."""
    now = datetime.now(UTC)
    keys = [
        f"caller#{caller}#hour",
        f"caller#{caller}#day",
        f"budget#day#{now:%Y-%m-%d}",
        f"budget#month#{now:%Y-%m}",
    ]
    items: list[dict[str, Any]] = [{"ConditionCheck": {
        "TableName": TABLE, "Key": {"pk": {"S": "control"}},
        "ConditionExpression": "attribute_not_exists(paused) OR paused = :false",
        "ExpressionAttributeValues": {":false": {"BOOL": False}}}}]  # fmt: skip
    items += [{"Update": {"TableName": TABLE, "Key": {"pk": {"S": key}}, "UpdateExpression": "ADD used :one",
                          "ExpressionAttributeValues": {":one": {"N": "1"}}}} for key in keys]  # fmt: skip
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "minted"


def _update(guard: LedgerSpendGuard, client: Any, caller: str) -> str:
    """The reference: one conditional-free UpdateItem of the caller's own item, one round trip."""
    client.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"bare#{caller}"}},
        UpdateExpression="ADD used :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    return "minted"


def _budgets_used(engine_url: str) -> dict[str, int]:
    items = aws_client("dynamodb", engine_url).scan(TableName=TABLE)["Items"]
    return {item["pk"]["S"].split("#")[1]: int(item["used"]["N"]) for item in items
            if item["pk"]["S"].startswith("budget#")}  # fmt: skip


def _codes(outcomes: list[str]) -> str:
    failed = Counter(outcome for outcome in outcomes if outcome != "minted")
    return "".join(f", {code} x{count}" for code, count in sorted(failed.items()))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


if __name__ == "__main__":
    from scripts.bench.report import table

    print(table(launch_rows()))
