"""The sync API (``POST /api/service`` and ``/api/<name>``): which behaviour answers each
``service``, as a table (:data:`HANDLERS`). No HTTP types here.

The behaviour lives in modules named for their concern: a batch call's switches and shared
writes in :mod:`~services.dossier.batch`, DongBoHoSoMC in :mod:`~services.dossier.sync`,
CapNhatTienDoHoSoMC in :mod:`~services.dossier.progress`, TraCuuHoSo in
:mod:`~services.dossier.lookup`, the portal's inbox (LayHoSoTuCongDVCQG,
XacNhanHoSoTuCongDVCQG) in :mod:`~services.dossier.portal`, DoiSoatHoSo in
:mod:`~services.dossier.reports`. Handlers take the request's session and never commit:
the router's unit of work commits once after the reply is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from services.dossier import portal, reports
from services.dossier.accounts import Caller
from services.dossier.batch import SyncRun, start_run, summarize
from services.dossier.errors import Code, DvcqgError, envelope
from services.dossier.lookup import lookup, page_bounds, search
from services.dossier.progress import update_progress
from services.dossier.schemas import ServiceCall
from services.dossier.settings import DossierSettings
from services.dossier.sync import sync_dossiers


@dataclass
class CallContext:
    """Who calls the sync API, in which unit of work."""

    session: Session
    tenant: str
    settings: DossierSettings
    caller: Caller


@dataclass
class Answer:
    """What a service answers: its code, the reply body (the DVCQG envelope and the data),
    and the warnings it raised (kept in the request's journal entry)."""

    code: Code
    body: dict[str, Any]
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _ok(**body: Any) -> Answer:
    return Answer(Code.OK, {**envelope(Code.OK), **body})


def _start_batch(ctx: CallContext, call: ServiceCall) -> SyncRun:
    """A batch of 1 … ``DOSSIER_BATCH_MAX`` records, past the call-level switches."""
    items = call.items
    if not items:
        raise DvcqgError(Code.MALFORMED, "data must hold at least one record", "data phải có ít nhất một bản ghi")
    if len(items) > ctx.settings.batch_max:
        raise DvcqgError(
            Code.BATCH_TOO_LARGE,
            f"{len(items)} records; at most {ctx.settings.batch_max} per call",
            f"{len(items)} bản ghi; tối đa {ctx.settings.batch_max} bản ghi mỗi lần gửi",
        )
    return start_run(ctx.session, ctx.tenant, ctx.settings, ctx.caller, call.service)


def _batch_answer(run: SyncRun, results: list[dict[str, Any]]) -> Answer:
    """Each record's answer, the batch's code and counts, and the warnings if any."""
    code, summary = summarize(results)
    body = {**summary, "data": results, **({"warnings": run.warnings} if run.warnings else {})}
    return Answer(code, body, run.warnings)


def sync_call(ctx: CallContext, call: ServiceCall) -> Answer:
    """DongBoHoSoMC: create (or, ``isUpdating``, update) dossiers."""
    run = _start_batch(ctx, call)
    return _batch_answer(run, sync_dossiers(run, call.items, call.updating))


def progress_call(ctx: CallContext, call: ServiceCall) -> Answer:
    """CapNhatTienDoHoSoMC: progress records of dossiers."""
    run = _start_batch(ctx, call)
    return _batch_answer(run, update_progress(run, call.items))


def lookup_call(ctx: CallContext, call: ServiceCall) -> Answer:
    """TraCuuHoSo: one dossier by ``MaHoSo`` (``LichSu``: with its history), else a search."""
    extra = call.model_extra or {}
    if extra.get("MaHoSo"):
        found = lookup(ctx.session, ctx.tenant, ctx.caller.codes, str(extra["MaHoSo"]), bool(extra.get("LichSu")))
        return _ok(data=found)
    total, rows = search(ctx.session, ctx.tenant, ctx.caller, extra)
    return _ok(total=total, data=rows)


def poll_call(ctx: CallContext, call: ServiceCall) -> Answer:
    """LayHoSoTuCongDVCQG: the caller's unacknowledged portal events, up to ``limit``."""
    limit = page_bounds(call.model_extra or {}, default_limit=100)[0]
    events = portal.poll_inbox(ctx.session, ctx.tenant, ctx.caller, limit)
    return _ok(total=len(events), data=events)


def acknowledge_call(ctx: CallContext, call: ServiceCall) -> Answer:
    """XacNhanHoSoTuCongDVCQG: acknowledge polled portal events."""
    return _ok(data=portal.acknowledge(ctx.session, ctx.tenant, ctx.caller, call.items))


def reconciliation_call(ctx: CallContext, call: ServiceCall) -> Answer:
    """DoiSoatHoSo: with ``data``, the province's own list compared with the portal; without,
    the reconciliation report of the period."""
    if call.data is None:
        return _ok(data=reports.reconciliation(ctx.session, ctx.tenant, ctx.caller.codes, call.model_extra or {}))
    if len(call.items) > ctx.settings.batch_max * 20:
        raise DvcqgError(Code.BATCH_TOO_LARGE)
    return _ok(data=reports.compare(ctx.session, ctx.tenant, ctx.caller.codes, call.items))


#: The sync API's services by name (the names of :data:`services.dossier.schemas.SERVICES`).
HANDLERS: dict[str, Callable[[CallContext, ServiceCall], Answer]] = {
    "DongBoHoSoMC": sync_call,
    "CapNhatTienDoHoSoMC": progress_call,
    "TraCuuHoSo": lookup_call,
    "LayHoSoTuCongDVCQG": poll_call,
    "XacNhanHoSoTuCongDVCQG": acknowledge_call,
    "DoiSoatHoSo": reconciliation_call,
}
#: The services that only read: their unit of work runs without a transaction on PostgreSQL
#: (``vnsandbox.db.in_unit_of_work(read_only=True)``; a write they turn out to need, such as
#: creating the development unit on a tenant's first call, reruns them in a full one).
READ_ONLY: frozenset[str] = frozenset({"TraCuuHoSo"})
