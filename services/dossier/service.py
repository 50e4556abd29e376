"""Behaviour of the dossier service: units and sessions, DongBoHoSoMC, CapNhatTienDoHoSoMC,
TraCuuHoSo, the portal → province inbox, and payment events. No HTTP types here.

Every function takes the request's session and tenant and never commits: the router's
unit of work commits once after the reply is built, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.dossier import catalogue, rules
from services.dossier.errors import MESSAGES, Code, DvcqgError, detail, envelope
from services.dossier.models import (
    Base,
    Dossier,
    DossierEvent,
    InboxEvent,
    PaymentRecord,
    RejectedUpdate,
    SyncSession,
    Unit,
)
from services.dossier.settings import (
    DEV_UNIT_API_KEY,
    DEV_UNIT_CODE,
    DEV_UNIT_NAME,
    DEV_UNIT_PASSWORD,
    DEV_UNIT_USERNAME,
    DossierSettings,
)
from vnsandbox import clock, switches
from vnsandbox.outbox import Delivery, enqueue

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
DUPLICATE_IN_BATCH = detail(
    "MaHoSo", "duplicate_in_batch", "MaHoSo lặp lại trong cùng lần gửi", "MaHoSo repeated in one call"
)


def now_naive(session: Session, tenant: str) -> datetime:
    """The tenant's test-clock time as naive UTC (how the tables store times)."""
    return clock.now(session, tenant).replace(tzinfo=None)


# --------------------------------------------------------------------------- units


