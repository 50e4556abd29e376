"""One DongBoHoSoMC / CapNhatTienDoHoSoMC call: its call-level switches, the answer of each
record, and the writes every batch shares (locked reads, events, refusals, the retry after
a concurrent write). The records themselves are handled in :mod:`~services.dossier.sync`
and :mod:`~services.dossier.progress`. No HTTP types here.

Every function takes the request's session and tenant and never commits: the router's
unit of work commits once after the reply is built, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.selectable import LateralFromClause

from services.dossier.accounts import Caller, now_naive
from services.dossier.errors import Code, DvcqgError, detail, envelope
from services.dossier.models import Dossier, DossierEvent, RejectedUpdate
from services.dossier.settings import DossierSettings
from vnsandbox import switches
from vnsandbox.db import ALL_TENANTS, Switch, write_lock

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
#: How many times a call is run again after a concurrent call wrote the same rows first.
CONFLICT_ATTEMPTS = 3


class RefusedBySwitch(DvcqgError):
    """A call refused by a switch (``sync_transient_error``, ``sync_timeout``), nothing applied.

    The switch's use still counts: the error keeps the unit of work's changes, so
    ``remaining`` and the ``share`` counter move on with every call."""

    keep_changes = True


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


# --------------------------------------------------------------------------- call-level switches


def start_run(session: Session, tenant: str, settings: DossierSettings, caller: Caller, service: str) -> SyncRun:
    """Apply the call-level switches and prepare the run; a switch that refuses the call
    raises :class:`RefusedBySwitch`. The common case, no switch of this service set for the
    tenant, costs one read (:func:`any_switch`) instead of one per switch."""
    if not any_switch(session, tenant):
        lenient = (caller.unit.transition_mode or settings.transition_mode) == "lenient"
        now = now_naive(session, tenant)
        return SyncRun(session, tenant, settings, caller, service, now, lenient, drop=False, expire_after=None)
    scope = caller.unit.code
    refuse_transiently(session, tenant, scope)
    refuse_after_timeout(session, tenant, scope)
    slow = switches.take(session, tenant, "sync_slow", scope)
    if slow is not None:
        time.sleep(float(slow.params.get("delay_ms", 2000)) / 1000)
    drop = switches.take(session, tenant, "sync_drop", scope) is not None
    expire_after = _session_expiry(session, tenant, caller)
    lenient = _lenient(session, tenant, settings, caller)
    return SyncRun(
        session=session,
        tenant=tenant,
        settings=settings,
        caller=caller,
        service=service,
        now=now_naive(session, tenant),
        lenient=lenient,
        drop=drop,
        expire_after=expire_after,
    )


def any_switch(session: Session, tenant: str) -> bool:
    """Whether the tenant has any of this service's switches set (for any scope)."""
    stmt = select(Switch.id).where(Switch.tenant == tenant, Switch.name.in_(SWITCHES)).limit(1)
    return session.scalar(stmt) is not None


def refuse_transiently(session: Session, tenant: str, scope: str) -> None:
    """``sync_transient_error``: exactly ``share`` of calls fail, spread evenly
    (deterministic), code 30. Every call counts, refused or not."""
    transient = switches.peek(session, tenant, "sync_transient_error", scope)
    if transient is None:
        return
    share = float(transient.params.get("share", 1.0))
    count = int(transient.params.get("count", 0))
    transient.params = {**transient.params, "count": count + 1}
    if transient.remaining is not None:
        transient.remaining -= 1
        if transient.remaining <= 0:
            session.delete(transient)
    if int((count + 1) * share) > int(count * share):
        raise RefusedBySwitch(Code.TRANSIENT)


def refuse_after_timeout(session: Session, tenant: str, scope: str) -> None:
    """``sync_timeout``: wait ``seconds`` (real time), then refuse with code 31."""
    timeout = switches.take(session, tenant, "sync_timeout", scope)
    if timeout is not None:
        time.sleep(float(timeout.params.get("seconds", 30)))
        raise RefusedBySwitch(Code.TIMEOUT)


def _session_expiry(session: Session, tenant: str, caller: Caller) -> int | None:
    """After how many records ``session_expiry_mid_batch`` expires a session-authenticated caller."""
    if caller.sync_session is None:
        return None
    sw = switches.take(session, tenant, "session_expiry_mid_batch", caller.unit.code)
    return None if sw is None else int(sw.params.get("after", 1))


def _lenient(session: Session, tenant: str, settings: DossierSettings, caller: Caller) -> bool:
    """Illegal transitions pass with a warning: the unit's mode, else the settings', or the switch."""
    if switches.peek(session, tenant, "lenient_transitions", caller.unit.code) is not None:
        return True
    return (caller.unit.transition_mode or settings.transition_mode) == "lenient"


