"""An upstream that answers too late, for the gateway's timeout handling."""

import asyncio


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await asyncio.sleep(float(scope.get("query_string", b"").decode().removeprefix("sleep=") or 5))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})