@lru_cache(maxsize=1024)
def hash_password(password: str, salt: str) -> str:
    """PBKDF2 of a sync-account password (cached: the same test credentials are checked often)."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20_000).hex()


def check_password(unit: Unit, password: str) -> bool:
    return hmac.compare_digest(hash_password(password, unit.salt), unit.password_hash)


def unit_to_wire(unit: Unit, with_secrets: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MaDonVi": unit.code,
        "TenDonVi": unit.name,
        "MaDonViCha": unit.parent_code,
        "username": unit.username,
        "gateway_client_id": unit.gateway_client_id,
        "webhook_url": unit.webhook_url,
        "transition_mode": unit.transition_mode,
    }
    if with_secrets:
        out["api_key"] = unit.api_key
        out["webhook_secret"] = unit.webhook_secret
    return out


def get_unit(session: Session, tenant: str, code: str) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.tenant == tenant, Unit.code == code))


def ensure_dev_unit(session: Session, tenant: str, settings: DossierSettings) -> None:
    """In embedded mode every tenant has the development unit (documented credentials)."""
    if not settings.dev_unit_enabled or get_unit(session, tenant, DEV_UNIT_CODE) is not None:
        return
    salt = "dev-unit"  # the same documented credentials everywhere; lets the hash be cached
    try:
        with session.begin_nested():
            session.add(
                Unit(
                    tenant=tenant,
                    code=DEV_UNIT_CODE,
                    name=DEV_UNIT_NAME,
                    username=DEV_UNIT_USERNAME,
                    password_hash=hash_password(DEV_UNIT_PASSWORD, salt),
                    salt=salt,
                    api_key=DEV_UNIT_API_KEY,
                    created_at=now_naive(session, tenant),
                )
            )
    except IntegrityError:  # created by a concurrent request meanwhile
        pass


UNIT_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9.]{2,40}$")


def create_unit(session: Session, tenant: str, body: Mapping[str, Any]) -> Unit:
    code = str(body.get("MaDonVi") or "")
    problems = []
    if not UNIT_CODE_RE.match(code):
        problems.append(
            detail("MaDonVi", "format", "Mã đơn vị gồm chữ in hoa, chữ số và dấu chấm", "Unit code: A-Z, 0-9 and dots")
        )
    for f in ("username", "password"):
        if not isinstance(body.get(f), str) or not body[f]:
            problems.append(detail(f, "required", f"Thiếu {f}", f"{f} is required"))
    parent = body.get("MaDonViCha")
    if parent and get_unit(session, tenant, str(parent)) is None:
        problems.append(detail("MaDonViCha", "unknown_unit", "Đơn vị cha chưa đăng ký", "Parent unit not registered"))
    if problems:
        raise DvcqgError(Code.VALIDATION, details=problems)
    if get_unit(session, tenant, code) is not None or session.scalar(
        select(Unit).where(Unit.tenant == tenant, Unit.username == body["username"])
    ):
        raise DvcqgError(Code.ALREADY_EXISTS, "The unit or username already exists", "Đơn vị hoặc tài khoản đã tồn tại")
    salt = secrets.token_hex(8)
    unit = Unit(
        tenant=tenant,
        code=code,
        name=str(body.get("TenDonVi") or ""),
        parent_code=str(parent) if parent else None,
        username=body["username"],
        password_hash=hash_password(body["password"], salt),
        salt=salt,
        api_key=body.get("api_key") or "dvcqg-" + secrets.token_urlsafe(24),
        gateway_client_id=body.get("gateway_client_id"),
        created_at=now_naive(session, tenant),
    )
    apply_unit_changes(unit, body)
    session.add(unit)
    session.flush()
    return unit


def apply_unit_changes(unit: Unit, body: Mapping[str, Any]) -> None:
    """Webhook endpoint and secret, transition mode, password, gateway client id."""
    if "webhook_url" in body:
        url = body["webhook_url"]
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise DvcqgError(
                Code.VALIDATION,
                details=[detail("webhook_url", "format", "URL phải bắt đầu bằng http(s)://", "Must be an http(s) URL")],
            )
        unit.webhook_url = url
        if url and not unit.webhook_secret:
            unit.webhook_secret = "whsec_" + secrets.token_urlsafe(24)
    if body.get("webhook_secret"):
        unit.webhook_secret = str(body["webhook_secret"])
    if "transition_mode" in body:
        mode = body["transition_mode"]
        if mode not in ("strict", "lenient", None):
            raise DvcqgError(
                Code.VALIDATION,
                details=[detail("transition_mode", "enum", "strict hoặc lenient", "strict or lenient")],
            )
        unit.transition_mode = mode
    if body.get("password") and unit.id is not None:
        unit.salt = secrets.token_hex(8)
        unit.password_hash = hash_password(str(body["password"]), unit.salt)
    if "gateway_client_id" in body:
        unit.gateway_client_id = body["gateway_client_id"]


def unit_family(session: Session, tenant: str, code: str) -> frozenset[str]:
    """The unit and its sub-units (any depth): the codes it may sync for."""
    rows = session.execute(select(Unit.code, Unit.parent_code).where(Unit.tenant == tenant)).all()
    children: dict[str, list[str]] = {}
    for c, p in rows:
        if p:
            children.setdefault(p, []).append(c)
    out = {code}
    todo = [code]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return frozenset(out)


# --------------------------------------------------------------------------- auth


def login(
    session: Session, tenant: str, settings: DossierSettings, unit_code: str, username: Any, password: Any
) -> tuple[SyncSession, datetime]:
    ensure_dev_unit(session, tenant, settings)
    if not unit_code:
        raise DvcqgError(Code.UNIT_MISSING, "Name the sending unit in the MaDonVi header", "Thiếu tiêu đề MaDonVi")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise DvcqgError(
            Code.MALFORMED,
            "username and password are required strings",
            "Cần username và password",
            details=[detail("username", "required", "Thiếu username/password", "username/password required")],
        )
    unit = get_unit(session, tenant, unit_code)
    if unit is None:
        raise DvcqgError(Code.UNIT_MISSING, f"Unit {unit_code} is not registered", f"Đơn vị {unit_code} chưa đăng ký")
    account = session.scalar(select(Unit).where(Unit.tenant == tenant, Unit.username == username))
    if account is None or not check_password(account, password):
        raise DvcqgError(Code.WRONG_CREDENTIALS)
    if account.code != unit.code:
        raise DvcqgError(Code.UNIT_MISMATCH)
    now = now_naive(session, tenant)
    row = SyncSession(
        tenant=tenant,
        token=secrets.token_hex(24),
        unit_code=unit.code,
        expires_at=now + timedelta(seconds=settings.session_ttl_s),
        revoked=0,
    )
    session.add(row)
    return row, row.expires_at


@dataclass
class Caller:
    """Who is calling: the unit, the codes it may sync for, and how it authenticated."""

    unit: Unit
    codes: frozenset[str]
    sync_session: SyncSession | None = None


def authenticate(
    session: Session,
    tenant: str,
    settings: DossierSettings,
    *,
    session_token: str | None,
    bearer: str | None,
    consumer: str | None,
) -> Caller:
    """Resolve a session token, a bearer key (unit API key or session) or a gateway client
    (``consumer``, passed only when the gateway's signature over it checked out)."""
    ensure_dev_unit(session, tenant, settings)
    unit: Unit | None = None
    row: SyncSession | None = None
    token = session_token
    if not token and bearer:
        unit = session.scalar(select(Unit).where(Unit.tenant == tenant, Unit.api_key == bearer))
        if unit is None:
            token = bearer
    if unit is None and token:
        row = session.scalar(select(SyncSession).where(SyncSession.tenant == tenant, SyncSession.token == token))
        if row is None or row.revoked:
            raise DvcqgError(Code.TOKEN_INVALID if bearer and not session_token else Code.SESSION_INVALID)
        if row.expires_at <= now_naive(session, tenant):
            raise DvcqgError(Code.SESSION_EXPIRED)
        unit = get_unit(session, tenant, row.unit_code)
    if unit is None and consumer:
        unit = session.scalar(select(Unit).where(Unit.tenant == tenant, Unit.gateway_client_id == consumer))
    if unit is None:
        raise DvcqgError(Code.SESSION_MISSING)
    return Caller(unit, unit_family(session, tenant, unit.code), row)


# --------------------------------------------------------------------------- sync calls


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


def status_time(rec: Mapping[str, Any], times: Mapping[str, datetime], status: int, default: datetime) -> datetime:
    """When a dossier reached ``status``, from its own dates where they say so."""
    key = {3: "NgayTuChoi", 9: "NgayKetThucXuLy", 10: "NgayTra", 2: "NgayTiepNhan", 1: "NgayNopHoSo"}.get(status)
    return times.get(key, default) if key else default


def _owner_in_population(run: SyncRun, number: str) -> dict[str, str] | None:
    """Ask the identity service whether the owner exists (when ``check_population`` is on)."""
    url = run.settings.identity_url.rstrip("/") + run.settings.identity_lookup_path.format(number=number)
    try:
        resp = httpx.get(url, headers={"X-Sandbox-Tenant": run.tenant}, timeout=5.0)
    except httpx.HTTPError as exc:
        run.warnings.append(
            detail(
                "SoGiayToChuHoSo",
                "population_unavailable",
                "Không kiểm tra được CSDL quốc gia về dân cư; bỏ qua",
                f"Population database not reachable ({exc.__class__.__name__}); check skipped",
            )
        )
        return None
    if resp.status_code == 404:
        return detail(
            "SoGiayToChuHoSo",
            "population",
            "Số định danh của chủ hồ sơ không có trong CSDL quốc gia về dân cư",
            "The owner's identification number is not in the population database",
        )
    return None


def _fields(rec: Mapping[str, Any], times: Mapping[str, datetime]) -> dict[str, Any]:
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
    tenant = run.tenant
    codes = [i.get("MaHoSo") for i in items if isinstance(i, dict) and isinstance(i.get("MaHoSo"), str)]
    existing = {
        d.code: d for d in run.session.scalars(select(Dossier).where(Dossier.tenant == tenant, Dossier.code.in_(codes)))
    }
    seen: set[str] = set()
    results = []
    new_rows: list[dict[str, Any]] = []
    new_events: list[dict[str, Any]] = []
    for raw in items:
        if run.session_expired_now():
            results.append(item_result(Code.SESSION_EXPIRED, raw.get("MaHoSo") if isinstance(raw, dict) else None))
            continue
        run.processed += 1
        if not isinstance(raw, dict):
            results.append(
                _reject(
                    run,
                    Code.VALIDATION,
                    None,
                    [detail("data", "type", "Mỗi hồ sơ là một đối tượng", "Each item must be an object")],
                )
            )
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
        number = checked.record.get("SoGiayToChuHoSo")
        if (
            not problems
            and run.settings.check_population
            and (checked.record.get("LoaiDoiTuong") or 1) == 1
            and isinstance(number, str)
        ):
            p = _owner_in_population(run, number.strip())
            if p is not None:
                problems.append(p)
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
            results.append(_reject(run, Code.VALIDATION, code, problems))
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
                    **_fields(rec, checked.times),
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
            for k, v in _fields(rec, checked.times).items():
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
    flush_or_retry(run.session, [(Dossier, new_rows), (DossierEvent, new_events)])
    return results


def flush_or_retry(session: Session, bulk: list[tuple[type[Base], list[dict[str, Any]]]] | None = None) -> None:
    """Write the call's rows now (``bulk``: rows inserted with one ``executemany`` per table);
    a concurrent call that created the same dossier first makes this one a transient failure
    (code 30: retry), never a 500."""
    try:
        session.flush()
        for table, rows in bulk or []:
            if rows:
                session.execute(insert(table), rows)
    except IntegrityError:
        raise DvcqgError(
            Code.TRANSIENT,
            "A concurrent call wrote the same dossier; send the call again",
            "Một lần gửi đồng thời đã ghi cùng hồ sơ; vui lòng gửi lại",
        ) from None


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
    tenant = run.tenant
    codes = {i.get("MaHoSo") for i in items if isinstance(i, dict) and isinstance(i.get("MaHoSo"), str)}
    dossiers = {
        d.code: d for d in run.session.scalars(select(Dossier).where(Dossier.tenant == tenant, Dossier.code.in_(codes)))
    }
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
        if run.session_expired_now():
            results.append(item_result(Code.SESSION_EXPIRED, raw.get("MaHoSo") if isinstance(raw, dict) else None))
            continue
        run.processed += 1
        if not isinstance(raw, dict):
            results.append(
                _reject(
                    run,
                    Code.VALIDATION,
                    None,
                    [detail("data", "type", "Mỗi bản ghi là một đối tượng", "Each item must be an object")],
                )
            )
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
        known_keys.add((code, key))
        rec = checked.record
        at = checked.times["ThoiDiemXuLy"]
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
        if new_status in (9, 10) and not data.get("NgayKetThucXuLy") and new_status == 9:
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
        if any(v is None for v in values):
            problems.append(detail("TrangThaiHoSo", "enum", "TrangThaiHoSo phải là số 1–10", "TrangThaiHoSo: 1–10"))
        stmt = stmt.where(Dossier.status.in_([v for v in values if v is not None]))
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
    if problems:
        raise DvcqgError(Code.VALIDATION, details=problems)
    limit = min(max(rules.as_int(filters.get("limit")) or 100, 1), 1000)
    offset = max(rules.as_int(filters.get("offset")) or 0, 0)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Dossier.received_at, Dossier.id).limit(limit).offset(offset))
    return total, [dossier_to_wire(d) for d in rows]


