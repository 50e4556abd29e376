"""Many HTTP POSTs at once under the outbound-URL policy: the outbox's network side.

:class:`ConcurrentPoster` sends a batch of requests concurrently (aiohttp, keep-alive
connections, at most ``concurrency`` at once) on a private event loop running in its own thread
(so a caller whose thread already runs an event loop can use it too), and answers one
:class:`Reply` per request, in order.
A request marked ``guarded`` goes through the :class:`~vnsandbox.outbound.OutboundPolicy`:
its URL is checked as written (scheme, host, IP literals) before anything is sent, and a host
name is resolved by the policy, every address checked, and the connection made to a checked
address (aiohttp connects to what its resolver answered, never resolving again; TLS still
verifies the certificate against the URL's host name). Unguarded requests (operator-configured
targets) use a second session without the policy. Redirects are never followed; of each reply
at most ``read_bytes`` are read.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import weakref
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from vnsandbox.outbound import OutboundPolicy, OutboundRefused, parse_address

_T = TypeVar("_T")

if TYPE_CHECKING:  # aiohttp is imported with the first batch: a service that sends nothing starts without it
    import aiohttp


@dataclass(frozen=True)
class Outgoing:
    """One POST to send."""

    url: str
    body: bytes
    headers: dict[str, str]
    #: Checked against the outbound-URL policy (a tenant-registered target).
    guarded: bool = True


@dataclass(frozen=True)
class Reply:
    """What came of one POST: a status and the first bytes of the reply, or an error."""

    status_code: int | None
    body: bytes
    error: str | None
    duration_ms: float


def _policy_resolver(policy: OutboundPolicy) -> aiohttp.abc.AbstractResolver:
    """An aiohttp resolver that resolves host names with the policy's resolver and refuses a name
    with any refused address."""
    from aiohttp.abc import AbstractResolver, ResolveResult

    class PolicyResolver(AbstractResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            if parse_address(host) is None and host.lower().rstrip(".") != "localhost":
                addresses = await asyncio.to_thread(policy.resolve, host, port)
            else:
                addresses = policy.resolve(host, port)
            return [
                {
                    "hostname": host,
                    "host": str(a),
                    "port": port,
                    "family": socket.AF_INET6 if a.version == 6 else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
                for a in addresses
            ]

        async def close(self) -> None:
            return None

    return PolicyResolver()


def _error_text(exc: BaseException, timeout_s: float) -> str:
    """A stable ``Name: detail`` for a failed POST (``ConnectError``, ``TimeoutError``, ...)."""
    import aiohttp

    if isinstance(exc, OutboundRefused):
        return str(exc)
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return f"TimeoutError: no complete reply within {timeout_s:g} s"
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionError | socket.gaierror):
        return f"ConnectError: {exc}"
    return f"{exc.__class__.__name__}: {exc}"


class _Loop:
    """A private event loop in its own thread (started with the first batch) and the sessions
    bound to it; shut down by :meth:`close` or when its poster is garbage-collected."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread: threading.Thread | None = None
        self.sessions: tuple[OutboundPolicy, aiohttp.ClientSession, aiohttp.ClientSession] | None = None

    def run(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` on the loop and wait for its result (from any thread, loop or not)."""
        if self.thread is None:
            self.thread = threading.Thread(target=self.loop.run_forever, name="vnsandbox-sending", daemon=True)
            self.thread.start()
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    async def close_sessions(self) -> None:
        if self.sessions is not None:
            _, guarded, internal = self.sessions
            self.sessions = None
            await guarded.close()
            await internal.close()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        if self.thread is not None:
            asyncio.run_coroutine_threadsafe(self.close_sessions(), self.loop).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        if not self.loop.is_running():
            self.loop.close()


class ConcurrentPoster:
    """Sends batches of POSTs concurrently; one batch at a time (callers from any thread wait)."""

    def __init__(self, outbound: OutboundPolicy, timeout_s: float, concurrency: int, read_bytes: int) -> None:
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.read_bytes = read_bytes
        self._outbound = outbound
        self._lock = threading.Lock()
        self._state = _Loop()
        self._finalizer = weakref.finalize(self, self._state.close)

    @property
    def outbound(self) -> OutboundPolicy:
        return self._outbound

    def use_outbound(self, outbound: OutboundPolicy) -> None:
        """Enforce ``outbound`` from the next batch on (with new connections)."""
        self._outbound = outbound

    def post_all(self, requests: Sequence[Outgoing]) -> list[Reply]:
        with self._lock:
            return self._state.run(self._post_all(requests))

    def close(self) -> None:
        with self._lock:
            self._finalizer()

    async def _current_sessions(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        import aiohttp

        policy, state = self._outbound, self._state
        if state.sessions is None or state.sessions[0] is not policy:
            await state.close_sessions()
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)

            def session(resolver: aiohttp.abc.AbstractResolver | None) -> aiohttp.ClientSession:
                connector = aiohttp.TCPConnector(limit=self.concurrency, resolver=resolver)
                return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)

            state.sessions = (policy, session(_policy_resolver(policy)), session(None))
        return state.sessions[1], state.sessions[2]

    async def _post_all(self, requests: Sequence[Outgoing]) -> list[Reply]:
        guarded, internal = await self._current_sessions()
        policy = self._outbound
        # Each URL as written is judged once per batch (a batch often goes to one receiver).
        refusals: dict[str, OutboundRefused | ValueError | None] = {}
        for r in requests:
            if r.guarded and r.url not in refusals:
                try:
                    policy.check_url(r.url)
                    refusals[r.url] = None
                except (OutboundRefused, ValueError) as exc:
                    refusals[r.url] = exc
        return list(
            await asyncio.gather(
                *(
                    self._post(guarded, r, refusals[r.url]) if r.guarded else self._post(internal, r, None)
                    for r in requests
                )
            )
        )

    async def _post(
        self, session: aiohttp.ClientSession, request: Outgoing, refused: OutboundRefused | ValueError | None
    ) -> Reply:
        import aiohttp

        started = time.perf_counter()
        try:
            if refused is not None:
                return Reply(None, b"", _error_text(refused, self.timeout_s), (time.perf_counter() - started) * 1000)
            async with session.post(
                request.url, data=request.body, headers=request.headers, allow_redirects=False
            ) as resp:
                reply = b""
                while len(reply) < self.read_bytes:
                    chunk = await resp.content.read(self.read_bytes - len(reply))
                    if not chunk:
                        break
                    reply += chunk
                return Reply(resp.status, reply, None, (time.perf_counter() - started) * 1000)
        except (OutboundRefused, aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            return Reply(None, b"", _error_text(exc, self.timeout_s), (time.perf_counter() - started) * 1000)
