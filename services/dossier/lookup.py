"""TraCuuHoSo: one dossier (with its history) or a search of the caller's dossiers, and the
wire form of dossiers and their events. No HTTP types here; nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from services.dossier import rules
from services.dossier.accounts import Caller
from services.dossier.errors import Code, DvcqgError, detail
from services.dossier.models import Dossier, DossierEvent
from vnsandbox.bounds import MAX_COUNT, MAX_OFFSET


class DossierFields(Protocol):
    """What the wire form of a dossier is made from: a :class:`Dossier` or a row of :data:`_ONE`."""

    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def status(self) -> int: ...
    @property
    def paid_online(self) -> int: ...
    @property
    def origin(self) -> str: ...
    @property
    def synced_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def dossier_to_wire(d: DossierFields) -> dict[str, Any]:
    out = dict(d.data)
    out["TrangThaiHoSo"] = d.status
    out["DuocThanhToanTrucTuyen"] = d.paid_online or out.get("DuocThanhToanTrucTuyen", 0)
    out["TenTrangThaiHoSo"] = rules.STATUS_NAMES.get(d.status)
    out["NguonHoSo"] = d.origin
    out["NgayDongBo"] = rules.to_wire_time(d.synced_at)
    out["NgayCapNhat"] = rules.to_wire_time(d.updated_at)
    return out


def event_to_wire(e: DossierEvent) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "outcome": e.outcome,
        "TrangThaiTruoc": e.status_from,
        "TrangThai": e.status_to,
        "ThoiDiem": rules.to_wire_time(e.at),
        "ThoiDiemNhan": rules.to_wire_time(e.received_at),
        "warning": json.loads(e.warning) if e.warning else None,
        "data": e.data,
    }


_DOSSIERS = Dossier.__table__.c
#: One dossier by its key, as a Core statement built once: the most frequent read of the
#: sync API (its own tenant filter; the session's tenant scope adds nothing to it).
_ONE = select(
    _DOSSIERS.unit_code,
    _DOSSIERS.data,
    _DOSSIERS.status,
    _DOSSIERS.paid_online,
    _DOSSIERS.origin,
    _DOSSIERS.synced_at,
    _DOSSIERS.updated_at,
).where(_DOSSIERS.tenant == bindparam("tenant"), _DOSSIERS.code == bindparam("code"))


def lookup(session: Session, tenant: str, codes: frozenset[str] | None, code: str, history: bool) -> dict[str, Any]:
    """One dossier (with its event history if asked); ``codes`` limits it to those units."""
    d = session.execute(_ONE, {"tenant": tenant, "code": code}).first()
    if d is None:
        raise DvcqgError(Code.NOT_FOUND, f"No dossier {code}", f"Không tìm thấy hồ sơ {code}")
    if codes is not None and d.unit_code not in codes:
        raise DvcqgError(Code.FORBIDDEN_UNIT)
    out = dossier_to_wire(d)
    if history:
        events = session.scalars(
            select(DossierEvent)
            .where(DossierEvent.tenant == tenant, DossierEvent.dossier_code == code)
            .order_by(DossierEvent.id)
        )
        out["LichSu"] = [event_to_wire(e) for e in events]
    return out


#: Most rows one page of a search or poll returns (a larger ``limit`` is cut to it).
PAGE_MAX = 1000


def page_bounds(filters: Mapping[str, Any], default_limit: int) -> tuple[int, int]:
    """``limit`` (1 … 10^9, cut to ``PAGE_MAX``) and ``offset`` (0 … 10^9) of a call; an absent
    or empty value takes its default, anything else out of range is code 20 naming the field."""
    problems = []
    values = []
    for name, default, low, high in (("limit", default_limit, 1, MAX_COUNT), ("offset", 0, 0, MAX_OFFSET)):
        raw = filters.get(name)
        n = default if raw is None or raw == "" else rules.as_int(raw)
        if n is None or not low <= n <= high:
            problems.append(
                detail(name, "range", f"{name} phải là số nguyên từ {low} đến {high}", f"{name}: integer {low}-{high}")
            )
            n = default
        values.append(n)
    if problems:
        raise DvcqgError(Code.VALIDATION, details=problems)
    return min(values[0], PAGE_MAX), values[1]


def search(
    session: Session, tenant: str, caller: Caller, filters: Mapping[str, Any]
) -> tuple[int, list[dict[str, Any]]]:
    """List dossiers of the caller's units by unit, procedure, status and received dates."""
    stmt = select(Dossier).where(Dossier.tenant == tenant, Dossier.unit_code.in_(caller.codes))
    problems = []
    if filters.get("MaDonVi"):
        stmt = stmt.where(Dossier.unit_code == str(filters["MaDonVi"]))
    if filters.get("MaTTHC"):
        stmt = stmt.where(Dossier.procedure_code == str(filters["MaTTHC"]))
    if filters.get("TrangThaiHoSo") not in (None, ""):
        statuses = filters["TrangThaiHoSo"]
        values = [rules.as_int(s) for s in (statuses if isinstance(statuses, list) else [statuses])]
        if any(v not in rules.STATUS_NAMES for v in values):
            problems.append(detail("TrangThaiHoSo", "enum", "TrangThaiHoSo phải là số 1–10", "TrangThaiHoSo: 1–10"))
        stmt = stmt.where(Dossier.status.in_([v for v in values if v in rules.STATUS_NAMES]))
    for f, end in (("TuNgay", False), ("DenNgay", True)):
        if filters.get(f):
            try:
                bound = rules.parse_period_bound(str(filters[f]), end)
            except ValueError:
                problems.append(
                    detail(f, "date_format", f"{f}: yyyyMMdd hoặc yyyyMMddHHmmss", f"{f}: yyyyMMdd[HHmmss]")
                )
                continue
            stmt = stmt.where(Dossier.received_at >= bound if not end else Dossier.received_at <= bound)
    try:
        limit, offset = page_bounds(filters, default_limit=100)
    except DvcqgError as exc:
        problems.extend(exc.details)
    if problems:
        raise DvcqgError(Code.VALIDATION, details=problems)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Dossier.received_at, Dossier.id).limit(limit).offset(offset))
    return total, [dossier_to_wire(d) for d in rows]
