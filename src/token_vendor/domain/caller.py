"""Who is calling (docs/contract.md §8): the identity the spend guard counts, and the claims that claim
variables read. Pure: API Gateway's part (what the event says) is `api/caller.py`'s.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

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
