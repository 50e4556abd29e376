"""Training scenarios in one click and the presenter mode (``/console/kich-ban``): a scenario is
loaded into a fresh tenant, then stepped through with one sentence per step; the province's
steps are sent from here, the citizen's are done in the citizen portal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from console.gateway import GatewayClient, GatewayRefused, Operator
from console.handoff import desk_hand_off
from console.operator import advance_clock, set_preset
from console.portal import Attachments
from console.scenario import (
    OPERATOR_ACTIONS,
    SCENARIOS,
    UNIT,
    UNIT_API_KEY,
    WITHOUT_DOSSIER,
    province_calls,
    step_link,
)
from console.toggles import BY_NAME
from console.web import (
    ROOT,
    check_origin,
    client_of,
    operator_of,
    public_base,
    render,
    save_session,
    see_other,
    session_of,
    settings_of,
)
from vnsandbox.vn.statuses import STATUS_NAMES

presenter = APIRouter(prefix=ROOT)
Tenant = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


@presenter.get("/kich-ban", summary="The training scenarios")
async def scenarios(request: Request) -> Response:
    return render(request, "scenarios.html", scenarios=list(SCENARIOS.values()))


@presenter.post("/kich-ban/{name}", summary="Load a scenario into a fresh tenant")
async def load(request: Request, name: str) -> Response:
    check_origin(request)
    scenario = SCENARIOS.get(name)
    if scenario is None:
        return see_other(f"{ROOT}/kich-ban")
    created = await client_of(request).create_tenant(f"Kịch bản: {scenario.title_vi}")
    creds = created["consumer"]["credentials"]
    session = session_of(request)
    session.add(created["tenant"], creds["client_id"], creds["client_secret"], settings_of(request).max_session_tenants)
    return save_session(request, see_other(f"{ROOT}/t/{created['tenant']}/trinh-chieu/{name}/1"), session)


async def _latest_dossier(gw: GatewayClient, op: Operator) -> dict[str, Any] | None:
    events = (await gw.json(op, "GET", "/dvcqg/v1/_sandbox/inbox")).get("data", [])
    filed = [e for e in events if e.get("event") == "dossier.filed"]
    if not filed:
        return None
    body = await gw.json(op, "GET", f"/dvcqg/v1/_sandbox/dossiers/{filed[-1]['MaHoSo']}")
    data: dict[str, Any] = body["data"]
    return data


@presenter.get("/t/{tenant}/trinh-chieu/{name}/{number}", summary="One step of a scenario, for the projector")
async def step_page(request: Request, tenant: Tenant, name: str, number: int) -> Response:
    scenario = SCENARIOS.get(name)
    if scenario is None or not 1 <= number <= len(scenario.steps):
        return see_other(f"{ROOT}/kich-ban")
    op = operator_of(request, tenant)
    dossier = await _latest_dossier(client_of(request), op)
    return render(
        request,
        "presenter.html",
        private=True,  # the desk hand-off form holds the tenant's client secret
        tenant=tenant,
        scenario=scenario,
        number=number,
        step=scenario.steps[number - 1],
        link=step_link(scenario.steps[number - 1], dossier["MaHoSo"] if dossier else None),
        dossier=dossier,
        status_names=STATUS_NAMES,
        done=request.query_params.get("done") == "1",
        desk=desk_hand_off(settings_of(request).desk_url, op, dossier),
    )


@presenter.post("/t/{tenant}/trinh-chieu/{name}/{number}", summary="Do the step's action (province or operator)")
async def run_step(request: Request, tenant: Tenant, name: str, number: int) -> Response:
    check_origin(request)
    scenario = SCENARIOS.get(name)
    if scenario is None or not 1 <= number <= len(scenario.steps) or not scenario.steps[number - 1].action:
        return see_other(f"{ROOT}/kich-ban")
    op, gw = operator_of(request, tenant), client_of(request)
    action = scenario.steps[number - 1].action
    done = f"{ROOT}/t/{tenant}/trinh-chieu/{name}/{number}?done=1"
    operator_action = OPERATOR_ACTIONS.get(action)
    if operator_action is not None:
        if operator_action.preset:
            await set_preset(gw, op, BY_NAME[operator_action.preset], operator_action.on)
        if operator_action.advance_s:
            await advance_clock(gw, op, operator_action.advance_s)
        return see_other(done)
    dossier = await _latest_dossier(gw, op)
    if dossier is None and action not in WITHOUT_DOSSIER:
        raise GatewayRefused(
            409,
            {
                "message": "Chưa có hồ sơ nào được nộp trong tenant này",
                "message_en": "No dossier has been filed in this tenant yet",
            },
        )
    clock = await gw.json(op, "GET", "/_sandbox/clock")
    now = datetime.now(UTC) + timedelta(seconds=float(clock.get("offset_seconds") or 0))
    if dossier is None or action in WITHOUT_DOSSIER:
        dossier = {"MaHoSo": "", "ChuHoSo": ""}
    result_url = _result_file(request, tenant, dossier)
    for call in province_calls(action, dossier["MaHoSo"], now, result_url):
        await gw.json(
            op,
            "POST",
            "/dvcqg/v1/api/service",
            ok=call.ok,
            json=call.body(),
            headers={"Authorization": f"Bearer {UNIT_API_KEY}", "MaDonVi": UNIT},
        )
    return see_other(done)


def _result_file(request: Request, tenant: str, dossier: dict[str, Any]) -> str:
    """The electronic result the province returns: a small file the portal serves."""
    text = (
        f"BẢN SAO GIẤY KHAI SINH (môi trường thử nghiệm)\nHồ sơ: {dossier['MaHoSo']}\n"
        f"Người yêu cầu: {dossier.get('ChuHoSo', '')}\n"
    )
    file_id = Attachments(settings_of(request).data_dir / "console-files").put(
        tenant, "ban-sao-giay-khai-sinh.txt", text.encode()
    )
    return f"{public_base(request)}{ROOT}/t/{tenant}/cong-dan/tep/{file_id}"
