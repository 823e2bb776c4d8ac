"""How fast the function starts and answers: `make bench` (or `.venv/bin/python -m scripts.bench`).

A benchmark, not a test: it prints each figure next to its reference and target, and exits 0 whether or not
the targets are met (1 only when it could not measure). It runs the real handler in fresh processes
(scripts/bench_child.py) against the local stand-ins: Secrets Manager and SSM emulated by moto's server, Anam
by local/anam_stub.py, each behind a local/fault_proxy.py FaultProxy that adds delay and counts requests and
connections.

Figures (each compared with a reference measured in the same run; see docs/benchmarks.md):
  1. importing the handler in a fresh process, against importing boto3 and requests alone;
  2. the first request of a fresh process, from before the import to the answer, with 50 ms added to every AWS
     and Anam call, against the ideal: that import of boto3 and requests, one AWS and one Anam round trip;
  3. warm latency over 1,000 invocations, against a bare pooled requests.Session POST of the same body to the
     same stand-in through an identical proxy, the two taking turns call by call;
  4. AWS calls and connections to Anam during those warm invocations;
  5. the built package's size and the handler process's peak memory;
  6. the spend guard's warm cost: warm p50 with the guard on (a table in moto, every limit set) minus the same
     run without it, against a bare pooled boto3 TransactWriteItems of the same five items;
  7. a new environment's init with the prefetch (AWS_LAMBDA_INITIALIZATION_TYPE=on-demand), +50 ms per call,
     against figure 2 (import and first request without it): the prefetch must never make the two slower;
  8. the first request after that init, the prefetch over, against a warm request of the same process: its
     time, its AWS calls and its new connections to Anam;
  9. an on-demand init with the prefetch plus its first request, against a naive port of Anam's example route
     (clients at import, two serial AWS calls, a new connection per request; in bench_child.py).

Interpreters, each when it is here:
  - dev:        .venv's Python, the function from src/, its dependencies from .venv (bytecode cached, as pip
                leaves it);
  - lambda:     python3.13 (the runtime's version) from .venv-py313-runtime (boto3 only, as the runtime
                provides it), the function and its dependencies as `make build` ships them: with bytecode
                compiled in, since Lambda's read-only /var/task cannot cache it;
  - lambda-src: the same package without bytecode (figures 1 and 2 only): every module compiled from source
                at each cold start, as a plain `sam build` would ship it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local.anam_stub import TOKEN_PATH, AnamStub
from local.aws_emulation import DUMMY_CREDENTIALS, REGION, MotoServer, aws_client, create_quota_table, seed
from local.emulation import DEFAULT_PERSONA_PATH, FUNCTION_DEFAULTS
from local.fault_proxy import FaultProxy
from local.http_api_event import http_api_event

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
BUILD_DIR = ROOT / ".aws-sam" / "build"
FUNCTION_DIR = BUILD_DIR / "TokenVendorFunction"
RUNTIME_PYTHON = ROOT / ".venv-py313-runtime" / "bin" / "python"  # created by tests/package (boto3 only)
CHILD = Path(__file__).with_name("bench_child.py")

API_KEY = "bench-anam-key"
SECRET_ID = "anam/api-key"  # noqa: S105 - the secret's name
PARAMETER_NAME = "/anam/persona"
ORIGIN = "https://app.example.com"
PROMPT = "The visitor is on the pricing page."
ADDED_DELAY_SECONDS = 0.05
ROUND_TRIP_SAMPLES = 15

IMPORT_TARGET = 1.3
COLD_TARGET = 1.2
WARM_P50_TARGET = 1.2
PREFETCHED_FIRST_TARGET = 1.3  # the first request after a prefetching init, against a warm one
NAIVE_TARGET = 0.6  # init + first request, against the naive port's
ON_DEMAND_INIT = {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}  # what Lambda sets: the prefetch runs
LAMBDA_MEMORY_MB = 512  # template.yaml's MemorySize
LAMBDA_UNZIPPED_LIMIT_MB = 250  # Lambda's quota for a function's unzipped package


@dataclass(frozen=True)
class Interpreter:
    label: str
    python: Path
    sys_path: tuple[Path, ...]  # put first on sys.path, as Lambda puts /var/task
    flags: tuple[str, ...]
    note: str
    version: str = ""
    boto3: str = ""
    warm: bool = True  # figures 3-5 too, not only the cold ones


@dataclass
class Row:
    figure: str
    measured: str
    reference: str
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    python: str = ""  # which interpreter ran it


@dataclass
class Stand:
    """The stand-ins the function talks to: moto and Anam, each behind a FaultProxy."""

    moto: MotoServer
    stub: AnamStub
    aws: FaultProxy
    anam: FaultProxy
    # A second proxy to Anam, for figure 3's bare reference, so that the function's counts stay its own.
    anam_twin: FaultProxy
    environ: dict[str, str] = field(default_factory=dict)

    def delay(self, seconds: float) -> None:
        self.aws.delay_seconds = self.anam.delay_seconds = seconds

    def reset_counters(self) -> None:
        self.aws.reset_counters()
        self.anam.reset_counters()
        self.stub.reset()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per cold figure (default 7)")
    parser.add_argument("--warm", type=int, default=1000, help="warm invocations (default 1000)")
    parser.add_argument(
        "--only",
        choices=["dev", "lambda"],
        help="dev only, or python3.13 only (with and without bytecode); default: all that are present",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    with ExitStack() as stack:
        interpreters = _interpreters(stack, args.only)
        print(_machine(interpreters), flush=True)
        stand = stack.enter_context(_stand())
        stand.environ["BENCH_WARM_INVOCATIONS"] = str(args.warm)
        rows: list[Row] = []
        for interpreter in interpreters:
            print(f"\n-- {interpreter.label}: {interpreter.note}", flush=True)
            measured = _measure(stand, interpreter, args.runs, args.warm)
            for row in measured:
                row.python = f"{interpreter.label} {interpreter.version}"
            rows += measured
        rows += _package_rows()
    print()
    print(_table(rows))
    print(f"\n({time.monotonic() - started:.0f} s; {args.runs} fresh processes per cold figure)")
    return 0


# -- the interpreters and the machine ------------------------------------------------------------------------


def _interpreters(stack: ExitStack, only: str | None) -> list[Interpreter]:
    chosen = []
    if only in (None, "dev"):
        chosen.append(
            Interpreter(
                "dev",
                Path(sys.executable),
                (SRC,),
                ("-I",),
                "the dev venv's Python, token_vendor from src/, dependencies from .venv (bytecode cached)",
            )
        )
    if only in (None, "lambda"):
        chosen += _lambda_interpreters(stack)
    return [_with_version(i) for i in chosen]


def _lambda_interpreters(stack: ExitStack) -> list[Interpreter]:
    """python3.13 on the package as deployed, and (cold figures only) on it without its bytecode."""
    if not RUNTIME_PYTHON.exists():
        print(f"(no {RUNTIME_PYTHON.relative_to(ROOT)}: `make test` creates it; skipping python3.13)")
        return []
    if not FUNCTION_DIR.is_dir():
        print("(no `sam build` output: run `make build`; skipping python3.13)")
        return []
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-package-")))
    source_only, compiled = workdir / "task-src", workdir / "task"
    # The function's code is taken from src/, which is what the build holds when it is fresh.
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(
        FUNCTION_DIR, source_only, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "token_vendor")
    )
    shutil.copytree(SRC / "token_vendor", source_only / "token_vendor", ignore=ignore)
    shutil.copytree(source_only, compiled)
    # What scripts/sam.sh build adds after `sam build`: unchecked-hash bytecode, usable whatever the zip's
    # timestamps.
    command = [str(RUNTIME_PYTHON), "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*command, str(compiled)], check=True, capture_output=True)
    note = "python3.13 with boto3 only, the package as `make build` ships it (with bytecode)"
    if _build_is_stale():
        note += "; the build is older than src/, so token_vendor comes from src/"
    return [
        Interpreter("lambda", RUNTIME_PYTHON, (compiled,), ("-I", "-B"), note),
        Interpreter(
            "lambda-src",
            RUNTIME_PYTHON,
            (source_only,),
            ("-I", "-B"),
            "the same without bytecode: each module compiled from source at every cold start",
            warm=False,
        ),
    ]


def _build_is_stale() -> bool:
    built = BUILD_DIR / "template.yaml"
    sources = [ROOT / "template.yaml", SRC / "requirements.txt", *SRC.rglob("*.py")]
    return not built.exists() or any(path.stat().st_mtime > built.stat().st_mtime for path in sources)


def _with_version(interpreter: Interpreter) -> Interpreter:
    code = "import sys, boto3; print(sys.version.split()[0], boto3.__version__)"
    answer = subprocess.run([str(interpreter.python), "-I", "-c", code], capture_output=True, text=True)
    python, _, boto3_version = answer.stdout.strip().partition(" ")
    return Interpreter(**{**interpreter.__dict__, "version": python, "boto3": boto3_version})


def _machine(interpreters: list[Interpreter]) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    pythons = "".join(
        f"\n  {i.label}: Python {i.version}, boto3 {i.boto3} ({i.python})" for i in interpreters
    )
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()} "
        f"{platform.machine()}; load average {load}\nInterpreters:{pythons}"
    )


# -- the stand-ins -------------------------------------------------------------------------------------------


@contextmanager
def _stand() -> Iterator[Stand]:
    with (
        MotoServer() as moto,
        AnamStub(api_keys=(API_KEY,)) as stub,
        FaultProxy(moto.url) as aws,
        FaultProxy(stub.url) as anam,
        FaultProxy(stub.url) as anam_twin,
    ):
        seed(
            moto.url,
            secret_id=SECRET_ID,
            secret_value=API_KEY,
            parameter_name=PARAMETER_NAME,
            persona=DEFAULT_PERSONA_PATH.read_text(encoding="utf-8"),
        )
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            **FUNCTION_DEFAULTS,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "ANAM_API_KEY_SECRET_ID": SECRET_ID,
            "PERSONA_PARAMETER_NAME": PARAMETER_NAME,
            "ANAM_API_BASE_URL": anam.url,
            "ALLOWED_ORIGINS": ORIGIN,
            # What Lambda sets, and AWS pointed at the proxy in front of moto, with no config of this machine.
            "AWS_LAMBDA_FUNCTION_NAME": "anam-token-vendor",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(LAMBDA_MEMORY_MB),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        yield Stand(moto, stub, aws, anam, anam_twin, environ)


def _post_event() -> dict[str, Any]:
    return http_api_event(
        "POST",
        headers={"origin": ORIGIN, "content-type": "application/json"},
        body=json.dumps({"prompt": PROMPT}),
    )


# -- the fresh processes -------------------------------------------------------------------------------------


class Child:
    """bench_child.py running in `mode`: its results arrive one JSON line at a time on a control pipe."""

    def __init__(self, stand: Stand, interpreter: Interpreter, mode: str, event: Any = None) -> None:
        read_fd, write_fd = os.pipe()
        command = [str(interpreter.python), *interpreter.flags, str(CHILD), mode]
        command += [os.pathsep.join(map(str, interpreter.sys_path)), str(write_fd)]
        if event is not None:
            command.append(json.dumps(event))
        # The handler's log lines, read back on failure only; closed in close().
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            env=stand.environ,
            cwd=tempfile.gettempdir(),
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=self._log,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self._control = os.fdopen(read_fd, "r")

    def read(self) -> dict[str, Any]:
        line = self._control.readline()
        if not line:
            self.process.wait(timeout=60)
            self._log.seek(0)
            output = self._log.read()[-3000:]
            raise SystemExit(f"bench: the child process failed (exit {self.process.returncode}):\n{output}")
        result: dict[str, Any] = json.loads(line)
        return result

    def send(self, message: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        self.process.wait(timeout=60)
        self._control.close()
        self._log.close()


def _one(stand: Stand, interpreter: Interpreter, mode: str, event: Any = None) -> dict[str, Any]:
    """Run the child in `mode` and return its one result."""
    child = Child(stand, interpreter, mode, event)
    try:
        return child.read()
    finally:
        child.close()


def _alternating(runs: int, *measures: Callable[[], float]) -> list[list[float]]:
    """Each measure `runs` times, taking turns, so that a noisy moment does not land on one side only."""
    for measure in measures:
        measure()  # once unrecorded: the OS file cache and the dev venv's bytecode cache get filled
    samples: list[list[float]] = [[] for _ in measures]
    for run in range(runs):
        order = list(enumerate(measures))
        if run % 2:
            order.reverse()
        for index, measure in order:
            samples[index].append(measure())
    return samples


# -- the figures ---------------------------------------------------------------------------------------------


def _measure(stand: Stand, interpreter: Interpreter, runs: int, warm: int) -> list[Row]:
    rows: list[Row] = []
    stand.delay(0.0)

    print("   1. imports", flush=True)
    reference_import, handler_import = _alternating(
        runs,
        lambda: float(_one(stand, interpreter, "import-reference")["ms"]),
        lambda: float(_one(stand, interpreter, "import-handler")["ms"]),
    )
    import_ms = statistics.median(reference_import)
    rows.append(
        _ratio_row(
            "1. handler import",
            statistics.median(handler_import),
            import_ms,
            "import boto3, requests",
            IMPORT_TARGET,
        )
    )

    print("   2. first request with 50 ms added to every call", flush=True)
    stand.delay(ADDED_DELAY_SECONDS)
    aws_round_trip = _aws_round_trip(stand)
    anam_round_trip = _anam_round_trip(stand)
    event = _post_event()

    cold_imports: list[float] = []

    def cold() -> float:
        stand.reset_counters()
        result = _one(stand, interpreter, "cold", event)
        if result["status"] != 200:
            raise SystemExit(f"bench: the cold request answered {result['status']}")
        cold_imports.append(float(result["import_ms"]))
        return float(result["ms"])

    (cold_ms,) = _alternating(runs, cold)
    stand.delay(0.0)
    ideal = import_ms + aws_round_trip + anam_round_trip
    rows.append(
        _ratio_row(
            "2. first request, +50 ms/call",
            statistics.median(cold_ms),
            ideal,
            f"{import_ms:.0f} import + {aws_round_trip:.0f} AWS + {anam_round_trip:.0f} Anam",
            COLD_TARGET,
            detail=f"import {statistics.median(cold_imports):.0f} + request",
        )
    )

    print("   7-9. a prefetching init, its first request, and the naive port, +50 ms/call", flush=True)
    rows += _prefetch_rows(stand, interpreter, runs, statistics.median(cold_ms))

    if not interpreter.warm:
        return rows
    print(f"   3-5. {warm} warm invocations, each in turn with a bare POST", flush=True)
    rows += _warm_rows(stand, interpreter, warm, reference_maxrss_kb=_reference_maxrss_kb(stand, interpreter))
    print(f"   6. {warm} warm invocations without and with the spend guard", flush=True)
    rows.append(_guard_row(stand, interpreter))
    return rows


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


def _guard_row(stand: Stand, interpreter: Interpreter) -> Row:
    """Figure 6: what the guard adds to a warm p50, and how much of it is not its one DynamoDB round trip."""
    create_quota_table(stand.moto.url, GUARD_TABLE)
    without = _warm_p50(stand, interpreter, {})
    with_guard = _warm_p50(stand, interpreter, GUARD_ENVIRON)
    round_trip = _transact_round_trip(stand)
    added = with_guard - without
    return Row(
        "6. spend guard, warm p50 added",
        f"{added:.2f} ms ({without:.2f} -> {with_guard:.2f})",
        f"{round_trip:.2f} ms (bare TransactWriteItems p50)",
        added / round_trip,
        target=f"beyond it: {added - round_trip:+.2f} ms",
    )


def _warm_p50(stand: Stand, interpreter: Interpreter, extra_environ: dict[str, str]) -> float:
    before = dict(stand.environ)
    stand.environ.update(extra_environ)
    child = Child(stand, interpreter, "warm", _post_event())
    try:
        child.read()
        sent = stand.stub.requests[-1].body.decode()
        child.send({"body": sent, "key": API_KEY, "url": stand.anam_twin.url + TOKEN_PATH})
        result = child.read()
    finally:
        child.close()
        stand.environ.clear()
        stand.environ.update(before)
    if result["statuses"] != [200]:
        raise SystemExit(f"bench: warm answers {result['statuses']} (guard: {bool(extra_environ)})")
    return _percentiles(result["latencies"])[0]


def _transact_round_trip(stand: Stand) -> float:
    """A bare pooled TransactWriteItems through the AWS proxy: the pause check and four conditional ADDs."""
    dynamodb = aws_client("dynamodb", stand.aws.url)
    keys = ["caller#bench#hour", "caller#bench#day", "budget#day", "budget#month"]
    items: list[dict[str, Any]] = [
        {
            "ConditionCheck": {
                "TableName": GUARD_TABLE,
                "Key": {"pk": {"S": "control"}},
                "ConditionExpression": "attribute_not_exists(paused) OR paused = :false",
                "ExpressionAttributeValues": {":false": {"BOOL": False}},
            }
        }
    ]
    items += [
        {
            "Update": {
                "TableName": GUARD_TABLE,
                "Key": {"pk": {"S": key}},
                "UpdateExpression": "ADD used :one SET expiresAt = :expires",
                "ConditionExpression": "attribute_not_exists(used) OR used <= :room",
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"},
                    ":room": {"N": "1000000000"},
                    ":expires": {"N": str(int(time.time()) + 86400)},
                },
            }
        }
        for key in keys
    ]
    dynamodb.transact_write_items(TransactItems=items)  # opens the pooled connection
    samples = []
    for _ in range(ROUND_TRIP_SAMPLES * 4):
        started = time.perf_counter()
        dynamodb.transact_write_items(TransactItems=items)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _prefetch_rows(stand: Stand, interpreter: Interpreter, runs: int, cold_ms: float) -> list[Row]:
    """Figures 7-9: the init prefetch (docs/cold-start.md), with 50 ms added to every AWS and Anam call.

    `cold_ms` is figure 2: import and first request without the prefetch, as before it existed.
    """
    stand.delay(ADDED_DELAY_SECONDS)
    event = _post_event()
    first: list[float] = []
    warm: list[float] = []
    aws_calls: list[int] = []
    new_connections: list[int] = []

    def prefetching_init() -> float:
        with _environ(stand, ON_DEMAND_INIT):
            return float(_one(stand, interpreter, "import-handler")["ms"])

    def init_then_first_request() -> float:
        """An on-demand init that a request is waiting for: the init (with the prefetch), then the request."""
        with _environ(stand, ON_DEMAND_INIT):
            result = _one(stand, interpreter, "cold", event)
        if result["status"] != 200:
            raise SystemExit(f"bench: the first request after a prefetching init answered {result['status']}")
        return float(result["ms"])

    def naive_port() -> float:
        result = _one(stand, interpreter, "naive-cold", event)
        if result["status"] != 200:
            raise SystemExit(f"bench: the naive port answered {result['status']}")
        return float(result["ms"])

    def first_request_after_the_init() -> float:
        """A proactive init: the prefetch is over when the first request comes. Records it and warm ones."""
        with _environ(stand, ON_DEMAND_INIT):
            child = Child(stand, interpreter, "prefetched", event)
        try:
            init = child.read()
            aws_before, connections_before = stand.aws.requests_seen, stand.anam.connections_opened
            child.send({})
            request = child.read()
            aws_calls.append(stand.aws.requests_seen - aws_before)
            new_connections.append(stand.anam.connections_opened - connections_before)
            child.send({})
            result = child.read()
        finally:
            child.close()
        if request["status"] != 200 or result["statuses"] != [200]:
            raise SystemExit(
                f"bench: after a prefetching init: {request['status']}, then {result['statuses']}"
            )
        first.append(float(request["ms"]))
        warm.extend(result["latencies"])
        return float(init["ms"])

    init_ms, together_ms, naive_ms, _ = _alternating(
        runs, prefetching_init, init_then_first_request, naive_port, first_request_after_the_init
    )
    stand.delay(0.0)
    return [
        _ratio_row(
            "7. init with the prefetch, +50 ms/call",
            statistics.median(init_ms),
            cold_ms,
            "figure 2: import + first request, no prefetch",
            1.0,
        ),
        _ratio_row(
            "8. first request after a prefetching init",
            statistics.median(first),
            statistics.median(warm),
            "a warm request, same processes",
            PREFETCHED_FIRST_TARGET,
        ),
        Row(
            "8. AWS calls, new Anam connections in it",
            f"{max(aws_calls)}, {max(new_connections)} (most in {runs} runs)",
            "",
            target="0, 0",
            met=max(aws_calls) == 0 and max(new_connections) == 0,
        ),
        _ratio_row(
            "9. init + first request, prefetching",
            statistics.median(together_ms),
            statistics.median(naive_ms),
            "naive port of Anam's example route",
            NAIVE_TARGET,
        ),
    ]


@contextmanager
def _environ(stand: Stand, extra: dict[str, str]) -> Iterator[None]:
    """The function's environment with `extra` added, for the children started inside."""
    before = dict(stand.environ)
    stand.environ.update(extra)
    try:
        yield
    finally:
        stand.environ.clear()
        stand.environ.update(before)


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


