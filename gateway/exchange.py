"""One call through the gateway's proxy, as it goes: what the caller sent that the gateway
keeps for itself (credentials, tenant, request id, host), what the journal and the metrics
need to know about it, and answering it in one piece."""

from __future__ import annotations

from typing import Any

from starlette.types import Send

from gateway.faults import Decision


class Call:
    """What the proxy knows about one call (one object per call, slotted: the hot path)."""

    __slots__ = (
        "admin_key",
        "api_key",
        "authorization",
        "consumer",
        "decision",
        "error",
        "fault",
        "header_bytes",
        "host",
        "request_body",
        "request_type",
        "response_body",
        "response_type",
        "rid",
        "sent",
        "status",
        "tenant",
        "tenant_in",
    )

    def __init__(self) -> None:
        #: The request id: the caller's when well-formed, else a new one.
        self.rid = ""
        #: The gateway's credentials and tenant choice, taken out of the relayed headers.
        self.authorization: str | None = None
        self.api_key: str | None = None
        self.admin_key: str | None = None
        self.tenant_in: str | None = None
        self.host = ""
        self.header_bytes = 0
        #: Unknown until the caller is authenticated; refused strangers are not journalled.
        self.tenant: str | None = None
        self.consumer = ""
        self.status = 0
        #: Whether the reply has begun (its head was sent).
        self.sent = False
        #: A fault to apply to the service's reply (``"phase": "after"``, ``malformed``).
        self.decision: Decision | None = None
        self.fault: dict[str, Any] | None = None
        self.error: str | None = None
        self.request_body: bytes | None = None
        self.request_type = ""
        self.response_body: bytes | None = None
        self.response_type = ""


async def send_whole(send: Send, call: Call, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Answer with ``body`` in one piece: ``headers`` (without a length) plus its content-length."""
    call.status = status
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
