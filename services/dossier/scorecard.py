"""Scorecard preview: the dossier-derived indicators of Decision 766/QĐ-TTg (Bộ chỉ số 766).

Computed from what a unit synced, for a period, as domain.md section 2 states the portal's
formulas, with the marks each would earn and, per indicator, the dossiers that pull it
down and why. Rates are percentages rounded to two decimals; a zero denominator is
``"N/A"`` with no marks.

Where the published description leaves a detail open the sandbox picks one (and says so):
- **Maximum marks** per indicator (``MAX_MARKS``) are the sandbox's assumption; the
  decision's annex sets the real weights. Marks are reported with their maximum.
- **Scoring**: 3.5, 4.2, 4.3 earn full marks at ≥ 80 %, else rate × max ÷ 80 %; 3.3 full at
  ≥ 50 % online, else proportional to 50 %; the others rate × max.
- **1.4**: the denominator is the larger of the portal's count and the count the national
  reporting system has (``SoHoSoBaoCao``, optional; without it the portal's count).
- **Received in the period**: ``NgayTiepNhan`` within the period.
- **2.1 end of processing**: the first time the dossier reached 9 (else ``NgayKetThucXuLy``
  for a dossier at 10, else 10), or 3 / 7 / 8 (the record's own ``NgayKetThucXuLy`` when it
  has one: a dossier synced straight to a closing status closed then, not when it was synced).
  Supplement time: from entering 5 until the citizen's supplement arrived or the province
  left 5, whichever came first.
- **3.3 online**: ``KenhThucHien`` 2; when the dossier lists result documents, one of them
  must also carry ``MaKetQua`` and ``DuongDanTepTinKetQua`` (the catalogue does not say
  which procedures return paper results, so listing a result is taken as saying so).
- **3.5 / 3.6 fees**: a procedure has fees when the sandbox's fee schedule charges (or
  leaves the amount to the province); "carries fee data" means a non-empty ``DanhSachLePhi``.
  3.6 leaves out dossiers whose synced fee list is non-empty and all zero.
- **4.1**: denominator: dossiers finished (9/10) in the period; numerator: those with a
  result document carrying ``DuongDanTepTinKetQua``.
- **4.2**: every submitted document (``TaiLieuNop``, at least one) carries a file link
  (``DuongDanTepTin``), and a finished dossier's result one too.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.dossier import rules
from services.dossier.models import Dossier, DossierEvent
from services.dossier.reports import in_period, scope_of
from vnsandbox.vn import catalogue

MAX_MARKS: dict[str, float] = {
    "1.4": 1.0,
    "2.1": 2.0,
    "3.3": 2.0,
    "3.5": 1.0,
    "3.6": 2.0,
    "4.1": 1.0,
    "4.2": 1.0,
    "4.3": 1.0,
    "4.4": 1.0,
}
THRESHOLD: dict[str, float] = {"3.3": 50.0, "3.5": 80.0, "4.2": 80.0, "4.3": 80.0}
NAMES: dict[str, str] = {
    "1.4": "Tỷ lệ đồng bộ hồ sơ lên Cổng DVCQG",
    "2.1": "Tỷ lệ hồ sơ giải quyết đúng hạn",
    "2.2": "Thời gian giải quyết trung bình theo thủ tục",
    "3.3": "Tỷ lệ hồ sơ trực tuyến",
    "3.5": "Tỷ lệ thủ tục có phí, lệ phí được đồng bộ dữ liệu phí",
    "3.6": "Tỷ lệ thanh toán trực tuyến",
    "4.1": "Tỷ lệ cấp kết quả điện tử",
    "4.2": "Tỷ lệ số hóa hồ sơ, kết quả",
    "4.3": "Tỷ lệ khai thác, sử dụng lại dữ liệu số hóa",
    "4.4": "Tỷ lệ sử dụng giấy tờ từ Kho quản lý dữ liệu điện tử",
}
PULL_DOWN_LIMIT = 200


@dataclass
class Indicator:
    code: str
    numerator: int = 0
    denominator: int = 0
    pulled_down: list[dict[str, Any]] = field(default_factory=list)

    def miss(self, ma_ho_so: str, vi: str, en: str) -> None:
        self.pulled_down.append({"MaHoSo": ma_ho_so, "LyDo": vi, "reason": en})

    def judge(self, ma_ho_so: str, miss: tuple[str, str] | None) -> None:
        """Count a dossier: in the numerator when ``miss`` is None, else among the dossiers
        pulling the indicator down, with the reason (Vietnamese, English)."""
        self.denominator += 1
        if miss is None:
            self.numerator += 1
        else:
            self.miss(ma_ho_so, *miss)

    def to_wire(self) -> dict[str, Any]:
        rate: float | str
        marks: float | None
        if self.denominator == 0:
            rate, marks = "N/A", None
        else:
            rate = round(100.0 * self.numerator / self.denominator, 2)
            marks = score(self.code, rate)
        return {
            "ChiSo": self.code,
            "TenChiSo": NAMES[self.code],
            "TuSo": self.numerator,
            "MauSo": self.denominator,
            "TyLe": rate,
            "Diem": marks,
            "DiemToiDa": MAX_MARKS[self.code],
            "SoHoSoKeoGiam": len(self.pulled_down),
            "HoSoKeoGiam": self.pulled_down[:PULL_DOWN_LIMIT],
        }


def score(code: str, rate: float) -> float:
    top = MAX_MARKS[code]
    threshold = THRESHOLD.get(code)
    if threshold is not None:
        return top if rate >= threshold else round(rate * top / threshold, 2)
    return round(rate * top / 100.0, 2)


@dataclass
class Timeline:
    """When the dossier reached each status, and its supplement requests."""

    reached: dict[int, datetime]
    supplement_requests: int
    supplement_wait_s: float


def timeline(d: Dossier, events: list[DossierEvent], end: datetime) -> Timeline:
    applied = sorted(
        (e for e in events if e.outcome in ("applied", "applied_with_warning") and e.at is not None),
        key=lambda e: (e.at, e.id),
    )
    reached: dict[int, datetime] = {}
    requests = 0
    wait = 0.0
    waiting_since: datetime | None = None
    for e in applied:
        assert e.at is not None
        if e.kind == "citizen_supplement":
            if waiting_since is not None:
                wait += (e.at - waiting_since).total_seconds()
                waiting_since = None
            continue
        if e.status_to is None:
            continue
        if e.status_to != e.status_from or e.kind in ("created", "citizen_filed"):
            reached.setdefault(e.status_to, e.at)
            if e.status_to == 5:
                requests += 1
                waiting_since = e.at
            elif waiting_since is not None:
                wait += (e.at - waiting_since).total_seconds()
                waiting_since = None
    if waiting_since is not None:
        wait += max(0.0, (end - waiting_since).total_seconds())
    return Timeline(reached, requests, wait)


def end_of_processing(d: Dossier, t: Timeline) -> datetime | None:
    if 9 in t.reached:
        return t.reached[9]
    if 10 in t.reached:
        return d.finished_at or t.reached[10]
    closing = [t.reached[s] for s in (3, 7, 8) if s in t.reached]
    if closing and d.finished_at is not None:
        closing.append(d.finished_at)  # the record's own end time (NgayKetThucXuLy)
    return min(closing) if closing else None


def _docs(d: Dossier, key: str) -> list[dict[str, Any]]:
    value = d.data.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _has(item: Mapping[str, Any], *keys: str) -> bool:
    return all(item.get(k) not in (None, "") for k in keys)


@dataclass
class DossierFacts:
    """What the indicators read of one dossier: its procedure, timeline, end of processing
    and document lists."""

    dossier: Dossier
    procedure: catalogue.Procedure | None
    timeline: Timeline
    #: When processing ended (None: not yet); ``measured`` is that or the period's end.
    finish: datetime | None
    measured: datetime
    results: list[dict[str, Any]]
    submitted: list[dict[str, Any]]
    fees: list[dict[str, Any]]

    @property
    def finished(self) -> bool:
        """Reached 9 (processed) or 10 (result returned)."""
        return 9 in self.timeline.reached or 10 in self.timeline.reached

    @property
    def has_fee(self) -> bool:
        return self.procedure is not None and self.procedure.fee.has_fee


def facts_of(d: Dossier, events: list[DossierEvent], as_of: datetime) -> DossierFacts:
    t = timeline(d, events, as_of)
    finish = end_of_processing(d, t)
    return DossierFacts(
        dossier=d,
        procedure=catalogue.get(d.procedure_code),
        timeline=t,
        finish=finish,
        measured=finish or as_of,
        results=_docs(d, "DanhSachGiayToKetQua"),
        submitted=_docs(d, "TaiLieuNop"),
        fees=_docs(d, "DanhSachLePhi"),
    )


# One function per indicator measured dossier by dossier: each counts the dossier in the
# indicator's denominator when it belongs there, and in its numerator or among the dossiers
# pulling it down (with the reason).


def on_time(ind: Indicator, f: DossierFacts) -> None:
    """2.1: finished (or, unfinished, measured at the period's end) by NgayHenTra, the time
    waiting for the citizen's supplement left out; more than one supplement request misses."""
    d, t = f.dossier, f.timeline
    effective = f.measured.timestamp() - t.supplement_wait_s
    if t.supplement_requests > 1:
        n = t.supplement_requests
        ind.judge(d.code, (f"Yêu cầu bổ sung {n} lần", f"{n} supplement requests"))
    elif d.due_at is None:
        ind.judge(d.code, ("Thiếu NgayHenTra", "No NgayHenTra"))
    elif effective > d.due_at.timestamp():
        hours = round((effective - d.due_at.timestamp()) / 3600, 2)
        state = "kết thúc" if f.finish else "chưa kết thúc, tính đến cuối kỳ"
        en = "finished" if f.finish else "unfinished at period end"
        ind.judge(d.code, (f"Quá hạn {hours} giờ ({state})", f"{hours} h late ({en})"))
    else:
        ind.judge(d.code, None)


def online(ind: Indicator, f: DossierFacts) -> None:
    """3.3: filed online (channel 2), with an electronic result when it lists results."""
    d = f.dossier
    if d.channel != 2:
        ind.judge(d.code, (f"Kênh {d.channel or 1} (không trực tuyến)", f"Channel {d.channel or 1} (not online)"))
    elif f.results and not any(_has(r, "MaKetQua", "DuongDanTepTinKetQua") for r in f.results):
        ind.judge(d.code, ("Trực tuyến nhưng kết quả không có bản điện tử", "Online but no electronic result"))
    else:
        ind.judge(d.code, None)


def paid_online(ind: Indicator, f: DossierFacts) -> None:
    """3.6: of the dossiers with fees (not all zero), those paid online."""
    d = f.dossier
    all_zero = bool(f.fees) and all((rules.as_int(x.get("MucPhi")) or 0) == 0 for x in f.fees)
    if not f.has_fee or all_zero:
        return
    paid = d.paid_online in (1, 2) or d.data.get("DuocThanhToanTrucTuyen") in (1, 2)
    ind.judge(d.code, None if paid else ("Không thanh toán trực tuyến", "Not paid online"))


def electronic_result(ind: Indicator, f: DossierFacts) -> None:
    """4.1: of the finished dossiers, those with a result document carrying a file link."""
    if not f.finished:
        return
    linked = any(_has(r, "DuongDanTepTinKetQua") for r in f.results)
    ind.judge(f.dossier.code, None if linked else ("Không có đường dẫn kết quả điện tử", "No electronic result link"))


def digitised(ind: Indicator, f: DossierFacts) -> None:
    """4.2: every submitted document (at least one) has a file link, and a finished
    dossier's result one too."""
    docs_ok = bool(f.submitted) and all(_has(x, "DuongDanTepTin") for x in f.submitted)
    result_ok = not f.finished or any(_has(r, "DuongDanTepTinKetQua") for r in f.results)
    if not docs_ok:
        ind.judge(f.dossier.code, ("Giấy tờ nộp chưa số hóa đủ", "Submitted documents not all digitised"))
    elif not result_ok:
        ind.judge(f.dossier.code, ("Kết quả chưa số hóa", "Result not digitised"))
    else:
        ind.judge(f.dossier.code, None)


def reused_digitised(ind: Indicator, f: DossierFacts) -> None:
    """4.3: the dossier reuses a digitised component."""
    reused = f.dossier.data.get("HoSoCoThanhPhanSoHoa") == 1 or any(
        rules.as_int(x.get("DuocSoHoa")) == 1 for x in f.submitted
    )
    ind.judge(f.dossier.code, None if reused else ("Không dùng thành phần đã số hóa", "No digitised component reused"))


def from_national_store(ind: Indicator, f: DossierFacts) -> None:
    """4.4: a submitted document came from the citizen's store on the portal (Kho DMQG)."""
    used = any(rules.as_int(x.get("DuocLayTuKhoDMQG")) == 1 for x in f.submitted)
    ind.judge(
        f.dossier.code, None if used else ("Không lấy giấy tờ từ Kho DMQG", "No document from the national store")
    )


#: The indicators measured dossier by dossier, and how.
PER_DOSSIER: dict[str, Callable[[Indicator, DossierFacts], None]] = {
    "2.1": on_time,
    "3.3": online,
    "3.6": paid_online,
    "4.1": electronic_result,
    "4.2": digitised,
    "4.3": reused_digitised,
    "4.4": from_national_store,
}


def synced(ind: Indicator, synced_count: int, reported: int | None) -> None:
    """1.4: the portal's count of the national reporting system's (when given), the
    larger of both being the denominator."""
    ind.numerator = synced_count
    ind.denominator = max(synced_count, reported or 0)
    if ind.denominator > ind.numerator:
        missing = ind.denominator - ind.numerator
        ind.pulled_down.append(
            {"MaHoSo": None, "LyDo": f"{missing} hồ sơ chưa đồng bộ", "reason": f"{missing} dossiers not synced"}
        )


def fee_data(ind: Indicator, facts: list[DossierFacts]) -> None:
    """3.5: of the procedures with fees, those where some dossier carries fee data."""
    fee_procs: dict[str, bool] = {}
    for f in facts:
        if f.has_fee:
            code = f.dossier.procedure_code
            fee_procs[code] = fee_procs.get(code, False) or bool(f.fees)
    for proc_code, ok in sorted(fee_procs.items()):
        ind.denominator += 1
        if ok:
            ind.numerator += 1
        else:
            ind.pulled_down.append(
                {"MaTTHC": proc_code, "LyDo": "Hồ sơ không có dữ liệu phí, lệ phí", "reason": "No fee data synced"}
            )


def average_times(facts: list[DossierFacts]) -> dict[str, Any]:
    """2.2: per procedure, the average days from receipt to the end of processing of the
    finished dossiers (no marks)."""
    durations: dict[str, list[float]] = defaultdict(list)
    for f in facts:
        d = f.dossier
        if f.finish is not None and f.finished and d.received_at is not None:
            durations[d.procedure_code].append((f.finish - d.received_at).total_seconds())
    average = {
        code: {
            "TenTTHC": (catalogue.get(code).name if catalogue.get(code) else ""),  # type: ignore[union-attr]
            "SoHoSo": len(xs),
            "ThoiGianTrungBinhNgay": round(sum(xs) / len(xs) / 86400, 2),
        }
        for code, xs in sorted(durations.items())
    }
    return {"ChiSo": "2.2", "TenChiSo": NAMES["2.2"], "TheoThuTuc": average, "Diem": None, "DiemToiDa": None}


def _received_dossiers(
    session: Session, tenant: str, units: list[str], start: datetime | None, end: datetime | None
) -> list[Dossier]:
    """The units' dossiers received (``NgayTiepNhan``) in the period."""
    conds = [
        Dossier.tenant == tenant,
        Dossier.unit_code.in_(units),
        Dossier.received_at.is_not(None),
        *in_period(Dossier.received_at, start, end),
    ]
    return list(session.scalars(select(Dossier).where(*conds).order_by(Dossier.code)))


def _events_by_dossier(session: Session, tenant: str, dossiers: list[Dossier]) -> dict[str, list[DossierEvent]]:
    events: dict[str, list[DossierEvent]] = defaultdict(list)
    all_codes = [d.code for d in dossiers]
    for i in range(0, len(all_codes), 500):
        for e in session.scalars(
            select(DossierEvent).where(
                DossierEvent.tenant == tenant, DossierEvent.dossier_code.in_(all_codes[i : i + 500])
            )
        ):
            events[e.dossier_code].append(e)
    return events


def scorecard(session: Session, tenant: str, codes: frozenset[str], filters: Mapping[str, Any]) -> dict[str, Any]:
    scope = scope_of(session, tenant, codes, filters)
    start, end, units, as_of = scope.start, scope.end, scope.units, scope.as_of
    dossiers = _received_dossiers(session, tenant, units, start, end)
    events = _events_by_dossier(session, tenant, dossiers)
    facts = [facts_of(d, events[d.code], as_of) for d in dossiers]

    ind = {c: Indicator(c) for c in MAX_MARKS}
    synced(ind["1.4"], len(dossiers), rules.as_int(filters.get("SoHoSoBaoCao")))
    for f in facts:
        for code, measure in PER_DOSSIER.items():
            measure(ind[code], f)
    fee_data(ind["3.5"], facts)

    indicators = [ind[c].to_wire() for c in ("1.4", "2.1")]
    indicators.append(average_times(facts))
    indicators += [ind[c].to_wire() for c in ("3.3", "3.5", "3.6", "4.1", "4.2", "4.3", "4.4")]
    earned = [i["Diem"] for i in indicators if i["Diem"] is not None]
    possible = [i["DiemToiDa"] for i in indicators if i["Diem"] is not None]
    return {
        "MaDonVi": units,
        "TuNgay": rules.to_wire_time(start),
        "DenNgay": rules.to_wire_time(end),
        "ThoiDiemTinh": rules.to_wire_time(as_of),
        "SoHoSo": len(dossiers),
        "TongDiem": round(sum(earned), 2),
        "TongDiemToiDa": round(sum(possible), 2),
        "ChiSo": indicators,
    }


def scorecard_csv(card: Mapping[str, Any]) -> str:
    """The scorecard flattened: one row per figure, per procedure of 2.2 and per dossier (or
    procedure) pulling an indicator down; columns ``ChiSo, Ma, key, value, detail``."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["ChiSo", "Ma", "key", "value", "detail"])
    for key in ("SoHoSo", "TongDiem", "TongDiemToiDa", "TuNgay", "DenNgay", "ThoiDiemTinh"):
        w.writerow(["", "", key, card[key], ""])
    for ind in card["ChiSo"]:
        code = ind["ChiSo"]
        if code == "2.2":
            for proc, avg in ind["TheoThuTuc"].items():
                w.writerow([code, proc, "ThoiGianTrungBinhNgay", avg["ThoiGianTrungBinhNgay"], avg["SoHoSo"]])
            continue
        for key in ("TuSo", "MauSo", "TyLe", "Diem", "DiemToiDa"):
            w.writerow([code, "", key, "" if ind[key] is None else ind[key], ind["TenChiSo"] if key == "TyLe" else ""])
        for item in ind["HoSoKeoGiam"]:
            w.writerow(
                [code, item.get("MaHoSo") or item.get("MaTTHC") or "", "HoSoKeoGiam", item["LyDo"], item["reason"]]
            )
    return buf.getvalue()
