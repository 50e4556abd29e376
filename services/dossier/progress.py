"""CapNhatTienDoHoSoMC: progress records of a dossier; their ``TrangThai`` drives the
dossier's ``TrangThaiHoSo``. No HTTP types here.

A record is answered once: a repeat (same ``IdempotencyKey``, or the same content) is code
24; a record older than the newest applied one is kept but changes nothing (code 25). The
session is never committed here (see :mod:`~services.dossier.batch`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.dossier import rules
from services.dossier.batch import (
    ITEM_OK,
    SyncRun,
    item_result,
    locked_dossiers,
    once_more_on_conflict,
    record_event,
    refuse_foreign,
    refuse_item,
    reject,
)
from services.dossier.errors import Code, detail
from services.dossier.models import Dossier, DossierEvent

#: Closing statuses a progress record dates in the dossier's record when it has no date yet.
CLOSING_DATE = {9: "NgayKetThucXuLy", 10: "NgayTra", 3: "NgayTuChoi"}


def record_key(rec: Mapping[str, Any]) -> str:
    """The replay key of a progress record: its IdempotencyKey, or a hash of the record."""
    explicit = rec.get("IdempotencyKey")
    if isinstance(explicit, str) and explicit.strip():
        return "k:" + explicit.strip()[:120]
    canonical = json.dumps(rec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "h:" + hashlib.sha256(canonical.encode()).hexdigest()


def update_progress(run: SyncRun, items: list[Any]) -> list[dict[str, Any]]:
    """CapNhatTienDoHoSoMC: append progress records; their TrangThai drives TrangThaiHoSo."""
    return once_more_on_conflict(run, lambda: _update_progress(run, items))


@dataclass
class _Batch:
    """One attempt at a CapNhatTienDoHoSoMC batch: the dossiers it names (locked) and the
    replay keys of their progress records so far."""

    dossiers: dict[str, Dossier]
    known_keys: set[tuple[str, str | None]]
    no_later_than: datetime


def _update_progress(run: SyncRun, items: list[Any]) -> list[dict[str, Any]]:
    codes = {i.get("MaHoSo") for i in items if isinstance(i, dict) and isinstance(i.get("MaHoSo"), str)}
    # Locked first: the replay keys and the status read below stay true until this call commits.
    dossiers = locked_dossiers(run, codes, lock=True)
    known_keys: set[tuple[str, str | None]] = {
        (c, k)
        for c, k in run.session.execute(
            select(DossierEvent.dossier_code, DossierEvent.key).where(
                DossierEvent.tenant == run.tenant,
                DossierEvent.dossier_code.in_(codes),
                DossierEvent.kind == "progress",
            )
        )
    }
    batch = _Batch(dossiers, known_keys, run.now + timedelta(seconds=run.settings.future_tolerance_s))
    return [_progress_record(run, batch, raw) for raw in items]


def _progress_record(run: SyncRun, batch: _Batch, raw: Any) -> dict[str, Any]:
    """Check one progress record and apply it, or answer why not."""
    refused = refuse_item(run, raw, "Mỗi bản ghi là một đối tượng")
    if refused is not None:
        return refused
    checked = rules.check_progress(raw)
    code = checked.record.get("MaHoSo")
    if checked.problems:
        return reject(run, Code.VALIDATION, code, checked.problems)
    assert isinstance(code, str)
    d = batch.dossiers.get(code)
    refused = refuse_foreign(run, code, d)
    if refused is not None:
        return refused
    assert d is not None
    key = record_key(raw)
    if (code, key) in batch.known_keys:
        return item_result(Code.REPLAY, code)
    rec = checked.record
    at = checked.times["ThoiDiemXuLy"]
    implausible = rules.progress_time_problems(rec, at, batch.no_later_than, d.received_at)
    if implausible:
        return reject(run, Code.IMPLAUSIBLE_TIME, code, implausible)
    batch.known_keys.add((code, key))
    new_status = int(rec["TrangThai"])
    if d.last_progress_at is not None and at < d.last_progress_at:
        return _keep_out_of_order(run, d, rec, at, key)
    transition = rules.transition_problem(d.status, new_status)
    warnings = []
    if transition is not None:
        d.reported_status = new_status
        if not run.lenient:
            batch.known_keys.discard((code, key))  # a refused record may be sent again, corrected
            return reject(run, Code.ILLEGAL_TRANSITION, code, [transition])
        warnings.append(transition)
        run.warnings.append({"MaHoSo": code, **transition})
    return _apply_progress(run, d, rec, at, key, warnings)


def _keep_out_of_order(run: SyncRun, d: Dossier, rec: dict[str, Any], at: datetime, key: str) -> dict[str, Any]:
    """A record older than the newest applied one: stored as an event, status unchanged, code 25."""
    new_status = int(rec["TrangThai"])
    record_event(run, d.code, d.unit_code, "progress", d.status, new_status, at, "out_of_order", rec, key=key)
    latest = rules.to_wire_time(d.last_progress_at)
    problem = detail(
        "ThoiDiemXuLy",
        "out_of_order",
        f"ThoiDiemXuLy cũ hơn bản ghi mới nhất đã áp dụng ({latest}); đã lưu, không đổi trạng thái",
        f"ThoiDiemXuLy is older than the newest applied record ({latest}); stored, status unchanged",
    )
    return reject(run, Code.OUT_OF_ORDER, d.code, [problem])


def _apply_progress(
    run: SyncRun, d: Dossier, rec: dict[str, Any], at: datetime, key: str, warnings: list[dict[str, str]]
) -> dict[str, Any]:
    """Move the dossier to the record's status (or only note it, ``sync_drop``); a closing
    status dates the record's ``NgayKetThucXuLy`` / ``NgayTra`` / ``NgayTuChoi`` if unset."""
    new_status = int(rec["TrangThai"])
    if run.drop:
        d.reported_status = new_status
        record_event(run, d.code, d.unit_code, "progress", d.status, new_status, at, "dropped", rec, key=key)
        return item_result(ITEM_OK, d.code, warnings=warnings)
    outcome = "applied_with_warning" if warnings else "applied"
    record_event(run, d.code, d.unit_code, "progress", d.status, new_status, at, outcome, rec, warnings, key)
    d.status = new_status
    d.reported_status = new_status
    d.last_progress_at = at
    d.updated_at = run.now
    data = {**d.data, "TrangThaiHoSo": new_status}
    closing_field = CLOSING_DATE.get(new_status)
    if closing_field is not None and not data.get(closing_field):
        data[closing_field] = rec["ThoiDiemXuLy"]
        if new_status == 9:
            d.finished_at = at
    d.data = data
    return item_result(ITEM_OK, d.code, warnings=warnings)
