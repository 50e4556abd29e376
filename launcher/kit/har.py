"""Journal entries as an HTTP Archive (HAR 1.2, http://www.softwareishard.com/blog/har-12-spec/):
every object and field the specification requires, so browser dev tools and HTTP tools open it.

The journal keeps request headers (credentials redacted as ``***``) and both bodies (cut at
16 KiB); it does not keep the reply's headers, so each response lists only its content type."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from vnsandbox import __version__


def _media(body: str | None) -> str:
    if not body:
        return "application/octet-stream"
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


def _size(text: str | None) -> int:
    return len(text.encode()) if text else 0


def _status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def entry(e: dict[str, Any], base_url: str) -> dict[str, Any]:
    query = str(e.get("query") or "")
    headers = [{"name": str(k), "value": str(v)} for k, v in (e.get("request_headers") or {}).items()]
    request_body = e.get("request_body")
    content_type = (e.get("request_headers") or {}).get("content-type") or _media(request_body)
    request: dict[str, Any] = {
        "method": e.get("method", "GET"),
        "url": base_url + str(e.get("path", "/")) + (f"?{query}" if query else ""),
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers,
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": _size(request_body),
    }
    if request_body:
        request["postData"] = {"mimeType": content_type, "text": request_body}
    response_body = e.get("response_body")
    media = _media(response_body)
    status = int(e.get("status") or 0)
    duration = float(e.get("duration_ms") or 0.0)
    return {
        "startedDateTime": e.get("time"),
        "time": duration,
        "request": request,
        "response": {
            "status": status,
            "statusText": _status_text(status),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": "content-type", "value": media}] if response_body else [],
            "content": {"size": _size(response_body), "mimeType": media, "text": response_body or ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": _size(response_body),
        },
        "cache": {},
        "timings": {"send": 0, "wait": duration, "receive": 0},
        "comment": f"request id {e.get('request_id')}, consumer {e.get('consumer')}"
        + (f", fault {e['fault'].get('kind')}" if e.get("fault") else "")
        + (f", gateway error {e['error']}" if e.get("error") else ""),
    }


def document(entries: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """A HAR document of ``entries`` (oldest first), their URLs on ``base_url``."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "vnsandbox", "version": __version__},
            "pages": [],
            "entries": [entry(e, base_url) for e in entries],
        }
    }
