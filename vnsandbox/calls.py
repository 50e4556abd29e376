"""Signed calls from one part of the sandbox to another.

A service that requires the gateway's tenant assertion (``SANDBOX_REQUIRE_TENANT_SIGNATURE``)
accepts a call only when it carries the tenant, the consumer, the request id and the HMAC
of the three (:func:`vnsandbox.signing.tenant_assertion`). Every service-to-service call and
every control call of the gateway builds those headers here, once:

- :func:`put_signed_headers`: the headers written into a mapping (the gateway's proxy writes
  them into the headers it relays);
- :func:`signed_headers`: the headers themselves (also for calls queued in the outbox);
- :func:`signed_call`: a synchronous call (httpx), for the services;
- :func:`signed_request`: an asynchronous call on an aiohttp session, for the gateway.

The callers decide what a reply means; a status they do not document is theirs to refuse
loudly (see :class:`UnexpectedReply`), never to read as success.
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import httpx

from vnsandbox.context import current_request_id
from vnsandbox.signing import CONSUMER_HEADER, TENANT_HEADER, TENANT_SIGNATURE_HEADER, tenant_assertion

if TYPE_CHECKING:
    import aiohttp

REQUEST_ID_HEADER = "x-request-id"
#: The consumer a service names itself as when it calls another service (``service:dossier``):
#: signed like a gateway consumer, so the called service's journal says who called it.
SERVICE_CALLER_PREFIX = "service:"


def service_caller(service: str) -> str:
    """The consumer name of ``service`` calling another service (:data:`SERVICE_CALLER_PREFIX`)."""
    return SERVICE_CALLER_PREFIX + service


def put_signed_headers(
    headers: MutableMapping[str, str],
    secret: str,
    tenant: str,
    request_id: str,
    consumer: str = "",
    *,
    always_consumer: bool = False,
) -> None:
    """Write the request id, tenant, consumer and the gateway's signature over them into
    ``headers`` (replacing any there). The consumer header is left out when there is no
    consumer, unless ``always_consumer`` (the gateway's relay states it even empty)."""
    headers[REQUEST_ID_HEADER] = request_id
    headers[TENANT_HEADER] = tenant
    if consumer or always_consumer:
        headers[CONSUMER_HEADER] = consumer
    headers[TENANT_SIGNATURE_HEADER] = tenant_assertion(secret, tenant, request_id, consumer)


def signed_headers(secret: str, tenant: str, request_id: str | None = None, consumer: str = "") -> dict[str, str]:
    """Tenant, consumer, request id and the gateway's signature over them.

    The request id is the current request's (so the call shows in the other service's
    journal under the same id) unless one is given; outside a request a fresh one."""
    headers: dict[str, str] = {}
    put_signed_headers(headers, secret, tenant, request_id or current_request_id() or uuid.uuid4().hex, consumer)
    return headers


class UnexpectedReply(Exception):
    """The other service answered something its contract does not list (or did not answer)."""

    def __init__(self, target: str, status: int | None, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.status = status
        self.reason = reason


def signed_call(
    method: str,
    url: str,
    *,
    secret: str,
    tenant: str,
    consumer: str = "",
    request_id: str | None = None,
    timeout_s: float = 5.0,
    json: Any = None,
    expect: frozenset[int] = frozenset({200}),
) -> httpx.Response:
    """A signed synchronous call; a reply whose status is not in ``expect``, a timeout or
    an unreachable service raise :class:`UnexpectedReply` (with the status, if any)."""
    headers = signed_headers(secret, tenant, request_id, consumer)
    try:
        resp = httpx.request(method, url, headers=headers, json=json, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise UnexpectedReply(url, None, f"not reachable ({exc.__class__.__name__})") from None
    if resp.status_code not in expect:
        raise UnexpectedReply(url, resp.status_code, f"answered HTTP {resp.status_code}")
    return resp


def signed_request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    secret: str,
    tenant: str,
    consumer: str = "",
    request_id: str | None = None,
    timeout_s: float = 10.0,
    **kwargs: Any,
) -> Any:
    """A signed call on an aiohttp session: use as ``async with signed_request(...) as resp``."""
    import aiohttp

    headers = signed_headers(secret, tenant, request_id, consumer)
    return session.request(method, url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s), **kwargs)
