"""How fast the function starts and answers: `make bench` (or `.venv/bin/python -m scripts.bench`).

A benchmark, not a test: it prints each figure next to its reference and target, and exits 0 whether or not
the targets are met (1 only when it could not measure). It runs the real handler in fresh processes
(scripts/bench/child.py) against the local stand-ins: Secrets Manager and SSM emulated by moto's server,
Anam by local/standins/anam.py, each behind a local/fault_proxy.py FaultProxy that adds delay and counts
requests and connections.

Figures (each compared with a reference measured in the same run; see docs/benchmarks.md):
  1. importing the handler in a fresh process, against importing boto3 and requests alone;
  2. the first request of a fresh process, from before the import to the answer, with 50 ms added to every AWS
     and Anam call, against the ideal: that import of boto3 and requests, one AWS and one Anam round trip;
  3. warm latency over 1,000 invocations, against a bare pooled requests.Session POST of the same body to the
     same stand-in through an identical proxy, the two taking turns call by call;
  4. AWS calls and connections to Anam during those warm invocations;
  5. the built package's size and the handler process's peak memory;
  6. the spend guard's warm cost: warm p50 with the guard on (a table in moto, every limit set) minus the same
     run without it, against the reservation's six DynamoDB requests sent bare, all at once, from a pool;
  7. a new environment's init with the prefetch (AWS_LAMBDA_INITIALIZATION_TYPE=on-demand), +50 ms per call,
     against figure 2 (import and first request without it): the prefetch must never make the two slower;
  8. the first request after that init, the prefetch over, against a warm request of the same process: its
     time, its AWS calls and its new connections to Anam;
  9. an on-demand init with the prefetch plus its first request, against a naive port of Anam's example route
     (clients at import, two serial AWS calls, a new connection per request; in child.py);
 10. launch day (launch.py): 10 environments x 4 distinct callers at once through DynamoDB's transaction
     conflicts, on moto and DynamoDB Local: failures, reservation p50/p99, capacity units per token, and
     the ceiling DynamoDB's per-partition write limit puts on tokens per second.
 12. a reconciliation pass (reconcile.py): its time and Anam requests with 1, 10 and 50 open reservations,
     with Anam's 250 ms a list request, against the rounds of lookups it needs, and with 30,000 past sessions
     of the prefix against none: the history must not move it.

Interpreters, each when it is here:
  - dev:        .venv's Python, the function from src/, its dependencies from .venv (bytecode cached, as pip
                leaves it);
  - lambda:     python3.13 (the runtime's version) from .venv-py313-runtime (boto3 only, as the runtime
                provides it), the function and its dependencies as `make build` ships them: with bytecode
                compiled in, since Lambda's read-only /var/task cannot cache it;
  - lambda-src: the same package without bytecode (figures 1 and 2 only): every module compiled from source
                at each cold start, as a plain `sam build` would ship it.

Where each part lives:
  __main__.py      the options, the order of the figures for each interpreter, the run's header and table;
  interpreters.py  which interpreters run, on which copy of the package, and the machine's description;
  stand.py         the emulated AWS and the Anam stand-in behind their proxies, the function's environment;
  processes.py     starting child.py in a fresh process and taking turns between measures;
  child.py         the fresh process itself (and the naive port), run as a script;
  cold.py          figures 1 and 2;      warm.py      figures 3, 4 and 5;      guard.py   figure 6;
  prefetch.py      figures 7, 8 and 9;   launch.py    figure 10;               reconcile.py figure 12;
  report.py        a row of the table, ratios and the table.
"""
