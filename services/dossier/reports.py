"""Reconciliation (đối soát) per unit and period.

Counts by status, dossiers whose portal status differs from the last status the province
reported, overdue dossiers (past ``NgayHenTra`` and not closed), rejected updates with their
reasons, and the sync lag distribution (portal receipt time − the province's time).
A dossier belongs to the period by ``NgayTiepNhan`` (portal-filed dossiers not yet received
by their portal filing time); rejected updates by the time the portal refused them.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, func, or_, select
from sqlalchemy.orm import Session, defer

from services.dossier import rules
from services.dossier.accounts import now_naive
from services.dossier.errors import Code, DvcqgError, detail
from services.dossier.models import Dossier, DossierEvent, RejectedUpdate

LAG_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1h", 3600),
    ("1h-24h", 86400),
    ("1d-3d", 3 * 86400),
    (">3d", math.inf),
)


def period(filters: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    bounds: list[datetime | None] = []
    problems = []
    for name, end in (("TuNgay", False), ("DenNgay", True)):
        value = filters.get(name)
        if not value:
            bounds.append(None)
            continue
        try:
            bounds.append(rules.parse_period_bound(str(value), end))
        except ValueError:
            bounds.append(None)
            problems.append(
                detail(name, "date_format", f"{name}: yyyyMMdd hoặc yyyyMMddHHmmss", f"{name}: yyyyMMdd[HHmmss]")
            )
    if problems:
        raise DvcqgError(Code.VALIDATION, details=problems)
    return bounds[0], bounds[1]


def in_period(
    when: SQLColumnExpression[Any], start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    """``when`` within the period's bounds (an absent bound is no condition)."""
    return ([when >= start] if start else []) + ([when <= end] if end else [])


@dataclass
class Scope:
    """What a report covers: the period's bounds (None: open), the units, and the time the
    report is made as of (the period's end, or now if earlier)."""

    start: datetime | None
    end: datetime | None
    units: list[str]
    as_of: datetime


def scope_of(session: Session, tenant: str, codes: frozenset[str], filters: Mapping[str, Any]) -> Scope:
    """The scope of a report from its filters (``TuNgay``, ``DenNgay``, ``MaDonVi``): code 20
    for a malformed date, 17 for a unit the caller may not read."""
    start, end = period(filters)
    units = units_of(codes, filters)
    now = now_naive(session, tenant)
    return Scope(start, end, units, min(end, now) if end else now)


def units_of(codes: frozenset[str], filters: Mapping[str, Any]) -> list[str]:
    unit = filters.get("MaDonVi")
    if not unit:
        return sorted(codes)
    if unit not in codes:
        raise DvcqgError(Code.FORBIDDEN_UNIT, f"Unit {unit} is not yours", f"Đơn vị {unit} không thuộc quyền")
    return [str(unit)]


def distribution(values: Iterable[float]) -> dict[str, Any]:
    """Count, min, p50, p90, p99, max (nearest rank, seconds) and bucket counts."""
    xs = sorted(max(0.0, v) for v in values)
    out: dict[str, Any] = {"count": len(xs)}
    if not xs:
        return out | {
            "min_s": None,
            "p50_s": None,
            "p90_s": None,
            "p99_s": None,
            "max_s": None,
            "buckets": {name: 0 for name, _ in LAG_BUCKETS},
        }

    def rank(p: float) -> float:
        return xs[max(0, math.ceil(p * len(xs)) - 1)]

    buckets = dict.fromkeys((name for name, _ in LAG_BUCKETS), 0)
    for x in xs:
        for name, upper in LAG_BUCKETS:
            if x < upper:
                buckets[name] += 1
                break
    return out | {
        "min_s": round(xs[0], 3),
        "p50_s": round(rank(0.5), 3),
        "p90_s": round(rank(0.9), 3),
        "p99_s": round(rank(0.99), 3),
        "max_s": round(xs[-1], 3),
        "buckets": buckets,
    }


