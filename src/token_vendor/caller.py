"""Who is calling (docs/contract.md §8): what the spend guard counts and what claim variables read.

Pure: reads only what API Gateway itself wrote into the event. The JWT claims are there only when the HTTP
API's JWT authorizer verified the token; the source address is the TCP peer API Gateway saw. Headers such as
X-Forwarded-For are never read: API Gateway appends to whatever the client sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from token_vendor.errors import ErrorCode, TokenVendorError

# One household or host holds a whole IPv6 /64: counting addresses inside it would let one caller rotate
# through 2^64 identities.
IPV6_CALLER_PREFIX = 64


@dataclass(frozen=True)
class Caller:
    identity: str
    source_ip: str
    claims: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def authenticated(self) -> bool:
        return bool(self.claims)


def identify(request_context: Mapping[str, Any]) -> Caller:
    """The caller of an HTTP API (payload 2.0) request, from its `requestContext`."""
    claims = _verified_claims(request_context)
    source_ip = str((request_context.get("http") or {}).get("sourceIp") or "")
    subject = claims.get("sub")
    if subject:
        return Caller(identity=f"sub:{subject}", source_ip=source_ip, claims=claims)
    return Caller(identity=address_identity(source_ip), source_ip=source_ip, claims=claims)


def require_authenticated(caller: Caller, required: bool) -> None:
    """With CALLER_JWT_REQUIRED, a request that reached the function without the authorizer mints nothing."""
    if required and not caller.authenticated:
        raise TokenVendorError(ErrorCode.UNAUTHENTICATED, "no verified JWT claims in the event")


def address_identity(source_ip: str) -> str:
    """An IPv4 address as it is; an IPv6 address by its /64 prefix."""
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return f"ip:{source_ip}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((address, IPV6_CALLER_PREFIX), strict=False)}"
    return f"ip:{address}"


def _verified_claims(request_context: Mapping[str, Any]) -> Mapping[str, str]:
    authorizer = request_context.get("authorizer")
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    if not isinstance(claims, Mapping):
        return MappingProxyType({})
    # API Gateway passes every claim as a string (arrays as "[a b]"); anything else did not come from it.
    return MappingProxyType({str(k): v for k, v in claims.items() if isinstance(v, str)})
