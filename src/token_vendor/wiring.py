"""The execution environment's long-lived objects, built once: by the init prefetch (prefetch.py) or on first
use, never by importing this module (docs/contract.md §6)."""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

from token_vendor.adapters.anam import AnamClient
from token_vendor.adapters.anam_sessions import AnamSessionList
from token_vendor.adapters.aws_clients import aws_clients
from token_vendor.adapters.config_store import ConfigStore
from token_vendor.adapters.dynamodb_ledger import DynamoDbLedger
from token_vendor.adapters.dynamodb_reservations import DynamoDbReservations
from token_vendor.adapters.dynamodb_table import DynamoDbTable
from token_vendor.adapters.turnstile import TurnstileCheck
from token_vendor.domain.human_check import HumanCheck, allowed_hosts
from token_vendor.domain.reconciliation import LOOKUPS_AT_ONCE, ReservationBook, SessionList
from token_vendor.domain.spend_guard import Limits, SpendGuard, SpendLedger
from token_vendor.guard import LedgerSpendGuard
from token_vendor.observability import enable_tracing, logger
from token_vendor.settings import Settings
from token_vendor.vendor import TokenVendor

# The init prefetch (prefetch.py) builds these in a background thread, which a first request may meet half
# way: whoever comes second waits for the object rather than building a second one (with a second cache of
# the key and the persona). Reentrant, as one builder calls another. Uncontended after that: about 0.1 µs.
_building = threading.RLock()


def get_settings() -> Settings:
    with _building:
        return _settings()


def get_vendor() -> TokenVendor:
    with _building:
        return _vendor()


def get_anam_client() -> AnamClient:
    with _building:
        return _anam_client()


def get_guard() -> SpendGuard | None:
    """The spend guard (docs/contract.md §9), or None when QUOTA_TABLE_NAME is unset."""
    with _building:
        return _guard()


def get_session_list() -> SessionList:
    with _building:
        return _session_list()


def get_reservation_book() -> ReservationBook:
    """The reservations' records (docs/contract.md §11); only when `settings.reconciles`."""
    with _building:
        return _reservation_book()


def get_ledger() -> SpendLedger:
    """The spend guard's counters, which the pass settles too; only when the guard is on."""
    with _building:
        return _ledger()


def get_human_check() -> HumanCheck | None:
    """The human verification (docs/contract.md §10), or None when HUMAN_VERIFICATION is off."""
    with _building:
        return _human_check()


@cache
def _settings() -> Settings:
    settings = Settings.from_environ(os.environ)
    if settings.problems:
        logger.error("Invalid configuration", extra={"problems": list(settings.problems)})
    if settings.trace_subsegments:
        enable_tracing()
    return settings


@cache
def _vendor() -> TokenVendor:
    settings = get_settings()
    settings.require_valid()
    return TokenVendor(settings, ConfigStore(settings, _aws_clients()), get_anam_client())


@cache
def _aws_clients() -> Any:
    # One boto3 session for every client (SSM, Secrets Manager, DynamoDB): it is parsed once per environment.
    return aws_clients()


@cache
def _anam_client() -> AnamClient:
    return AnamClient(get_settings().anam_api_base_url)


@cache
def _guard() -> SpendGuard | None:
    settings = get_settings()
    if settings.quota_table_name is None:
        return None
    table = _quota_table()
    records = DynamoDbReservations(table) if settings.reconciles else None
    return LedgerSpendGuard(_ledger(), Limits.from_settings(settings), records)


@cache
def _quota_table() -> DynamoDbTable:
    table = get_settings().quota_table_name
    if table is None:
        raise ValueError("the spend guard's table is needed but QUOTA_TABLE_NAME is unset")
    return DynamoDbTable(table, _aws_clients())


@cache
def _session_list() -> SessionList:
    # Connections of its own, one per lookup in flight: the pass runs in a function of its own, which
    # mints nothing, and the token call's single pooled connection would serve the lookups one at a time.
    return AnamSessionList(get_settings().anam_api_base_url, pool_size=LOOKUPS_AT_ONCE)


@cache
def _ledger() -> SpendLedger:
    return DynamoDbLedger(_quota_table())


@cache
def _reservation_book() -> ReservationBook:
    return DynamoDbReservations(_quota_table())


@cache
def _human_check() -> HumanCheck | None:
    settings = get_settings()
    if not settings.turnstile_enabled:
        return None
    return TurnstileCheck(settings.turnstile_siteverify_url, allowed_hosts(settings.allowed_origins))


def reset() -> None:
    """Forget everything built, as a new execution environment would (tests and the dev server use it)."""
    _settings.cache_clear()
    _vendor.cache_clear()
    _anam_client.cache_clear()
    _guard.cache_clear()
    _aws_clients.cache_clear()
    _human_check.cache_clear()
    _session_list.cache_clear()
    _reservation_book.cache_clear()
    _ledger.cache_clear()
    _quota_table.cache_clear()
