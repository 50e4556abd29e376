"""TraCuuHoSo: one dossier (with its history) or a search of the caller's dossiers, and the
wire form of dossiers and their events. No HTTP types here; nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from services.dossier import rules
from services.dossier.accounts import Caller, family_of
from services.dossier.errors import Code, DvcqgError, detail
from services.dossier.models import Dossier, DossierEvent, Unit
from services.dossier.settings import DEV_UNIT_CODE, DossierSettings
from vnsandbox.bounds import MAX_COUNT, MAX_OFFSET
from vnsandbox.db import AsyncReader


class DossierFields(Protocol):
    """What the wire form of a dossier is made from: a :class:`Dossier` or a row of :data:`_ONE`."""

    @property
    def unit_code(self) -> str: ...
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
    # No code holds NUL (records are refused with one), and PostgreSQL text cannot compare with one.
    d = None if "\x00" in code else session.execute(_ONE, {"tenant": tenant, "code": code}).first()
    out = _readable(d, codes, code)
    if history:
        events = session.scalars(
            select(DossierEvent)
            .where(DossierEvent.tenant == tenant, DossierEvent.dossier_code == code)
            .order_by(DossierEvent.id)
        )
        out["LichSu"] = [event_to_wire(e) for e in events]
    return out


def _readable(d: DossierFields | None, codes: frozenset[str] | None, code: str) -> dict[str, Any]:
    """The wire form of the dossier read, if there is one and ``codes`` (when given) holds its unit."""
    if d is None:
        raise DvcqgError(Code.NOT_FOUND, f"No dossier {code}", f"Không tìm thấy hồ sơ {code}")
    if codes is not None and d.unit_code not in codes:
        raise DvcqgError(Code.FORBIDDEN_UNIT)
    return dossier_to_wire(d)


class _Found(NamedTuple):
    """A dossier as :data:`_ONE_WITH_CALLER` reads it (the columns of :data:`_ONE`)."""

    unit_code: str
    data: dict[str, Any]
    status: int
    paid_online: int
    origin: str
    synced_at: datetime
    updated_at: datetime


_U = Unit.__tablename__
_D = Dossier.__tablename__
#: The caller by API key, its unit family (as :func:`services.dossier.accounts._unit_with_family`
#: reads it: the matching units, every unit with a parent, the development unit; in id order)
#: and the dossier by its key, in one statement on PostgreSQL; always one row, whose dossier
#: columns are NULL when there is no such dossier.
_ONE_WITH_CALLER = f"""
SELECT d.unit_code, d.data, d.status, d.paid_online, d.origin, d.synced_at, d.updated_at,
  (SELECT json_agg(json_build_array(u.code, u.parent_code, u.transition_mode, u.api_key = %(key)s) ORDER BY u.id)
     FROM {_U} u
    WHERE u.tenant = %(tenant)s AND (u.api_key = %(key)s OR u.parent_code IS NOT NULL OR u.code = %(dev)s))
FROM (SELECT 1) AS one LEFT JOIN {_D} d ON d.tenant = %(tenant)s AND d.code = %(code)s
"""  # noqa: S608 (table names of the models; every value is a parameter)


async def lookup_by_api_key(
    reader: AsyncReader, tenant: str, settings: DossierSettings, api_key: str, code: str
) -> dict[str, Any] | None:
    """TraCuuHoSo of one dossier (no history) by a caller presenting a unit's API key, in one
    round trip from the event loop: what :func:`services.dossier.accounts.authenticate` and
    :func:`lookup` answer for it, the same errors included. None when the key is no unit's (it
    may be a session token) or the development unit is still to be created: the full unit of
    work answers those."""
    params = {"tenant": tenant, "key": api_key, "dev": DEV_UNIT_CODE, "code": code}
    row = await reader.fetch_one(_ONE_WITH_CALLER, params)
    assert row is not None  # the statement reads one row whatever it finds
    family: list[list[Any]] = row[7] or []
    if settings.dev_unit_enabled and not any(u[0] == DEV_UNIT_CODE for u in family):
        return None
    found = family_of(family)
    if found is None:
        return None
    return _readable(None if row[0] is None else _Found(*row[:7]), found[1], code)


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