def reconciliation(session: Session, tenant: str, codes: frozenset[str], filters: Mapping[str, Any]) -> dict[str, Any]:
    scope = scope_of(session, tenant, codes, filters)
    start, end, units, as_of = scope.start, scope.end, scope.units, scope.as_of
    dossiers = _dossiers_in_period(session, tenant, units, start, end)
    counts = Counter(d.status for d in dossiers)
    rejected_rows = _rejected_in_period(session, tenant, units, start, end)
    lag_dossier = [
        (d.synced_at - d.received_at).total_seconds()
        for d in dossiers
        if d.received_at is not None and d.origin == "province"
    ]
    lag_progress = _progress_lags(session, tenant, [d.code for d in dossiers])
    return {
        "MaDonVi": units,
        "TuNgay": rules.to_wire_time(start),
        "DenNgay": rules.to_wire_time(end),
        "ThoiDiemDoiSoat": rules.to_wire_time(as_of),
        "total": len(dossiers),
        "counts_by_status": {str(s): counts.get(s, 0) for s in rules.STATUS_NAMES},
        "status_mismatches": status_mismatches(dossiers),
        "overdue": overdue(dossiers, as_of),
        "rejected_updates": [rejected_to_wire(r) for r in rejected_rows],
        "rejected_by_rule": rejected_by_rule(rejected_rows),
        "sync_lag": {"dossiers": distribution(lag_dossier), "progress": distribution(lag_progress)},
    }


def _dossiers_in_period(
    session: Session, tenant: str, units: list[str], start: datetime | None, end: datetime | None
) -> list[Dossier]:
    """The units' dossiers received in the period (portal-filed ones not yet received: by
    their filing time), without their wire record."""
    when = func.coalesce(Dossier.received_at, Dossier.synced_at)
    conds = [Dossier.tenant == tenant, Dossier.unit_code.in_(units), *in_period(when, start, end)]
    # The wire record (``data``) is not needed here: leave it in the database.
    stmt = select(Dossier).options(defer(Dossier.data)).where(*conds).order_by(Dossier.code)
    return list(session.scalars(stmt))


def status_mismatches(dossiers: list[Dossier]) -> list[dict[str, Any]]:
    """Dossiers whose portal status differs from the last status the province reported,
    then portal-side changes the province has not echoed (a citizen withdrew)."""
    reported = [
        {"MaHoSo": d.code, "TrangThaiTrenCong": d.status, "TrangThaiTinhGuiGanNhat": d.reported_status}
        for d in dossiers
        if d.reported_status is not None and d.reported_status != d.status
    ]
    unechoed = [
        {"MaHoSo": d.code, "TrangThaiTrenCong": d.status, "TrangThaiTinhGuiGanNhat": None}
        for d in dossiers
        if d.reported_status is None and d.origin == "portal" and d.status != 1
    ]
    return reported + unechoed


def overdue(dossiers: list[Dossier], as_of: datetime) -> list[dict[str, Any]]:
    """Dossiers past ``NgayHenTra`` at ``as_of`` and not closed, with the hours overdue."""
    return [
        {
            "MaHoSo": d.code,
            "TrangThaiHoSo": d.status,
            "NgayHenTra": rules.to_wire_time(d.due_at),
            "QuaHanGio": round((as_of - d.due_at).total_seconds() / 3600, 2),
        }
        for d in dossiers
        if d.due_at is not None and d.due_at < as_of and d.status not in rules.CLOSING_STATUSES
    ]


def _rejected_in_period(
    session: Session, tenant: str, units: list[str], start: datetime | None, end: datetime | None
) -> list[RejectedUpdate]:
    """The units' updates the portal refused in the period."""
    conds = [
        RejectedUpdate.tenant == tenant,
        RejectedUpdate.unit_code.in_(units),
        *in_period(RejectedUpdate.received_at, start, end),
    ]
    return list(session.scalars(select(RejectedUpdate).where(*conds).order_by(RejectedUpdate.id)))


def rejected_to_wire(r: RejectedUpdate) -> dict[str, Any]:
    return {
        "MaHoSo": r.dossier_code,
        "service": r.service,
        "error_code": r.error_code,
        "ThoiDiemNhan": rules.to_wire_time(r.received_at),
        "LyDo": r.errors,
    }


def rejected_by_rule(rejected: list[RejectedUpdate]) -> dict[str, int]:
    """How often each ``field:rule`` refused an update (a refusal without details counts
    under its code's name)."""
    by_rule: Counter[str] = Counter()
    for r in rejected:
        for e in r.errors or [{"field": "", "rule": Code(r.error_code).name.lower()}]:
            by_rule[f"{e.get('field', '')}:{e.get('rule', '')}"] += 1
    return dict(sorted(by_rule.items()))