def _reference_maxrss_kb(stand: Stand, interpreter: Interpreter) -> int:
    return int(_one(stand, interpreter, "import-reference")["maxrss_kb"])


def _warm_rows(stand: Stand, interpreter: Interpreter, warm: int, reference_maxrss_kb: int) -> list[Row]:
    stand.reset_counters()
    child = Child(stand, interpreter, "warm", _post_event())
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

    p50, p99 = _percentiles(result["latencies"])
    bare_p50, bare_p99 = _percentiles(result["bare_latencies"])
    maxrss_mb = result["maxrss_kb"] / 1024
    return [
        _ratio_row(
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


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]


def _package_rows() -> list[Row]:
    if not FUNCTION_DIR.is_dir():
        return [Row("5. package size", "not built: run `make build` (skipped)", "")]
    files = [p for p in sorted(FUNCTION_DIR.rglob("*")) if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryFile() as archive:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(FUNCTION_DIR))
        zipped_size = archive.tell()
    stale = " (build older than src/)" if _build_is_stale() else ""
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


# -- the table -----------------------------------------------------------------------------------------------


def _ratio_row(
    figure: str, measured: float, reference: float, what: str, target: float, detail: str = ""
) -> Row:
    ratio = measured / reference
    return Row(
        figure,
        (f"{measured:.2f} ms" if measured < 10 else f"{measured:.0f} ms")
        + (f" ({detail})" if detail else ""),
        f"{reference:.2f} ms ({what})" if reference < 10 else f"{reference:.0f} ms ({what})",
        ratio,
        f"<= {target}x",
        ratio <= target,
    )


def _table(rows: list[Row]) -> str:
    """Rows grouped by figure (1-5), each figure's interpreters in the order they ran."""
    header = ("figure", "python", "measured", "reference", "ratio", "target", "met?")
    cells = [
        (
            row.figure,
            row.python,
            row.measured,
            row.reference,
            f"{row.ratio:.2f}x" if row.ratio is not None else "",
            row.target,
            {True: "yes", False: "NO", None: ""}[row.met],
        )
        for row in sorted(rows, key=lambda row: row.figure[:2])
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


if __name__ == "__main__":
    sys.exit(main())
