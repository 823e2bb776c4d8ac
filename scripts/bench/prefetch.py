"""Figures 7, 8 and 9: the init prefetch (docs/cold-start.md), with 50 ms added to every AWS and Anam call."""

from __future__ import annotations

import statistics

from scripts.bench.interpreters import Interpreter
from scripts.bench.processes import Child, alternating, one
from scripts.bench.report import Row, ratio_row
from scripts.bench.stand import ADDED_DELAY_SECONDS, Stand, environ, post_event

PREFETCHED_FIRST_TARGET = 1.3  # the first request after a prefetching init, against a warm one
NAIVE_TARGET = 0.6  # init + first request, against the naive port's
ON_DEMAND_INIT = {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}  # what Lambda sets: the prefetch runs


def prefetch_rows(stand: Stand, interpreter: Interpreter, runs: int, cold_ms: float) -> list[Row]:
    """Figures 7-9, taking turns process by process with each other and with the naive port.

    `cold_ms` is figure 2: import and first request without the prefetch, as before it existed.
    """
    stand.delay(ADDED_DELAY_SECONDS)
    event = post_event()
    first: list[float] = []
    warm: list[float] = []
    aws_calls: list[int] = []
    new_connections: list[int] = []

    def prefetching_init() -> float:
        with environ(stand, ON_DEMAND_INIT):
            return float(one(stand, interpreter, "import-handler")["ms"])

    def init_then_first_request() -> float:
        """An on-demand init that a request is waiting for: the init (with the prefetch), then the request."""
        with environ(stand, ON_DEMAND_INIT):
            result = one(stand, interpreter, "cold", event)
        if result["status"] != 200:
            raise SystemExit(f"bench: the first request after a prefetching init answered {result['status']}")
        return float(result["ms"])

    def naive_port() -> float:
        result = one(stand, interpreter, "naive-cold", event)
        if result["status"] != 200:
            raise SystemExit(f"bench: the naive port answered {result['status']}")
        return float(result["ms"])

    def first_request_after_the_init() -> float:
        """A proactive init: the prefetch is over when the first request comes. Records it and warm ones."""
        with environ(stand, ON_DEMAND_INIT):
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

    init_ms, together_ms, naive_ms, _ = alternating(
        runs, prefetching_init, init_then_first_request, naive_port, first_request_after_the_init
    )
    stand.delay(0.0)
    return [
        ratio_row(
            "7. init with the prefetch, +50 ms/call",
            statistics.median(init_ms),
            cold_ms,
            "figure 2: import + first request, no prefetch",
            1.0,
        ),
        ratio_row(
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
        ratio_row(
            "9. init + first request, prefetching",
            statistics.median(together_ms),
            statistics.median(naive_ms),
            "naive port of Anam's example route",
            NAIVE_TARGET,
        ),
    ]
