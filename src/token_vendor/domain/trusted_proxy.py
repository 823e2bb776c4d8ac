"""Behind CloudFront (docs/contract.md §8): did a request come through the distribution, and who is its
viewer.

Pure. The distribution adds an origin custom header holding a secret (the API key secret's
`originVerifySecret`) and forwards CloudFront's own `CloudFront-Viewer-Address`. A request without the secret
did not come through it and is refused before anything else; one with it is the viewer's, whose address then
stands where API Gateway's `sourceIp` (an edge server's address) would. Reading the event is `api/`'s job.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping

from token_vendor.domain.values import Credentials
from token_vendor.errors import ErrorCode, TokenVendorError

# Header names as API Gateway's payload 2.0 hands them over: lower-cased.
ORIGIN_VERIFY_HEADER = "x-origin-verify"
VIEWER_ADDRESS_HEADER = "cloudfront-viewer-address"
# A guessable secret would let anyone pass as the distribution, and pick the caller the spend guard counts.
ORIGIN_SECRET_MIN_CHARS = 32


def origin_secrets(credentials: Credentials) -> tuple[str, ...]:
    """The values the origin header may hold: the secret, and during a rotation the one it replaced.
    Without a usable secret, TRUSTED_PROXY cannot work: a configuration error, never an open door."""
    current, previous = credentials.origin_verify_secret, credentials.origin_verify_secret_previous
    if current is None:
        raise TokenVendorError(
            ErrorCode.CONFIGURATION_ERROR,
            'TRUSTED_PROXY is cloudfront but the API key secret holds no "originVerifySecret"',
        )
    for name, value in (("originVerifySecret", current), ("originVerifySecretPrevious", previous)):
        if value is not None and len(value) < ORIGIN_SECRET_MIN_CHARS:
            raise TokenVendorError(
                ErrorCode.CONFIGURATION_ERROR,
                f'the API key secret\'s "{name}" is shorter than {ORIGIN_SECRET_MIN_CHARS} characters',
            )
    return (current,) if previous is None else (current, previous)


def require_origin_secret(headers: Mapping[str, str], secrets: tuple[str, ...]) -> None:
    """Refuse a request whose origin header holds none of `secrets`. Compared in constant time, against every
    secret whatever the first comparison gave, so that the answer's timing tells nothing about the value."""
    presented = (headers.get(ORIGIN_VERIFY_HEADER) or "").encode("utf-8", "surrogateescape")
    matches = [hmac.compare_digest(presented, secret.encode("utf-8")) for secret in secrets]
    if not any(matches):
        reason = "without" if not presented else "with a wrong"
        raise TokenVendorError(
            ErrorCode.DIRECT_ACCESS_REFUSED, f"a request {reason} {ORIGIN_VERIFY_HEADER} header"
        )


def viewer_address(headers: Mapping[str, str]) -> str:
    """The viewer's IP address from `CloudFront-Viewer-Address`: `IP:port`, an IPv6 address unbracketed
    (`2001:db8::1:443`), so the port is whatever follows the last colon. A request that carries the secret but
    no usable address means the distribution does not forward the header: the operator's to fix."""
    raw = (headers.get(VIEWER_ADDRESS_HEADER) or "").strip()
    host, _, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        if not (port.isdigit() and int(port) <= 65535):
            raise ValueError(port)
        return str(ipaddress.ip_address(host))
    except ValueError:
        state = "no" if not raw else "an unreadable"
        raise TokenVendorError(
            ErrorCode.CONFIGURATION_ERROR,
            f"a request through the distribution carried {state} {VIEWER_ADDRESS_HEADER} header: its origin "
            "request policy must forward it",
        ) from None
