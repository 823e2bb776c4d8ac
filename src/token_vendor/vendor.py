"""Anam called with the key held, and once more with a fresh key after a rotation (§5): for a token, and for
the reconciliation's session list."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from token_vendor.adapters.anam import AnamClient
from token_vendor.adapters.config_store import ConfigStore
from token_vendor.domain.values import Credentials, SessionToken
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import UPSTREAM_ERRORS, count, logger, record_upstream_latency
from token_vendor.settings import Settings

T = TypeVar("T")


class TokenVendor:
    """The execution environment's configuration store and Anam client, used together."""

    def __init__(self, settings: Settings, config: ConfigStore, anam: AnamClient) -> None:
        self.settings = settings
        self.config = config
        self._anam = anam

    def issue(
        self, credentials: Credentials, body: dict[str, Any], deadline: float, sensitive: tuple[str, ...]
    ) -> SessionToken:
        return self.with_api_key(
            credentials.api_key,
            lambda api_key: self._call_anam(api_key, body, deadline, sensitive),
            _refused_key,
            deadline,
        )

    def with_api_key(
        self, api_key: str, call: Callable[[str], T], refused: Callable[[Exception], bool], deadline: float
    ) -> T:
        """`call(api_key)`; when Anam refused the key (`refused` says so of the error), once more with the key
        fetched afresh: it may have been rotated since it was cached (§5). The same key again: the refusal."""
        try:
            return call(api_key)
        except Exception as error:
            if not refused(error):
                raise
            fresh_key = self.config.fresh_api_key(deadline)
            if fresh_key == api_key:
                raise
            logger.info("Anam refused the cached API key; retrying with the freshly fetched one")
            return call(fresh_key)

    def warm(self, deadline: float | None = None) -> None:
        """Load the key and every persona into the cache, as requests would; no token is minted."""
        self.config.load_all(deadline)

    def _call_anam(
        self, api_key: str, body: dict[str, Any], deadline: float, sensitive: tuple[str, ...]
    ) -> SessionToken:
        started = time.perf_counter()
        try:
            return self._anam.create_session_token(api_key, body, deadline, sensitive=sensitive)
        except TokenVendorError:
            count(UPSTREAM_ERRORS)
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            record_upstream_latency(elapsed_ms)
            logger.append_keys(upstream_ms=round(elapsed_ms, 1))


def _refused_key(error: Exception) -> bool:
    return isinstance(error, TokenVendorError) and error.code is ErrorCode.UPSTREAM_AUTH_FAILED
