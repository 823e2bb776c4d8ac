"""One fresh execution environment for the benchmark, run as `python -I [-B] scripts/bench/child.py ...`.

Runs as a script in isolated mode, not as a module of the package, so nothing but the standard library's
`json`, `os`, `sys` and `time` is loaded before the clock starts: what it measures is what a Lambda cold start
pays. Results go to the control pipe (file descriptor CONTROL_FD) as one JSON object per line; the handler's
own log goes to stdout. processes.py starts it.

    child.py MODE SYS_PATH CONTROL_FD [EVENT_JSON]

MODE is one of
- `import-reference`: import boto3 and requests, nothing else;
- `import-handler`:   import the handler module;
- `cold`:             import the handler and answer EVENT_JSON, timed as one;
- `warm`:             answer EVENT_JSON once (cold), report, read from stdin the body the handler sent and
                      a URL, then answer it WARM_INVOCATIONS times, each in turn with a POST of that body to
                      that URL through a bare pooled requests.Session;
- `prefetched`:       import the handler (the init: with AWS_LAMBDA_INITIALIZATION_TYPE set, it prefetches),
                      report, wait for a line on stdin (the parent reads its counters), answer EVENT_JSON once
                      (the first request), report, wait for a line again, then answer it
                      PREFETCHED_WARM_SAMPLES times more (warm), each timed;
- `naive-cold`:       like `cold`, for the naive port of Anam's example route below instead of the handler.

The naive port is the reference figure 9 divides by: Anam's example token route (a Next.js route handler)
ported to Lambda as it stands, with the key and persona moved to AWS as this project keeps them. Its clients
are built at import, it makes the two AWS calls one after the other, and it opens a new connection to Anam
for every request (requests.post without a session).
"""

from __future__ import annotations

import json
import os
import sys
import time

TYPE_CHECKING = False  # typing itself is not imported: it would be loaded before the clock starts
if TYPE_CHECKING:
    from typing import Any, TextIO

WARM_INVOCATIONS = int(os.environ.get("BENCH_WARM_INVOCATIONS", "1000"))
PREFETCHED_WARM_SAMPLES = 9


class Context:
    """What the handler and Powertools read from Lambda's context object."""

    function_name = "anam-token-vendor"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:anam-token-vendor"
    log_group_name = "/aws/lambda/anam-token-vendor"
    log_stream_name = "bench"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + 15.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    mode, sys_path, control_fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    event: Any = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
    sys.path[:0] = sys_path.split(os.pathsep)
    with os.fdopen(control_fd, "w", buffering=1) as control:
        if mode == "import-reference":
            started = time.perf_counter()
            import boto3  # noqa: F401
            import requests  # noqa: F401

            _report(control, ms=_ms_since(started), python=sys.version.split()[0], maxrss_kb=_maxrss_kb())
        elif mode == "import-handler":
            started = time.perf_counter()
            import token_vendor.handler  # noqa: F401

            _report(control, ms=_ms_since(started), python=sys.version.split()[0])
        elif mode == "cold":
            started = time.perf_counter()
            from token_vendor.handler import lambda_handler

            import_ms = _ms_since(started)
            result = lambda_handler(event, Context("cold"))
            _report(control, ms=_ms_since(started), import_ms=import_ms, status=_status(result))
        elif mode == "warm":
            _warm(event, control)
        elif mode == "prefetched":
            _prefetched(event, control)
        elif mode == "naive-cold":
            started = time.perf_counter()
            naive_handler = _naive_port()
            import_ms = _ms_since(started)
            result = naive_handler(event, Context("cold"))
            _report(control, ms=_ms_since(started), import_ms=import_ms, status=_status(result))
        else:
            raise SystemExit(f"unknown mode {mode!r}")


