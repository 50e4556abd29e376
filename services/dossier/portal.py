"""Portal → province: citizens file dossiers and act on them on the portal, payments arrive from
the payment service; each becomes an event for the dossier's unit, delivered as a signed
webhook through the outbox and kept in the polling inbox until acknowledged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.dossier import rules
from services.dossier.accounts import Caller, ensure_dev_unit, get_unit, now_naive
from services.dossier.errors import Code, DvcqgError, detail, envelope
from services.dossier.lookup import dossier_to_wire
from services.dossier.models import Dossier, DossierEvent, InboxEvent, PaymentRecord
from services.dossier.settings import DossierSettings
from services.dossier.sync import fields_of
from vnsandbox.db import write_lock
from vnsandbox.outbox import Outcome, enqueue
from vnsandbox.standard_webhooks import header_for
from vnsandbox.vn import catalogue


def notify_unit(
    session: Session,
    tenant: str,
    settings: DossierSettings,
    dossier: Dossier,
    kind: str,
    extra: Mapping[str, Any] | None = None,
) -> InboxEvent:
    """Queue an event for the dossier's unit: in the polling inbox, and as a signed webhook
    (through the outbox) when the unit, or the nearest parent, registered an endpoint."""
    now = now_naive(session, tenant)
    seq = (session.scalar(select(func.max(InboxEvent.seq)).where(InboxEvent.tenant == tenant)) or 0) + 1
    event_id = uuid.uuid4().hex
    payload: dict[str, Any] = {
        "event_id": event_id,
        "event": kind,
        "MaDonVi": dossier.unit_code,
        "MaHoSo": dossier.code,
        "ThoiDiem": rules.to_wire_time(now),
        "HoSo": dossier_to_wire(dossier),
        **(extra or {}),
    }
    ev = InboxEvent(
        id=event_id,
        tenant=tenant,
        unit_code=dossier.unit_code,
        kind=kind,
        dossier_code=dossier.code,
        payload=payload,
        created_at=now,
        seq=seq,
    )
    target = get_unit(session, tenant, dossier.unit_code)
    while target is not None and not target.webhook_url and target.parent_code:
        target = get_unit(session, tenant, target.parent_code)
    if target is not None and target.webhook_url:
        delivery = enqueue(
            session,
            tenant,
            kind=kind,
            target_url=target.webhook_url,
            payload=payload,
            ref=dossier.code,
            sign_secret=target.webhook_secret,
            signature_header=header_for(target.signature_scheme),
            max_attempts=settings.webhook_max_attempts,
            headers={"X-Sandbox-Event": kind, "X-Sandbox-Event-Id": event_id, "X-Sandbox-Tenant": tenant},
        )
        ev.delivery_id = delivery.id
    session.add(ev)
    return ev


def on_delivery_result(session: Session, outcomes: Sequence[Outcome]) -> None:
    """Outbox hook: a webhook the province accepted (2xx) acknowledges its inbox event (one
    update per tenant for a round's accepted deliveries)."""
    accepted: dict[str, list[str]] = {}
    for outcome in outcomes:
        if outcome.ok:
            accepted.setdefault(outcome.delivery.tenant, []).append(outcome.delivery.id)
    for tenant, delivery_ids in accepted.items():
        session.execute(
            update(InboxEvent)
            .where(
                InboxEvent.tenant == tenant,
                InboxEvent.delivery_id.in_(delivery_ids),
                InboxEvent.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=now_naive(session, tenant), acknowledged_by="webhook"),
            execution_options={"synchronize_session": False},
        )


def poll_inbox(session: Session, tenant: str, caller: Caller, limit: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(InboxEvent)
        .where(
            InboxEvent.tenant == tenant,
            InboxEvent.unit_code.in_(caller.codes),
            InboxEvent.acknowledged_at.is_(None),
        )
        .order_by(InboxEvent.seq)
        .limit(limit)
    )
    return [r.payload for r in rows]


def acknowledge(session: Session, tenant: str, caller: Caller, ids: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    now = now_naive(session, tenant)
    for event_id in ids:
        ev = (
            session.scalar(select(InboxEvent).where(InboxEvent.tenant == tenant, InboxEvent.id == event_id))
            if isinstance(event_id, str)
            else None
        )
        if ev is None or ev.unit_code not in caller.codes:
            out.append({"event_id": event_id, **envelope(Code.NOT_FOUND)})
            continue
        if ev.acknowledged_at is not None:
            out.append({"event_id": event_id, **envelope(Code.REPLAY)})
            continue
        ev.acknowledged_at = now
        ev.acknowledged_by = "poll"
        out.append({"event_id": event_id, **envelope(Code.OK)})
    return out


def _portal_code(session: Session, tenant: str, unit_code: str, now: datetime) -> str:
    """A new MaHoSo for a portal-filed dossier; serials 90001–99999 are the portal's."""
    prefix = f"{unit_code}-{rules.to_wire_time(now)[2:8]}-"  # type: ignore[index]
    last = session.scalar(
        select(func.max(Dossier.code)).where(
            Dossier.tenant == tenant, Dossier.code >= prefix + "90001", Dossier.code <= prefix + "99999"
        )
    )
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 90001
    if n > 99999:
        raise DvcqgError(Code.TRANSIENT, "No portal serial left for today", "Hết số hồ sơ trong ngày")
    return prefix + f"{n:05d}"


def file_citizen_dossier(session: Session, tenant: str, settings: DossierSettings, body: Mapping[str, Any]) -> Dossier:
    """A citizen files a dossier on the portal: stored (status 1) and sent to the unit."""
    ensure_dev_unit(session, tenant, settings)
    unit_code = str(body.get("MaDonVi") or "")
    if get_unit(session, tenant, unit_code) is None:
        raise DvcqgError(
            Code.VALIDATION,
            details=[detail("MaDonVi", "unknown_unit", "Đơn vị chưa đăng ký", "Unit not registered")],
        )
    now = now_naive(session, tenant)
    rec = {k: v for k, v in body.items() if k != "MaDonVi"}
    rec.setdefault("KenhThucHien", 2)
    rec.setdefault("LoaiDoiTuong", 1)
    rec.setdefault("TaiKhoanDuocXacThucVoiVNeID", 1)
    rec.setdefault("TrangThaiHoSo", 1)
    rec.setdefault("NgayNopHoSo", rules.to_wire_time(now))
    rec["MaHoSo"] = f"{unit_code}-{rules.to_wire_time(now)[2:8]}-90001"  # type: ignore[index]
    if rec["TrangThaiHoSo"] != 1:
        raise DvcqgError(
            Code.VALIDATION,
            details=[
                detail("TrangThaiHoSo", "enum", "Hồ sơ nộp trên Cổng có trạng thái 1", "Portal filings start at 1")
            ],
        )
    proc = catalogue.get(str(rec.get("MaTTHC") or ""))
    if proc is not None:
        rec.setdefault("TenTTHC", proc.name)
        rec.setdefault("TenLinhVuc", proc.field_name)
    checked = rules.check_dossier(rec, frozenset({unit_code}), settings.fee_check)
    if checked.problems:
        raise DvcqgError(Code.VALIDATION, details=checked.problems)
    # Concurrent filings may pick the same serial: the unique constraint decides, and the
    # loser takes the next free one.
    for _ in range(50):
        code = _portal_code(session, tenant, unit_code, now)
        record = {**checked.record, "MaHoSo": code}
        d = Dossier(
            tenant=tenant,
            code=code,
            unit_code=unit_code,
            status=1,
            reported_status=None,
            origin="portal",
            synced_at=now,
            updated_at=now,
            data=record,
            **fields_of(record, checked.times),
        )
        try:
            with session.begin_nested():
                session.add(d)
                session.flush()
            break
        except IntegrityError:
            continue
    else:
        raise DvcqgError(Code.TRANSIENT, "Too many concurrent filings; retry", "Quá nhiều hồ sơ nộp đồng thời")
    session.add(
        DossierEvent(
            tenant=tenant,
            dossier_code=d.code,
            unit_code=unit_code,
            kind="citizen_filed",
            status_to=1,
            at=checked.times.get("NgayNopHoSo", now),
            received_at=now,
            outcome="applied",
            data={},
        )
    )
    session.flush()
    notify_unit(session, tenant, settings, d, "dossier.filed")
    return d


def get_dossier(session: Session, tenant: str, code: str, *, lock: bool = False) -> Dossier:
    """The dossier, or code 22. With ``lock`` it stays locked until the unit of work ends
    (as the province's sync calls lock it), so a status checked here is the one changed."""
    stmt = select(Dossier).where(Dossier.tenant == tenant, Dossier.code == code)
    if lock:
        write_lock(session)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    d = session.scalar(stmt)
    if d is None:
        raise DvcqgError(Code.NOT_FOUND, f"No dossier {code}", f"Không tìm thấy hồ sơ {code}")
    return d


def citizen_withdraw(session: Session, tenant: str, settings: DossierSettings, code: str, reason: str) -> Dossier:
    """The citizen withdraws (status 7, allowed from any non-final status); the unit is told."""
    d = get_dossier(session, tenant, code, lock=True)
    problem = rules.transition_problem(d.status, 7)
    if problem is not None or d.status == 7:
        raise DvcqgError(
            Code.ILLEGAL_TRANSITION,
            details=[problem or detail("TrangThaiHoSo", "transition", "Hồ sơ đã rút", "Already withdrawn")],
        )
    now = now_naive(session, tenant)
    session.add(
        DossierEvent(
            tenant=tenant,
            dossier_code=code,
            unit_code=d.unit_code,
            kind="citizen_withdraw",
            status_from=d.status,
            status_to=7,
            at=now,
            received_at=now,
            outcome="applied",
            data={"LyDo": reason},
        )
    )
    d.status = 7
    d.updated_at = now
    d.data = {**d.data, "TrangThaiHoSo": 7, "LyDoRutHoSo": reason}
    notify_unit(session, tenant, settings, d, "dossier.withdrawn", {"LyDo": reason})
    return d


def citizen_supplement(
    session: Session, tenant: str, settings: DossierSettings, code: str, documents: list[Any]
) -> Dossier:
    """The citizen sends the documents asked for (status 5 only); the unit is told.

    The status stays 5: the province moves it back to 4 when it resumes processing."""
    d = get_dossier(session, tenant, code, lock=True)
    if d.status != 5:
        raise DvcqgError(
            Code.ILLEGAL_TRANSITION,
            details=[
                detail(
                    "TrangThaiHoSo",
                    "supplement_not_requested",
                    f"Chỉ bổ sung khi hồ sơ ở trạng thái 5 (đang là {d.status})",
                    f"Supplements only for status 5 (status is {d.status})",
                )
            ],
        )
    if not documents or not all(isinstance(x, dict) for x in documents):
        raise DvcqgError(
            Code.VALIDATION,
            details=[detail("TaiLieuBoSung", "required", "Cần danh sách giấy tờ bổ sung", "A list of documents")],
        )
    now = now_naive(session, tenant)
    entry = {"NgayBoSung": rules.to_wire_time(now), "TaiLieuBoSung": documents}
    session.add(
        DossierEvent(
            tenant=tenant,
            dossier_code=code,
            unit_code=d.unit_code,
            kind="citizen_supplement",
            status_from=5,
            status_to=5,
            at=now,
            received_at=now,
            outcome="applied",
            data=entry,
        )
    )
    d.data = {**d.data, "DanhSachHoSoBoSung": [*(d.data.get("DanhSachHoSoBoSung") or []), entry]}
    d.updated_at = now
    notify_unit(session, tenant, settings, d, "dossier.supplemented", {"BoSung": entry})
    return d


def record_payment(
    session: Session, tenant: str, settings: DossierSettings, body: Mapping[str, Any]
) -> tuple[Code, Dossier | None]:
    """The payment service reports a successful fee payment (idempotent by MaGiaoDich)."""
    problems = []
    for f in ("MaHoSo", "MaGiaoDich"):
        if not isinstance(body.get(f), str) or not body[f]:
            problems.append(detail(f, "required", f"Thiếu {f}", f"{f} is required"))
    amount = rules.as_int(body.get("SoTien"))
    if amount is None or amount < 0:
        problems.append(detail("SoTien", "amount", "SoTien phải là số nguyên không âm", "SoTien: integer ≥ 0"))
    if rules.as_int(body.get("TrangThaiGD")) != 1:
        problems.append(detail("TrangThaiGD", "enum", "Chỉ nhận giao dịch thành công (1)", "Only successful (1)"))
    if problems:
        raise DvcqgError(Code.VALIDATION, details=problems)
    txn = str(body["MaGiaoDich"])
    d = get_dossier(session, tenant, str(body["MaHoSo"]), lock=True)  # first: a parallel repeat waits here
    if session.scalar(
        select(PaymentRecord.id).where(PaymentRecord.tenant == tenant, PaymentRecord.transaction_id == txn)
    ):
        return Code.REPLAY, None
    now = now_naive(session, tenant)
    payment = {k: body.get(k) for k in ("MaGiaoDich", "MaThamChieu", "MaDoiTac", "SoTien", "ThoiGianGD", "PhiLePhi")}
    session.add(
        PaymentRecord(
            tenant=tenant,
            transaction_id=txn,
            dossier_code=d.code,
            amount=amount or 0,
            data=dict(body),
            received_at=now,
        )
    )
    session.add(
        DossierEvent(
            tenant=tenant,
            dossier_code=d.code,
            unit_code=d.unit_code,
            kind="payment",
            status_from=d.status,
            status_to=d.status,
            at=now,
            received_at=now,
            outcome="applied",
            data=payment,
        )
    )
    d.paid_online = 1
    d.data = {
        **d.data,
        "DuocThanhToanTrucTuyen": 1,
        "ThanhToanTrucTuyen": [*(d.data.get("ThanhToanTrucTuyen") or []), payment],
    }
    d.updated_at = now
    notify_unit(session, tenant, settings, d, "dossier.paid", {"ThanhToan": payment})
    return Code.OK, d
