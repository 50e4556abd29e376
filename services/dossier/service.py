"""Behaviour of the sync API: DongBoHoSoMC, CapNhatTienDoHoSoMC, TraCuuHoSo and the call-level
failure switches. No HTTP types here.

Every function takes the request's session and tenant and never commits: the router's
unit of work commits once after the reply is built, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.dossier import rules
from services.dossier.accounts import Caller, now_naive
from services.dossier.errors import Code, DvcqgError, detail, envelope
from services.dossier.models import Dossier, DossierEvent, RejectedUpdate
from services.dossier.settings import DossierSettings
from vnsandbox import switches
from vnsandbox.bounds import MAX_COUNT, MAX_OFFSET
from vnsandbox.calls import UnexpectedReply, signed_call
from vnsandbox.db import write_lock

#: Switch names this service understands (listed by ``/_sandbox/switches``).
SWITCHES = {
    "sync_transient_error": "Reject a share of sync calls with a transient error (code 30, HTTP 503). "
    'params: {"share": 0..1} (default 1: every call); deterministic: exactly that share of calls.',
    "sync_timeout": "Wait, then answer 504 (code 31) without applying anything. "
    'params: {"seconds": 30} (real seconds).',
    "sync_slow": "Answer slowly: wait params.delay_ms (default 2000) real milliseconds, then process normally.",
    "sync_drop": "Answer success but drop the update (the portal keeps its old state); for testing a "
    "province's reconciliation. The sandbox still records what the province reported.",
    "session_expiry_mid_batch": "Expire the caller's session in the middle of a batch: after params.after "
    "(default 1) records, the rest are answered code 12. Applies to session-authenticated calls.",
    "lenient_transitions": "Accept illegal status transitions with a warning (scope: a unit code or *).",
}

ITEM_OK = Code.OK
NOT_AN_OBJECT = detail("data", "type", "Mỗi bản ghi là một đối tượng JSON", "Each item must be a JSON object")
#: How many times a call is run again after a concurrent call wrote the same rows first.
CONFLICT_ATTEMPTS = 3
DUPLICATE_IN_BATCH = detail(
    "MaHoSo", "duplicate_in_batch", "MaHoSo lặp lại trong cùng lần gửi", "MaHoSo repeated in one call"
)


@dataclass
class SyncRun:
    """State of one DongBoHoSoMC / CapNhatTienDoHoSoMC call."""

    session: Session
    tenant: str
    settings: DossierSettings
    caller: Caller
    service: str
    now: datetime
    lenient: bool
    drop: bool
    expire_after: int | None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    processed: int = 0

    def session_expired_now(self) -> bool:
        """The ``session_expiry_mid_batch`` switch: true once its record count is used up."""
        if self.expire_after is None or self.caller.sync_session is None:
            return False
        if self.processed >= self.expire_after:
            self.caller.sync_session.expires_at = self.now
            return True
        return False


def start_run(
    session: Session, tenant: str, settings: DossierSettings, caller: Caller, service: str
) -> SyncRun | DvcqgError:
    """Apply the call-level switches and prepare the run.

    A switch that refuses the call (transient error, timeout) is returned, not raised, so
    the unit of work still commits the switch's use counter."""
    scope = caller.unit.code
    transient = switches.peek(session, tenant, "sync_transient_error", scope)
    if transient is not None:
        share = float(transient.params.get("share", 1.0))
        count = int(transient.params.get("count", 0))
        transient.params = {**transient.params, "count": count + 1}
        if transient.remaining is not None:
            transient.remaining -= 1
            if transient.remaining <= 0:
                session.delete(transient)
        # Exactly ``share`` of calls fail, spread evenly (deterministic).
        if int((count + 1) * share) > int(count * share):
            return DvcqgError(Code.TRANSIENT)
    timeout = switches.take(session, tenant, "sync_timeout", scope)
    if timeout is not None:
        time.sleep(float(timeout.params.get("seconds", 30)))
        return DvcqgError(Code.TIMEOUT)
    slow = switches.take(session, tenant, "sync_slow", scope)
    if slow is not None:
        time.sleep(float(slow.params.get("delay_ms", 2000)) / 1000)
    drop = switches.take(session, tenant, "sync_drop", scope) is not None
    expire = None
    if caller.sync_session is not None:
        sw = switches.take(session, tenant, "session_expiry_mid_batch", scope)
        if sw is not None:
            expire = int(sw.params.get("after", 1))
    mode = caller.unit.transition_mode or settings.transition_mode
    if switches.peek(session, tenant, "lenient_transitions", scope) is not None:
        mode = "lenient"
    return SyncRun(
        session=session,
        tenant=tenant,
        settings=settings,
        caller=caller,
        service=service,
        now=now_naive(session, tenant),
        lenient=mode == "lenient",
        drop=drop,
        expire_after=expire,
    )


