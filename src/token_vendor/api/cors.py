"""CORS headers as docs/contract.md §3 defines them.

Powertools' CORSConfig is close but not the contract: it sends Access-Control-Allow-Methods on preflights from
origins it refuses, and no `Vary: Origin`. This is the whole rule instead.
"""

from __future__ import annotations

from token_vendor.settings import ANY_ORIGIN

ALLOWED_METHODS = "POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, Authorization"
PREFLIGHT_MAX_AGE_SECONDS = "600"
# Not a CORS-safelisted response header: without this, a page on another origin cannot read how long to wait.
EXPOSED_HEADERS = "Retry-After"


def cors_headers(origin: str | None, allowed_origins: frozenset[str], *, preflight: bool) -> dict[str, str]:
    if not allowed_origins:
        return {}
    # Caches must key on Origin: the same URL answers differently for different origins.
    headers = {"Vary": "Origin"}
    if not origin or (origin not in allowed_origins and ANY_ORIGIN not in allowed_origins):
        return headers
    headers["Access-Control-Allow-Origin"] = ANY_ORIGIN if ANY_ORIGIN in allowed_origins else origin
    if preflight:
        headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_SECONDS
    else:
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return headers
