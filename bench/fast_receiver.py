"""A fast local receiver for the outbox row (aiohttp on uvloop, one process): answers every POST
``200 {"ok": true}`` and keeps, per JSON body ``{"ref": ..., "seq": ...}``, the count, the first and
last arrival times and whether any reference's ``seq`` ever went backwards.
``GET /stats`` reports them; ``POST /reset`` forgets them.

    .venv/bin/python bench/fast_receiver.py PORT
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from aiohttp import web

REPLY = b'{"ok": true}'


def make_app() -> web.Application:
    state: dict[str, Any] = {}

    def reset() -> None:
        state.update(count=0, first=None, last=None, out_of_order=0, last_seq={})

    async def receive(request: web.Request) -> web.Response:
        now = time.monotonic()
        body = json.loads(await request.read() or b"{}")
        ref, seq = body.get("ref"), body.get("seq", 0)
        if ref is not None:
            if seq < state["last_seq"].get(ref, -1):
                state["out_of_order"] += 1
            state["last_seq"][ref] = seq
        state["count"] += 1
        state["first"] = state["first"] or now
        state["last"] = now
        return web.Response(body=REPLY, content_type="application/json")

    async def stats(request: web.Request) -> web.Response:
        out = {k: state[k] for k in ("count", "first", "last", "out_of_order")}
        return web.json_response(out)

    async def do_reset(request: web.Request) -> web.Response:
        reset()
        return web.json_response({"ok": True})

    reset()
    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_get("/", stats)
    app.router.add_post("/reset", do_reset)
    app.router.add_post("/{tail:.*}", receive)
    return app


def main() -> None:
    import uvloop

    uvloop.install()
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
