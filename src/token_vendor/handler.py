"""The Lambda entry point: recognise the event (HTTP API request, warm-up, other) and hand it on.

Handler for template.yaml: `token_vendor.handler.lambda_handler`.
"""

# ruff: noqa: E402 - the imports below come after gc.disable() on purpose
from __future__ import annotations

import gc

# Loading the modules below (boto3, requests, Powertools) builds some 70,000 objects that live as long as the
# execution environment, and almost no garbage: the collector would sweep them again and again. It is paused
# while they load, and what they built is then frozen out of every later collection (also the ones during
# the first request's AWS client creation). See docs/benchmarks.md.
gc.disable()

import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from token_vendor.cors import cors_headers
from token_vendor.dependencies import get_settings, get_vendor
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import count, count_rejection, logger, metrics
from token_vendor.request import parse_token_request
from token_vendor.responses import error_response, preflight_response, token_response

gc.freeze()
gc.enable()

PATH = "/session-token"

app = APIGatewayHttpResolver()


@app.post(PATH)
def create_session_token() -> Response[str]:
    event = app.current_event
    settings = get_settings()
    request = parse_token_request(
        event.headers, event.body, bool(event.is_base64_encoded), settings.prompt_max_chars
    )
    logger.append_keys(prompt_length=len(request.prompt or ""))
    vendor = get_vendor()
    token = vendor.issue(request.prompt, lambda: app.lambda_context.get_remaining_time_in_millis() / 1000)
    count("TokensIssued")
    return token_response(token)


@app.route(PATH, method="OPTIONS")
def preflight() -> Response[str]:
    return preflight_response()


@app.not_found
def other_route(_: NotFoundError) -> Response[str]:
    # Any method but POST and OPTIONS on our path, or any other path.
    code = ErrorCode.METHOD_NOT_ALLOWED if app.current_event.path == PATH else ErrorCode.NOT_FOUND
    raise TokenVendorError(code, f"{app.current_event.request_context.http.method} {app.current_event.path}")


def http_conventions(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Errors as JSON, CORS, no caching, and one log line per request: the same for every answer."""
    started = time.perf_counter()
    event = app.current_event
    code = ""
    try:
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
    response.headers.update(cors_headers(origin, allowed_origins, preflight=method == "OPTIONS"))
    response.headers["Cache-Control"] = "no-store"
    logger.info(
        "Request handled",
        extra={
            "method": method,
            "status": response.status_code,
            "code": code or None,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response


app.use(middlewares=[http_conventions])


def _log_rejection(err: TokenVendorError) -> None:
    count_rejection(str(err.code))
    if err.status >= 500:
        logger.error("Request failed", extra={"code": str(err.code), "detail": err.detail})
    elif err.detail:
        logger.info("Request refused", extra={"code": str(err.code), "detail": err.detail})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if _is_http_api_request(event):
        return app.resolve(event, context)
    if _is_warm_up(event):
        return _warm_up()
    logger.warning("Unsupported event", extra={"event_type": type(event).__name__})
    return {"error": "unsupported_event"}


def _is_http_api_request(event: object) -> bool:
    return (
        isinstance(event, Mapping)
        and event.get("version") == "2.0"
        and isinstance(event.get("requestContext"), Mapping)
        and "http" in event["requestContext"]
    )


def _is_warm_up(event: object) -> bool:
    """`{"warmup": true}` (the template's schedule Input) or EventBridge's scheduled-event envelope."""
    if not isinstance(event, Mapping):
        return False
    return event.get("warmup") is True or (
        event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"
    )


def _warm_up() -> dict[str, Any]:
    count("WarmUps")
    try:
        get_vendor().warm()
    except TokenVendorError as err:
        logger.error("Warm-up failed", extra={"code": str(err.code), "detail": err.detail})
        return {"warmed": False, "error": str(err.code)}
    except Exception:
        logger.exception("Warm-up failed unexpectedly")
        return {"warmed": False, "error": str(ErrorCode.INTERNAL_ERROR)}
    logger.info("Warmed")
    return {"warmed": True}