def _progress_lags(session: Session, tenant: str, dossier_codes: list[str]) -> list[float]:
    """Seconds from each applied progress record's ``ThoiDiemXuLy`` to its arrival."""
    lags: list[float] = []
    for chunk in range(0, len(dossier_codes), 500):
        part = dossier_codes[chunk : chunk + 500]
        lags += [
            (received - at).total_seconds()
            for received, at in session.execute(
                select(DossierEvent.received_at, DossierEvent.at).where(
                    DossierEvent.tenant == tenant,
                    DossierEvent.dossier_code.in_(part),
                    DossierEvent.kind == "progress",
                    and_(DossierEvent.at.is_not(None)),
                    or_(DossierEvent.outcome == "applied", DossierEvent.outcome == "applied_with_warning"),
                )
            )
            if at is not None
        ]
    return lags


def reconciliation_csv(report: Mapping[str, Any]) -> str:
    """The report flattened: one row per figure or listed dossier, ``section`` first."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "MaHoSo", "key", "value", "detail"])
    w.writerow(["summary", "", "total", report["total"], ""])
    for status, n in report["counts_by_status"].items():
        w.writerow(["count_by_status", "", status, n, rules.STATUS_NAMES[int(status)]])
    for m in report["status_mismatches"]:
        w.writerow(
            ["status_mismatch", m["MaHoSo"], "portal/province", m["TrangThaiTrenCong"], m["TrangThaiTinhGuiGanNhat"]]
        )
    for o in report["overdue"]:
        w.writerow(["overdue", o["MaHoSo"], "hours_overdue", o["QuaHanGio"], o["NgayHenTra"]])
    for r in report["rejected_updates"]:
        reasons = "; ".join(f"{e.get('field')}:{e.get('rule')}" for e in r["LyDo"])
        w.writerow(["rejected", r["MaHoSo"], r["service"], r["error_code"], reasons])
    for kind, dist in report["sync_lag"].items():
        for k, v in dist.items():
            if k == "buckets":
                for b, n in v.items():
                    w.writerow([f"sync_lag_{kind}", "", f"bucket {b}", n, ""])
            else:
                w.writerow([f"sync_lag_{kind}", "", k, v, ""])
    return buf.getvalue()


def compare(session: Session, tenant: str, codes: frozenset[str], items: list[Any]) -> dict[str, Any]:
    """The province's own list (``[{"MaHoSo", "TrangThaiHoSo"}]``) against what the portal holds:
    dossiers missing on the portal (a dropped create) and those whose status differs."""
    wanted: dict[str, int | None] = {}
    problems = []
    for i, item in enumerate(items):
        code = item.get("MaHoSo") if isinstance(item, dict) else None
        if not isinstance(code, str) or not code:
            problems.append(detail(f"data[{i}].MaHoSo", "required", "Thiếu MaHoSo", "MaHoSo is required"))
            continue
        wanted[code] = rules.as_int(item.get("TrangThaiHoSo"))
    if problems:
        raise DvcqgError(Code.VALIDATION, details=problems)
    held: dict[str, tuple[int, str]] = {}
    names = list(wanted)
    for i in range(0, len(names), 500):
        rows = session.execute(
            select(Dossier.code, Dossier.status, Dossier.unit_code).where(
                Dossier.tenant == tenant, Dossier.code.in_(names[i : i + 500])
            )
        )
        held.update({code: (status, unit) for code, status, unit in rows})
    missing = [c for c in names if c not in held]
    forbidden = [c for c in names if c in held and held[c][1] not in codes]
    differ = [
        {"MaHoSo": c, "TrangThaiTrenCong": held[c][0], "TrangThaiTinh": wanted[c]}
        for c in names
        if c in held and held[c][1] in codes and wanted[c] is not None and wanted[c] != held[c][0]
    ]
    return {
        "total": len(names),
        "matched": len(names) - len(missing) - len(forbidden) - len(differ),
        "missing_on_portal": missing,
        "status_differs": differ,
        "not_yours": forbidden,
    }