# --------------------------------------------------------------------------- answers of records


def item_result(code: Code, ma_ho_so: Any, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"MaHoSo": ma_ho_so if isinstance(ma_ho_so, str) else None, **envelope(code)}
    out.update({k: v for k, v in extra.items() if v})
    return out


def refuse_item(run: SyncRun, raw: Any, not_an_object_vi: str) -> dict[str, Any] | None:
    """The answer for a batch item that is not processed at all: the sync session expired
    during the batch, or the item is not a JSON object (counted and rejected). None: go on."""
    if run.session_expired_now():
        return item_result(Code.SESSION_EXPIRED, raw.get("MaHoSo") if isinstance(raw, dict) else None)
    run.processed += 1
    if not isinstance(raw, dict):
        return reject(
            run, Code.VALIDATION, None, [detail("data", "type", not_an_object_vi, "Each item must be an object")]
        )
    return None


def reject(run: SyncRun, code: Code, ma_ho_so: Any, problems: list[dict[str, str]]) -> dict[str, Any]:
    """Answer a record with ``code`` and keep the refusal for the reconciliation report."""
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


def refuse_foreign(run: SyncRun, code: str, dossier: Dossier | None) -> dict[str, Any] | None:
    """A record about an existing dossier: code 22 when there is none, 17 when it belongs to
    a unit the caller may not sync for. None: go on."""
    if dossier is None:
        return reject(run, Code.NOT_FOUND, code, [])
    if dossier.unit_code not in run.caller.codes:
        return reject(run, Code.FORBIDDEN_UNIT, code, [])
    return None


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


# --------------------------------------------------------------------------- shared writes


def once_more_on_conflict(run: SyncRun, apply: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
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


def locked_dossiers(run: SyncRun, codes: Collection[Any], lock: bool) -> dict[str, Dossier]:
    """The tenant's dossiers among ``codes``, fresh from the database. With ``lock`` they stay
    locked until the call's unit of work ends (rows in id order, so two calls never wait on
    each other crosswise; on SQLite :func:`write_lock` holds the whole file), so a status
    read here is still the status when this call writes: parallel calls on one dossier
    apply one after the other."""
    wanted = sorted({c for c in codes if isinstance(c, str)})
    if not wanted:
        return {}
    if run.session.get_bind().dialect.name == "postgresql":
        return _dossiers_by_probe(run, wanted, lock)
    stmt = (
        select(Dossier)
        .where(Dossier.tenant == run.tenant, Dossier.code.in_(wanted))
        .order_by(Dossier.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update()
    return {d.code: d for d in run.session.scalars(stmt)}


def _dossiers_by_probe(run: SyncRun, wanted: list[str], lock: bool) -> dict[str, Dossier]:
    """:func:`locked_dossiers` on PostgreSQL: one probe of the ``(tenant, code)`` index per code.

    ``tenant = … AND code IN (…)`` lets the planner scan every dossier of the tenant instead,
    and it does whenever its statistics lag behind a table that grew fast (a province loading
    its backlog) or the session's tenant scope adds its own ``tenant IN (…)`` (which makes a
    tenant look rarer than it is): a batch then reads the whole tenant. Each code looked up
    on its own (``LATERAL … LIMIT 1``, equality on the whole unique key) is one index probe
    whatever the statistics say; the rows to lock are then taken by primary key, in id order.
    Both statements name their tenant themselves, so they skip the session's scope."""
    own = {ALL_TENANTS: True}
    codes = func.unnest(bindparam("codes", wanted, type_=postgresql.ARRAY(String))).table_valued("code")
    codes = codes.render_derived("wanted")

    def probe(*columns: Any) -> LateralFromClause:
        one = select(*columns).where(Dossier.tenant == run.tenant, Dossier.code == codes.c.code).limit(1)
        return one.lateral("match")

    if not lock:
        match = probe(Dossier)
        found = aliased(Dossier, match)
        stmt = select(found).select_from(codes).join(match, true())
        return {d.code: d for d in run.session.scalars(stmt, execution_options=own | {"populate_existing": True})}
    match = probe(Dossier.id)
    ids = list(run.session.scalars(select(match.c.id).select_from(codes).join(match, true()), execution_options=own))
    if not ids:
        return {}
    locked = (
        select(Dossier).where(Dossier.tenant == run.tenant, Dossier.id.in_(ids)).order_by(Dossier.id).with_for_update()
    )
    return {d.code: d for d in run.session.scalars(locked, execution_options=own | {"populate_existing": True})}


def record_event(
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
