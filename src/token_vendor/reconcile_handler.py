"""The reconciliation function's Lambda entry point (docs/contract.md §11): template.yaml's ReconcileFunction,
`token_vendor.reconcile_handler.lambda_handler`, runs the pass and nothing else.

A function of its own, so that the pass has the time it needs (its own timeout, not the 15 s the HTTP API's
function keeps under API Gateway's limit) and passes never pile up (one at a time: reserved concurrency 1).
It imports neither the HTTP routes nor the init prefetch: a pass needs only the key, which it reads itself,
and its role may read nothing else.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_vendor.api.events import is_reconcile
from token_vendor.observability import logger, metrics
from token_vendor.reconcile import reconcile


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if is_reconcile(event):
        return reconcile(lambda: context.get_remaining_time_in_millis() / 1000)
    logger.warning("Unsupported event", extra={"event_type": type(event).__name__})
    return {"error": "unsupported_event"}
