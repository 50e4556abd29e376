"""The scorecard over time: each indicator's rate per calendar month (Vietnam time), from one
DVCQG scorecard per month (``TuNgay``/``DenNgay`` as ``yyyyMMdd``), drawn as a small bar chart.

Months follow the tenant's test clock: "the last 6 months" ends with the month the clock is in.
A range is at most :data:`MAX_MONTHS` months, so a page makes a bounded number of calls.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from console.i18n import VN_TZ
from vnsandbox.errors import SandboxError

DEFAULT_MONTHS = 6
MAX_MONTHS = 12
#: The chart's drawing box (SVG user units); bars share the width, rates the height.
CHART_W, CHART_H, LABEL_H = 240, 80, 14


class BadRange(SandboxError):
    status_code = 400
    code = "INVALID_MONTH_RANGE"
    message_vi = "Khoảng tháng không hợp lệ"
    message_en = "Invalid month range"


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{self.month:02d}/{self.year}"

    @property
    def short(self) -> str:
        """The chart's axis label: ``03/26``."""
        return f"{self.month:02d}/{self.year % 100:02d}"

    @property
    def value(self) -> str:
        """As an ``<input type="month">`` value: ``2026-03``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def tu_ngay(self) -> str:
        return f"{self.year:04d}{self.month:02d}01"

    @property
    def den_ngay(self) -> str:
        last = calendar.monthrange(self.year, self.month)[1]
        return f"{self.year:04d}{self.month:02d}{last:02d}"

    def plus(self, months: int) -> Month:
        n = self.year * 12 + self.month - 1 + months
        return Month(n // 12, n % 12 + 1)

    def minus(self, other: Month) -> int:
        """Months from ``other`` to this one."""
        return (self.year - other.year) * 12 + self.month - other.month


def month_of(now: datetime) -> Month:
    """The calendar month ``now`` falls in, in Vietnam's time."""
    local = now.astimezone(VN_TZ)
    return Month(local.year, local.month)


def last_months(now: datetime, count: int = DEFAULT_MONTHS) -> list[Month]:
    """The ``count`` months ending with ``now``'s month, oldest first."""
    end = month_of(now)
    return [end.plus(-k) for k in range(count - 1, -1, -1)]


def parse_month(text: str, name: str) -> Month:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise BadRange(
            f"{name}: a month as yyyy-MM (2000-2100), not {text[:20]!r}",
            f"{name}: tháng dạng yyyy-MM (2000-2100), không phải {text[:20]!r}",
        )
    return Month(int(m.group(1)), int(m.group(2)))


def month_range(tu: str, den: str, now: datetime) -> list[Month]:
    """The months from ``tu`` to ``den`` (``yyyy-MM``, inclusive); either left empty: the last
    :data:`DEFAULT_MONTHS` months up to the other (or up to the test clock's month)."""
    if not tu and not den:
        return last_months(now)
    end = parse_month(den, "den") if den else None
    start = parse_month(tu, "tu") if tu else None
    if start is None:
        assert end is not None
        start = end.plus(1 - DEFAULT_MONTHS)
    if end is None:
        end = min(start.plus(DEFAULT_MONTHS - 1), max(start, month_of(now)))
    if end < start:
        raise BadRange(
            "The last month comes before the first",
            "Tháng cuối đứng trước tháng đầu",
        )
    if end.minus(start) + 1 > MAX_MONTHS:
        raise BadRange(
            f"At most {MAX_MONTHS} months at once",
            f"Tối đa {MAX_MONTHS} tháng một lần",
        )
    return [start.plus(k) for k in range(end.minus(start) + 1)]


@dataclass
class Point:
    """One month of one indicator: its rate (percent; for 2.2 average days), or None (N/A, or
    the month's scorecard could not be read)."""

    month: Month
    value: float | None
    tu_so: Any = None
    mau_so: Any = None
    diem: Any = None
    failed: bool = False

    @property
    def text(self) -> str:
        if self.failed:
            return "—"
        return "N/A" if self.value is None else f"{self.value:g}"


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    point: Point


@dataclass
class Series:
    code: str
    name: str
    #: ``%`` for a rate, ``ngày`` for 2.2's days.
    unit: str
    points: list[Point] = field(default_factory=list)
    #: 2.2: per procedure, its average days per month.
    procedures: dict[str, list[Point]] = field(default_factory=dict)

    @property
    def top(self) -> float:
        """The chart's full height: 100 % for a rate, the largest average for days."""
        if self.unit == "%":
            return 100.0
        return max((p.value or 0.0 for p in self.points), default=0.0) or 1.0

    def bars(self) -> list[Bar]:
        """Each month's bar in the chart's box (a month without a value has none)."""
        n = max(1, len(self.points))
        slot = CHART_W / n
        out = []
        for i, p in enumerate(self.points):
            h = 0.0 if p.value is None else CHART_H * max(0.0, min(1.0, p.value / self.top))
            out.append(Bar(i * slot + slot * 0.15, CHART_H - h, slot * 0.7, h, p))
        return out

    def summary(self, sep: str = "; ") -> str:
        """The numbers for a screen reader: ``03/2026: 75%; 04/2026: N/A``."""
        unit = "%" if self.unit == "%" else " " + self.unit
        return sep.join(f"{p.month.label}: {p.text}{unit if p.value is not None else ''}" for p in self.points)


def _days_overall(indicator: dict[str, Any]) -> float | None:
    """2.2 over every procedure: the average days weighted by each procedure's dossiers."""
    rows = [v for v in (indicator.get("TheoThuTuc") or {}).values() if isinstance(v, dict)]
    n = sum(int(r.get("SoHoSo") or 0) for r in rows)
    if not n:
        return None
    return round(sum(float(r.get("ThoiGianTrungBinhNgay") or 0) * int(r.get("SoHoSo") or 0) for r in rows) / n, 2)


def _rate(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def series(months: list[Month], cards: list[dict[str, Any] | None]) -> list[Series]:
    """One series per indicator (in the scorecard's order) from each month's scorecard
    (``None``: that month could not be read)."""
    by_code: dict[str, Series] = {}
    for card in cards:
        for first in (card or {}).get("ChiSo", []):
            code = str(first.get("ChiSo"))
            if code not in by_code:
                unit = "ngày" if "TheoThuTuc" in first else "%"
                by_code[code] = Series(code, str(first.get("TenChiSo") or ""), unit)
    for s in by_code.values():
        procs = sorted(
            {
                c
                for card in cards
                for i in (card or {}).get("ChiSo", [])
                if i.get("ChiSo") == s.code
                for c in (i.get("TheoThuTuc") or {})
            }
        )
        s.procedures = {c: [] for c in procs}
        for month, card in zip(months, cards, strict=True):
            if card is None:
                s.points.append(Point(month, None, failed=True))
                for c in procs:
                    s.procedures[c].append(Point(month, None, failed=True))
                continue
            ind: dict[str, Any] = next((i for i in card.get("ChiSo", []) if i.get("ChiSo") == s.code), {})
            if s.unit == "%":
                s.points.append(
                    Point(month, _rate(ind.get("TyLe")), ind.get("TuSo"), ind.get("MauSo"), ind.get("Diem"))
                )
            else:
                s.points.append(Point(month, _days_overall(ind)))
                for c in procs:
                    row: Any = (ind.get("TheoThuTuc") or {}).get(c)
                    days = _rate(row.get("ThoiGianTrungBinhNgay")) if isinstance(row, dict) else None
                    s.procedures[c].append(
                        Point(month, days, mau_so=row.get("SoHoSo") if isinstance(row, dict) else None)
                    )
    return list(by_code.values())
