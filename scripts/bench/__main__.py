"""`python -m scripts.bench`: options, each interpreter's figures in the order they run, the table."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack

import scripts.bench
from scripts.bench.capacity import capacity_rows
from scripts.bench.cold import first_request_row, import_row
from scripts.bench.guard import guard_row
from scripts.bench.interpreters import Interpreter, interpreters, machine
from scripts.bench.launch import launch_rows
from scripts.bench.prefetch import prefetch_rows
from scripts.bench.reconcile import reconcile_rows
from scripts.bench.report import Row, table
from scripts.bench.stand import Stand, open_stand
from scripts.bench.warm import package_rows, warm_rows


def main(argv: Sequence[str] | None = None) -> int:
    description = scripts.bench.__doc__
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench", description=description.splitlines()[0] if description else None
    )
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
        chosen = interpreters(stack, args.only)
        print(machine(chosen), flush=True)
        stand = stack.enter_context(open_stand())
        stand.environ["BENCH_WARM_INVOCATIONS"] = str(args.warm)
        rows: list[Row] = []
        for interpreter in chosen:
            print(f"\n-- {interpreter.label}: {interpreter.note}", flush=True)
            measured = _measure(stand, interpreter, args.runs, args.warm)
            for row in measured:
                row.python = f"{interpreter.label} {interpreter.version}"
            rows += measured
        rows += package_rows()
        print("\n-- 10. launch day: 10 environments x 4 callers through DynamoDB's conflicts", flush=True)
        rows += launch_rows()
        print("\n-- 11. DynamoDB capacity per token, from the responses", flush=True)
        rows += capacity_rows()
        print(
            "\n-- 12. a reconciliation pass: 1, 10, 50 open, with and without 30,000 past sessions",
            flush=True,
        )
        rows += reconcile_rows()
    print()
    print(table(rows))
    print(f"\n({time.monotonic() - started:.0f} s; {args.runs} fresh processes per cold figure)")
    return 0


def _measure(stand: Stand, interpreter: Interpreter, runs: int, warm: int) -> list[Row]:
    stand.delay(0.0)
    print("   1. imports", flush=True)
    import_figure, import_ms = import_row(stand, interpreter, runs)

    print("   2. first request with 50 ms added to every call", flush=True)
    first_request_figure, cold_ms = first_request_row(stand, interpreter, runs, import_ms)
    rows = [import_figure, first_request_figure]

    print("   7-9. a prefetching init, its first request, and the naive port, +50 ms/call", flush=True)
    rows += prefetch_rows(stand, interpreter, runs, cold_ms)

    if not interpreter.warm:
        return rows
    print(f"   3-5. {warm} warm invocations, each in turn with a bare POST", flush=True)
    rows += warm_rows(stand, interpreter, warm)
    print(f"   6. {warm} warm invocations without and with the spend guard", flush=True)
    rows.append(guard_row(stand, interpreter))
    return rows


if __name__ == "__main__":
    sys.exit(main())
