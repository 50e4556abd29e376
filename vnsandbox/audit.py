"""The audit trail of personal-data access, the same in every service.

Services call :func:`record` wherever they hand out a citizen's data; the control plane
serves it at ``/_sandbox/audit`` (JSON, or CSV with ``format=csv``), and the gateway
merges every service's trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vnsandbox.context import current_request_id
from vnsandbox.db import AuditRecord

AUDIT_COLUMNS = ("at", "service", "client", "subject", "fields", "purpose", "action", "request_id")


def record(
    session: Session,
    tenant: str,
    *,
    service: str,
    client: str,
    subject: str,
    fields: Iterable[str],
    purpose: str = "",
    action: str = "read",
    at: datetime | None = None,
) -> AuditRecord:
    """Write one audit record in the caller's unit of work."""
    row = AuditRecord(
        tenant=tenant,
        service=service,
        client=client or "(anonymous)",
        subject=subject,
        fields=sorted(set(fields)),
        purpose=(purpose or "")[:256],
        action=action,
        request_id=current_request_id(),
    )
    if at is not None:
        row.at = at
    session.add(row)
    return row


def query(
    session: Session,
    tenant: str,
    *,
    subject: str | None = None,
    client: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
) -> list[AuditRecord]:
    stmt = select(AuditRecord).where(AuditRecord.tenant == tenant)
    if subject:
        stmt = stmt.where(AuditRecord.subject == subject)
    if client:
        stmt = stmt.where(AuditRecord.client == client)
    if since:
        stmt = stmt.where(AuditRecord.at >= since)
    if until:
        stmt = stmt.where(AuditRecord.at < until)
    return list(session.scalars(stmt.order_by(AuditRecord.id.desc()).limit(limit)))
