"""The scorecard dashboard (Bộ chỉ số 766) of a tenant's unit: each indicator's rate as a bar with
the formula behind it (numerator / denominator, marks out of the maximum) and the dossiers pulling
it down; indicator 2.2 as average days per procedure; each indicator month by month as a small
chart (the last 6 months of the test clock, or a chosen range); CSV and PDF export. All read from
DVCQG's ``/_sandbox/scorecard`` through the gateway: once for the whole, once per month."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from console.gateway import GatewayRefused
from console.operator import clock_of, page
from console.report import scorecard_pdf as draw_pdf
from console.scenario import UNIT
from console.trend import BadRange, Month, Series, last_months, month_range, series
from console.web import ROOT, client_of, lang_of, operator_of

dashboard = APIRouter(prefix=f"{ROOT}/t/{{tenant}}/chi-so")
Tenant = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def bar(rate: Any) -> float | None:
    """A rate (percent, or ``"N/A"``) as the bar's width in percent (None: no bar)."""
    try:
        return max(0.0, min(100.0, float(rate)))
    except (TypeError, ValueError):
        return None


def procedures(indicator: dict[str, Any]) -> list[dict[str, Any]]:
    """Indicator 2.2's procedures, slowest first, each with its bar relative to the slowest."""
    rows = [
        {"code": code, **(v if isinstance(v, dict) else {"ThoiGianTrungBinhNgay": v})}
        for code, v in (indicator.get("TheoThuTuc") or {}).items()
    ]
    rows.sort(key=lambda r: -float(r.get("ThoiGianTrungBinhNgay") or 0))
    top = max((float(r.get("ThoiGianTrungBinhNgay") or 0) for r in rows), default=0.0) or 1.0
    for r in rows:
        r["width"] = 100 * float(r.get("ThoiGianTrungBinhNgay") or 0) / top
    return rows


MonthText = Annotated[str, Query(max_length=20, description="a month, yyyy-MM")]


@dataclass
class Scorecard:
    clock: dict[str, Any]
    data: dict[str, Any]
    months: list[Month]
    trend: list[Series]
    #: A range that could not be used (the last 6 months are shown instead).
    error: BadRange | None = None


async def load(request: Request, tenant: str, tu: str, den: str) -> Scorecard:
    """The whole scorecard and one per month of the range, read concurrently."""
    op, gw = operator_of(request, tenant), client_of(request)
    clock = await clock_of(gw, op)
    error = None
    try:
        months = month_range(tu, den, clock["now"])
    except BadRange as exc:
        months, error = last_months(clock["now"]), exc
    whole, *monthly = await asyncio.gather(
        gw.json(op, "GET", "/dvcqg/v1/_sandbox/scorecard", params={"MaDonVi": UNIT}),
        *(
            gw.json(
                op,
                "GET",
                "/dvcqg/v1/_sandbox/scorecard",
                params={"MaDonVi": UNIT, "TuNgay": m.tu_ngay, "DenNgay": m.den_ngay},
            )
            for m in months
        ),
        return_exceptions=True,
    )
    if isinstance(whole, BaseException):
        raise whole
    cards: list[dict[str, Any] | None] = []
    for body in monthly:
        if isinstance(body, GatewayRefused):
            cards.append(None)  # that month is shown as unknown; the rest of the page stays
        elif isinstance(body, BaseException):
            raise body
        else:
            cards.append(body.get("data", {}))
    return Scorecard(clock, whole.get("data", {}), months, series(months, cards), error)


@dashboard.get("", summary="The scorecard dashboard")
async def scorecard(request: Request, tenant: Tenant, tu: MonthText = "", den: MonthText = "") -> Response:
    card = await load(request, tenant, tu, den)
    return await page(
        request,
        tenant,
        "scorecard.html",
        clock=card.clock,
        status_code=card.error.status_code if card.error else 200,
        data=card.data,
        indicators=card.data.get("ChiSo", []),
        trend={s.code: s for s in card.trend},
        months=card.months,
        range_error=card.error,
        query=request.url.query,
        bar=bar,
        procedures=procedures,
        unit=UNIT,
    )


@dashboard.get("/pdf", summary="The scorecard as PDF")
async def scorecard_pdf_download(request: Request, tenant: Tenant, tu: MonthText = "", den: MonthText = "") -> Response:
    card = await load(request, tenant, tu, den)
    if card.error is not None:
        raise card.error
    content = await asyncio.to_thread(
        draw_pdf, card.data, card.trend, tenant=tenant, unit=UNIT, lang=lang_of(request), now=card.clock["now"]
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="chi-so-766-{tenant}.pdf"'},
    )


@dashboard.get("/csv", summary="The scorecard as CSV")
async def scorecard_csv(request: Request, tenant: Tenant) -> Response:
    r = await client_of(request).request(
        operator_of(request, tenant), "GET", "/dvcqg/v1/_sandbox/scorecard", params={"MaDonVi": UNIT, "format": "csv"}
    )
    return Response(
        r.content,
        status_code=r.status_code,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="chi-so-766-{tenant}.csv"'},
    )
