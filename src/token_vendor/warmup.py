"""The schedule's warm-up (docs/contract.md §6): load the key and the persona(s), mint nothing, never raise.

A failed warm-up answers `{"warmed": false, "error": code}` and counts `WarmUpFailures`, which an alarm
watches: a broken configuration is noticed on the schedule, before a visitor meets it.
"""

from __future__ import annotations

from typing import Any

from token_vendor.dependencies import get_vendor
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import count, logger


def warm_up() -> dict[str, Any]:
    count("WarmUps")
    try:
        get_vendor().warm()
    except TokenVendorError as err:
        logger.error("Warm-up failed", extra={"code": str(err.code), "detail": err.detail})
        return _failed(err.code)
    except Exception:
        logger.exception("Warm-up failed unexpectedly")
        return _failed(ErrorCode.INTERNAL_ERROR)
    logger.info("Warmed")
    return {"warmed": True}


def _failed(code: ErrorCode) -> dict[str, Any]:
    count("WarmUpFailures")
    return {"warmed": False, "error": str(code)}
