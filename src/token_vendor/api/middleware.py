"""What every HTTP answer shares: the trusted proxy's check first (behind CloudFront), errors as JSON, CORS,
no caching, and one log line per request."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from token_vendor.api.cors import cors_headers
from token_vendor.api.responses import error_response
from token_vendor.api.trusted_proxy import through_trusted_proxy
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import count_rejection, logger
from token_vendor.wiring import get_settings

# Where the routes find the viewer's address that the trusted proxy's check read (None without TRUSTED_PROXY).
VIEWER_ADDRESS = "viewer_address"


def http_conventions(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    started = time.perf_counter()
    event = app.current_event
    code = ""
    try:
        # Before the routes, so that it guards every method and path, preflights included (§3, §8).
        viewer = through_trusted_proxy(
            event.headers, lambda: app.lambda_context.get_remaining_time_in_millis() / 1000
        )
        app.context[VIEWER_ADDRESS] = viewer
        response = next_middleware(app)
    except TokenVendorError as err:
        code = str(err.code)
        response = error_response(err, event.request_context.request_id)
        _log_rejection(err)
    except Exception:
        logger.exception("Unexpected failure")
        internal = TokenVendorError(ErrorCode.INTERNAL_ERROR)
        code = str(internal.code)
        response = error_response(internal, event.request_context.request_id)
        count_rejection(code)
    method = event.request_context.http.method
    origin, allowed_origins = event.headers.get("origin"), get_settings().allowed_origins
    cors = cors_headers(origin, allowed_origins, preflight=method == "OPTIONS")
    refused_origin = bool(origin and allowed_origins) and "Access-Control-Allow-Origin" not in cors
    response.headers.update(cors)
    response.headers["Cache-Control"] = "no-store"
    logger.info(
        "Request handled",
        extra={
            "method": method[:16],
            "status": response.status_code,
            "code": code or None,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            # A browser on this origin cannot read the answer: the first thing to look for when a page fails.
            "origin_refused": (origin or "")[:100] if refused_origin else None,
        },
    )
    return response


# 5xx answers that are the operator's own limits at work, not failures: logged as refusals.
_OPERATOR_REFUSALS = frozenset({ErrorCode.BUDGET_EXHAUSTED, ErrorCode.MINTING_PAUSED})


def _log_rejection(err: TokenVendorError) -> None:
    count_rejection(str(err.code))
    if err.status >= 500 and err.code not in _OPERATOR_REFUSALS:
        logger.error("Request failed", extra={"code": str(err.code), "detail": err.detail})
    elif err.detail:
        logger.info("Request refused", extra={"code": str(err.code), "detail": err.detail})
