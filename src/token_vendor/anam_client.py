"""The call to Anam's token endpoint (docs/contract.md §5): one pooled session, retries inside a time budget.

Knows HTTP and Anam's answers; knows nothing of Lambda or AWS. Every outcome other than a token is raised as a
`TokenVendorError`, with Anam's own message kept for the log only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import re
import ssl
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.ssl_ import create_urllib3_context

from token_vendor.errors import ErrorCode, TokenVendorError
from token_vendor.observability import logger, redact

TOKEN_PATH = "/v1/auth/session-token"  # noqa: S105 (a URL path, not a secret)
MAX_RETRIES = 2  # after the first attempt, for 5xx and connection errors only
# requests applies a timeout to the connect and to each read apart, not to their sum: an attempt may connect
# for this long at most, and reads for what is left, so that connect and read together end by the deadline.
CONNECT_TIMEOUT_SECONDS = 2.0
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 2.0
_REJECTED = frozenset({400, 403, 404, 422})
# A pooled connection idle longer than this is closed and opened afresh rather than reused. Something on the
# way may have dropped it without a word while Lambda froze the environment (an AWS load balancer's default
# idle timeout is 60 s, Cloudflare's 400 s, Lambda's own NAT about 350 s); a request sent into such a
# connection gets no answer and would wait out the whole time budget (a read timeout is never retried).
# A server that closed it properly is noticed by urllib3 before reuse anyway. See docs/cold-start.md.
MAX_IDLE_SECONDS = 50.0


@dataclass(frozen=True)
class SessionToken:
    token: str
    expires_at: str | None


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes | None  # None: the body could not be read (cut short, or not in its declared encoding)


def new_session(url: str) -> requests.Session:
    """One per execution environment, so warm invocations reuse the TCP/TLS connection to Anam."""
    session = requests.Session()
    # The environment's proxy and CA bundle settings, read once: with trust_env, requests reads them again
    # (and ~/.netrc, whose credentials would replace the Bearer header) on every call, 0.1 ms of each.
    environment = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies, session.verify = environment["proxies"], environment["verify"]
    session.trust_env = False
    adapter = _AnamAdapter(_tls_context(session.verify))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _tls_context(verify: bool | str | None) -> ssl.SSLContext | None:
    """A TLS context holding the CA bundle that `verify` names (True: requests' own bundle), loaded once.

    Without it, each new connection parses the bundle again: about 20 ms of CPU with OpenSSL 3 here, paid
    again whenever a connection is replaced (MAX_IDLE_SECONDS).
    """
    if not verify:
        return None
    location = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    context = create_urllib3_context()  # certificates required, hostnames checked
    if os.path.isdir(location):
        context.load_verify_locations(capath=location)
    else:
        context.load_verify_locations(cafile=location)
    return context


class _AnamAdapter(HTTPAdapter):
    """One pooled connection, no urllib3-level retries (the budget-aware loop below owns retrying), one TLS
    context for every connection, and no connection reused after MAX_IDLE_SECONDS idle."""

    def __init__(self, tls_context: ssl.SSLContext | None) -> None:
        self._tls_context = tls_context
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _IdleLimitedPool, "https": _IdleLimitedHTTPSPool}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[Any, Any]:
        # requests names the CA bundle on the pool (and, from cert_verify, on each connection), which makes
        # urllib3 load it into the TLS context again for every new connection: the context holds it already.
        host_params, requested = super().build_connection_pool_key_attributes(request, verify, cert)
        pool_kwargs: dict[str, Any] = dict(requested)
        if self._tls_context is not None:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = self._tls_context
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if self._tls_context is None:
            super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]

    def pool_for(self, session: requests.Session, url: str) -> HTTPConnectionPool:
        """The pool that session.post(url) draws its connection from."""
        request = requests.Request("POST", url).prepare()
        pool = self.get_connection_with_tls_context(request, session.verify, session.proxies)
        return cast(HTTPConnectionPool, pool)


class _IdleLimitedPool(HTTPConnectionPool):
    """A pool that closes a connection idle longer than MAX_IDLE_SECONDS instead of reusing it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle_since: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)
        idle_since = self._idle_since.pop(connection, None)
        # time.monotonic keeps counting while Lambda freezes the environment (a freezer, not a suspend).
        if idle_since is not None and time.monotonic() - idle_since > MAX_IDLE_SECONDS:
            connection.close()  # urllib3 reopens a closed connection on its next request
        return connection

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            self._idle_since[conn] = time.monotonic()
        super()._put_conn(conn)

    def open_connection(self, timeout: float) -> None:
        """Connect (TCP, and TLS for https) one pooled connection now, without sending a request."""
        connection: HTTPConnection = self._get_conn()
        try:
            if connection.is_closed:
                connection.timeout = timeout
                connection.connect()
        except BaseException:
            connection.close()
            raise
        finally:
            self._put_conn(connection)


class _IdleLimitedHTTPSPool(_IdleLimitedPool, HTTPSConnectionPool):
    pass


