"""The operator's view of one tenant: journal as a sequence diagram, deliveries with a
redeliver button, fault toggles and the platforms' switches, the test clock, the token debugger.
Every read and change is a call to the gateway's control plane as the tenant's consumer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from console.gateway import GatewayClient, GatewayRefused, Operator
from console.i18n import offset_words, vn_time
from console.sequence import LANES, diagram
from console.toggles import BY_NAME, PRESETS, BadParam, Preset, SwitchParam, active, switch_params
from console.tokens import inspect
from console.web import ROOT, check_origin, client_of, lang_of, operator_of, render, see_other
from vnsandbox.errors import SandboxError

operator = APIRouter(prefix=f"{ROOT}/t/{{tenant}}")
Tenant = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
#: The platforms' switch lists, read through the gateway: API prefix → lane name.
SWITCH_APIS = {"vneid": "VNeID", "dvcqg": "DVCQG", "paygov": "PayGov"}
ADVANCE = {"hour": 3600, "day": 86400}


async def clock_of(gw: GatewayClient, op: Operator) -> dict[str, Any]:
    """The tenant's test clock: offset and ``now`` (Vietnamese format)."""
    body = await gw.json(op, "GET", "/_sandbox/clock")
    offset = float(body.get("offset_seconds") or 0.0)
    now = datetime.now(UTC) + timedelta(seconds=offset)
    return {"offset": offset, "now": now, "now_text": vn_time(now)}


