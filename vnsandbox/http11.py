"""uvicorn's fast HTTP/1.1 protocol (httptools), made to ignore cleartext HTTP/2 upgrade offers.

Java's ``HttpClient`` (and Spring's ``RestClient`` on top of it), Ktor and other clients offer
``Connection: Upgrade, HTTP2-Settings`` / ``Upgrade: h2c`` on plain-HTTP requests, bodies
included. A server may ignore such an offer and answer in HTTP/1.1 (RFC 9110 §7.8), but the
httptools parser stops at the end of the headers and the request body never reaches the
application: a POST arrives empty (a 422 for a body the client did send). Many provincial
one-stop systems are Java, so every sandbox process runs with this protocol
(``--http vnsandbox.http11:HttpToolsProtocol``, see launcher/topology.py).

The offer is removed from the request head before the parser sees it: the ``Upgrade`` and
``HTTP2-Settings`` header lines, and those tokens from ``Connection``. Only a chunk that starts a
request (its first bytes are a request line) and mentions ``h2c`` is rewritten, so every other
read costs one substring search. A WebSocket upgrade is left alone.
"""

from __future__ import annotations

import re

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base

_REQUEST_LINE = re.compile(rb"[A-Z]{3,10} \S+ HTTP/1\.[01]\r\n")
_OFFER_LINE = re.compile(rb"(?im)^(?:upgrade[ \t]*:[ \t]*h2c|http2-settings[ \t]*:)[^\r\n]*\r\n")
_CONNECTION = re.compile(rb"(?im)^(connection[ \t]*:)([^\r\n]*)\r\n")
_OFFER_TOKENS = {b"upgrade", b"http2-settings"}


def without_h2c_offer(data: bytes) -> bytes:
    """The request bytes with an ``Upgrade: h2c`` offer removed from the head (unchanged otherwise)."""
    if b"h2c" not in data and b"H2C" not in data:
        return data
    if not _REQUEST_LINE.match(data):
        return data
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return data
    head, rest = data[: end + 2], data[end + 2 :]
    if not _OFFER_LINE.search(head):
        return data
    head = _OFFER_LINE.sub(b"", head)

    def keep_other_tokens(m: re.Match[bytes]) -> bytes:
        tokens = [t.strip() for t in m.group(2).split(b",")]
        kept = [t for t in tokens if t and t.lower() not in _OFFER_TOKENS]
        return m.group(1) + b" " + b", ".join(kept) + b"\r\n" if kept else b""

    return _CONNECTION.sub(keep_other_tokens, head) + rest


class HttpToolsProtocol(_Base):
    """httptools-based HTTP/1.1 that serves an h2c upgrade offer as a plain HTTP/1.1 request."""

    def data_received(self, data: bytes) -> None:
        super().data_received(without_h2c_offer(data))
