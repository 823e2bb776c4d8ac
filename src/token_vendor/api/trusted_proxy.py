"""The first check of every request behind CloudFront (docs/contract.md §3 and §8), preflights and unknown
paths included: did it come through the distribution, and then who is its viewer.

The rule is `domain/trusted_proxy.py`'s; this applies it to API Gateway's event, with the origin secret read
from the API key secret through the execution environment's configuration store (cached like the key).
Without TRUSTED_PROXY nothing here reads a header: `CloudFront-Viewer-Address` is then one a client can write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from token_vendor.domain.deadline import deadline_from
from token_vendor.domain.trusted_proxy import origin_secrets, require_origin_secret, viewer_address
from token_vendor.wiring import get_settings, get_vendor


def through_trusted_proxy(headers: Mapping[str, str], remaining_seconds: Callable[[], float]) -> str | None:
    """The viewer's address when TRUSTED_PROXY is on and the request carries the origin secret; None when it
    is off. Raises 403 direct_access_refused without the secret; 500 (no secret stored, no viewer address,
    invalid settings) and 503 (Secrets Manager failing) as the configuration's own errors."""
    if not get_settings().behind_cloudfront:
        return None
    credentials = get_vendor().config.credentials(deadline_from(remaining_seconds()))
    require_origin_secret(headers, origin_secrets(credentials))
    return viewer_address(headers)
