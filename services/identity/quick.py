"""``client_credentials`` answered before any routing (:func:`services.identity.router.quick_token`):
a system's own access token, the token endpoint's most frequent call, without a unit of work,
with the reply :func:`services.identity.token.grant` gives.

All of it on one of two signing threads (:func:`signers`), while the event loop goes on with
other requests: two threads, not a pool of dozens, keep thread switches few, and RSA signing
releases the GIL, so both cores work.

- One read (:data:`CLIENT_READ`: the client as the tenant sees it and the tenant's clock,
  :meth:`Database.read_now <vnsandbox.db.Database.read_now>`: on SQLite through the driver).
- The signature with the process's cached active key.
- The token's row with one ``INSERT`` (:data:`~services.identity.minting.INSERT_TOKEN`), a
  transaction of its own (:meth:`Database.write_now <vnsandbox.db.Database.write_now>`).

Anything else is left to the route (None), before anything is written: another authentication
method, any refusal (an unknown client, a wrong secret, a grant or scope not allowed).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, literal_column, or_, select

from services.identity import clients, keys, minting
from services.identity.models import BASE_TENANT, Client
from services.identity.settings import IdentitySettings
from services.identity.token import machine_scope
from vnsandbox import clock
from vnsandbox.db import ClockOffset, Database
from vnsandbox.errors import OAuthError

_CLIENT = cast(Table, Client.__table__)
_CLOCK = cast(Table, ClockOffset.__table__)
#: What a ``client_credentials`` request reads, in one statement: the client as the tenant sees
#: it (its own registration first, else the base layer's, as :func:`clients.find` chooses) and the
#: tenant's clock offset, each row of them or NULLs. (No ``LIMIT``: every value is a parameter.)
CLIENT_READ = (
    select(
        _CLIENT.c.client_id,
        _CLIENT.c.client_secret,
        _CLIENT.c.auth_methods,
        _CLIENT.c.grant_types,
        _CLIENT.c.scopes,
        _CLOCK.c.offset_seconds,
    )
    .select_from(
        select(literal_column("1").label("x"))
        .subquery("one")
        .outerjoin(
            _CLIENT,
            and_(
                _CLIENT.c.client_id == bindparam("client_id"),
                or_(_CLIENT.c.tenant == bindparam("tenant"), _CLIENT.c.tenant == bindparam("base")),
            ),
        )
        .outerjoin(_CLOCK, _CLOCK.c.tenant == bindparam("tenant"))
    )
    .order_by(_CLIENT.c.tenant == bindparam("base"))
)

_signers: ThreadPoolExecutor | None = None


def signers() -> ThreadPoolExecutor:
    """The process's two signing threads (started at first use: after a fork, in the child)."""
    global _signers
    if _signers is None:
        _signers = ThreadPoolExecutor(2, thread_name_prefix="token-signer")
    return _signers


def _secret_credentials(creds: clients.Credentials) -> tuple[str, str, str] | None:
    """The authentication method, client id and secret of a request presenting a client secret
    (:func:`clients.presented`); None for anything else, a refusal included."""
    if creds.assertion is not None or creds.assertion_type is not None:
        return None
    try:
        method, client_id, secret = clients.presented(creds)
    except OAuthError:
        return None  # the route says which refusal
    if secret is None or method not in ("client_secret_basic", "client_secret_post"):
        return None
    return method, client_id, secret


def _granted_scope(row: Any, method: str, secret: str, scope: str | None) -> str | None:
    """The scope of the token the client may have (:func:`clients.authenticate`, then the
    ``client_credentials`` grant's checks), from :data:`CLIENT_READ`'s row; None on any refusal."""
    if row is None or row[0] is None or method not in row[2] or not clients.secret_matches(row[1], secret):
        return None
    if "client_credentials" not in row[3]:
        return None
    requested, refused = machine_scope(row[4], scope)
    return None if refused else " ".join(requested)


def _issue(
    db: Database,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    presented: tuple[str, str, str],
    scope: str | None,
) -> dict[str, Any] | None:
    """On a signing thread: the read, the checks, the signature and the token's row."""
    method, client_id, secret = presented
    row = db.read_now(CLIENT_READ, {"client_id": client_id, "tenant": tenant, "base": BASE_TENANT})
    granted = _granted_scope(row, method, secret, scope)
    if granted is None or row is None:
        return None
    key = keys.cached_active_key(tenant)
    if key is None:  # the process's copy of the key set lapsed (every few seconds): read it again
        with db.sessions() as session:
            key = keys.active_key(session, tenant)
    now = datetime.now(UTC) + timedelta(seconds=clock.offset_of(row[5]))
    issue = minting.Issue(subject=client_id, scope=granted)
    signed, values = minting.signed_access(key, tenant, settings, issuer, client_id, now, issue)
    db.write_now(minting.INSERT_TOKEN, values)
    return minting.reply(signed, granted, settings)


async def client_credentials(
    db: Database,
    tenant: str,
    settings: IdentitySettings,
    issuer: str,
    creds: clients.Credentials,
    scope: str | None,
) -> dict[str, Any] | None:
    """The token endpoint's reply to a ``client_credentials`` request that succeeds, its token's
    row written; None whenever the route must answer (nothing written then)."""
    presented = _secret_credentials(creds)
    if presented is None:
        return None
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(signers(), _issue, db, tenant, settings, issuer, presented, scope)
