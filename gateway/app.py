"""The gateway process: a raw ASGI dispatcher in front of the proxy and the control app.

``uvicorn --factory gateway.app:create_app``. Paths ``/{api}/{version}/...`` that name
an upstream go to :class:`gateway.proxy.Proxy` (the hot path: no framework, no database);
``/console/...`` to the training console's process (and a browser opening ``/`` there);
everything else (index, aggregated docs, token endpoint, ``/metrics``, the ``/_sandbox``
control plane) goes to a FastAPI app built in :mod:`gateway.control.app`. What both share
is a :class:`gateway.state.GatewayState`, built here.
"""

from __future__ import annotations

import gc

from starlette.types import Receive, Scope, Send

from gateway import console_relay
from gateway.control.app import build_control_app
from gateway.proxy import Proxy
from gateway.settings import GatewaySettings
from gateway.state import GatewayState
from vnsandbox.logs import configure_logging


class Gateway:
    """The ASGI application of the gateway: sends each call to the proxy or to the control app."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.state = GatewayState(settings)
        self.by_prefix = {u.prefix: u for u in self.state.upstreams}
        self.proxy = Proxy(self.state)
        self.control = build_control_app(self.state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if console_relay.is_console(path):
                await console_relay.relay(
                    scope, receive, send, self.state.pool, self.settings.console_url, self.settings.max_body_bytes
                )
                return
            if console_relay.wants_console(scope):
                await console_relay.redirect_to_console(send)
                return
            raw = scope.get("raw_path")
            raw_path = raw.decode("latin-1") if raw else path
            link: tuple[str, str] | None = None
            if path.startswith("/t/"):
                # Tenant-bound link: /t/{tenant}/{sig}/{api}/{version}/...
                parts = path.split("/", 4)
                raw_parts = raw_path.split("/", 4)
                if len(parts) == 5 and len(raw_parts) == 5:
                    link = (parts[2], parts[3])
                    path, raw_path = "/" + parts[4], "/" + raw_parts[4]
            first = path.find("/", 1)
            second = path.find("/", first + 1) if first > 0 else -1
            prefix = path if second == -1 else path[:second]
            upstream = self.by_prefix.get(prefix)
            if upstream is not None:
                rest = raw_path[len(prefix) :] if raw_path.startswith(prefix) else path[len(prefix) :]
                await self.proxy.handle(scope, receive, send, upstream, rest or "/", link)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.control(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.state.start()
                tune_collector()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.state.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


#: Allocations (net, of objects that can hold references) between two collections of the
#: youngest generation; Python's default is 700.
GC_YOUNG_THRESHOLD = 10_000


def tune_collector() -> None:
    """The cyclic garbage collector, for a proxy under load (run once startup is done).

    With the default threshold the objects of the calls in flight (coroutines, futures,
    headers) are scanned and promoted about once every 20 calls, although reference counting
    frees nearly all of them when their call ends: measured under wrk, about 6 % of the
    gateway's CPU. A larger threshold leaves them to reference counting; what startup built
    (modules, the control app, settings), which lives as long as the process, is frozen out
    of the generations so that the rarer full collections do not walk it again each time.
    """
    gc.freeze()
    if gc.get_threshold()[0] < GC_YOUNG_THRESHOLD:
        gc.set_threshold(GC_YOUNG_THRESHOLD)


def create_app(settings: GatewaySettings | None = None) -> Gateway:
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.log_level)
    return Gateway(settings)