# --------------------------------------------------------------------------- portal → province


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
            max_attempts=settings.webhook_max_attempts,
            headers={"X-Sandbox-Event": kind, "X-Sandbox-Event-Id": event_id, "X-Sandbox-Tenant": tenant},
        )
        ev.delivery_id = delivery.id
    session.add(ev)
    return ev


def on_delivery_result(session: Session, row: Delivery, ok: bool) -> None:
    """Outbox hook: a webhook the province accepted (2xx) acknowledges its inbox event."""
    if not ok:
        return
    ev = session.scalar(select(InboxEvent).where(InboxEvent.tenant == row.tenant, InboxEvent.delivery_id == row.id))
    if ev is not None and ev.acknowledged_at is None:
        ev.acknowledged_at = now_naive(session, row.tenant)
        ev.acknowledged_by = "webhook"


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
            **_fields(record, checked.times),
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


def _portal_dossier(session: Session, tenant: str, code: str) -> Dossier:
    d = session.scalar(select(Dossier).where(Dossier.tenant == tenant, Dossier.code == code))
    if d is None:
        raise DvcqgError(Code.NOT_FOUND, f"No dossier {code}", f"Không tìm thấy hồ sơ {code}")
    return d


def citizen_withdraw(session: Session, tenant: str, settings: DossierSettings, code: str, reason: str) -> Dossier:
    """The citizen withdraws (status 7, allowed from any non-final status); the unit is told."""
    d = _portal_dossier(session, tenant, code)
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
    d = _portal_dossier(session, tenant, code)
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
    if session.scalar(
        select(PaymentRecord.id).where(PaymentRecord.tenant == tenant, PaymentRecord.transaction_id == txn)
    ):
        return Code.REPLAY, None
    d = _portal_dossier(session, tenant, str(body["MaHoSo"]))
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


def message_of(code: Code) -> tuple[str, str]:
    _, vi, en = MESSAGES[code]
    return vi, en
