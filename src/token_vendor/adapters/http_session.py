"""The pooled HTTP session the adapters share (Anam, Turnstile): one kept-alive connection per party, one
TLS context loaded once, no connection reused after it idled past MAX_IDLE_SECONDS, and attempt timeouts
whose connect and read together end by the deadline.
"""

from __future__ import annotations

import os
import ssl
import time
import weakref
from typing import Any, cast

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.ssl_ import create_urllib3_context

# requests applies a timeout to the connect and to each read apart, not to their sum: an attempt may connect
# for this long at most, and reads for what is left, so that connect and read together end by the deadline.
CONNECT_TIMEOUT_SECONDS = 2.0
# A pooled connection idle longer than this is closed and opened afresh rather than reused. Something on the
# way may have dropped it without a word while Lambda froze the environment (an AWS load balancer's default
# idle timeout is 60 s, Cloudflare's 400 s, Lambda's own NAT about 350 s); a request sent into such a
# connection gets no answer and would wait out the whole time budget (a read timeout is never retried).
# A server that closed it properly is noticed by urllib3 before reuse anyway. See docs/cold-start.md.
MAX_IDLE_SECONDS = 50.0


def new_session(url: str, *, pool_size: int = 1) -> requests.Session:
    """One per execution environment and outside party, so warm invocations reuse the TCP/TLS connection;
    `pool_size` connections kept, for a caller that sends that many requests at once."""
    session = requests.Session()
    # The environment's proxy and CA bundle settings, read once: with trust_env, requests reads them again
    # (and ~/.netrc, whose credentials would replace the Bearer header) on every call, 0.1 ms of each.
    environment = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies, session.verify = environment["proxies"], environment["verify"]
    session.trust_env = False
    adapter = PooledAdapter(_tls_context(session.verify), pool_size)
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


class PooledAdapter(HTTPAdapter):
    """Pooled connections (one unless told), no urllib3-level retries (the caller's deadline-bounded loop owns
    retrying), one TLS context for every connection, and no connection reused after MAX_IDLE_SECONDS idle."""

    def __init__(self, tls_context: ssl.SSLContext | None, pool_size: int = 1) -> None:
        self._tls_context = tls_context
        super().__init__(pool_connections=1, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": IdleLimitedPool, "https": IdleLimitedHTTPSPool}

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


class IdleLimitedPool(HTTPConnectionPool):
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


class IdleLimitedHTTPSPool(IdleLimitedPool, HTTPSConnectionPool):
    pass


def attempt_timeouts(remaining: float) -> tuple[float, float]:
    """(connect, read) timeouts that add up to `remaining`: a slow connect cannot push the read past it."""
    connect = min(CONNECT_TIMEOUT_SECONDS, remaining / 2)
    return connect, remaining - connect
