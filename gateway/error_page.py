"""The gateway's own error replies as a small Vietnamese HTML page, for a browser's navigation.

A citizen on a platform's browser page (VNeID's login page, PayGov's payment page) who meets an
injected ``error`` fault or an upstream the gateway cannot reach would otherwise see the JSON
envelope. A request is a browser's navigation when it says so (``Sec-Fetch-Mode: navigate``) or
its ``Accept`` names ``text/html`` before any JSON type; API clients (``application/json``,
``*/*``, no ``Accept``) keep the exact JSON. The status code is the same either way; the page
shows it, the machine code, the Vietnamese and English messages and a «Thử lại» link.

The page is self-contained (inline style, no script, no outside file), in the colours of the
console's and the platforms' pages.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlsplit

from starlette.types import Scope

#: What an ``error`` fault page says when the rule's body has no message of its own.
BUSY_VI = "Hệ thống đang bận hoặc gián đoạn, vui lòng thử lại sau"
BUSY_EN = "The system is busy or interrupted; please retry later"
_JSON_TYPES = (b"application/json", b"application/problem+json")


def wants_html(accept: bytes | None, fetch_mode: bytes | None) -> bool:
    """A browser navigating: ``Sec-Fetch-Mode: navigate``, or ``Accept`` naming ``text/html``
    (or ``application/xhtml+xml``) before any JSON type."""
    if fetch_mode is not None:
        return fetch_mode.strip().lower() == b"navigate"
    if not accept:
        return False
    for item in accept.lower().split(b","):
        media = item.split(b";", 1)[0].strip()
        if media in (b"text/html", b"application/xhtml+xml"):
            return True
        if media in _JSON_TYPES or media.endswith(b"+json"):
            return False
    return False


def browser_navigation(scope: Scope) -> bool:
    """The request is a browser's navigation (:func:`wants_html` of its headers)."""
    accept = mode = None
    for name, value in scope["headers"]:
        if name == b"accept":
            accept = value
        elif name == b"sec-fetch-mode":
            mode = value
    return wants_html(accept, mode)


def fault_texts(body: Any, status: int) -> tuple[str, str, str]:
    """(machine code, Vietnamese, English) of an ``error`` fault's body, whatever platform's
    envelope it is in (the sandbox's, OAuth 2.0's, DVCQG's, PayGov's); the generic busy line
    where it says nothing."""
    if not isinstance(body, dict):
        return f"HTTP_{status}", BUSY_VI, BUSY_EN
    code = body.get("error_code", body.get("error", body.get("MaLoi")))
    vi = body.get("message") or body.get("error_description") or body.get("MoTaLoi") or BUSY_VI
    en = body.get("message_en") or BUSY_EN
    return (f"HTTP_{status}" if code is None else str(code)), str(vi), str(en)


def retry_target(scope: Scope) -> str:
    """Where «Thử lại» goes: the same address for a GET; for a form post, the page the form was
    on when it is a page of this host (a POST's address cannot be opened again by a link)."""
    if scope["method"] in ("GET", "HEAD"):
        return ""  # the empty reference: the page's own address
    headers: dict[bytes, bytes] = dict(scope["headers"])
    referer = headers.get(b"referer", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    parts = urlsplit(referer)
    if referer and parts.scheme in ("http", "https") and parts.netloc == host:
        return referer
    return ""


def render(status: int, code: str, message_vi: str, message_en: str, request_id: str, retry: str) -> bytes:
    """The page, UTF-8."""
    href = escape(retry, quote=True)
    rid = f" · mã yêu cầu <code>{escape(request_id)}</code>" if request_id else ""
    page = f"""<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dịch vụ tạm thời gián đoạn (HTTP {status}) — vnsandbox</title>
<link rel="icon" href="data:,">
<style>
  body {{ margin: 0; font: 16px/1.45 "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif; color: #1f2937;
         background: #f3f4f6; }}
  header {{ background: linear-gradient(90deg, #7a0a1c, #b0102a); color: #fff; padding: 12px 20px;
           border-bottom: 4px solid #f5c400; font-weight: 700; text-transform: uppercase; }}
  .sandbox {{ background: #f5c400; color: #000; text-align: center; font-size: 13px; padding: 4px 8px; }}
  main {{ max-width: 720px; margin: 24px auto; background: #fff; border-radius: 8px; padding: 20px 24px; }}
  h1 {{ color: #b0102a; font-size: 22px; margin-top: 0; }}
  .msg {{ background: #fde8ea; border-left: 4px solid #b0102a; padding: 10px 14px; }}
  .muted {{ color: #4b5563; font-size: 14px; }}
  a {{ color: #b0102a; font-weight: 600; }}
  :focus-visible {{ outline: 3px solid #f5c400; outline-offset: 2px; }}
</style>
</head>
<body>
<header>Cổng kết nối (LGSP) · vnsandbox</header>
<div class="sandbox" role="note">Môi trường thử nghiệm — dữ liệu tổng hợp, không có dữ liệu công dân thật</div>
<main>
<h1>Dịch vụ tạm thời gián đoạn</h1>
<p class="msg" role="alert">{escape(message_vi)}</p>
<p lang="en">{escape(message_en)}</p>
<p class="muted">HTTP {status} · mã lỗi <code>{escape(code)}</code>{rid}</p>
<p><a href="{href}">Thử lại</a></p>
</main>
</body>
</html>
"""
    return page.encode()


def html_headers(extra: list[tuple[bytes, bytes]] | None = None) -> list[tuple[bytes, bytes]]:
    """The page's headers: HTML, never cached (the next try must reach the service), and the
    reply varies with what the request accepts."""
    return [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"cache-control", b"no-store"),
        (b"vary", b"Accept, Sec-Fetch-Mode"),
        *(extra or []),
    ]
