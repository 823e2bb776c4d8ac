"""Figures 3, 4 and 5: warm latency, AWS calls and connections while warm, peak memory and package size."""

from __future__ import annotations

import statistics
import tempfile
import zipfile

from local.standins.anam import TOKEN_PATH
from scripts.bench.interpreters import FUNCTION_DIR, Interpreter, build_is_stale
from scripts.bench.processes import Child, one
from scripts.bench.report import Row, ratio_row
from scripts.bench.stand import API_KEY, LAMBDA_MEMORY_MB, Stand, post_event

WARM_P50_TARGET = 1.2
LAMBDA_UNZIPPED_LIMIT_MB = 250  # Lambda's quota for a function's unzipped package


def warm_rows(stand: Stand, interpreter: Interpreter, warm: int) -> list[Row]:
    """Figures 3 to 5 (but the package size): `warm` invocations after the first request of one process."""
    reference_maxrss_kb = _reference_maxrss_kb(stand, interpreter)
    stand.reset_counters()
    child = Child(stand, interpreter, "warm", post_event())
    try:
        cold = child.read()
        if cold["status"] != 200:
            raise SystemExit(f"bench: the first request answered {cold['status']}")
        aws_before, connections_before = stand.aws.requests_seen, stand.anam.connections_opened
        sent = stand.stub.requests[-1].body.decode()  # what the handler sent, for the bare POSTs
        child.send({"body": sent, "key": API_KEY, "url": stand.anam_twin.url + TOKEN_PATH})
        result = child.read()
        aws_calls = stand.aws.requests_seen - aws_before
        connections = stand.anam.connections_opened  # since the first request: the one it opened counts
        new_connections = connections - connections_before
    finally:
        child.close()
    if result["statuses"] != [200] or result["bare_statuses"] != [200]:
        raise SystemExit(f"bench: warm answers {result['statuses']}, bare answers {result['bare_statuses']}")

    p50, p99 = percentiles(result["latencies"])
    bare_p50, bare_p99 = percentiles(result["bare_latencies"])
    maxrss_mb = result["maxrss_kb"] / 1024
    return [
        ratio_row(
            f"3. warm p50 ({warm} invocations)", p50, bare_p50, "bare pooled POST p50", WARM_P50_TARGET
        ),
        Row("3. warm p99", f"{p99:.2f} ms", f"{bare_p99:.2f} ms (bare p99)", p99 / bare_p99),
        Row(
            "4. AWS calls during warm invocations",
            str(aws_calls),
            "",
            target="0",
            met=aws_calls == 0,
        ),
        Row(
            "4. TCP connections to Anam, first request + warm",
            f"{connections} ({new_connections} new while warm)",
            "",
            target="1",
            met=connections == 1,
        ),
        Row(
            "5. peak memory (VmHWM) of the handler process",
            f"{maxrss_mb:.0f} MB",
            f"{reference_maxrss_kb / 1024:.0f} MB (boto3 + requests imported)",
            maxrss_mb / (reference_maxrss_kb / 1024),
            target=f"< {LAMBDA_MEMORY_MB} MB MemorySize",
            met=maxrss_mb < LAMBDA_MEMORY_MB,
        ),
    ]


def _reference_maxrss_kb(stand: Stand, interpreter: Interpreter) -> int:
    return int(one(stand, interpreter, "import-reference")["maxrss_kb"])


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]


def package_rows() -> list[Row]:
    """Figure 5's package size: the `sam build` output, zipped as Lambda takes it."""
    if not FUNCTION_DIR.is_dir():
        return [Row("5. package size", "not built: run `make build` (skipped)", "")]
    files = [p for p in sorted(FUNCTION_DIR.rglob("*")) if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryFile() as archive:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(FUNCTION_DIR))
        zipped_size = archive.tell()
    stale = " (build older than src/)" if build_is_stale() else ""
    mb = 1024 * 1024
    return [
        Row(
            f"5. package size{stale}",
            f"{zipped_size / mb:.1f} MB zipped, {unzipped / mb:.1f} MB unzipped, {len(files)} files",
            f"Lambda: {LAMBDA_UNZIPPED_LIMIT_MB} MB unzipped",
            unzipped / mb / LAMBDA_UNZIPPED_LIMIT_MB,
            target="boto3 not bundled",
            met=not any((FUNCTION_DIR / name).exists() for name in ("boto3", "botocore", "s3transfer")),
        )
    ]
