"""The init prefetch (docs/contract.md §6): a new execution environment loads what its first request needs
before that request arrives.

Lambda imports the handler module (the init phase) before the first request, often long before it, and with
as much CPU as the invocation gets or more. `start()`, called at the end of the handler's imports, uses that
time: in a background thread it builds the clients, loads the key and the persona(s) and opens the connection
to Anam, and it waits for that thread at most INIT_BOUND_SECONDS. It never raises: whatever it could not load
is loaded on first use, as without it. A request that arrives while it still runs does not fetch a second
time: it waits for the objects being built (wiring.py) and for the fetches in flight
(adapters/max_age_cache.py), within its own deadline.

Which init it is comes from AWS_LAMBDA_INITIALIZATION_TYPE, which Lambda sets and tests and the dev server do
not (so they load on first use unless a test sets it):
- `on-demand`, `provisioned-concurrency`: prefetch now.
- `snap-start`: nothing now, so that the snapshot holds no secret and no socket; the same prefetch runs after
  each restore, through the runtime's `snapshot_restore_py` hooks, after reseeding `random`.
"""

from __future__ import annotations

import os
import random
import threading
import time

from token_vendor import wiring
from token_vendor.adapters.anam import AnamClient
from token_vendor.adapters.http_session import CONNECT_TIMEOUT_SECONDS
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger

INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
PREFETCHING_INITS = frozenset({"on-demand", "provisioned-concurrency"})
SNAP_START = "snap-start"
# The longest the init (or a SnapStart restore, whose hooks must finish within 10 s) waits for the prefetch.
# It takes well under a second when AWS and Anam answer; past this, the init ends and the prefetch goes on in
# the background, where the first request joins the fetches it has in flight.
INIT_BOUND_SECONDS = 2.0


def start() -> None:
    """Prefetch as the kind of init asks; called once, by the handler module at import. Never raises."""
    init_type = os.environ.get(INITIALIZATION_TYPE, "")
    try:
        if init_type in PREFETCHING_INITS:
            prefetch()
        elif init_type == SNAP_START:
            _after_each_restore()
    except Exception:  # e.g. no thread could be started: an init that fails here would fail every request
        logger.exception("Prefetch could not start; loading on first use")


def prefetch() -> None:
    """Start loading everything in the background; return when it is done or INIT_BOUND_SECONDS passed."""
    thread = threading.Thread(target=_load_everything, name="prefetch", daemon=True)
    thread.start()
    thread.join(INIT_BOUND_SECONDS)


def _after_each_restore() -> None:
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:
        logger.warning("No SnapStart runtime hooks (snapshot_restore_py); loading on first use")
        return
    register_after_restore(_after_restore)


def _after_restore() -> None:
    # Every environment restored from one snapshot starts with the same `random` state: reseeded from the OS,
    # so that they do not all draw the same retry jitter (domain/deadline.py).
    # Runs inside the runtime's restore: an exception here would fail the restore, so none may escape.
    try:
        random.seed()
        prefetch()
    except Exception:
        logger.exception("The restore hook failed; loading on first use")


def _load_everything() -> None:
    started = time.perf_counter()
    anam: threading.Thread | None = None
    code = ""
    try:
        vendor = wiring.get_vendor()
        # In a thread of its own, so that connecting overlaps the AWS calls.
        anam = threading.Thread(
            target=_connect, args=(wiring.get_anam_client(),), name="prefetch-anam", daemon=True
        )
        anam.start()
        vendor.warm()
        # Built now so that the first request does not pay for their clients (no call is made).
        wiring.get_guard()
        wiring.get_human_check()
    except TokenVendorError as err:
        code = str(err.code)
    except Exception:
        logger.exception("Prefetch failed unexpectedly")
        code = str(ErrorCode.INTERNAL_ERROR)
    if anam is not None:
        anam.join()
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    if code:
        logger.warning(
            "Prefetch incomplete; loading on first use", extra={"code": code, "prefetch_ms": elapsed_ms}
        )
    else:
        logger.info("Prefetched", extra={"prefetch_ms": elapsed_ms})


def _connect(anam: AnamClient) -> None:
    try:
        anam.connect(CONNECT_TIMEOUT_SECONDS)
    except Exception as exc:  # OSError mostly (refused, timed out, ssl.SSLError): the first request connects
        logger.warning(
            "Could not open the connection to Anam ahead of time", extra={"error": type(exc).__name__}
        )
