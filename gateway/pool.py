"""The gateway's connections to the services: one pooled aiohttp session, and one that
always opens a new connection (for the single retry of a call whose pooled connection was
found dead; see :meth:`gateway.proxy.Proxy._send`).

Why aiohttp and not httpx: measured on this kind of machine, a proxy over one pooled
``aiohttp.ClientSession`` answers about 6.7× the requests per second of the same proxy
over ``httpx.AsyncClient`` (see ../shared/perf-notes.md and ``bench/gateway_proxy.py``).
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import Any

import aiohttp

from gateway.settings import GatewaySettings

#: Whether the connection the current call was sent on came from the pool (set by the connector).
reused: ContextVar[bool] = ContextVar("upstream_connection_reused", default=False)


class PoolConnector(aiohttp.TCPConnector):
    """The upstream pool, remembering for each call whether its connection was reused.

    A reused keep-alive connection may have been closed by the service just before the
    call was written on it; :meth:`gateway.proxy.Proxy._send` retries such a call once, on a
    new connection.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._known: weakref.WeakSet[object] = weakref.WeakSet()

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Any],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> Any:
        conn = await super().connect(req, traces, timeout)
        protocol = conn.protocol
        reused.set(protocol in self._known)
        self._known.add(protocol)
        return conn


class UpstreamPool:
    """The two client sessions, opened at the gateway's start and closed at its stop."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.session: aiohttp.ClientSession | None = None
        self.fresh_session: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.connect_timeout_s, sock_read=settings.upstream_timeout_s
        )

    async def start(self) -> None:
        connector = PoolConnector(limit=self.settings.pool_size, limit_per_host=0, ttl_dns_cache=300)
        self.session = self._session(connector)
        # Retries of calls whose pooled connection was found dead: always a new connection.
        self.fresh_session = self._session(aiohttp.TCPConnector(force_close=True, ttl_dns_cache=300))

    def _session(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        limit = self.settings.max_upstream_header_bytes
        return aiohttp.ClientSession(
            connector=connector,
            # Shared by every caller: a cookie one reply set must never go out with another
            # caller's call (the callers' own Cookie headers are relayed as they are).
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            timeout=self.timeout,
            skip_auto_headers=("User-Agent",),
            max_line_size=limit,
            max_field_size=limit,
        )

    async def stop(self) -> None:
        for session in (self.session, self.fresh_session):
            if session is not None:
                await session.close()
        self.session = self.fresh_session = None
