"""The schedule's warm-up (docs/contract.md §6): load the key and the persona(s), check that the secret holds
what human verification and the trusted proxy need, mint nothing, never raise.

A failed warm-up answers `{"warmed": false, "error": code}` and counts `WarmUpFailures`, which an alarm
watches: a broken configuration is noticed on the schedule, before a visitor meets it.

With the spend guard and a minutes budget but the reconciliation off (RECONCILE_USAGE=false), the warm-up
publishes each budget's share used (one read of the budgets' counters, off the request path); with the
reconciliation on, its pass does (docs/contract.md §11). It reserves nothing, and a failed read is logged,
never the warm-up's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from token_vendor.domain.deadline import deadline_from
from token_vendor.domain.human_check import secret_key
from token_vendor.domain.trusted_proxy import origin_secrets
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import WARM_UP_FAILURES, WARM_UPS, count, logger
from token_vendor.wiring import get_guard, get_human_check, get_settings, get_vendor


def warm_up(remaining_seconds: Callable[[], float]) -> dict[str, Any]:
    count(WARM_UPS)
    try:
        # The answer's margin kept back, so that a stalled AWS still lets the warm-up answer.
        deadline = deadline_from(remaining_seconds())
        vendor = get_vendor()
        vendor.warm(deadline)
        # A secret without the turnstileSecretKey or originVerifySecret that the settings need would fail
        # every request: say so on the schedule.
        credentials = vendor.config.credentials(deadline)
        if get_human_check() is not None:
            secret_key(credentials)
        if get_settings().behind_cloudfront:
            origin_secrets(credentials)
    except TokenVendorError as err:
        logger.error("Warm-up failed", extra={"code": str(err.code), "detail": err.detail})
        return _failed(err.code)
    except Exception:
        logger.exception("Warm-up failed unexpectedly")
        return _failed(ErrorCode.INTERNAL_ERROR)
    if not get_settings().reconciles:
        _publish_budget_use(deadline)
    logger.info("Warmed")
    return {"warmed": True}


def _publish_budget_use(deadline: float) -> None:
    try:
        guard = get_guard()
        if guard is not None:
            guard.publish_budget_use(datetime.now(UTC), deadline)
    except Exception:
        logger.exception("Could not publish the budgets' use")


def _failed(code: ErrorCode) -> dict[str, Any]:
    count(WARM_UP_FAILURES)
    return {"warmed": False, "error": str(code)}
