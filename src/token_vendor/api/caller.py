"""The caller as API Gateway describes it (docs/contract.md §8): only what API Gateway itself wrote into the
event. The JWT claims are there only when the HTTP API's JWT authorizer verified the token; the source address
is the TCP peer API Gateway saw. Headers such as X-Forwarded-For are never read: API Gateway appends to
whatever the client sent. Behind CloudFront that peer is an edge server, and the viewer's address, read once
the origin secret matched (`api/trusted_proxy.py`), stands in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from token_vendor.domain.caller import Caller, address_identity


def identify(request_context: Mapping[str, Any], viewer_address: str | None = None) -> Caller:
    """The caller of an HTTP API (payload 2.0) request, from its `requestContext`; its address is
    `viewer_address` when a trusted proxy vouched for it, else API Gateway's `sourceIp`."""
    claims = _verified_claims(request_context)
    source_ip = viewer_address or str((request_context.get("http") or {}).get("sourceIp") or "")
    subject = claims.get("sub")
    if subject:
        return Caller(identity=f"sub:{subject}", source_ip=source_ip, claims=claims)
    return Caller(identity=address_identity(source_ip), source_ip=source_ip, claims=claims)


def _verified_claims(request_context: Mapping[str, Any]) -> Mapping[str, str]:
    authorizer = request_context.get("authorizer")
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    if not isinstance(claims, Mapping):
        return MappingProxyType({})
    # API Gateway passes every claim as a string (arrays as "[a b]"); anything else did not come from it.
    return MappingProxyType({str(k): v for k, v in claims.items() if isinstance(v, str)})
