"""The scorecard dashboard (Bộ chỉ số 766) of a tenant's unit: each indicator's rate as a bar with
the formula behind it (numerator / denominator, marks out of the maximum) and the dossiers pulling
it down; indicator 2.2 as average days per procedure; CSV export. All read from DVCQG's
``/_sandbox/scorecard`` through the gateway."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from console.operator import page
from console.scenario import UNIT
from console.web import ROOT, client_of, operator_of

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


@dashboard.get("", summary="The scorecard dashboard")
async def scorecard(request: Request, tenant: Tenant) -> Response:
    body = await client_of(request).json(
        operator_of(request, tenant), "GET", "/dvcqg/v1/_sandbox/scorecard", params={"MaDonVi": UNIT}
    )
    data = body.get("data", {})
    indicators = data.get("ChiSo", [])
    return await page(
        request, tenant, "scorecard.html", data=data, indicators=indicators, bar=bar, procedures=procedures, unit=UNIT
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
