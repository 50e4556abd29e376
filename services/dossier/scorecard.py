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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.dossier import rules
from services.dossier.accounts import now_naive
from services.dossier.models import Dossier, DossierEvent
from services.dossier.reports import period, units_of
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


def scorecard(session: Session, tenant: str, codes: frozenset[str], filters: Mapping[str, Any]) -> dict[str, Any]:
    start, end = period(filters)
    units = units_of(codes, filters)
    now = now_naive(session, tenant)
    as_of = min(end, now) if end else now
    conds = [Dossier.tenant == tenant, Dossier.unit_code.in_(units), Dossier.received_at.is_not(None)]
    if start:
        conds.append(Dossier.received_at >= start)
    if end:
        conds.append(Dossier.received_at <= end)
    dossiers = list(session.scalars(select(Dossier).where(*conds).order_by(Dossier.code)))
    events: dict[str, list[DossierEvent]] = defaultdict(list)
    all_codes = [d.code for d in dossiers]
    for i in range(0, len(all_codes), 500):
        for e in session.scalars(
            select(DossierEvent).where(
                DossierEvent.tenant == tenant, DossierEvent.dossier_code.in_(all_codes[i : i + 500])
            )
        ):
            events[e.dossier_code].append(e)

    ind = {c: Indicator(c) for c in MAX_MARKS}
    reported = rules.as_int(filters.get("SoHoSoBaoCao"))
    ind["1.4"].numerator = len(dossiers)
    ind["1.4"].denominator = max(len(dossiers), reported or 0)
    durations: dict[str, list[float]] = defaultdict(list)
    fee_procs: dict[str, bool] = {}

    for d in dossiers:
        proc = catalogue.get(d.procedure_code)
        t = timeline(d, events[d.code], as_of)
        finish = end_of_processing(d, t)
        measured = finish or as_of
        # 2.1 on time
        i21 = ind["2.1"]
        i21.denominator += 1
        effective = measured.timestamp() - t.supplement_wait_s
        if t.supplement_requests > 1:
            i21.miss(
                d.code, f"Yêu cầu bổ sung {t.supplement_requests} lần", f"{t.supplement_requests} supplement requests"
            )
        elif d.due_at is None:
            i21.miss(d.code, "Thiếu NgayHenTra", "No NgayHenTra")
        elif effective > d.due_at.timestamp():
            hours = round((effective - d.due_at.timestamp()) / 3600, 2)
            state = "kết thúc" if finish else "chưa kết thúc, tính đến cuối kỳ"
            i21.miss(
                d.code,
                f"Quá hạn {hours} giờ ({state})",
                f"{hours} h late ({'finished' if finish else 'unfinished at period end'})",
            )
        else:
            i21.numerator += 1
        # 2.2 average processing time of finished dossiers
        if finish is not None and (9 in t.reached or 10 in t.reached) and d.received_at is not None:
            durations[d.procedure_code].append((finish - d.received_at).total_seconds())
        # 3.3 channel shares
        results = _docs(d, "DanhSachGiayToKetQua")
        online = d.channel == 2 and (not results or any(_has(r, "MaKetQua", "DuongDanTepTinKetQua") for r in results))
        i33 = ind["3.3"]
        i33.denominator += 1
        if online:
            i33.numerator += 1
        elif d.channel == 2:
            i33.miss(d.code, "Trực tuyến nhưng kết quả không có bản điện tử", "Online but no electronic result")
        else:
            i33.miss(d.code, f"Kênh {d.channel or 1} (không trực tuyến)", f"Channel {d.channel or 1} (not online)")
        fees = _docs(d, "DanhSachLePhi")
        has_fee = proc is not None and proc.fee.has_fee
        # 3.5 fee data per procedure
        if has_fee:
            fee_procs[d.procedure_code] = fee_procs.get(d.procedure_code, False) or bool(fees)
        # 3.6 online payment
        all_zero = bool(fees) and all((rules.as_int(f.get("MucPhi")) or 0) == 0 for f in fees)
        if has_fee and not all_zero:
            i36 = ind["3.6"]
            i36.denominator += 1
            if d.paid_online in (1, 2) or d.data.get("DuocThanhToanTrucTuyen") in (1, 2):
                i36.numerator += 1
            else:
                i36.miss(d.code, "Không thanh toán trực tuyến", "Not paid online")
        # 4.1 electronic results
        finished = 9 in t.reached or 10 in t.reached
        if finished:
            i41 = ind["4.1"]
            i41.denominator += 1
            if any(_has(r, "DuongDanTepTinKetQua") for r in results):
                i41.numerator += 1
            else:
                i41.miss(d.code, "Không có đường dẫn kết quả điện tử", "No electronic result link")
        # 4.2 digitised submitted documents and result
        submitted = _docs(d, "TaiLieuNop")
        i42 = ind["4.2"]
        i42.denominator += 1
        docs_ok = bool(submitted) and all(_has(x, "DuongDanTepTin") for x in submitted)
        result_ok = not finished or any(_has(r, "DuongDanTepTinKetQua") for r in results)
        if docs_ok and result_ok:
            i42.numerator += 1
        else:
            i42.miss(
                d.code,
                "Giấy tờ nộp chưa số hóa đủ" if not docs_ok else "Kết quả chưa số hóa",
                "Submitted documents not all digitised" if not docs_ok else "Result not digitised",
            )
        # 4.3 reuse of digitised data
        i43 = ind["4.3"]
        i43.denominator += 1
        if d.data.get("HoSoCoThanhPhanSoHoa") == 1 or any(rules.as_int(x.get("DuocSoHoa")) == 1 for x in submitted):
            i43.numerator += 1
        else:
            i43.miss(d.code, "Không dùng thành phần đã số hóa", "No digitised component reused")
        # 4.4 documents from the citizen's store on the portal
        i44 = ind["4.4"]
        i44.denominator += 1
        if any(rules.as_int(x.get("DuocLayTuKhoDMQG")) == 1 for x in submitted):
            i44.numerator += 1
        else:
            i44.miss(d.code, "Không lấy giấy tờ từ Kho DMQG", "No document from the national store")

    i35 = ind["3.5"]
    for proc_code, ok in sorted(fee_procs.items()):
        i35.denominator += 1
        if ok:
            i35.numerator += 1
        else:
            i35.pulled_down.append(
                {"MaTTHC": proc_code, "LyDo": "Hồ sơ không có dữ liệu phí, lệ phí", "reason": "No fee data synced"}
            )
    if ind["1.4"].denominator > ind["1.4"].numerator:
        missing = ind["1.4"].denominator - ind["1.4"].numerator
        ind["1.4"].pulled_down.append(
            {"MaHoSo": None, "LyDo": f"{missing} hồ sơ chưa đồng bộ", "reason": f"{missing} dossiers not synced"}
        )
    average = {
        code: {
            "TenTTHC": (catalogue.get(code).name if catalogue.get(code) else ""),  # type: ignore[union-attr]
            "SoHoSo": len(xs),
            "ThoiGianTrungBinhNgay": round(sum(xs) / len(xs) / 86400, 2),
        }
        for code, xs in sorted(durations.items())
    }
    indicators = [ind[c].to_wire() for c in ("1.4", "2.1")]
    indicators.append(
        {"ChiSo": "2.2", "TenChiSo": NAMES["2.2"], "TheoThuTuc": average, "Diem": None, "DiemToiDa": None}
    )
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
