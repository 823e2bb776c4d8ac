"""Minting one session token: the contract's order of checks (docs/contract.md §3), top to bottom.

The first check that fails answers. Everything before the spend guard is free for the caller: a request
refused there uses none of its quota, and a bot that fails the human check spends neither quota nor budget.
The method was checked by the route (api/routes.py) before this runs, and the caller read from the event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from token_vendor.domain.caller import Caller, require_authenticated
from token_vendor.domain.deadline import GIVE_BACK_SECONDS, deadline_from
from token_vendor.domain.persona import (
    build_request_body,
    caller_values,
    can_shorten,
    session_seconds,
    with_session_length,
)
from token_vendor.domain.reconciliation import client_label
from token_vendor.domain.request import parse_token_request
from token_vendor.domain.spend_guard import new_reservation_id
from token_vendor.domain.values import SessionToken
from token_vendor.observability import TOKENS_ISSUED, count, logger
from token_vendor.wiring import get_guard, get_human_check, get_settings, get_vendor


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP API event that minting reads, and the caller as API Gateway described it."""

    headers: Mapping[str, str]
    body: str | None
    is_base64_encoded: bool
    caller: Caller


def mint_session_token(http: HttpRequest, remaining_seconds: Callable[[], float]) -> SessionToken:
    settings = get_settings()
    request = parse_token_request(
        http.headers, http.body, http.is_base64_encoded, settings.prompt_max_chars
    )  # 415, 413, 400
    logger.append_keys(prompt_length=len(request.prompt or ""), persona=(request.persona or "")[:64] or None)
    caller = http.caller
    require_authenticated(caller, settings.caller_jwt_required)  # 401

    deadline = deadline_from(remaining_seconds())
    vendor = get_vendor()  # 500: invalid settings
    credentials, template = vendor.config.load(request.persona, deadline)  # 500, 503; 400 unknown_persona
    body = build_request_body(  # 400: prompt_not_supported, prompt_too_long, invalid_variable
        template, request.prompt, request.variables, caller.claims, settings.max_session_length_seconds
    )

    human_check = get_human_check()
    if human_check is not None:
        human_check.verify(request.turnstile_token, caller.source_ip, credentials, deadline)  # 403, 503

    guard = get_guard()
    reservation = None
    seconds = session_seconds(body, settings.max_session_length_seconds)
    if guard is not None:  # 429, 503
        reservation_id, label = new_reservation_id(), None
        if settings.reconciles:  # §11: the session this token starts is told apart by its label
            label = client_label(body.get("clientLabel"), settings.client_label_prefix, reservation_id)
            body = {**body, "clientLabel": label}
        shortest = settings.shortest_session_seconds if can_shorten(body) else None
        reservation = guard.reserve(
            caller.identity, seconds, datetime.now(UTC), hash_key=credentials.api_key, deadline=deadline,
            reservation_id=reservation_id, label=label, shortest_seconds=shortest,
        )  # fmt: skip
        if reservation.session_seconds is not None and reservation.session_seconds != seconds:
            # §12: what a budget had left, instead of a refusal; the persona runs exactly that long.
            seconds = reservation.session_seconds
            body = with_session_length(body, seconds)
    # A reservation's give-back has its own time after the Anam call, however little the request has left.
    anam_deadline = deadline - GIVE_BACK_SECONDS if reservation is not None else deadline
    try:
        anam_deadline = min(anam_deadline, time.monotonic() + settings.anam_timeout_seconds)
        sensitive = caller_values(template, request.prompt, request.variables, caller.claims)
        token = vendor.issue(credentials, body, anam_deadline, sensitive)
    except BaseException:
        if guard is not None and reservation is not None:
            # A token the caller never received cannot start a session: give its cost back.
            guard.release(reservation)
        raise
    if guard is not None and reservation is not None:
        guard.keep(reservation, token.expires_epoch)
    count(TOKENS_ISSUED)
    return replace(token, max_session_length_seconds=seconds)
