"""The Anam stand-in's sessions: what `GET /v1/sessions` lists, for the reconciliation (docs/contract.md §11).

A session is recorded when the SDK starts one with a token (`POST /v1/engine/session`, anam_sdk_routes.py),
under the `clientLabel` the token was minted with, and ends when the page's Stop reaches the stand-in
(`POST /standin/session/stop`: offline there is no signalling WebSocket whose closing would tell it) or when
its `maxSessionLengthSeconds` has passed, as Anam's engine ends it. Tests add sessions directly (`add`).

The list answers as Anam documents it: `{"data": [...], "meta": {"total", "lastPage", "currentPage",
"perPage", "prev", "next"}}`, `search` matching part of a session's id or label, newest first. Each session
reports its length as `sessionLengthMs` (Anam's reference) or `durationMs` (some clients), per session
(`length_field`) or by default (`SessionLog.length_field`); `None` leaves both out (only start and end).

For the pass's cost: `add_history` gives the log a site's past (tens of thousands of ended sessions of a
prefix) in a fraction of a second, `latency_seconds` holds every list request that long before it answers
(Anam's own latency, e.g. 0.25; requests in flight at once wait together), and `list_requests` counts them.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from local.http_plumbing import ReceivedRequest

SESSIONS_PATH = "/v1/sessions"
STOP_PATH = "/standin/session/stop"
LENGTH_FIELDS = ("sessionLengthMs", "durationMs")
LOG_DEFAULT = "the log's default"  # a session's length field: whatever `SessionLog.length_field` says


@dataclass
class StandInSession:
    id: str
    label: str | None
    started_at: float
    ended_at: float | None = None
    max_seconds: int | None = None
    length_field: str | None = "sessionLengthMs"

    def ended(self, now: float) -> float | None:
        """When it ended: stopped, or ended by the engine at its length cap; None while it runs."""
        cap = self.max_seconds
        if self.ended_at is None and cap is not None and now >= self.started_at + cap:
            return self.started_at + cap
        return self.ended_at

    def as_anam(self, now: float) -> dict[str, Any]:
        ended = self.ended(now)
        length = None if ended is None else round((ended - self.started_at) * 1000)
        body: dict[str, Any] = {
            "id": self.id,
            "clientLabel": self.label,
            "personaId": None,
            "startTime": _iso(self.started_at),
            "endTime": _iso(ended) if ended is not None else None,
            "exitStatus": None if ended is None else "CLOSED_BY_CLIENT",
            "createdAt": _iso(self.started_at),
            "updatedAt": _iso(ended or self.started_at),
        }
        if self.length_field is not None:
            body[self.length_field] = length
        return body


class SessionLog:
    def __init__(self) -> None:
        self.length_field: str | None = "sessionLengthMs"
        self.latency_seconds = 0.0
        self.list_requests = 0
        self._sessions: dict[str, StandInSession] = {}
        self._lock = threading.Lock()

    def add(
        self,
        label: str | None,
        *,
        started_at: float | None = None,
        ended_at: float | None = None,
        max_seconds: int | None = None,
        length_field: str | None = LOG_DEFAULT,
    ) -> str:
        """Record a session (started now unless told otherwise); its id."""
        session = StandInSession(
            str(uuid.uuid4()),
            label,
            time.time() if started_at is None else started_at,
            ended_at,
            max_seconds,
            self.length_field if length_field == LOG_DEFAULT else length_field,
        )
        with self._lock:
            self._sessions[session.id] = session
        return session.id

    def add_history(self, prefix: str, count: int, *, ended_by: float, minutes: int = 3) -> None:
        """`count` ended sessions of `prefix`, one a minute up to `ended_by`, each `minutes` long: a site's
        past, which no reservation open now can be one of."""
        first = ended_by - count * 60 - minutes * 60
        history = [
            StandInSession(
                f"history-{number}",
                f"{prefix}:{uuid.UUID(int=number).hex}",
                first + number * 60,
                first + number * 60 + minutes * 60,
                length_field=self.length_field,
            )
            for number in range(count)
        ]
        with self._lock:
            self._sessions.update((session.id, session) for session in history)

    def stop(self, session_id: str, at: float | None = None) -> bool:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.ended(time.time()) is not None:
                return False
            session.ended_at = time.time() if at is None else at
            return True

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self.list_requests = 0
        self.length_field = "sessionLengthMs"
        self.latency_seconds = 0.0

    def page(self, query: str) -> dict[str, Any]:
        """One page of the list, as `GET /v1/sessions?<query>` answers it."""
        params = {name: values[-1] for name, values in parse_qs(query).items()}
        search = params.get("search", "")
        page = max(1, _int(params.get("page"), 1))
        per_page = min(100, max(1, _int(params.get("perPage"), 10)))
        now = time.time()
        with self._lock:
            self.list_requests += 1
            found = [
                session
                for session in self._sessions.values()
                if search in session.id or search in (session.label or "")
            ]
        found.sort(key=lambda session: session.started_at, reverse=True)
        last_page = max(1, -(-len(found) // per_page))
        chosen = found[(page - 1) * per_page : page * per_page]
        return {
            "data": [session.as_anam(now) for session in chosen],
            "meta": {
                "total": len(found),
                "lastPage": last_page,
                "currentPage": page,
                "perPage": per_page,
                "prev": page - 1 if page > 1 else None,
                "next": page + 1 if page < last_page else None,
            },
        }


def session_id_of(request: ReceivedRequest) -> str | None:
    body = request.json
    value = body.get("sessionId") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
