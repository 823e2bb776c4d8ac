"""Issuing one token: configuration, persona merge and the call to Anam, with key rotation (SPEC 4-6)."""

from __future__ import annotations

import time
from collections.abc import Callable

from token_vendor.anam_client import AnamClient, SessionToken
from token_vendor.config_store import ConfigStore
from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import count, logger, record_upstream_latency
from token_vendor.persona import build_request_body
from token_vendor.settings import Settings

# Time kept back from the Lambda's remaining time for answering after the Anam call.
RESPONSE_MARGIN_SECONDS = 0.5


class TokenVendor:
    def __init__(self, settings: Settings, config: ConfigStore, anam: AnamClient) -> None:
        self._settings = settings
        self._config = config
        self._anam = anam

    def issue(self, prompt: str | None, remaining_seconds: Callable[[], float]) -> SessionToken:
        api_key, template = self._config.load()
        body = build_request_body(template, prompt, self._settings.max_session_length_seconds)
        budget = min(self._settings.anam_timeout_seconds, remaining_seconds() - RESPONSE_MARGIN_SECONDS)
        deadline = time.monotonic() + budget
        sensitive = (prompt,) if prompt else ()
        try:
            return self._call_anam(api_key, body, deadline, sensitive)
        except TokenVendorError as err:
            if err.code is not ErrorCode.UPSTREAM_AUTH_FAILED:
                raise
            # The key may have been rotated since it was cached: fetch it afresh and try once more.
            fresh_key = self._config.fresh_api_key()
            if fresh_key == api_key:
                raise
            logger.info("Anam refused the cached API key; retrying with the freshly fetched one")
            return self._call_anam(fresh_key, body, deadline, sensitive)

    def warm(self) -> None:
        """Load the key and the persona into the cache, as the first request would; no token is minted."""
        self._config.load()

    def _call_anam(
        self, api_key: str, body: dict[str, object], deadline: float, sensitive: tuple[str, ...]
    ) -> SessionToken:
        started = time.perf_counter()
        try:
            return self._anam.create_session_token(api_key, body, deadline, sensitive=sensitive)
        except TokenVendorError:
            count("UpstreamErrors")
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            record_upstream_latency(elapsed_ms)
            logger.append_keys(upstream_ms=round(elapsed_ms, 1))
