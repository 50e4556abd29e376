"""Behaviour of the gateway's control plane over its own tables (no HTTP types here).

Functions take the request's session and never commit: the session is committed at
the one boundary (:data:`vnsandbox.db.SessionDep` or :meth:`Database.session`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gateway import models
from gateway.auth import hash_secret, new_client_id, new_secret
from vnsandbox.db import AuditRecord, ClockOffset, Switch
from vnsandbox.errors import Conflict, NotFound


def tenant_exists(session: Session, tenant: str) -> bool:
    return session.get(models.Tenant, tenant) is not None


def create_tenant(session: Session, name: str | None, description: str, max_tenants: int) -> models.Tenant:
    count = session.scalar(select(func.count()).select_from(models.Tenant)) or 0
    if count >= max_tenants:
        raise Conflict(
            f"The gateway already holds its maximum of {max_tenants} tenants; delete unused ones",
            f"Cổng kết nối đã đạt tối đa {max_tenants} tenant; hãy xoá các tenant không dùng",
            code="TOO_MANY_TENANTS",
        )
    if name is None:
        name = "t-" + secrets.token_hex(8)
    elif tenant_exists(session, name):
        raise Conflict(f"Tenant {name!r} already exists", f"Tenant {name!r} đã tồn tại", code="TENANT_EXISTS")
    row = models.Tenant(tenant=name, description=description)
    session.add(row)
    session.flush()
    return row


def ensure_tenant(session: Session, name: str) -> None:
    if not tenant_exists(session, name):
        session.add(models.Tenant(tenant=name, description=""))
        session.flush()


def tenant_summary(session: Session, row: models.Tenant) -> dict[str, Any]:
    consumers = session.scalar(
        select(func.count()).select_from(models.Consumer).where(models.Consumer.tenant == row.tenant)
    )
    return {
        "tenant": row.tenant,
        "description": row.description,
        "created_at": row.created_at,
        "consumers": consumers or 0,
    }


def list_tenants(session: Session, only: str | None = None) -> list[dict[str, Any]]:
    stmt = select(models.Tenant).order_by(models.Tenant.created_at, models.Tenant.tenant)
    if only is not None:
        stmt = stmt.where(models.Tenant.tenant == only)
    return [tenant_summary(session, row) for row in session.scalars(stmt)]


def get_tenant(session: Session, tenant: str) -> models.Tenant:
    row = session.get(models.Tenant, tenant)
    if row is None:
        raise NotFound(f"No tenant {tenant!r}", f"Không có tenant {tenant!r}", code="TENANT_NOT_FOUND")
    return row


def delete_tenant(session: Session, tenant: str) -> dict[str, int]:
    """Remove the tenant and everything the gateway keeps for it."""
    counts: dict[str, int] = {}
    for table in (models.Consumer, models.FaultRule, models.Tenant, ClockOffset, Switch, AuditRecord):
        result = session.execute(delete(table).where(table.tenant == tenant))
        counts[table.__tablename__] = result.rowcount  # type: ignore[attr-defined]
    return {k: v for k, v in counts.items() if v}


# -- consumers ------------------------------------------------------------------------------


def create_consumer(
    session: Session,
    tenant: str,
    *,
    name: str,
    scopes: Sequence[str],
    rate_per_s: float | None,
    burst: int | None,
) -> tuple[models.Consumer, str, str]:
    """A new consumer and its secret and API key (returned once, stored hashed)."""
    ensure_tenant(session, tenant)
    secret, api_key = new_secret(), "ak_" + new_secret()
    row = models.Consumer(
        client_id=new_client_id(),
        tenant=tenant,
        name=name,
        secret_hash=hash_secret(secret),
        api_key_hash=hash_secret(api_key),
        scopes=sorted(set(scopes)),
        rate_per_s=rate_per_s,
        burst=burst,
    )
    session.add(row)
    session.flush()
    return row, secret, api_key


def list_consumers(session: Session, tenant: str) -> list[models.Consumer]:
    return list(
        session.scalars(
            select(models.Consumer)
            .where(models.Consumer.tenant == tenant)
            .order_by(models.Consumer.created_at, models.Consumer.client_id)
        )
    )


def get_consumer(session: Session, tenant: str, client_id: str) -> models.Consumer:
    """The tenant's consumer; another tenant's consumer is "not found", as if it did not exist."""
    row = session.get(models.Consumer, client_id)
    if row is None or row.tenant != tenant:
        raise NotFound(
            f"No consumer {client_id!r} in this tenant",
            f"Không có ứng dụng {client_id!r} trong tenant này",
            code="CONSUMER_NOT_FOUND",
        )
    return row


def delete_consumer(session: Session, tenant: str, client_id: str) -> None:
    session.delete(get_consumer(session, tenant, client_id))
    session.flush()


# -- fault rules ----------------------------------------------------------------------------


def add_fault(session: Session, tenant: str, **fields: Any) -> models.FaultRule:
    row = models.FaultRule(tenant=tenant, **fields)
    session.add(row)
    session.flush()
    return row


def list_faults(session: Session, tenant: str) -> list[models.FaultRule]:
    return list(
        session.scalars(select(models.FaultRule).where(models.FaultRule.tenant == tenant).order_by(models.FaultRule.id))
    )


def delete_fault(session: Session, tenant: str, rule_id: int) -> None:
    row = session.get(models.FaultRule, rule_id)
    if row is None or row.tenant != tenant:
        raise NotFound(
            f"No fault rule {rule_id} in this tenant",
            f"Không có quy tắc lỗi {rule_id} trong tenant này",
            code="FAULT_RULE_NOT_FOUND",
        )
    session.delete(row)
    session.flush()


def clear_faults(session: Session, tenant: str) -> int:
    result = session.execute(delete(models.FaultRule).where(models.FaultRule.tenant == tenant))
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_fault_ids(session: Session, ids: Sequence[int]) -> None:
    """Remove rules used up in this replica (whatever their tenant)."""
    if ids:
        session.execute(delete(models.FaultRule).where(models.FaultRule.id.in_(list(ids))))