class AnamClient:
    def __init__(
        self,
        base_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.url = base_url + TOKEN_PATH
        self.session = new_session(self.url)
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    def connect(self, timeout: float) -> None:
        """Open the pooled connection to Anam now, sending nothing, so that the next call finds it open.

        Raises what connecting raises (OSError, ssl.SSLError); a connection that failed is not kept. Through
        an HTTP proxy (HTTPS_PROXY), nothing is opened ahead: the first call connects, as without this.
        """
        adapter = self.session.get_adapter(self.url)
        pool = adapter.pool_for(self.session, self.url) if isinstance(adapter, _AnamAdapter) else None
        if isinstance(pool, _IdleLimitedPool):
            pool.open_connection(timeout)

    def create_session_token(
        self, api_key: str, body: Mapping[str, Any], deadline: float, *, sensitive: tuple[str, ...] = ()
    ) -> SessionToken:
        """POST the body to Anam until it answers for good or `deadline` (a `clock()` time) passes.

        `sensitive` strings (the caller's prompt) are cut out of anything Anam says before it is logged.
        """
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        redactions = (api_key, *sensitive)
        for attempt in range(MAX_RETRIES + 1):
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise TokenVendorError(ErrorCode.UPSTREAM_TIMEOUT, f"no time left for attempt {attempt + 1}")
            try:
                # stream=True: the status and headers arrive here, the body is read apart (_receive), so a
                # failure to read it is not taken for a failure to connect.
                response = self.session.post(
                    self.url,
                    data=payload,
                    headers=headers,
                    timeout=attempt_timeouts(remaining),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.ReadTimeout as exc:
                # Anam may already have minted a token: a retry could mint a second one. Give up.
                raise TokenVendorError(ErrorCode.UPSTREAM_TIMEOUT, "read timed out") from exc
            except requests.RequestException as exc:
                failure = f"connection failed: {type(exc).__name__}"
            else:
                answer = _receive(response)
                if answer.status < 500:
                    return _token_or_error(answer, redactions)
                failure = f"Anam answered {answer.status}: {_anam_message(answer, redactions)}"
            self._back_off(attempt, failure, deadline)
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _back_off(self, attempt: int, failure: str, deadline: float) -> None:
        if attempt == MAX_RETRIES:
            raise TokenVendorError(ErrorCode.UPSTREAM_UNAVAILABLE, f"{failure}, after {attempt} retries")
        delay = self._jitter() * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
        if self._clock() + delay >= deadline:
            raise TokenVendorError(ErrorCode.UPSTREAM_UNAVAILABLE, f"{failure}; no time left to retry")
        logger.warning("Retrying Anam", extra={"attempt": attempt + 1, "failure": failure})
        self._sleep(delay)


def attempt_timeouts(remaining: float) -> tuple[float, float]:
    """(connect, read) timeouts that add up to `remaining`: a slow connect cannot push the read past it."""
    connect = min(CONNECT_TIMEOUT_SECONDS, remaining / 2)
    return connect, remaining - connect


def _receive(response: requests.Response) -> _Answer:
    """The answer with its body read, within the attempt's timeout."""
    try:
        body: bytes | None = response.content
    except requests.ConnectionError as exc:
        # How requests reports a read timeout in the middle of a body. As for any read timeout: no retry.
        response.close()
        raise TokenVendorError(ErrorCode.UPSTREAM_TIMEOUT, "the body stopped arriving") from exc
    except requests.RequestException:
        response.close()
        body = None
    return _Answer(response.status_code, response.headers, body)


def _token_or_error(answer: _Answer, redactions: tuple[str, ...]) -> SessionToken:
    status = answer.status
    if status == 200:
        token = _session_token(answer.body)
        if token is None:
            raise TokenVendorError(ErrorCode.UPSTREAM_INVALID_RESPONSE, _describe_body(answer))
        return SessionToken(token, token_expiry(token))
    message = f"Anam answered {status}: {_anam_message(answer, redactions)}"
    if status == 401:
        raise TokenVendorError(ErrorCode.UPSTREAM_AUTH_FAILED, message)
    if status == 429:
        raise TokenVendorError(ErrorCode.RATE_LIMITED, message, retry_after=_retry_after(answer.headers))
    if status not in _REJECTED:
        message += " (an unexpected status, treated as a refusal)"
    raise TokenVendorError(ErrorCode.UPSTREAM_REJECTED, message)


def _json(body: bytes | None) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:  # also UnicodeDecodeError
        return None


def _session_token(body: bytes | None) -> str | None:
    value = _json(body)
    token = value.get("sessionToken") if isinstance(value, dict) else None
    return token if isinstance(token, str) and token.strip() else None


def token_expiry(token: str) -> str | None:
    """The token's JWT `exp` claim as an ISO 8601 UTC time, read without verifying the signature."""
    try:
        claims_part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(claims_part + "=" * (-len(claims_part) % 4)))
        exp = claims["exp"]
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return None
        return datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (IndexError, KeyError, TypeError, ValueError, OverflowError, OSError, binascii.Error):
        return None


def _anam_message(answer: _Answer, redactions: tuple[str, ...]) -> str:
    """Anam's own explanation for the log: its JSON `message`/`error`, or a description of the body."""
    value = _json(answer.body)
    if isinstance(value, dict):
        parts = [value[k] for k in ("message", "error") if isinstance(value.get(k), str)]
        if parts:
            # Redacted before it is cut short: a secret cut in two would no longer match.
            return redact(" / ".join(parts), redactions)[:300]
    return _describe_body(answer)


def _describe_body(answer: _Answer) -> str:
    content_type = answer.headers.get("Content-Type", "none")[:60]
    if answer.body is None:
        return f"a body of type {content_type} that could not be read"
    return f"a {len(answer.body)}-byte body of type {content_type}"


_DELTA_SECONDS = re.compile(r"\d{1,6}")


def _retry_after(headers: Mapping[str, str]) -> str | None:
    """Anam's Retry-After, passed on only when it is a valid delay or HTTP date."""
    value = headers.get("Retry-After", "").strip()
    if _DELTA_SECONDS.fullmatch(value):
        return value
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return value
