"""An upstream that misbehaves at the connection level, for the gateway's relay.

Run as ``python -m tests.apps.closing PORT``. Every reply is JSON and keeps the connection
open (HTTP/1.1 keep-alive, no ``Connection: close``), but the server drops a connection as
soon as a second request arrives on it, without reading it: what a service does when it
closes an idle keep-alive connection at the moment the gateway reuses it. The request is
never seen, so ``/_seen`` counts only requests the server took up.

``GET /big-header?bytes=N`` answers with an ``X-Big`` header of N bytes; ``GET /chunked?pieces=N``
with a chunked body of N pieces ``{"piece": i}``, each written on its own a moment after the
previous one (N = 1: the piece and the last chunk in one write, as a server does for a small
reply of unknown length). ``GET /set-cookie`` sets a cookie; ``GET /cookie`` answers the
``Cookie`` header it was sent (``{"cookie": null}`` without one).
"""

from __future__ import annotations

import asyncio
import json
import sys

SEEN: list[str] = []


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        extra = b""
        if target.startswith("/chunked"):
            await _chunked(writer, int(target.partition("pieces=")[2] or "1"))
            await reader.read(1)
            return
        if target == "/set-cookie":
            extra = b"set-cookie: sid=someone-elses-session; Path=/\r\n"
        elif target == "/cookie":
            SEEN.append(f"cookie {headers.get('cookie')}")
        if target.startswith("/big-header"):
            size = int(target.partition("bytes=")[2] or "10000")
            extra = b"x-big: " + b"b" * size + b"\r\n"
        elif target != "/_seen":
            SEEN.append(f"{method} {target} {body.decode()}")
        if target == "/cookie":
            payload = json.dumps({"cookie": headers.get("cookie")}).encode()
        else:
            payload = json.dumps({"seen": SEEN} if target == "/_seen" else {"ok": True, "n": len(SEEN)}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + extra
            + f"content-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        # Keep-alive promised; drop the connection when the next request comes, unread.
        await reader.read(1)
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _chunked(writer: asyncio.StreamWriter, pieces: int) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
    for i in range(pieces):
        data = json.dumps({"piece": i}).encode()
        chunk = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        if i == pieces - 1:
            chunk += b"0\r\n\r\n"
        writer.write(chunk)
        await writer.drain()
        if i < pieces - 1:
            await asyncio.sleep(0.05)


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