async def page(
    request: Request,
    tenant: str,
    template: str,
    clock: dict[str, Any] | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page of the tenant with its test clock in the header (``clock``: already read)."""
    if clock is None:
        clock = await clock_of(client_of(request), operator_of(request, tenant))
    clock["words"] = offset_words(clock["offset"], lang_of(request))
    return render(request, template, status_code, tenant=tenant, clock=clock, **context)


@operator.get("/", summary="The tenant's message flow")
async def journal_page(request: Request, tenant: Tenant, all: bool = False) -> Response:
    arrows = await _arrows(request, tenant, hide_control=not all)
    return await page(request, tenant, "journal.html", arrows=arrows, lanes=LANES, show_all=all)


@operator.get("/diagram", summary="The sequence diagram alone (refreshed in place)")
async def diagram_fragment(request: Request, tenant: Tenant, all: bool = False) -> Response:
    arrows = await _arrows(request, tenant, hide_control=not all)
    return render(request, "_diagram.html", tenant=tenant, arrows=arrows, lanes=LANES)


#: Where each service's outbox and journal are reached through the gateway.
SERVICE_PREFIX = {"dossier": "/dvcqg/v1", "payment": "/paygov/v1", "identity": "/vneid/v1"}


async def _arrows(request: Request, tenant: str, hide_control: bool) -> list[Any]:
    op = operator_of(request, tenant)
    gw = client_of(request)
    journal, deliveries, clock = await asyncio.gather(
        gw.json(op, "GET", "/_sandbox/journal", params={"limit": "80"}),
        gw.json(op, "GET", "/_sandbox/deliveries", params={"limit": "40"}),
        gw.json(op, "GET", "/_sandbox/clock"),
    )
    # The calls the platforms made to each other are in the called service's own journal.
    between = await asyncio.gather(
        *(
            gw.json(op, "GET", f"{prefix}/_sandbox/journal", params={"limit": "40", "consumer_prefix": "service:"})
            for prefix in SERVICE_PREFIX.values()
        ),
        return_exceptions=True,
    )
    service_entries = {
        service: body.get("entries", [])
        for service, body in zip(SERVICE_PREFIX, between, strict=True)
        if isinstance(body, dict)  # a service that cannot be read leaves its arrows out, not the page
    }
    offset = float(clock.get("offset_seconds") or 0.0)
    return diagram(journal.get("entries", []), deliveries.get("deliveries", []), hide_control, offset, service_entries)


@operator.get("/deliveries", summary="Outgoing deliveries with their attempts")
async def deliveries_page(request: Request, tenant: Tenant) -> Response:
    body = await client_of(request).json(operator_of(request, tenant), "GET", "/_sandbox/deliveries")
    return await page(request, tenant, "deliveries.html", deliveries=body.get("deliveries", []))


@operator.post("/deliveries/{service}/{delivery_id}/redeliver", summary="Send a delivery again")
async def redeliver(request: Request, tenant: Tenant, service: str, delivery_id: str) -> Response:
    check_origin(request)
    prefix = SERVICE_PREFIX.get(service)
    if prefix is not None:
        await client_of(request).json(
            operator_of(request, tenant), "POST", f"{prefix}/_sandbox/deliveries/{delivery_id}/redeliver"
        )
    return see_other(f"{ROOT}/t/{tenant}/deliveries")


@operator.get("/faults", summary="Fault toggles, rules and switches")
async def faults_page(request: Request, tenant: Tenant) -> Response:
    return await _faults(request, tenant)


@dataclass
class Switch:
    api: str
    name: str
    description: str
    #: Its declared parameters (empty: it takes none).
    params: list[SwitchParam]
    #: The active switch's record (scope ``*`` preferred), or None when off.
    on: dict[str, Any] | None


async def _faults(
    request: Request,
    tenant: str,
    status_code: int = 200,
    problem: tuple[str, SandboxError] | None = None,
    entered: dict[str, str] | None = None,
) -> Response:
    """The page; ``problem``: the form (``preset-…`` or ``switch-…``) whose input was refused, and
    why (``entered``: what it held, shown again)."""
    op = operator_of(request, tenant)
    gw = client_of(request)
    rules_body, *switch_bodies = await asyncio.gather(
        gw.json(op, "GET", "/_sandbox/faults"),
        *(gw.json(op, "GET", f"/{api}/v1/_sandbox/switches") for api in SWITCH_APIS),
        return_exceptions=True,
    )
    if isinstance(rules_body, BaseException):
        raise rules_body
    rules: list[dict[str, Any]] = rules_body.get("rules", [])
    presets = []
    for p in PRESETS:
        ids = active(p, rules)
        rule = next((r for r in rules if str(r.get("id")) == ids[0]), None) if ids else None
        presets.append((p, ids, p.settings(rule) if rule else []))
    switches: list[tuple[str, str, list[Switch], GatewayRefused | None]] = []
    for api, body in zip(SWITCH_APIS, switch_bodies, strict=True):
        if isinstance(body, GatewayRefused):
            # A training fault on the platform also hits its control calls: say so, keep the page.
            switches.append((api, SWITCH_APIS[api], [], body))
            continue
        if isinstance(body, BaseException):
            raise body
        on: dict[str, dict[str, Any]] = {}
        for s in body.get("active", []):
            if isinstance(s, dict) and (str(s.get("name")) not in on or s.get("scope") == "*"):
                on[str(s.get("name"))] = s
        declared = body.get("parameters") or {}
        rows = [
            Switch(
                api,
                name,
                str(description),
                [SwitchParam.of(k, v) for k, v in (declared.get(name) or {}).items()],
                on.get(name),
            )
            for name, description in sorted(body.get("available", {}).items())
        ]
        switches.append((api, SWITCH_APIS[api], rows, None))
    return await page(
        request,
        tenant,
        "faults.html",
        status_code=status_code,
        presets=presets,
        rules=rules,
        switches=switches,
        problem=problem,
        entered=entered or {},
    )


@operator.post("/presets/{name}", summary="Turn a training fault on (with its parameters) or off")
async def toggle_preset(request: Request, tenant: Tenant, name: str) -> Response:
    check_origin(request)
    preset = BY_NAME.get(name)
    if preset is not None:
        form = await _form(request)
        try:
            await set_preset(client_of(request), operator_of(request, tenant), preset, form.get("on") == "1", form)
        except (BadParam, GatewayRefused) as exc:
            return await _faults(request, tenant, 400, (f"preset-{name}", exc), form)
    return see_other(f"{ROOT}/t/{tenant}/faults")


async def _form(request: Request) -> dict[str, str]:
    """The posted form's short text fields (anything longer than a number needs is cut)."""
    form = await request.form()
    return {k: v[:40] for k, v in form.items() if isinstance(v, str) and len(k) <= 80}


async def set_preset(
    gw: GatewayClient, op: Operator, preset: Preset, on: bool, form: dict[str, str] | None = None
) -> None:
    """Turn a training fault on (one rule of its shape with the form's values, unless one exists)
    or off (all of them)."""
    rule = preset.build(form) if on else None
    rules = (await gw.json(op, "GET", "/_sandbox/faults")).get("rules", [])
    ids = active(preset, rules)
    if rule is not None and not ids:
        await gw.json(op, "POST", "/_sandbox/faults", json=rule)
    for rule_id in [] if on else ids:
        await gw.json(op, "DELETE", f"/_sandbox/faults/{rule_id}", ok=(200, 204, 404))


@operator.post("/faults/{rule_id}/delete", summary="Remove a fault rule")
async def delete_rule(request: Request, tenant: Tenant, rule_id: int) -> Response:
    check_origin(request)
    await client_of(request).json(
        operator_of(request, tenant), "DELETE", f"/_sandbox/faults/{rule_id}", ok=(200, 204, 404)
    )
    return see_other(f"{ROOT}/t/{tenant}/faults")


@operator.post("/switches/{api}/{name}", summary="Turn a platform's switch on (with its parameters) or off")
async def toggle_switch(
    request: Request,
    tenant: Tenant,
    api: str,
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$")],
) -> Response:
    check_origin(request)
    if api in SWITCH_APIS:
        op, gw = operator_of(request, tenant), client_of(request)
        form = await _form(request)
        path = f"/{api}/v1/_sandbox/switches/{name}"
        try:
            if form.get("on") == "1":
                listed = await gw.json(op, "GET", f"/{api}/v1/_sandbox/switches")
                declared = (listed.get("parameters") or {}).get(name) or {}
                await gw.json(op, "PUT", path, json={"params": switch_params(declared, form)})
            else:
                await gw.json(op, "DELETE", path, ok=(200, 204, 404))
        except (BadParam, GatewayRefused) as exc:
            return await _faults(request, tenant, 400, (f"switch-{api}-{name}", exc), form)
    return see_other(f"{ROOT}/t/{tenant}/faults")


@operator.post("/clock", summary="Move the tenant's test clock")
async def move_clock(
    request: Request, tenant: Tenant, step: Annotated[str, Form()], back: Annotated[str, Form()] = ""
) -> Response:
    check_origin(request)
    op, gw = operator_of(request, tenant), client_of(request)
    if step in ADVANCE:
        await advance_clock(gw, op, ADVANCE[step])
    elif step == "reset":
        await gw.json(op, "DELETE", "/_sandbox/clock", ok=(200, 204))
    target = back if back.startswith(f"{ROOT}/t/{tenant}/") and "//" not in back else f"{ROOT}/t/{tenant}/"
    return see_other(target)


async def advance_clock(gw: GatewayClient, op: Operator, seconds: int) -> None:
    """Move the tenant's test clock forward (the gateway and every service follow it)."""
    await gw.json(op, "POST", "/_sandbox/clock", json={"advance_seconds": seconds})


@operator.get("/token", summary="The token debugger")
async def token_page(request: Request, tenant: Tenant) -> Response:
    return await page(request, tenant, "token.html", token="", report=None)


@operator.post("/token", summary="Decode and check a pasted token")
async def token_check(request: Request, tenant: Tenant, token: Annotated[str, Form(max_length=20_000)]) -> Response:
    check_origin(request)
    op, gw = operator_of(request, tenant), client_of(request)
    clock = await clock_of(gw, op)
    try:
        jwks = await gw.json(op, "GET", "/vneid/v1/oauth2/jwks")
    except GatewayRefused:
        jwks = None
    report = inspect(token, jwks, clock["now"])
    return await page(request, tenant, "token.html", private=True, token=token.strip(), report=report)
