"""Anam's session list (docs/contract.md §11): `GET {base}/v1/sessions?search=...&perPage=100&page=n`, read
into the domain's `Session`s, two ways:
- `find`: what a search by one token's whole label returns, every page of it (one, unless Anam's search
  matches far more than the label: past MAX_FIND_PAGES it is not one token's sessions, and fails);
- `latest`: the first page of a search by the prefix, the proof of a later session.

Anam documents neither the order of `data` nor whether `search` matches part of a label: the labels are
judged by the caller. Anything but a whole, well-formed answer is `SessionListFailed`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests

from token_vendor.adapters.http_session import attempt_timeouts, new_session
from token_vendor.domain.deadline import Backoff, GaveUp, Retry, retry_until
from token_vendor.domain.reconciliation import Session, SessionListFailed

SESSIONS_PATH = "/v1/sessions"
PER_PAGE = 100
# One token's sessions fit one page; a search by its whole label that returns more pages than this matches
# other labels wholesale (a label that is a substring of many), and reading them would cost what the lookup
# by label is meant to avoid.
MAX_FIND_PAGES = 2
ATTEMPTS = 3
BACKOFF = Backoff(base_seconds=0.2, cap_seconds=2.0)


class AnamSessionList:
    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        pool_size: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.url = base_url + SESSIONS_PATH
        self._session = session or new_session(self.url, pool_size=pool_size)
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    def find(self, api_key: str, search: str, deadline: float) -> list[Session]:
        found: list[Session] = []
        page, last_page = 1, 1
        while page <= last_page:
            data, last_page = self._page(api_key, search, page, deadline)
            if last_page > MAX_FIND_PAGES:
                raise SessionListFailed(f"a lookup of {last_page} pages: more than {MAX_FIND_PAGES}")
            found.extend(data)
            page += 1
        return found

    def latest(self, api_key: str, search: str, deadline: float) -> list[Session]:
        return self._page(api_key, search, 1, deadline)[0]

    def _page(self, api_key: str, search: str, page: int, deadline: float) -> tuple[list[Session], int]:
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        params: dict[str, str | int] = {"search": search, "perPage": PER_PAGE, "page": page}

        def attempt(remaining: float) -> requests.Response:
            try:
                response = self._session.get(
                    self.url,
                    params=params,
                    headers=headers,
                    timeout=attempt_timeouts(remaining),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                # A GET changes nothing at Anam: a read timeout is retried like any connection failure.
                raise Retry(f"page {page}: {type(exc).__name__}") from exc
            if response.status_code >= 500 or response.status_code == 429:
                raise Retry(f"page {page}: Anam answered {response.status_code}")
            return response

        try:
            response = retry_until(
                attempt,
                attempts=ATTEMPTS,
                deadline=deadline,
                backoff=BACKOFF,
                clock=self._clock,
                sleep=self._sleep,
                jitter=self._jitter,
            )
        except GaveUp as gave_up:
            raise SessionListFailed(gave_up.describe()) from None
        if response.status_code != 200:
            status = response.status_code
            raise SessionListFailed(f"page {page}: Anam answered {status}", key_refused=status == 401)
        return _parse_page(response.content, page)


def _parse_page(body: bytes, page: int) -> tuple[list[Session], int]:
    try:
        value = json.loads(body)
        data, meta = value["data"], value["meta"]
        last_page = meta["lastPage"]
        if not isinstance(data, list) or not _is_count(last_page):
            raise TypeError("data is not a list, or meta.lastPage not a whole number")
        return [_session(item) for item in data], last_page
    except (ValueError, KeyError, TypeError) as exc:  # ValueError: also UnicodeDecodeError
        raise SessionListFailed(f"page {page}: an unexpected answer ({type(exc).__name__})") from None


def _session(item: Any) -> Session:
    if not isinstance(item, Mapping):
        raise TypeError("a session that is not an object")
    label = item.get("clientLabel")
    if label is not None and not isinstance(label, str):
        raise TypeError("a clientLabel that is not a string")
    length = item.get("sessionLengthMs")
    if length is None:
        length = item.get("durationMs")
    if length is not None and not _is_number(length):
        raise TypeError("a session length that is not a number")
    return Session(label, _time(item.get("startTime")), _time(item.get("endTime")), length)


def _time(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("a time that is not a string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a time without its zone")
    return moment.timestamp()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
