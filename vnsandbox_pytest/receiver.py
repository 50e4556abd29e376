"""A province's webhook endpoint on loopback: checks every signature, lets a test wait for an event."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vnsandbox.signing import verify_webhook_signature
from vnsandbox.standard_webhooks import verify_standard

#: Accepted by both the DVCQG webhooks (any 2xx) and PayGov's notices (``MaLoi`` ``00``).
ACCEPT = b'{"MaLoi": "00", "MoTaLoi": "Thanh cong"}'


@dataclass
class Event:
    """One POST the sandbox delivered."""

    path: str
    headers: dict[str, str]
    body: bytes
    #: ``sandbox``, ``standard-webhooks`` or ``None`` (unsigned, or signed with another secret).
    verified_scheme: str | None

    @property
    def verified(self) -> bool:
        return self.verified_scheme is not None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def name(self) -> str:
        """``dossier.filed`` and the like for DVCQG, the ``LoaiBanTin`` (``NOTIFY``) for PayGov."""
        try:
            data = self.json()
        except ValueError:
            return ""
        if not isinstance(data, dict):
            return ""
        return str(data.get("event") or data.get("LoaiBanTin") or "")


class WebhookReceiver:
    """Records every POST; ``secrets`` are tried in turn on both signature schemes."""

    def __init__(self, secrets: list[str] | None = None, host: str = "127.0.0.1") -> None:
        self.secrets: list[str] = list(secrets or [])
        self.events: list[Event] = []
        self.status = 200
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                event = Event(self.path, headers, body, receiver.check(headers, body))
                status = receiver.status
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(ACCEPT)))
                self.end_headers()
                self.wfile.write(ACCEPT)
                with receiver._arrived:
                    receiver.events.append(event)
                    receiver._arrived.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def check(self, headers: dict[str, str], body: bytes) -> str | None:
        now = time.time()
        for secret in self.secrets:
            if "webhook-signature" in headers and verify_standard(secret, headers, body, now=now):
                return "standard-webhooks"
            sig = headers.get("x-sandbox-signature")
            if sig and verify_webhook_signature(secret, sig, body, now=now):
                return "sandbox"
        return None

    def wait_for(
        self, name: str | None = None, *, count: int = 1, timeout_s: float = 30.0, verified: bool = True
    ) -> list[Event]:
        """The first ``count`` events named ``name`` (any when ``None``), waiting up to ``timeout_s``.
        With ``verified`` (the default) an event whose signature does not verify fails the wait."""
        deadline = time.monotonic() + timeout_s

        def matching() -> list[Event]:
            return [e for e in self.events if name is None or e.name == name]

        with self._arrived:
            while len(matching()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = ", ".join(f"{e.name or e.path} ({e.verified_scheme or 'unverified'})" for e in self.events)
                    raise AssertionError(
                        f"waited {timeout_s:.0f} s for {count} {name or 'event'}(s); received: {seen or 'nothing'}"
                    )
                self._arrived.wait(left)
            found = matching()[:count]
        if verified:
            bad = [e for e in found if not e.verified]
            if bad:
                raise AssertionError(
                    f"{len(bad)} {name or 'event'}(s) arrived without a signature that verifies with the "
                    f"receiver's secrets (headers: {sorted(bad[0].headers)})"
                )
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
