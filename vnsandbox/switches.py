"""Named behaviour switches (WireMock/mock-oauth2-server style error switches).

A service declares the names it understands; the control plane stores switches per
tenant, optionally for one scope (a client id, partner code, unit code) and optionally
for the next N requests only. Services call :func:`take` where the switch applies.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vnsandbox.db import Switch


def _active(session: Session, tenant: str, names: list[str], scope: str, *, lock: bool) -> Switch | None:
    """The switch among ``names`` that applies to ``scope``: a scoped one wins over ``*``."""
    stmt = (
        select(Switch)
        .where(Switch.tenant == tenant, Switch.name.in_(names), or_(Switch.scope == scope, Switch.scope == "*"))
        .order_by(Switch.id)
    )
    rows = session.scalars(stmt.with_for_update() if lock else stmt).all()
    if not rows:
        return None
    return next((r for r in rows if r.scope == scope and scope != "*"), rows[0])


def take(session: Session, tenant: str, names: str | list[str], scope: str = "*") -> Switch | None:
    """The active switch among ``names`` for ``scope`` (a scoped one wins over ``*``).

    Counts one use: a switch with ``remaining`` is removed when it reaches zero.
    """
    row = _active(session, tenant, [names] if isinstance(names, str) else names, scope, lock=True)
    if row is None:
        return None
    if row.remaining is not None:
        row.remaining -= 1
        if row.remaining <= 0:
            session.delete(row)
    session.flush()
    return row


def peek(session: Session, tenant: str, name: str, scope: str = "*") -> Switch | None:
    """Like :func:`take` without counting a use (for settings-like switches)."""
    return _active(session, tenant, [name], scope, lock=False)
