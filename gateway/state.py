"""What the two halves of a gateway process share: the proxy (hot path) and the control app.

:class:`GatewayState` holds the settings, the route table, the database, the in-memory
configuration, the authenticator, the consumers' token buckets, the fault engine, the
journal (the last three in memory, or in the database when the state is shared between
replicas: see :meth:`GatewaySettings.shares_state`), the metrics and the pool of
connections to the services, and the operations both
halves use: reloading the configuration, deleting used-up fault rules, and the gateway's
own signed calls to the services (one, or every one at once). :mod:`gateway.app` builds it
and hands it to :class:`gateway.proxy.Proxy` and to :func:`gateway.control.app.build_control_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import aiohttp

from gateway import service
from gateway.auth import Authenticator
from gateway.config import ConfigCache
from gateway.faults import FaultEngine
from gateway.journal import GatewayJournal, JournalStore
from gateway.journal_db import DatabaseJournal
from gateway.metrics import Metrics
from gateway.models import Base
from gateway.pool import UpstreamPool
from gateway.quota import Buckets, SharedBuckets
from gateway.routes import Upstream, upstreams
from gateway.settings import GatewaySettings
from vnsandbox.calls import signed_request
from vnsandbox.context import DEFAULT_TENANT
from vnsandbox.db import Database

log = logging.getLogger("gateway")
MIGRATIONS = Path(__file__).parent / "migrations"


class GatewayState:
    """The state of one gateway process (one replica)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.upstreams = upstreams(settings)
        self.db = Database(settings.resolved_database_url(), [Base.metadata])
        self.db.migrate(MIGRATIONS, "gateway")
        self.config = ConfigCache(self.db, settings.config_refresh_s)
        self.config.refresh()
        self.auth = Authenticator(
            settings.gateway_secret, settings.admin_key, self.config, require_auth=settings.auth_required
        )
        self.shared = settings.shares_state(self.db.dialect)
        self.buckets: Buckets | SharedBuckets = Buckets()
        self.faults = FaultEngine(settings.upstream_timeout_s, self.db if self.shared else None)
        self.journal: JournalStore = GatewayJournal(settings.journal_size, settings.journal_max_tenants)
        self._db_journal: DatabaseJournal | None = None
        if self.shared:
            self.buckets = SharedBuckets(self.db, settings.quota_lease_s)
            self.journal = self._db_journal = DatabaseJournal(
                self.db,
                settings.journal_size,
                max_age_s=settings.journal_max_age_s,
                flush_s=settings.journal_flush_s,
                batch=settings.journal_flush_batch,
                settle_s=settings.journal_settle_s,
            )
        self.metrics = Metrics()
        self.pool = UpstreamPool(settings)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refresher: asyncio.Task[None] | None = None

    # -- start and stop -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the upstream pool and start reloading the configuration periodically."""
        await self.pool.start()
        if self._db_journal is not None:
            await self._db_journal.start()
        self._refresher = asyncio.create_task(self._refresh_loop())

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        if self._db_journal is not None:
            await self._db_journal.stop()
        await self.pool.stop()
        self.db.dispose()

    # -- configuration --------------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.config_refresh_s)
            try:
                await self.reload()
            except Exception:
                log.exception("configuration reload failed; keeping the previous snapshot")

    async def reload(self) -> None:
        """Reload the configuration now (after this replica changed it)."""
        await self.config.refresh_async()
        self.after_reload()

    def after_reload(self) -> None:
        snap = self.config.snapshot
        self.faults.prune({r.id for rules in snap.faults.values() for r in rules})
        self.metrics.config_generation.set(self.config.generation)

    def schedule_fault_cleanup(self) -> None:
        """Delete "next N" rules used up in this replica, off the hot path."""
        ids = sorted(self.faults.exhausted)
        self.faults.exhausted.difference_update(ids)

        def work() -> None:
            with self.db.session() as session:
                service.delete_fault_ids(session, ids)

        async def run() -> None:
            try:
                await asyncio.to_thread(work)
                await self.reload()
            except Exception:
                log.exception("could not delete used-up fault rules", extra={"rules": ids})

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- calls from the gateway to the services -----------------------------------------

    async def call_upstream(
        self,
        upstream: Upstream,
        method: str,
        path: str,
        *,
        tenant: str,
        consumer: str = "",
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """A control-plane call from the gateway to one service, as ``tenant``."""
        session = self.pool.session
        assert session is not None, "gateway not started"
        try:
            async with signed_request(
                session,
                method,
                upstream.base_url + path,
                secret=self.settings.gateway_secret,
                tenant=tenant,
                consumer=consumer,
                json=json,
                params=params,
            ) as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return 502, {
                "error_code": "UPSTREAM_UNREACHABLE",
                "message_en": f"{upstream.service}: {exc.__class__.__name__}",
            }

    async def fetch_text(self, upstream: Upstream, path: str, timeout_s: float = 3.0) -> str | None:
        """A service's plain-text control reply (its metrics), or None when it cannot be read."""
        session = self.pool.session
        assert session is not None, "gateway not started"
        try:
            async with signed_request(
                session,
                "GET",
                upstream.base_url + path,
                secret=self.settings.gateway_secret,
                tenant=DEFAULT_TENANT,
                timeout_s=timeout_s,
            ) as resp:
                return await resp.text() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def fan_out(
        self,
        method: str,
        path: str,
        *,
        tenant: str,
        consumer: str = "",
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The same control call to every service at once: ``{service: {status, body}}``."""
        results = await asyncio.gather(
            *(
                self.call_upstream(u, method, path, tenant=tenant, consumer=consumer, json=json, params=params)
                for u in self.upstreams
            )
        )
        return {u.service: {"status": s, "body": b} for u, (s, b) in zip(self.upstreams, results, strict=True)}
