"""The reconciliation's verdict step (docs/contract.md §11): each open reservation looked up at Anam by its
own label, a few at once, then one listing of the prefix for the proof of a later session, and the verdicts.

What a pass costs follows the open reservations, never the deployment's history: a lookup by a whole label
is one small answer, and the proof is the first page of the prefix's listing, made after the lookups and only
when a verdict needs it (a token expired without a session). Anam's list has no time filter, so paging
through the prefix would grow with every session the site ever had.

Time: no lookup starts that could not finish before the listing's time (each is bounded by
LOOKUP_SECONDS, its retries included); a reservation not looked up gets no verdict and waits for the next
pass. The oldest are looked up first, so that a backlog drains rather than starving its oldest records. Any
lookup or the listing failing fails the whole step (`SessionListFailed`): nothing is settled on a partial
view of a failing list. A refused key is fetched afresh once and the step repeated (a rotation).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from token_vendor.domain.reconciliation import (
    LOOKUPS_AT_ONCE,
    OpenReservation,
    Session,
    SessionList,
    SessionListFailed,
    Verdict,
    its_sessions,
    needs_proof,
    search_for,
    verdicts,
)
from token_vendor.wiring import get_session_list, get_settings, get_vendor

# The longest one lookup (or the listing) may take, its retries included; none starts without that much time.
LOOKUP_SECONDS = 5.0


def look_up(reservations: Sequence[OpenReservation], api_key: str, deadline: float) -> dict[str, Verdict]:
    """The verdict on each reservation looked up by `deadline` (time.monotonic()), by reservation id; those
    that time did not allow to look up are absent. Raises `SessionListFailed` when Anam's list fails."""
    if not reservations:
        return {}
    prefix = get_settings().client_label_prefix
    session_list = get_session_list()
    return get_vendor().with_api_key(
        api_key,
        lambda key: verdicts_at_anam(session_list, reservations, key, prefix, deadline),
        lambda error: isinstance(error, SessionListFailed) and error.key_refused,
        deadline,
    )


def verdicts_at_anam(
    session_list: SessionList,
    reservations: Sequence[OpenReservation],
    api_key: str,
    prefix: str,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Verdict]:
    oldest_first = sorted(reservations, key=lambda reservation: reservation.created_at)
    found = _find_each(session_list, oldest_first, api_key, prefix, deadline - LOOKUP_SECONDS, clock)
    now = time.time()
    listing: list[Session] = []
    if any(
        needs_proof(reservation, its_sessions(reservation, found[reservation.id], prefix), now)
        for reservation in oldest_first
        if reservation.id in found
    ):
        listing = session_list.latest(api_key, prefix, deadline)
    return verdicts(oldest_first, found, listing, prefix, now)


def _find_each(
    session_list: SessionList,
    reservations: Sequence[OpenReservation],
    api_key: str,
    prefix: str,
    lookups_end: float,
    clock: Callable[[], float],
) -> dict[str, list[Session]]:
    """What the search by each reservation's label returned, by id, for those whose lookup had time to start:
    every lookup ends by `lookups_end`, which leaves the listing its own time."""
    pending = iter(reservations)
    found: dict[str, list[Session]] = {}
    failures: list[SessionListFailed] = []
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if failures or clock() + LOOKUP_SECONDS > lookups_end:
                    return
                reservation = next(pending, None)
            if reservation is None:
                return
            try:
                returned = session_list.find(
                    api_key, search_for(reservation, prefix), clock() + LOOKUP_SECONDS
                )
            except SessionListFailed as failed:
                with lock:
                    failures.append(failed)
                return
            with lock:
                found[reservation.id] = returned

    workers = min(LOOKUPS_AT_ONCE, len(reservations))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="session-lookup") as pool:
        for running in [pool.submit(work) for _ in range(workers)]:
            running.result()
    if failures:
        raise failures[0]
    return found