def item_result(code: Code, ma_ho_so: Any, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"MaHoSo": ma_ho_so if isinstance(ma_ho_so, str) else None, **envelope(code)}
    out.update({k: v for k, v in extra.items() if v})
    return out


def _refuse_item(run: SyncRun, raw: Any, not_an_object_vi: str) -> dict[str, Any] | None:
    """The answer for a batch item that is not processed at all: the sync session expired
    during the batch, or the item is not a JSON object (counted and rejected). None: go on."""
    if run.session_expired_now():
        return item_result(Code.SESSION_EXPIRED, raw.get("MaHoSo") if isinstance(raw, dict) else None)
    run.processed += 1
    if not isinstance(raw, dict):
        return _reject(
            run, Code.VALIDATION, None, [detail("data", "type", not_an_object_vi, "Each item must be an object")]
        )
    return None


def _reject(run: SyncRun, code: Code, ma_ho_so: Any, problems: list[dict[str, str]]) -> dict[str, Any]:
    run.session.add(
        RejectedUpdate(
            tenant=run.tenant,
            unit_code=run.caller.unit.code,
            dossier_code=ma_ho_so if isinstance(ma_ho_so, str) else "",
            service=run.service,
            error_code=int(code),
            errors=problems,
            received_at=run.now,
        )
    )
    return item_result(code, ma_ho_so, details=problems)


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
    return _once_more_on_conflict(run, lambda: _sync_dossiers(run, items, updating))


