"""Request bodies on the gateway's hot path: read whole when small, relayed as they arrive
when large or of unknown length, cut at ``GATEWAY_MAX_BODY_BYTES`` (413) and at the
body-read deadline ``GATEWAY_BODY_READ_TIMEOUT_S`` (408). Bodies are never parsed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.types import Receive, Scope

from gateway.errors import GatewayError
from vnsandbox.middleware import receive_body_part

#: Bodies up to this size are read whole before forwarding (faster); larger ones stream.
SMALL_BODY = 65_536


def read_timeout(message_en: str, message_vi: str) -> GatewayError:
    """408 for a request body that did not arrive within ``GATEWAY_BODY_READ_TIMEOUT_S``."""
    return GatewayError(
        message_en, message_vi, code="REQUEST_TIMEOUT", status_code=408, headers={"Connection": "close"}
    )


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        f"The request body is larger than {limit} bytes",
        f"Nội dung yêu cầu vượt quá {limit} byte",
        code="PAYLOAD_TOO_LARGE",
        status_code=413,
    )


class BodyRefused(Exception):
    """A streamed body stopped: its refusal is in :attr:`StreamedBody.failure`."""


class StreamedBody:
    """A request body relayed as it arrives (no Content-Length, or a large one), cut at ``limit``
    and at the body-read deadline.

    Going over the limit or past the deadline stops the stream and keeps the refusal in
    ``failure``; the relay then answers it (413, 408) whatever aiohttp made of the
    interrupted upload.
    """

    def __init__(self, receive: Receive, limit: int, deadline: float, timeout_s: float) -> None:
        self.receive = receive
        self.limit = limit
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.started = False
        self.failure: GatewayError | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started = True
        seen = 0
        while True:
            try:
                message = await receive_body_part(self.receive, self.deadline, self.timeout_s, read_timeout)
            except GatewayError as exc:
                self.failure = exc
                raise BodyRefused from None
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                self.failure = too_large(self.limit)
                raise BodyRefused
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


async def read_body(scope: Scope, receive: Receive, limit: int, timeout_s: float) -> bytes | StreamedBody:
    """The request's body: the bytes of a small one, else a :class:`StreamedBody` to relay."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    declared = chunked = None
    for k, v in scope["headers"]:
        if k == b"content-length":
            declared = v
        elif k == b"transfer-encoding":
            chunked = v
    if declared is None and chunked is None:
        return b""  # HTTP/1.1: no Content-Length and no Transfer-Encoding, no body
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise GatewayError(
                "Invalid Content-Length header",
                "Tiêu đề Content-Length không hợp lệ",
                code="INVALID_CONTENT_LENGTH",
            ) from None
        if size > limit:
            raise too_large(limit)
        if size <= SMALL_BODY:
            chunks = []
            while True:
                message = await receive_body_part(receive, deadline, timeout_s, read_timeout)
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    return b"".join(chunks)
    return StreamedBody(receive, limit, deadline, timeout_s)
