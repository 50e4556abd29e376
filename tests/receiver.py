"""A real HTTP receiver on loopback, standing in for a province's webhook endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, bytes]


@dataclass
class Receiver:
    """Records every POST; answers with ``reply(n, request)`` (n counts from 1)."""

    reply: Callable[[int, Received], Reply] = field(default=lambda n, r: (200, b'{"ok": true}'))
    received: list[Received] = field(default_factory=list)
    #: Extra headers of every reply (``Location`` for a redirect, say).
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                item = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.received.append(item)
                    n = len(receiver.received)
                status, payload = receiver.reply(n, item)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fail_first(n_failures: int, status: int = 500) -> Callable[[int, Received], Reply]:
    """Answer ``status`` to the first ``n_failures`` requests, then 200."""
    return lambda n, _r: (status, b'{"error": "temporarily down"}') if n <= n_failures else (200, b'{"ok": true}')
