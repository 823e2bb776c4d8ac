"""What kind of event this is: an HTTP API request, a warm-up, a reconciliation pass, or anything else
(docs/contract.md §6, §11)."""

from __future__ import annotations

from collections.abc import Mapping


def is_http_api_request(event: object) -> bool:
    """An API Gateway HTTP API event in payload format 2.0."""
    return (
        isinstance(event, Mapping)
        and event.get("version") == "2.0"
        and isinstance(event.get("requestContext"), Mapping)
        and "http" in event["requestContext"]
    )


def is_warm_up(event: object) -> bool:
    """`{"warmup": true}` (the template's schedule Input) or EventBridge's scheduled-event envelope."""
    if not isinstance(event, Mapping):
        return False
    return event.get("warmup") is True or (
        event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"
    )


def is_reconcile(event: object) -> bool:
    """`{"reconcile": true}`: the reconciliation schedule's Input (docs/contract.md §11)."""
    return isinstance(event, Mapping) and event.get("reconcile") is True
