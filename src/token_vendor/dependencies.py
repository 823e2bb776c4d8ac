"""The execution environment's long-lived objects, built once on first use (never at import: SPEC 6)."""

from __future__ import annotations

import os
from functools import cache

from token_vendor.anam_client import AnamClient
from token_vendor.config_store import ConfigStore
from token_vendor.observability import enable_tracing, logger
from token_vendor.settings import Settings
from token_vendor.vendor import TokenVendor


@cache
def get_settings() -> Settings:
    settings = Settings.from_environ(os.environ)
    if settings.problems:
        logger.error("Invalid configuration", extra={"problems": list(settings.problems)})
    if settings.trace_subsegments:
        enable_tracing()
    return settings


@cache
def get_vendor() -> TokenVendor:
    settings = get_settings()
    settings.require_valid()
    return TokenVendor(settings, ConfigStore(settings), AnamClient(settings.anam_api_base_url))


def reset() -> None:
    """Forget everything built, as a new execution environment would (tests and the dev server use it)."""
    get_settings.cache_clear()
    get_vendor.cache_clear()
