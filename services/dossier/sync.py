"""DongBoHoSoMC: create or update dossiers from the province's records. No HTTP types here.

Each record is checked (:mod:`~services.dossier.rules`, the owner in the population
database when ``check_population`` is on, the status machine on update), then applied:
new dossiers are inserted in bulk after the batch, updated ones changed in place, each
with its event. The session is never committed here (see :mod:`~services.dossier.batch`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

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
from vnsandbox.bulk import insert_rows
from vnsandbox.calls import UnexpectedReply, service_caller, signed_call

DUPLICATE_IN_BATCH = detail(
    "MaHoSo", "duplicate_in_batch", "MaHoSo lặp lại trong cùng lần gửi", "MaHoSo repeated in one call"
)

#: The record's own date of reaching a status (the sync time when the record has none).
STATUS_DATE = {
    1: "NgayNopHoSo",
    2: "NgayTiepNhan",
    3: "NgayTuChoi",
    7: "NgayKetThucXuLy",
    8: "NgayKetThucXuLy",
    9: "NgayKetThucXuLy",
    10: "NgayTra",
}


def status_time(rec: Mapping[str, Any], times: Mapping[str, datetime], status: int, default: datetime) -> datetime:
    """When a dossier reached ``status``, from its own dates where they say so (a province
    catching up creates or updates a dossier straight to a closing status long after it
    closed: 7 and 8 are dated by the record's ``NgayKetThucXuLy``, as 9 is)."""
    key = STATUS_DATE.get(status)
    return times.get(key, default) if key else default


def fields_of(rec: Mapping[str, Any], times: Mapping[str, datetime]) -> dict[str, Any]:
    """Indexed columns of a dossier from its wire record."""
    return {
        "procedure_code": str(rec.get("MaTTHC") or "").strip(),
        "channel": rec.get("KenhThucHien"),
        "owner_id_number": str(rec.get("SoGiayToChuHoSo") or "").strip(),
        "received_at": times.get("NgayTiepNhan"),
        "due_at": times.get("NgayHenTra"),
        "finished_at": times.get("NgayKetThucXuLy"),
        "paid_online": int(rec.get("DuocThanhToanTrucTuyen") or 0),
    }


def sync_dossiers(run: SyncRun, items: list[Any], updating: bool) -> list[dict[str, Any]]:
    """DongBoHoSoMC: validate every record, then create or update each valid one."""
    return once_more_on_conflict(run, lambda: _sync_dossiers(run, items, updating))


@dataclass
class _Batch:
    """One attempt at a DongBoHoSoMC batch: the dossiers it names (locked when updating),
    the codes applied so far, and the new dossiers with their events, inserted after the loop."""

    updating: bool
    existing: dict[str, Dossier]
    no_later_than: datetime
    seen: set[str] = field(default_factory=set)
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    new_events: list[dict[str, Any]] = field(default_factory=list)

    def insert_new(self, session: Session) -> None:
        # One bulk insert per table (COPY on PostgreSQL): ORM objects cost more than validating a
        # record. A record is the data of its dossier and of its event: its JSON is encoded once.
        json_texts: dict[int, str] = {}
        insert_rows(session, Dossier, self.new_rows, json_texts)
        insert_rows(session, DossierEvent, self.new_events, json_texts)


def _sync_dossiers(run: SyncRun, items: list[Any], updating: bool) -> list[dict[str, Any]]:
    codes = [i.get("MaHoSo") for i in items if isinstance(i, dict) and isinstance(i.get("MaHoSo"), str)]
    batch = _Batch(
        updating=updating,
        existing=locked_dossiers(run, codes, lock=updating),
        no_later_than=run.now + timedelta(seconds=run.settings.future_tolerance_s),
    )
    results = [_sync_record(run, batch, raw) for raw in items]
    run.session.flush()
    batch.insert_new(run.session)
    return results


def _sync_record(run: SyncRun, batch: _Batch, raw: Any) -> dict[str, Any]:
    """Check one record and apply it, or answer why not."""
    refused = refuse_item(run, raw, "Mỗi hồ sơ là một đối tượng")
    if refused is not None:
        return refused
    code = raw.get("MaHoSo")
    current = batch.existing.get(code) if isinstance(code, str) else None
    refused = _refuse_target(run, batch, code, current)
    if refused is not None:
        return refused
    merged = {**current.data, **raw} if current is not None else dict(raw)
    checked = rules.check_dossier(merged, run.caller.codes, run.settings.fee_check)
    problems = checked.problems + rules.time_problems(checked.record, checked.times, batch.no_later_than)
    if not problems:
        refused = _refuse_owner(run, code, checked.record)
        if refused is not None:
            return refused
    warnings = list(checked.warnings)
    new_status = checked.record.get("TrangThaiHoSo")
    if not problems and current is not None and isinstance(new_status, int):
        transition = rules.transition_problem(current.status, new_status)
        if transition is not None:
            if not run.lenient:
                current.reported_status = new_status
                return reject(run, Code.ILLEGAL_TRANSITION, code, [transition])
            warnings.append(transition)
    if problems:
        return reject(run, _problems_code(problems), code, problems)
    assert isinstance(code, str) and isinstance(new_status, int)
    return _apply_record(run, batch, code, current, checked, warnings)


def _refuse_target(run: SyncRun, batch: _Batch, code: Any, current: Dossier | None) -> dict[str, Any] | None:
    """A MaHoSo already applied in this call (code 20); on update a dossier that is not there
    or not the caller's (22, 17), on create one that already exists (21). None: go on."""
    if isinstance(code, str) and code in batch.seen:
        return reject(run, Code.VALIDATION, code, [DUPLICATE_IN_BATCH])
    if batch.updating:
        return refuse_foreign(run, code, current)
    if current is not None:
        return reject(run, Code.ALREADY_EXISTS, code, [])
    return None


def _refuse_owner(run: SyncRun, code: Any, rec: Mapping[str, Any]) -> dict[str, Any] | None:
    """With ``check_population`` on, a citizen owner must be in the population database."""
    number = rec.get("SoGiayToChuHoSo")
    if not run.settings.check_population or (rec.get("LoaiDoiTuong") or 1) != 1 or not isinstance(number, str):
        return None
    found = _owner_in_population(run, number.strip())
    return None if found is None else reject(run, found[0], code, [found[1]])


def _problems_code(problems: list[dict[str, str]]) -> Code:
    """Code 28 when every problem is an implausible time, else 20."""
    return Code.IMPLAUSIBLE_TIME if all(p["rule"] in rules.TIME_RULES for p in problems) else Code.VALIDATION


def _owner_in_population(run: SyncRun, number: str) -> tuple[Code, dict[str, str]] | None:
    """Ask the identity service whether the owner exists (when ``check_population`` is on).

    200: present; 404: absent (code 20, rule ``population``); anything else, a timeout or no
    answer: the check could not be made and the record is refused with code 32, never let
    through unchecked."""
    url = run.settings.identity_url.rstrip("/") + run.settings.identity_lookup_path.format(number=number)
    try:
        resp = signed_call(
            "GET",
            url,
            secret=run.settings.gateway_secret,
            tenant=run.tenant,
            consumer=service_caller("dossier"),
            timeout_s=5.0,
            expect=frozenset({200, 404}),
        )
    except UnexpectedReply as exc:
        answer = f"HTTP {exc.status}" if exc.status is not None else exc.reason
        return Code.POPULATION_UNAVAILABLE, detail(
            "SoGiayToChuHoSo",
            "population_unavailable",
            f"CSDL quốc gia về dân cư không trả lời đúng ({answer}); chưa kiểm tra được chủ hồ sơ",
            f"The population database did not answer as expected ({answer}); the owner could not be checked",
        )
    if resp.status_code == 404:
        return Code.VALIDATION, detail(
            "SoGiayToChuHoSo",
            "population",
            "Số định danh của chủ hồ sơ không có trong CSDL quốc gia về dân cư",
            "The owner's identification number is not in the population database",
        )
    return None


def _apply_record(
    run: SyncRun,
    batch: _Batch,
    code: str,
    current: Dossier | None,
    checked: rules.Checked,
    warnings: list[dict[str, str]],
) -> dict[str, Any]:
    """Create or update the dossier of a checked record (or only note it, ``sync_drop``)."""
    rec = checked.record
    new_status = int(rec["TrangThaiHoSo"])
    batch.seen.add(code)
    run.warnings.extend({"MaHoSo": code, **w} for w in warnings)
    unit_code = code.rsplit("-", 2)[0]
    if run.drop:
        kind = "updated" if batch.updating else "created"
        record_event(run, code, unit_code, kind, None, new_status, None, "dropped", rec)
        if current is not None:
            current.reported_status = new_status
        return item_result(ITEM_OK, code, warnings=warnings)
    at = status_time(rec, checked.times, new_status, run.now)
    outcome = "applied_with_warning" if warnings else "applied"
    if current is None:
        _add_new(run, batch, code, unit_code, checked, at, outcome, warnings)
    else:
        old = current.status
        for k, v in fields_of(rec, checked.times).items():
            setattr(current, k, v)
        current.data = rec
        current.status = new_status
        current.reported_status = new_status
        current.updated_at = run.now
        when = at if old != new_status else run.now
        record_event(run, code, unit_code, "updated", old, new_status, when, outcome, rec, warnings)
    return item_result(ITEM_OK, code, warnings=warnings)


def _add_new(
    run: SyncRun,
    batch: _Batch,
    code: str,
    unit_code: str,
    checked: rules.Checked,
    at: datetime,
    outcome: str,
    warnings: list[dict[str, str]],
) -> None:
    """A new dossier and its ``created`` event, inserted in bulk after the loop (ORM objects
    cost more than the validation of a record); ``seen`` already guards duplicates in the call."""
    rec = checked.record
    status = rec["TrangThaiHoSo"]
    batch.new_rows.append(
        {
            "tenant": run.tenant,
            "code": code,
            "unit_code": unit_code,
            "status": status,
            "reported_status": status,
            "origin": "province",
            "synced_at": run.now,
            "updated_at": run.now,
            "last_progress_at": None,
            "data": rec,
            **fields_of(rec, checked.times),
        }
    )
    batch.new_events.append(
        {
            "tenant": run.tenant,
            "dossier_code": code,
            "unit_code": unit_code,
            "kind": "created",
            "key": None,
            "status_from": None,
            "status_to": status,
            "at": at,
            "received_at": run.now,
            "outcome": outcome,
            "warning": json.dumps(warnings, ensure_ascii=False) if warnings else None,
            "data": rec,
        }
    )
