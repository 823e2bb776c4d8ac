"""Logger, metrics and (opt-in) tracing, created once and imported everywhere (docs/contract.md §7)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

# Every metric the function publishes, by name: template.yaml's alarms and dashboard watch these names.
TOKENS_ISSUED = "TokensIssued"
REJECTIONS = "Rejections"  # dimension `code`
UPSTREAM_ERRORS = "UpstreamErrors"
UPSTREAM_LATENCY = "UpstreamLatency"
WARM_UPS = "WarmUps"
WARM_UP_FAILURES = "WarmUpFailures"
BUDGET_USED_PERCENT = "BudgetUsedPercent"  # dimension `budget`
REFUND_FAILURES = "RefundFailures"  # a give-back not surely applied: counted high, or left for a later pass
# A ledger write whose answer was lost: it may or may not have applied.
UNKNOWN_WRITES = "UnknownOutcomeWrites"
# Minted for what a budget had left, shorter than the cap, instead of refused (docs/contract.md §12).
TOKENS_SHORTENED = "TokensShortened"
UNRECORDED_RESERVATIONS = "UnrecordedReservations"  # a token out without a record: its minutes stay reserved
# The reconciliation pass (docs/contract.md §11), once per pass.
RECONCILE_PASSES = "ReconcilePasses"
RECONCILE_FAILURES = "ReconcileFailures"
MINUTES_RESERVED = "MinutesReserved"  # by the reservations settled in the pass
MINUTES_USED = "MinutesUsed"  # by their sessions, as Anam reports them
MINUTES_GIVEN_BACK = "MinutesGivenBack"
TOKENS_USED = "TokensSettledUsed"
TOKENS_UNUSED = "TokensSettledUnused"
OPEN_RESERVATIONS = "OpenReservations"  # still open after the pass

logger = Logger()
metrics = Metrics()
# Rejections are published at once through single_metric, so many requests leave nothing for log_metrics to
# flush; Powertools warns about that on every such invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def record_count(name: str, value: int) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def count_rejection(code: str) -> None:
    """One `Rejections` data point with the error code as a dimension, so alarms can pick codes apart."""
    service = {"service": str(metrics.service)} if metrics.service else None
    with single_metric(
        name=REJECTIONS,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=service,
    ) as metric:
        metric.add_dimension(name="code", value=code)


def record_budget_used(budget: str, percent: float) -> None:
    """The share of a session-minutes budget (`daily`, `monthly`) used: what the 80 % alarm watches."""
    service = {"service": str(metrics.service)} if metrics.service else None
    with single_metric(
        name=BUDGET_USED_PERCENT,
        unit=MetricUnit.Percent,
        value=round(percent, 1),
        namespace=metrics.namespace,
        default_dimensions=service,
    ) as metric:
        metric.add_dimension(name="budget", value=budget)


def record_upstream_latency(milliseconds: float) -> None:
    metrics.add_metric(name=UPSTREAM_LATENCY, unit=MetricUnit.Milliseconds, value=round(milliseconds, 1))


def enable_tracing() -> None:
    """Subsegments for every boto3 and requests call, through Powertools Tracer.

    Imported only when switched on: the X-Ray SDK under it adds about 90 ms to every cold start. The package
    does not bundle that SDK; in AWS it comes from Powertools' layer, which the template attaches only then.
    """
    try:
        from aws_lambda_powertools import Tracer

        Tracer(patch_modules=["botocore", "requests"])
    except ImportError:
        logger.error(
            "TRACE_SUBSEGMENTS is on but the X-Ray SDK is missing: attach Powertools' layer (the template "
            "does when TraceSubsegments is true). Carrying on without subsegments."
        )


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (key, prompt) cut out, for logging what an upstream said."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