def _once_more_on_conflict(run: SyncRun, apply: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run ``apply`` in a savepoint and write its rows; when the database refuses them because
    a concurrent call wrote the same dossier or progress record first (unique constraint),
    undo this attempt and run it again: it then sees that write and answers 21 / 24, as for a
    sequential duplicate. Code 30 only if the records keep colliding."""
    write_lock(run.session)  # before the savepoint: on SQLite a SAVEPOINT would begin a deferred transaction
    for _ in range(CONFLICT_ATTEMPTS):
        run.processed = 0
        run.warnings = []
        try:
            with run.session.begin_nested():
                results = apply()
                run.session.flush()
        except IntegrityError:
            continue
        return results
    raise DvcqgError(
        Code.TRANSIENT,
        "Concurrent calls kept writing the same dossiers; send the call again",
        "Các lần gửi đồng thời liên tục ghi cùng hồ sơ; vui lòng gửi lại",
    )


def _locked_dossiers(run: SyncRun, codes: Collection[Any], lock: bool) -> dict[str, Dossier]:
    """The tenant's dossiers among ``codes``, fresh from the database. With ``lock`` they stay
    locked until the call's unit of work ends (rows in id order, so two calls never wait on
    each other crosswise; on SQLite :func:`write_lock` holds the whole file), so a status
    read here is still the status when this call writes: parallel calls on one dossier
    apply one after the other."""
    stmt = (
        select(Dossier)
        .where(Dossier.tenant == run.tenant, Dossier.code.in_(codes))
        .order_by(Dossier.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update()
    return {d.code: d for d in run.session.scalars(stmt)}


def _problems_code(problems: list[dict[str, str]]) -> Code:
    """Code 28 when every problem is an implausible time, else 20."""
    return Code.IMPLAUSIBLE_TIME if all(p["rule"] in rules.TIME_RULES for p in problems) else Code.VALIDATION


def _sync_dossiers(run: SyncRun, items: list[Any], updating: bool) -> list[dict[str, Any]]:
    tenant = run.tenant
    codes = [i.get("MaHoSo") for i in items if isinstance(i, dict) and isinstance(i.get("MaHoSo"), str)]
    existing = _locked_dossiers(run, codes, lock=updating)
    no_later_than = run.now + timedelta(seconds=run.settings.future_tolerance_s)
    seen: set[str] = set()
    results = []
    new_rows: list[dict[str, Any]] = []
    new_events: list[dict[str, Any]] = []
    for raw in items:
        refused = _refuse_item(run, raw, "Mỗi hồ sơ là một đối tượng")
        if refused is not None:
            results.append(refused)
            continue
        code = raw.get("MaHoSo")
        current = existing.get(code) if isinstance(code, str) else None
        if isinstance(code, str) and code in seen:
            results.append(
                _reject(
                    run,
                    Code.VALIDATION,
                    code,
                    [
                        detail(
                            "MaHoSo",
                            "duplicate_in_batch",
                            "MaHoSo lặp lại trong cùng lần gửi",
                            "MaHoSo repeated in one call",
                        )
                    ],
                )
            )
            continue
        if updating:
            if current is None:
                results.append(_reject(run, Code.NOT_FOUND, code, []))
                continue
            if current.unit_code not in run.caller.codes:
                results.append(_reject(run, Code.FORBIDDEN_UNIT, code, []))
                continue
            merged = {**current.data, **raw}
        else:
            if current is not None:
                results.append(_reject(run, Code.ALREADY_EXISTS, code, []))
                continue
            merged = dict(raw)
        checked = rules.check_dossier(merged, run.caller.codes, run.settings.fee_check)
        problems = list(checked.problems)
        problems += rules.time_problems(checked.record, checked.times, no_later_than)
        number = checked.record.get("SoGiayToChuHoSo")
        if (
            not problems
            and run.settings.check_population
            and (checked.record.get("LoaiDoiTuong") or 1) == 1
            and isinstance(number, str)
        ):
            found = _owner_in_population(run, number.strip())
            if found is not None:
                results.append(_reject(run, found[0], code, [found[1]]))
                continue
        warnings = list(checked.warnings)
        new_status = checked.record.get("TrangThaiHoSo")
        if not problems and updating and current is not None and isinstance(new_status, int):
            problem = rules.transition_problem(current.status, new_status)
            if problem is not None:
                if not run.lenient:
                    current.reported_status = new_status
                    results.append(_reject(run, Code.ILLEGAL_TRANSITION, code, [problem]))
                    continue
                warnings.append(problem)
        if problems:
            results.append(_reject(run, _problems_code(problems), code, problems))
            continue
        assert isinstance(code, str) and isinstance(new_status, int)
        seen.add(code)
        run.warnings.extend({"MaHoSo": code, **w} for w in warnings)
        rec = checked.record
        unit_code = code.rsplit("-", 2)[0]
        if run.drop:
            _record_event(
                run, code, unit_code, "updated" if updating else "created", None, new_status, None, "dropped", rec
            )
            if current is not None:
                current.reported_status = new_status
            results.append(item_result(ITEM_OK, code, warnings=warnings))
            continue
        at = status_time(rec, checked.times, new_status, run.now)
        outcome = "applied_with_warning" if warnings else "applied"
        if current is None:
            # New dossiers are inserted in bulk after the loop (ORM objects cost more than
            # the validation of a record); ``seen`` already guards duplicates in the call.
            new_rows.append(
                {
                    "tenant": tenant,
                    "code": code,
                    "unit_code": unit_code,
                    "status": new_status,
                    "reported_status": new_status,
                    "origin": "province",
                    "synced_at": run.now,
                    "updated_at": run.now,
                    "last_progress_at": None,
                    "data": rec,
                    **fields_of(rec, checked.times),
                }
            )
            new_events.append(
                {
                    "tenant": tenant,
                    "dossier_code": code,
                    "unit_code": unit_code,
                    "kind": "created",
                    "key": None,
                    "status_from": None,
                    "status_to": new_status,
                    "at": at,
                    "received_at": run.now,
                    "outcome": outcome,
                    "warning": json.dumps(warnings, ensure_ascii=False) if warnings else None,
                    "data": rec,
                }
            )
        else:
            old = current.status
            for k, v in fields_of(rec, checked.times).items():
                setattr(current, k, v)
            current.data = rec
            current.status = new_status
            current.reported_status = new_status
            current.updated_at = run.now
            _record_event(
                run,
                code,
                unit_code,
                "updated",
                old,
                new_status,
                at if old != new_status else run.now,
                outcome,
                rec,
                warnings,
            )
        results.append(item_result(ITEM_OK, code, warnings=warnings))
    run.session.flush()
    for table, rows in ((Dossier, new_rows), (DossierEvent, new_events)):
        if rows:
            # One ``executemany`` per table: ORM objects cost more than validating a record.
            run.session.execute(insert(table), rows)
    return results


def _record_event(
    run: SyncRun,
    code: str,
    unit_code: str,
    kind: str,
    status_from: int | None,
    status_to: int | None,
    at: datetime | None,
    outcome: str,
    data: Mapping[str, Any],
    warnings: list[dict[str, str]] | None = None,
    key: str | None = None,
) -> DossierEvent:
    ev = DossierEvent(
        tenant=run.tenant,
        dossier_code=code,
        unit_code=unit_code,
        kind=kind,
        key=key,
        status_from=status_from,
        status_to=status_to,
        at=at,
        received_at=run.now,
        outcome=outcome,
        warning=json.dumps(warnings, ensure_ascii=False) if warnings else None,
        data=dict(data),
    )
    run.session.add(ev)
    return ev


def record_key(rec: Mapping[str, Any]) -> str:
    """The replay key of a progress record: its IdempotencyKey, or a hash of the record."""
    explicit = rec.get("IdempotencyKey")
    if isinstance(explicit, str) and explicit.strip():
        return "k:" + explicit.strip()[:120]
    canonical = json.dumps(rec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "h:" + hashlib.sha256(canonical.encode()).hexdigest()


def update_progress(run: SyncRun, items: list[Any]) -> list[dict[str, Any]]:
    """CapNhatTienDoHoSoMC: append progress records; their TrangThai drives TrangThaiHoSo."""
    return _once_more_on_conflict(run, lambda: _update_progress(run, items))


def _update_progress(run: SyncRun, items: list[Any]) -> list[dict[str, Any]]:
    tenant = run.tenant
    codes = {i.get("MaHoSo") for i in items if isinstance(i, dict) and isinstance(i.get("MaHoSo"), str)}
    # Locked first: the replay keys and the status read below stay true until this call commits.
    dossiers = _locked_dossiers(run, codes, lock=True)
    no_later_than = run.now + timedelta(seconds=run.settings.future_tolerance_s)
    known_keys: set[tuple[str, str | None]] = {
        (c, k)
        for c, k in run.session.execute(
            select(DossierEvent.dossier_code, DossierEvent.key).where(
                DossierEvent.tenant == tenant,
                DossierEvent.dossier_code.in_(codes),
                DossierEvent.kind == "progress",
            )
        )
    }
    results = []
    for raw in items:
        refused = _refuse_item(run, raw, "Mỗi bản ghi là một đối tượng")
        if refused is not None:
            results.append(refused)
            continue
        checked = rules.check_progress(raw)
        code = checked.record.get("MaHoSo")
        if checked.problems:
            results.append(_reject(run, Code.VALIDATION, code, checked.problems))
            continue
        assert isinstance(code, str)
        d = dossiers.get(code)
        if d is None:
            results.append(_reject(run, Code.NOT_FOUND, code, []))
            continue
        if d.unit_code not in run.caller.codes:
            results.append(_reject(run, Code.FORBIDDEN_UNIT, code, []))
            continue
        key = record_key(raw)
        if (code, key) in known_keys:
            results.append(item_result(Code.REPLAY, code))
            continue
        rec = checked.record
        at = checked.times["ThoiDiemXuLy"]
        implausible = rules.progress_time_problems(rec, at, no_later_than, d.received_at)
        if implausible:
            results.append(_reject(run, Code.IMPLAUSIBLE_TIME, code, implausible))
            continue
        known_keys.add((code, key))
        new_status = int(rec["TrangThai"])
        if d.last_progress_at is not None and at < d.last_progress_at:
            _record_event(run, code, d.unit_code, "progress", d.status, new_status, at, "out_of_order", rec, key=key)
            latest = rules.to_wire_time(d.last_progress_at)
            problem = detail(
                "ThoiDiemXuLy",
                "out_of_order",
                f"ThoiDiemXuLy cũ hơn bản ghi mới nhất đã áp dụng ({latest}); đã lưu, không đổi trạng thái",
                f"ThoiDiemXuLy is older than the newest applied record ({latest}); stored, status unchanged",
            )
            run.session.add(
                RejectedUpdate(
                    tenant=tenant,
                    unit_code=run.caller.unit.code,
                    dossier_code=code,
                    service=run.service,
                    error_code=int(Code.OUT_OF_ORDER),
                    errors=[problem],
                    received_at=run.now,
                )
            )
            results.append(item_result(Code.OUT_OF_ORDER, code, details=[problem]))
            continue
        transition = rules.transition_problem(d.status, new_status)
        warnings = []
        if transition is not None:
            d.reported_status = new_status
            if not run.lenient:
                known_keys.discard((code, key))  # a refused record may be sent again, corrected
                results.append(_reject(run, Code.ILLEGAL_TRANSITION, code, [transition]))
                continue
            warnings.append(transition)
            run.warnings.append({"MaHoSo": code, **transition})
        if run.drop:
            d.reported_status = new_status
            _record_event(run, code, d.unit_code, "progress", d.status, new_status, at, "dropped", rec, key=key)
            results.append(item_result(ITEM_OK, code, warnings=warnings))
            continue
        old = d.status
        _record_event(
            run,
            code,
            d.unit_code,
            "progress",
            old,
            new_status,
            at,
            "applied_with_warning" if warnings else "applied",
            rec,
            warnings,
            key,
        )
        d.status = new_status
        d.reported_status = new_status
        d.last_progress_at = at
        d.updated_at = run.now
        data = {**d.data, "TrangThaiHoSo": new_status}
        if new_status == 9 and not data.get("NgayKetThucXuLy"):
            data["NgayKetThucXuLy"] = rec["ThoiDiemXuLy"]
            d.finished_at = at
        if new_status == 10 and not data.get("NgayTra"):
            data["NgayTra"] = rec["ThoiDiemXuLy"]
        if new_status == 3 and not data.get("NgayTuChoi"):
            data["NgayTuChoi"] = rec["ThoiDiemXuLy"]
        d.data = data
        results.append(item_result(ITEM_OK, code, warnings=warnings))
    return results


def summarize(results: list[dict[str, Any]]) -> tuple[Code, dict[str, Any]]:
    """Top-level reply of a batch: one item answers with its own code; several with 0 or 27."""
    ok = sum(1 for r in results if r["error_code"] in (Code.OK, Code.REPLAY))
    counts = {"total": len(results), "accepted": ok, "rejected": len(results) - ok}
    if len(results) == 1:
        code = Code(results[0]["error_code"])
        body = {**envelope(code), **counts}
        if results[0].get("details"):
            body["details"] = results[0]["details"]
        return code, body
    code = Code.OK if ok == len(results) else Code.PARTIAL
    return code, {**envelope(code), **counts}


# --------------------------------------------------------------------------- look-ups


def dossier_to_wire(d: Dossier) -> dict[str, Any]:
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


def lookup(session: Session, tenant: str, codes: frozenset[str] | None, code: str, history: bool) -> dict[str, Any]:
    """One dossier (with its event history if asked); ``codes`` limits it to those units."""
    d = session.scalar(select(Dossier).where(Dossier.tenant == tenant, Dossier.code == code))
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
