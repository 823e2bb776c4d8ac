"""The Lambda entry point: recognise the event and hand it on (docs/contract.md §3, §6 and §11).

Handler for template.yaml: `token_vendor.handler.lambda_handler`. HTTP API requests go to the routes
(api/routes.py), the schedule's warm-ups to warmup.py, the reconciliation's passes to reconcile.py; anything
else is logged and answered, never raised.
"""

from __future__ import annotations

import gc

# Loading the modules below (boto3, requests, Powertools) builds some 70,000 objects that live as long as the
# execution environment, and almost no garbage: the collector would sweep them again and again. It is paused
# while they load, and what they built is then frozen out of every later collection (also the ones during
# the first request's AWS client creation). See docs/benchmarks.md.
gc.disable()
try:
    from typing import Any

    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from token_vendor import prefetch
    from token_vendor.api.events import is_http_api_request, is_reconcile, is_warm_up
    from token_vendor.api.routes import app
    from token_vendor.observability import logger, metrics
    from token_vendor.reconcile import reconcile
    from token_vendor.warmup import warm_up

    # On a Lambda init, load the key and persona(s) and open the connection to Anam now, with the collector
    # still paused, so that what the prefetch builds is frozen too (docs/cold-start.md).
    prefetch.start()
finally:
    gc.freeze()
    gc.enable()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if is_http_api_request(event):
        return app.resolve(event, context)
    if is_warm_up(event):
        return warm_up(lambda: context.get_remaining_time_in_millis() / 1000)
    if is_reconcile(event):
        return reconcile(lambda: context.get_remaining_time_in_millis() / 1000)
    logger.warning("Unsupported event", extra={"event_type": type(event).__name__})
    return {"error": "unsupported_event"}