def _warm(event: dict[str, Any], control: TextIO) -> None:
    import requests

    from token_vendor.handler import lambda_handler

    first = lambda_handler(event, Context("cold"))
    _report(control, phase="cold", status=_status(first))
    anam = json.loads(sys.stdin.readline())  # the body the handler sent, and where to POST it bare

    session = requests.Session()
    headers = {"Authorization": f"Bearer {anam['key']}", "Content-Type": "application/json"}
    body = anam["body"].encode()

    def bare() -> int:
        return int(session.post(anam["url"], data=body, headers=headers, timeout=10).status_code)

    bare()  # opens the reference's connection, as the first request opened the handler's
    events = []
    for i in range(WARM_INVOCATIONS):
        copy = json.loads(json.dumps(event))
        copy["requestContext"]["requestId"] = f"bench-{i}"
        events.append(copy)
    handler_ms: list[float] = []
    bare_ms: list[float] = []
    statuses: set[int] = set()
    bare_statuses: set[int] = set()
    # Call by call, in turns, so that the machine's noise falls on both alike.
    for i, warm_event in enumerate(events):
        # Each invocation's context made when it starts: Lambda's deadline runs from then, not from the loop's
        # start (1000 guarded invocations take longer than the 15 s timeout).
        context = Context(f"warm-{i}")
        if i % 2:
            started = time.perf_counter()
            bare_statuses.add(bare())
            bare_ms.append(_ms_since(started))
        started = time.perf_counter()
        statuses.add(_status(lambda_handler(warm_event, context)))
        handler_ms.append(_ms_since(started))
        if not i % 2:
            started = time.perf_counter()
            bare_statuses.add(bare())
            bare_ms.append(_ms_since(started))
    _report(
        control,
        phase="warm",
        latencies=handler_ms,
        statuses=sorted(statuses),
        bare_latencies=bare_ms,
        bare_statuses=sorted(bare_statuses),
        maxrss_kb=_maxrss_kb(),
    )


def _prefetched(event: dict[str, Any], control: TextIO) -> None:
    started = time.perf_counter()
    from token_vendor.handler import lambda_handler

    _report(control, phase="init", ms=_ms_since(started))
    sys.stdin.readline()
    started = time.perf_counter()
    status = _status(lambda_handler(event, Context("first")))
    _report(control, phase="first", ms=_ms_since(started), status=status)
    sys.stdin.readline()
    statuses = set()
    latencies = []
    for i in range(PREFETCHED_WARM_SAMPLES):
        started = time.perf_counter()
        statuses.add(_status(lambda_handler(event, Context(f"warm-{i}"))))
        latencies.append(_ms_since(started))
    _report(control, phase="warm", latencies=latencies, statuses=sorted(statuses))


def _naive_port() -> Any:
    """Anam's example token route, ported to Lambda naively (see the module docstring)."""
    import boto3
    import requests

    secrets = boto3.client("secretsmanager")
    ssm = boto3.client("ssm")

    def handler(event: dict[str, Any], context: Context) -> dict[str, Any]:
        api_key = secrets.get_secret_value(SecretId=os.environ["ANAM_API_KEY_SECRET_ID"])["SecretString"]
        parameter = ssm.get_parameter(Name=os.environ["PERSONA_PARAMETER_NAME"], WithDecryption=True)
        persona = json.loads(parameter["Parameter"]["Value"])
        prompt = json.loads(event.get("body") or "{}").get("prompt") or ""
        persona["systemPrompt"] = persona.get("systemPrompt", "").replace("{{prompt}}", prompt)
        response = requests.post(
            os.environ["ANAM_API_BASE_URL"] + "/v1/auth/session-token",
            json={"personaConfig": persona},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        )
        return {"statusCode": response.status_code, "body": response.text}

    return handler


def _report(control: TextIO, **result: object) -> None:
    control.write(json.dumps(result) + "\n")


def _status(result: object) -> int:
    return int(result.get("statusCode", 0)) if isinstance(result, dict) else 0


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _maxrss_kb() -> int:
    """Peak resident memory. On Linux from VmHWM: ru_maxrss keeps the parent's peak across fork and exec, so
    in a process started by the bench (which runs moto) it would report the bench's own peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
